"""Think traces in a response: where the reasoning is, and what is left as the answer.

The tags are read the way OpenDataArena's heuristic scorers read them: ``<think>`` and ``</think>`` in any case,
with optional whitespace before the ``>`` (``<THINK>``, ``<think >``), and ``<redacted_reasoning>`` as a second
tag name. On top of that, the format of R1-distilled data is understood. The rules, in order:

1. **A closed block** ``<think>…</think>``: the think trace is the first block's text, stripped (an empty block gives
   an empty trace); the answer is the response with every closed block removed, stripped.
2. **Only a closing tag** (the first tag in the response is ``</think>``): the R1-distilled format, whose chat
   template opens the block in the prompt. Everything before the closing tag is the trace, everything after it is
   the answer. OpenDataArena's scorers see no trace here; this is the one deliberate difference.
3. **An unclosed** ``<think>``: the response carries a think tag but no trace can be delimited, so the trace is
   empty (0 think tokens) and the answer is the whole response, as in OpenDataArena's scorers, which extract
   nothing from an unclosed tag.
4. **No tag**: no trace (``None``).

``ThinkSplit.tagged`` is whether any tag appears at all (OpenDataArena's ThinkOrNot).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TAG_NAMES = ("think", "redacted_reasoning")
_ANY_TAG = re.compile(r"</?(?:think|redacted_reasoning)\s*>", re.IGNORECASE)
_BLOCK = {
    name: re.compile(rf"<{name}\s*>(.*?)</{name}\s*>", re.IGNORECASE | re.DOTALL) for name in _TAG_NAMES
}
_CLOSE = re.compile(r"</(?:think|redacted_reasoning)\s*>", re.IGNORECASE)
#: a fenced Markdown code block, as OpenDataArena's PureThink scorer detects one
CODE_BLOCK = re.compile(r"```[a-zA-Z0-9+\-#.]*\s*\n?.*?```", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ThinkSplit:
    """A response cut into its think trace and its answer."""

    think: str | None
    answer: str
    tagged: bool


def split_think(response: str) -> ThinkSplit:
    """Apply the rules of the module docstring to one response."""
    first = _ANY_TAG.search(response)
    if first is None:
        return ThinkSplit(None, response, False)
    if first.group(0)[1] == "/":
        close = _CLOSE.search(response)
        assert close is not None
        return ThinkSplit(response[: close.start()].strip(), response[close.end() :].strip(), True)
    for name in _TAG_NAMES:
        block = _BLOCK[name].search(response)
        if block is not None:
            answer = response
            for pattern in _BLOCK.values():
                answer = pattern.sub("", answer)
            return ThinkSplit(block.group(1).strip(), answer.strip(), True)
    return ThinkSplit("", response, True)


def pure_think(split: ThinkSplit) -> float:
    """OpenDataArena's PureThink: -2 without a think tag; -1 when the answer has no code block; 0 when the trace
    has one too; 1 when only the answer has code."""
    if not split.tagged:
        return -2.0
    if CODE_BLOCK.search(split.answer) is None:
        return -1.0
    return 0.0 if split.think and CODE_BLOCK.search(split.think) else 1.0
