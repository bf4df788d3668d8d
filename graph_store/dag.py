"""The lineage is a DAG: every write keeps it one.

The DAG is the edges that are neither rejected nor **cycle candidates**. A cycle candidate is an edge whose write
would have closed a cycle: it is stored with status ``flagged`` and a note that starts with ``cycle:`` and names
the cycle, so a reviewer sees it in the queue, and the rest of the lineage is written as usual. A reviewer can
approve it only once the cycle is broken (another edge on it rejected or re-pointed).

A new edge ``target <- source`` closes a cycle when ``target`` is already upstream of ``source``. Finding out is a
reachability search between the two endpoints, upward from ``source`` and downward from ``target`` at once
(``closing_path``); it never scans the graph, and an edge to a new dataset costs one query.
A large write (an import) loads the DAG's pairs once instead and searches only inside the strongly connected
components that its new edges create (``BulkOracle``), which is linear in the graph when nothing closes a cycle.

Which direction is right: when the new edge is the exact reverse of a stored machine edge (A <- B against
B <- A), the one whose endpoints' creation dates fit (a source is created before what derives from it) stays in
the DAG; without dates, the one with the stronger evidence (source kind, then confidence); on a tie, the stored
one. The loser becomes the cycle candidate. Edges a human decided are never demoted. For a longer cycle, the new
edge is the candidate. The edges of one write are checked strongest evidence first, then by key (``check_order``),
so the weakest edge of a cycle made only of new edges is its candidate, whatever order the write lists them in.

A candidate is one only while its cycle is closed: when a write demotes an edge, the candidates whose cycle ran
through it are checked again, and one whose cycle is gone enters the DAG (as does a stored candidate written again
that no longer closes a cycle).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any

from graph_store.models import HUMAN_STATUSES, Edge, EdgeStatus, SourceKind

CYCLE_PREFIX = "cycle:"
# Evidence strength by where it was found, strongest first (models.SourceKind).
_KIND_RANK = {kind.value: rank for rank, kind in enumerate(reversed(list(SourceKind)))}

Pair = tuple[str, str]
ParentsOf = Callable[[list[str]], Iterable[Pair]]


def is_cycle_candidate(status: str | EdgeStatus | None, note: str | None) -> bool:
    """True for an edge kept out of the DAG because it would close a cycle."""
    return str(status) == EdgeStatus.FLAGGED.value and bool(note) and str(note).startswith(CYCLE_PREFIX)


def in_dag(status: str | EdgeStatus | None, note: str | None) -> bool:
    """True for an edge that counts in the DAG (not rejected, not a cycle candidate)."""
    return str(status) != EdgeStatus.REJECTED.value and not is_cycle_candidate(status, note)


def cycle_note(path: Sequence[str]) -> str:
    """The note of a cycle candidate ``target <- source`` whose ``source`` reaches ``target`` along ``path``."""
    # path runs source -> ... -> target (each derives from the next); the cycle closes with target <- source
    cycle = [path[-1], *path]
    return f"{CYCLE_PREFIX} would close {' <- '.join(cycle)}; a reviewer decides which direction is right"


def cycle_edges(note: str | None) -> set[Pair]:
    """The ``(target, source)`` keys of the edges on the cycle a candidate's note names (empty for other notes)."""
    if not note or not note.startswith(CYCLE_PREFIX) or " would close " not in note:
        return set()
    names = note.split(" would close ", 1)[1].split(";", 1)[0].split(" <- ")
    return set(pairwise(names))


def check_order(edge: Edge) -> tuple[int, float, str, str]:
    """Sort key for the edges of one write: stronger evidence (source kind, then confidence) first, then by key."""
    rank = _KIND_RANK.get(edge.source_kind.value if edge.source_kind else "", -1)
    return -rank, -float(edge.confidence), edge.target, edge.source


def as_dag_edge(edge: Edge) -> Edge:
    """``edge`` (a cycle candidate whose cycle is gone) entering the DAG: status ``auto`` unless the write sets
    one, and without its cycle note (a stored cycle note is dropped: see ``drops_cycle_note``)."""
    candidate = is_cycle_candidate(edge.status, edge.note)
    status = edge.status if "status" in edge.model_fields_set and not candidate else EdgeStatus.AUTO
    note = None if is_cycle_candidate(EdgeStatus.FLAGGED, edge.note) else edge.note
    entering = edge.model_copy(update={"status": status, "note": note})
    entering.model_fields_set.update({"status", "note"})
    return entering


def drops_cycle_note(edge: Edge, stored_status: str | None, stored_note: str | None) -> bool:
    """Whether writing ``edge`` over a stored edge clears its note: a cycle note goes when the edge is written
    with an explicit empty note (it entered the DAG)."""
    return (
        "note" in edge.model_fields_set
        and edge.note is None
        and is_cycle_candidate(stored_status, stored_note)
    )


def as_cycle_candidate(edge: Edge, path: Sequence[str]) -> Edge:
    """``edge`` turned into a cycle candidate (flagged, with the cycle in its note)."""
    flagged = edge.model_copy(update={"status": EdgeStatus.FLAGGED, "note": cycle_note(path)})
    flagged.model_fields_set.update({"status", "note"})
    return flagged


