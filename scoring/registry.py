"""The scorer registry: every registered scorer, the built-in ones loaded on first use.

An unknown name fails with a "did you mean" suggestion; ``--scorers heuristic|model|judge`` selects a whole
family. Scorers add themselves with ``scoring.base.register``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from oda.errors import ConfigError
from scoring.base import FAMILY_ALIASES, Scorer, registered


def _load_builtin() -> None:
    import scoring.heuristic
    import scoring.judge
    import scoring.model_based.scorers  # noqa: F401


def registry() -> dict[str, type[Scorer]]:
    """Every registered scorer by name (built-ins included)."""
    _load_builtin()
    return registered()


def get_scorer_class(name: str) -> type[Scorer]:
    """The scorer class named ``name``; an unknown name raises ``ConfigError`` with suggestions."""
    known = registry()
    if name in known:
        return known[name]
    close = difflib.get_close_matches(name, [*known, *FAMILY_ALIASES], n=3)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ConfigError(f"unknown scorer {name!r}{hint} (see `oda score list`)")


def select(spec: str | Iterable[str]) -> list[type[Scorer]]:
    """Scorer classes for ``"heuristic,ifd"``-style selections (families expand to all their scorers)."""
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if not names:
        raise ConfigError("no scorers selected")
    chosen: list[type[Scorer]] = []
    for name in names:
        family = FAMILY_ALIASES.get(name.lower())
        classes = (
            [c for c in registry().values() if c.family is family] if family else [get_scorer_class(name)]
        )
        for cls in classes:
            if cls not in chosen:
                chosen.append(cls)
    return chosen


def describe(cls: type[Scorer]) -> dict[str, Any]:
    """A JSON-ready description of a scorer (for ``oda score list``)."""
    return {
        "name": cls.name,
        "family": cls.family.value,
        "description": cls.description,
        "requires": list(cls.requires),
        "available": not cls.missing_requirements(),
        "metrics": [
            {"name": m.name, "axis": m.axis.value, "description": m.description, "scale": m.scale}
            for m in cls.metrics
        ],
    }
