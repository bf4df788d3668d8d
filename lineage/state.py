"""The state of a trace run, checkpointed after every step of the graph.

Everything in the state is plain JSON (strings, numbers, lists, dicts) so that a checkpoint can be read back by
any later process: a run killed at any point resumes from its last checkpoint with ``oda trace --resume RUN_ID``.

Two kinds of fields live here:

- **run fields** persist for the whole run: the queue, the depth-first stack, the visited set, counters,
  failures and notes;
- **dataset fields** describe the dataset being traced now (``current``, ``info``, ``chunks``, ``claims``,
  ``outcome``); ``select_next`` resets them before each dataset.

Reducers say how a node's partial update merges into the state; a field without one is overwritten.
"""

from __future__ import annotations

from typing import Annotated, Any, NotRequired, TypedDict


class StackItem(TypedDict):
    """One dataset waiting on the depth-first stack."""

    id: str
    """Hub id of the dataset to trace."""
    depth: int
    """Levels below its queue entry (the queue entry itself is depth 0)."""
    root: str
    """The queue entry whose tree this dataset belongs to."""
    via: str | None
    """The dataset whose trace pushed this one (``None`` for a queue entry)."""


class Failure(TypedDict):
    """A per-item failure, kept for the run's summary. The run goes on after it.

    Besides the graph's own checks (validation, reading the card, fetching links), the problems the extractor
    returns with a chunk's claims become ``extract`` failures (with the chunk's URL), and those the canonicalizer
    returns with a name's resolution become ``resolve`` failures.
    """

    dataset: str
    """The dataset (or raw queue line) concerned."""
    stage: str
    """Where it failed: queue, validate, retrieve, fetch, extract, resolve or write."""
    reason: str
    """A one-line explanation for people."""
    url: NotRequired[str]
    """The resource that could not be read, when the failure is about one."""
    outcome: NotRequired[str]
    """``dropped`` or ``failed`` when this failure ended the dataset (it was not traced); absent otherwise."""


class ChunkTask(TypedDict):
    """The input of one source-tracing agent: a single resource chunk (sent with ``Send``)."""

    chunk: dict[str, Any]
    """A ``ResourceChunk`` as JSON."""


RESET: dict[str, bool] = {"__reset__": True}
"""Sentinel update that empties a list field with the ``extend_or_reset`` reducer."""


def extend_or_reset(old: list[Any] | None, new: list[Any] | dict[str, bool] | None) -> list[Any]:
    """Append ``new`` to ``old``; the ``RESET`` sentinel empties the list instead."""
    if isinstance(new, dict):
        return [] if new.get("__reset__") else list(old or [])
    return list(old or []) + list(new or [])


def union_in_order(old: list[str] | None, new: list[str] | None) -> list[str]:
    """Set union that keeps first-seen order (a deterministic, JSON-friendly set)."""
    merged = list(old or [])
    seen = set(merged)
    for item in new or []:
        if item not in seen:
            seen.add(item)
            merged.append(item)
    return merged


def add_counts(old: dict[str, int] | None, new: dict[str, int] | None) -> dict[str, int]:
    """Sum counters key by key."""
    merged = dict(old or {})
    for key, value in (new or {}).items():
        merged[key] = merged.get(key, 0) + int(value)
    return merged


def append(old: list[Any] | None, new: list[Any] | None) -> list[Any]:
    """Concatenate lists (run-level logs such as failures)."""
    return list(old or []) + list(new or [])


class TraceState(TypedDict, total=False):
    """The checkpointed state of one trace run (see the module docstring)."""

    # --- run fields ---------------------------------------------------------------------------------------
    run_id: str
    """The run's id; also the checkpointer's ``thread_id``."""
    settings: dict[str, Any]
    """The run's options (store, extractor, depth, branching, threshold, ...), so a resume needs no flags."""
    queue: list[str]
    """The valid queue entries, in file order."""
    queue_pos: int
    """Index in ``queue`` of the next entry to start; entries before it have been started."""
    stack: list[StackItem]
    """The depth-first stack of the current queue entry's tree (top is the end of the list)."""
    visited: Annotated[list[str], union_in_order]
    """Datasets already taken off the stack, never traced twice in a run."""
    counters: Annotated[dict[str, int], add_counts]
    """Run totals: traced, dropped, failed, edges, flagged, claims, chunks."""
    failures: Annotated[list[Failure], append]
    """Per-item failures with their reasons, in the order they happened (concurrent source-tracing agents each
    append theirs)."""
    notes: Annotated[list[str], union_in_order]
    """Messages to show once (for example, that ``auto`` fell back to rules)."""

    # --- dataset fields (reset per dataset) ---------------------------------------------------------------
    current: StackItem | None
    """The dataset being traced now; ``None`` once the run is over."""
    info: dict[str, Any] | None
    """Hub metadata of ``current`` (created_at as ISO text, downloads, tags, ...)."""
    links: list[dict[str, Any]]
    """Resources the card names (kind, url, ref, origin)."""
    chunks: list[dict[str, Any]]
    """The pruned resource context of ``current``: ``ResourceChunk`` records as JSON."""
    claims: Annotated[list[dict[str, Any]], extend_or_reset]
    """Raw claims from the source-tracing agents (``RawClaim`` as JSON)."""
    aggregation: dict[str, Any] | None
    """The aggregated nodes and edges of ``current`` and the dropped claims, as JSON."""
    outcome: dict[str, Any] | None
    """How tracing ``current`` ended: ``status`` (traced, dropped, failed) and ``note``."""
