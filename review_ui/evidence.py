"""Show an edge's verbatim evidence inside the text it was found in.

The evidence and its context are untrusted (they come from dataset cards and web pages). This module never
produces markup: it splits the context into plain-text segments, marking the ones that match the evidence, and
the template escapes every segment before wrapping the matches in ``<mark>``. Matching ignores case and runs of
whitespace, because fetched text is often re-wrapped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from graph_store.base import GraphStore
from graph_store.models import Edge

CONTEXT_CHARS = 480
MAX_PATTERN_WORDS = 400

# Extra places to look for an edge's fetched text (e.g. an acquisition snapshot): (edge) -> [(label, text)].
ContextSource = Callable[[Edge], Iterable[tuple[str, str]]]


@dataclass(frozen=True)
class Segment:
    text: str
    match: bool = False


@dataclass
class EvidenceView:
    """What the edge page shows: segments of context (matches marked), where it came from, and whether found."""

    evidence: str
    url: str | None
    found: bool
    context_label: str | None = None
    segments: list[Segment] = field(default_factory=list)
    clipped_before: bool = False
    clipped_after: bool = False


def _pattern(evidence: str) -> re.Pattern[str] | None:
    words = evidence.split()
    if not words or len(words) > MAX_PATTERN_WORDS:
        return None
    return re.compile(r"\s+".join(re.escape(word) for word in words), re.IGNORECASE)


def locate(evidence: str, context: str) -> list[tuple[int, int]]:
    """Character spans of ``context`` where ``evidence`` occurs (case and whitespace insensitive)."""
    pattern = _pattern(evidence)
    if pattern is None:
        if evidence and evidence in context:
            start = context.index(evidence)
            return [(start, start + len(evidence))]
        return []
    return [(m.start(), m.end()) for m in pattern.finditer(context)]


def highlight(
    evidence: str, context: str, *, window: int = CONTEXT_CHARS
) -> tuple[list[Segment], bool, bool]:
    """Split ``context`` around the first match (plus ``window`` characters each side), marking every match."""
    spans = locate(evidence, context)
    if not spans:
        return [], False, False
    first_start, first_end = spans[0]
    lo = max(0, first_start - window)
    hi = min(len(context), first_end + window)
    segments: list[Segment] = []
    cursor = lo
    for start, end in spans:
        if start < lo or end > hi:
            continue
        if start > cursor:
            segments.append(Segment(context[cursor:start]))
        segments.append(Segment(context[start:end], match=True))
        cursor = end
    if cursor < hi:
        segments.append(Segment(context[cursor:hi]))
    return segments, lo > 0, hi < len(context)


def default_contexts(store: GraphStore, edge: Edge) -> list[tuple[str, str]]:
    """The fetched text the store keeps for an edge: the target's summary, then the source's."""
    contexts: list[tuple[str, str]] = []
    for label, node_id in (
        (f"stored summary of {edge.target}", edge.target),
        (f"stored summary of {edge.source}", edge.source),
    ):
        node = store.get_node(node_id)
        if node is not None and node.summary:
            contexts.append((label, node.summary))
    return contexts


def evidence_view(store: GraphStore, edge: Edge, extra: ContextSource | None = None) -> EvidenceView:
    """Find the edge's evidence in the first context that contains it."""
    view = EvidenceView(evidence=edge.evidence, url=edge.evidence_url, found=False)
    candidates = list(extra(edge)) if extra is not None else []
    candidates.extend(default_contexts(store, edge))
    for label, text in candidates:
        segments, before, after = highlight(edge.evidence, text)
        if segments:
            view.found = True
            view.context_label = label
            view.segments = segments
            view.clipped_before, view.clipped_after = before, after
            break
    return view
