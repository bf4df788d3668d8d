"""The scorer contract, and ``register``, which adds a scorer to the registry (``scoring.registry``).

A scorer turns a batch of samples into one ``MetricScores`` per sample::

    scorer.score_batch(samples) -> list[dict[metric_name, Score]]

Each ``Score`` holds a value, or an error (never a silent zero), and a reason where one makes sense. A scorer
declares, on its class:

- ``name``: how users select it (``oda score data.jsonl --scorers ifd``);
- ``family``: Heuristic, Model-based Evaluation or LLM-as-Judge (the paper's three families);
- ``metrics``: the axes it produces, each on the instruction alone (``Q``) or on the pair (``QA``);
- ``requires``: the Python modules it needs, installed through an extra (``pip install 'oda-lineage[model]'``).

Scorers register with ``@register``, which refuses a second scorer with the same name. Looking scorers up
(``registry``, ``select``) is ``scoring.registry``'s part: it loads the built-in scorer modules, which import
only this module.
"""

from __future__ import annotations

import abc
import enum
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from oda.errors import ConfigError
from scoring.samples import Sample


class Axis(enum.StrEnum):
    """What a metric looks at: the instruction alone (Q) or the instruction–response pair (QA)."""

    Q = "Q"
    QA = "QA"


class Family(enum.StrEnum):
    """The paper's three scorer families (Appendix C)."""

    HEURISTIC = "Heuristic"
    MODEL = "Model-based Evaluation"
    JUDGE = "LLM-as-Judge"


FAMILY_ALIASES = {"heuristic": Family.HEURISTIC, "model": Family.MODEL, "judge": Family.JUDGE}


@dataclass(frozen=True)
class Metric:
    """One axis a scorer produces. ``scale`` is the fixed value range of a rated metric (judge 1–10)."""

    name: str
    axis: Axis
    description: str
    scale: tuple[int, int] | None = None


@dataclass(slots=True)
class Score:
    """A per-sample result on one metric: a value, or an error saying why there is none."""

    value: float | None
    reason: str | None = None
    error: str | None = None

    @classmethod
    def failed(cls, error: str) -> Score:
        return cls(value=None, error=error)


MetricScores = dict[str, Score]


@dataclass
class ScoreColumns:
    """A batch's scores as columns: one float64 array per metric (NaN where there is no value) and, per metric,
    the error of each row that has one. Scorers that compute whole batches at once return this."""

    values: dict[str, np.ndarray]
    errors: dict[str, dict[int, str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(next(iter(self.values.values()))) if self.values else 0

    def take(self, mask: np.ndarray) -> ScoreColumns:
        """The rows where ``mask`` is True, in order."""
        new_index = np.cumsum(mask) - 1
        errors = {
            name: {int(new_index[i]): reason for i, reason in errs.items() if mask[i]}
            for name, errs in self.errors.items()
        }
        return ScoreColumns({name: col[mask] for name, col in self.values.items()}, errors)

    def to_scores(self) -> list[MetricScores]:
        """The same scores as one ``{metric: Score}`` per sample."""
        rows: list[MetricScores] = [{} for _ in range(len(self))]
        for name, column in self.values.items():
            errs = self.errors.get(name, {})
            for i, value in enumerate(column.tolist()):
                rows[i][name] = Score.failed(errs.get(i, "no value")) if value != value else Score(value)
        return rows


class Scorer(abc.ABC):
    """Base class of every scorer. Subclasses set the class attributes and implement ``score_batch``."""

    name: ClassVar[str]
    family: ClassVar[Family]
    metrics: ClassVar[tuple[Metric, ...]]
    requires: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    batch_size: int = 256

    @classmethod
    def missing_requirements(cls) -> list[str]:
        """The required modules that cannot be imported here."""
        return [mod for mod in cls.requires if importlib.util.find_spec(mod) is None]

    @classmethod
    def check_requirements(cls) -> None:
        """Raise ``ConfigError`` naming the extra to install when a required module is missing."""
        missing = cls.missing_requirements()
        if missing:
            raise ConfigError(
                f"scorer {cls.name!r} needs {', '.join(missing)}: install it with "
                f"pip install 'oda-lineage[{cls.extra()}]'"
            )

    @classmethod
    def extra(cls) -> str:
        return {Family.MODEL: "model"}.get(cls.family, "")

    @abc.abstractmethod
    def score_batch(self, samples: Sequence[Sample]) -> list[MetricScores]:
        """One ``{metric name: Score}`` per sample, in order."""

    def submit(self, samples: Sequence[Sample]) -> Callable[[], list[MetricScores] | ScoreColumns]:
        """Start scoring a batch; the returned function gives its scores. Scorers that can work ahead (in other
        processes) override this; results are asked for in submission order. The default scores right away."""
        try:
            results = self.score_batch(samples)
        except Exception as exc:
            error = exc

            def failed() -> list[MetricScores]:
                raise error

            return failed
        return lambda: results

    def observe(self, samples: Sequence[Sample]) -> None:  # noqa: B027 - optional hook
        """See samples that an earlier run already scored (resume), so dataset-level state stays exact."""

    def cache_key(self) -> str:
        """What makes this scorer's output reproducible (model, prompt version...)."""
        return self.name

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release models, clients and pools."""


_REGISTRY: dict[str, type[Scorer]] = {}


def register(cls: type[Scorer]) -> type[Scorer]:
    """Class decorator adding a scorer to the registry; a duplicate name is an error."""
    name = cls.name
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"a scorer named {name!r} is already registered ({_REGISTRY[name].__qualname__})")
    if name in FAMILY_ALIASES:
        raise ValueError(f"{name!r} names a scorer family and cannot name a scorer")
    _REGISTRY[name] = cls
    return cls


def registered() -> dict[str, type[Scorer]]:
    """The scorers registered so far (``scoring.registry.registry`` loads the built-in ones first)."""
    return dict(_REGISTRY)