def closing_path(
    source: str,
    target: str,
    parents_of: ParentsOf,
    skip: set[Pair] | None = None,
    children_of: ParentsOf | None = None,
) -> list[str] | None:
    """The shortest upward path ``source -> … -> target`` (each derives from the next), or None.

    ``parents_of(ids)`` yields ``(child, parent)`` for the DAG edges out of ``ids``; ``children_of(ids)``, when
    given, those into ``ids``, and the search runs from both ends, always widening the smaller frontier, so it
    costs what the smaller side reaches (a new dataset has no children: one query). ``skip`` leaves edges out.
    Each step is one call; each dataset is visited once per side. A step walks the pairs it got in sorted order,
    so the path found (and the cycle a note names) does not depend on the order a store returns its rows in.
    """
    if source == target:
        return [source]
    toward_source: dict[str, str] = {source: source}  # reached upward from source: node -> its child
    toward_target: dict[str, str] = {target: target}  # reached downward from target: node -> its parent
    up, down = [source], [target]
    while up and (children_of is None or down):
        if children_of is None or len(up) <= len(down):
            up, meet = _widen(up, parents_of, toward_source, toward_target, skip, upward=True)
        else:
            down, meet = _widen(down, children_of, toward_target, toward_source, skip, upward=False)
        if meet is not None:
            return _join(meet, source, target, toward_source, toward_target)
    return None


def _widen(
    frontier: list[str],
    step: ParentsOf,
    mine: dict[str, str],
    theirs: dict[str, str],
    skip: set[Pair] | None,
    *,
    upward: bool,
) -> tuple[list[str], str | None]:
    """One step of one side of ``closing_path``: the datasets ``step`` newly reaches from ``frontier`` (parents
    when ``upward``, else children), each recorded in ``mine`` with the dataset it was reached from, and the
    first of them the other side has reached (``theirs``), where the search stops (None: none yet)."""
    widened: list[str] = []
    for child, parent in sorted(step(frontier)):
        near, far = (child, parent) if upward else (parent, child)
        if far in mine or (skip and (child, parent) in skip):
            continue
        mine[far] = near
        if far in theirs:
            return widened, far
        widened.append(far)
    return widened, None


def _join(
    meet: str, source: str, target: str, toward_source: dict[str, str], toward_target: dict[str, str]
) -> list[str]:
    head = [meet]
    while head[-1] != source:
        head.append(toward_source[head[-1]])
    path = list(reversed(head))
    while path[-1] != target:
        path.append(toward_target[path[-1]])
    return path


def new_edge_wins(new: Edge, old: Mapping[str, Any], created: Mapping[str, datetime | None]) -> bool:
    """Whether ``new`` (target <- source) is more likely right than the stored reverse edge ``old``."""
    if old.get("status") in HUMAN_STATUSES:
        return False
    made_target, made_source = created.get(new.target), created.get(new.source)
    if made_target is not None and made_source is not None and made_target != made_source:
        return _naive(made_source) < _naive(made_target)
    new_rank = _KIND_RANK.get(new.source_kind.value if new.source_kind else "", -1)
    old_rank = _KIND_RANK.get(old.get("source_kind") or "", -1)
    if new_rank != old_rank:
        return new_rank > old_rank
    return float(new.confidence) > float(old.get("confidence") or 0.0)


def _naive(moment: datetime) -> datetime:
    return (
        moment.replace(tzinfo=None)
        if moment.tzinfo is None
        else moment.astimezone(tz=None).replace(tzinfo=None)
    )


class Overlay:
    """DAG edges accepted in the current write, not yet stored: searched together with the store's."""

    def __init__(self) -> None:
        self.parents: dict[str, list[str]] = {}
        self.children: dict[str, list[str]] = {}

    def add(self, target: str, source: str) -> None:
        self.parents.setdefault(target, []).append(source)
        self.children.setdefault(source, []).append(target)

    def parents_of(self, ids: Iterable[str]) -> Iterator[Pair]:
        for child in ids:
            for parent in self.parents.get(child, ()):
                yield child, parent

    def children_of(self, ids: Iterable[str]) -> Iterator[Pair]:
        for parent in ids:
            for child in self.children.get(parent, ()):
                yield child, parent


class BulkOracle:
    """Reachability for a large write: the DAG's pairs and the write's candidate edges in memory.

    ``suspects`` are the candidate keys that lie inside a strongly connected component of stored + candidate
    edges: only those can close a cycle. The other candidates are in the DAG from the start; the caller adds each
    suspect that closes nothing (``add``) as it goes.
    """

    def __init__(self, stored: Sequence[Pair], candidates: Sequence[Pair]) -> None:
        import numpy as np
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import connected_components

        self.parents: dict[str, list[str]] = {}
        self.suspects: set[Pair] = set()
        pairs = [*stored, *candidates]
        if not pairs:
            return
        ends = np.array([end for pair in pairs for end in pair], dtype=object)
        names, codes = np.unique(ends, return_inverse=True)
        children, parents = codes[0::2], codes[1::2]
        size = len(names)
        graph = csr_matrix((np.ones(len(pairs), dtype=np.int8), (children, parents)), shape=(size, size))
        count, labels = connected_components(graph, directed=True, connection="strong")
        if count == size:
            return  # every component is one node: no cycle anywhere
        members = np.bincount(labels)
        first = len(stored)
        for offset, pair in enumerate(candidates):
            child, parent = labels[children[first + offset]], labels[parents[first + offset]]
            if child == parent and members[child] > 1:
                self.suspects.add(pair)
        for target, source in stored:
            self.parents.setdefault(target, []).append(source)
        for pair in candidates:
            if pair not in self.suspects:
                self.parents.setdefault(pair[0], []).append(pair[1])

    def parents_of(self, ids: Iterable[str]) -> Iterator[Pair]:
        for child in ids:
            for parent in self.parents.get(child, ()):
                yield child, parent

    def add(self, target: str, source: str) -> None:
        self.parents.setdefault(target, []).append(source)

    def remove(self, target: str, source: str) -> None:
        siblings = self.parents.get(target)
        if siblings and source in siblings:
            siblings.remove(source)
