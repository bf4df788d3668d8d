"""Checks every claim must pass before it can become an edge, whichever extractor produced it.

- ``is_verbatim``: the evidence is a span of the chunk text (compared with runs of whitespace collapsed, so a span
  that crosses a line break still matches, and with markdown emphasis left as it is).
- ``mentions_source``: the evidence names the source (its raw name, its Hub id, or its canonical name), so a true
  sentence cannot be reused to support an unrelated source.
- ``looks_like_injection``: the evidence is an instruction aimed at a model ("ignore previous instructions ..."):
  such text is never evidence of lineage.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_WS = re.compile(r"\s+")

INJECTION_RE = re.compile(
    r"ignore\s+(?:all\s+|any\s+)?(?:the\s+)?(?:previous|prior|above|preceding|earlier|other)\s+(?:instructions|prompts?|"
    r"rules|messages|text)|disregard\s+(?:all\s+|any\s+|the\s+)?(?:previous|prior|above|instructions)|you are now\b|"
    r"new instructions\s*:|system prompt|output (?:exactly|only|the following)|respond (?:with|only)\b|"
    r"as an ai\b|print (?:exactly|the following)|add .{0,40} as a source",
    re.IGNORECASE,
)


def collapse_ws(text: str) -> str:
    """``text`` with every run of whitespace turned into one space, stripped."""
    return _WS.sub(" ", text).strip()


def is_verbatim(evidence: str, text: str) -> bool:
    """True when ``evidence`` (non-empty) occurs in ``text``, ignoring differences in whitespace."""
    stripped = evidence.strip()
    if stripped and stripped in text:  # as written: its whitespace runs are the text's own
        return True
    needle = collapse_ws(stripped)
    return bool(needle) and needle in collapse_ws(text)


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9+]", "", text.lower())


def mentions_source(evidence: str, names: Iterable[str | None]) -> bool:
    """True when one of ``names`` (raw name, Hub id, repo part of the id, canonical name) appears in the evidence."""
    haystack = _key(evidence)
    for name in names:
        if not name:
            continue
        variants = {name}
        if "/" in name:
            variants.add(name.rsplit("/", 1)[1])
        if name.startswith("ext:"):
            variants.add(name[4:])
        for variant in variants:
            key = _key(variant)
            if len(key) >= 2 and key in haystack:
                return True
    return False


def looks_like_injection(text: str) -> bool:
    """True when ``text`` tries to instruct the model that reads it."""
    return bool(INJECTION_RE.search(text))
