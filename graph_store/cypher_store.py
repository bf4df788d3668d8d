"""The store logic both backends share, written once over two primitives: a read and a write transaction.

A backend supplies ``_read(query, params)`` and ``_write(work)``; ``work`` receives a transaction whose ``run``
executes one statement and is called again on a transient failure (Neo4j's managed transactions), so it must not
touch outside state. All statements come from ``graph_store.queries``.

Algorithms:

- **Protected upserts.** Each batch reads the stored edges it touches, skips those a human decided (approved,
  rejected, edited), merges the rest field by field (fields the caller left unset keep stored values) and writes
  them with one ``UNWIND`` statement, in one transaction.
- **Contamination** is a level-BFS downstream from the benchmark: one batched query per depth returns the edges
  into the current frontier; the client keeps the first parent it sees for each dataset. BFS order makes that
  parent a shortest witness, each dataset is visited once, so cycles end and the cost is linear in the edges
  walked, never in the number of paths.
- **Trees** (upstream/downstream) are the same level-BFS bounded by depth.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from itertools import pairwise
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from graph_store import dag
from graph_store import queries as q
from graph_store.base import GraphStore
from graph_store.models import (
    HUMAN_STATUSES,
    Action,
    AuditEntry,
    BenchResult,
    ContaminationHit,
    Edge,
    EdgeStatus,
    Node,
    Relationship,
    ScoreProfile,
    SourceKind,
    Subgraph,
    UpsertReport,
    utcnow,
    validate_node_id,
)
from oda.errors import ConflictError, InputError, StoreError, UnknownEdgeError

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

# Edge fields a decision may change, and so the fields an undo restores.
DECISION_FIELDS = ("status", "relationship", "note")


@dataclass
class Result:
    """Rows of one statement, positional, with their column names."""

    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=False)) for row in self.rows]


@dataclass
class Witnesses:
    """What a downstream BFS from ``root`` found: for each dataset reached, its parent on a shortest witness path,
    its hops from the root and the lowest confidence on that path."""

    root: str
    parent: dict[str, str] = field(default_factory=dict)
    hops: dict[str, int] = field(default_factory=dict)
    weakest: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.hops[self.root] = 0
        self.weakest[self.root] = 1.0

    def reach(self, child: str, parent: str, confidence: float) -> bool:
        """Record ``child`` reached from ``parent`` (already reached) over an edge of ``confidence``; False when
        ``child`` was reached before (the BFS's first path is a shortest one)."""
        if child in self.hops:
            return False
        self.parent[child] = parent
        self.hops[child] = self.hops[parent] + 1
        self.weakest[child] = min(self.weakest[parent], float(confidence))
        return True

    def path(self, dataset: str) -> list[str]:
        """The witness path from ``dataset`` back to the root."""
        path = [dataset]
        while path[-1] != self.root:
            path.append(self.parent[path[-1]])
        return path


class Tx(Protocol):
    """One open transaction."""

    # When set, the transaction MERGEs what it would otherwise CREATE because a lookup found it missing (see
    # ``EmbeddedStore._write``: a retry after the engine reported a duplicate key the lookup did not see).
    @property
    def merge_creates(self) -> bool: ...

    def run(self, query: str, params: dict[str, Any]) -> Result: ...


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- conversions between models and stored rows --------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def node_row(node: Node) -> dict[str, Any]:
    """A node as an upsert row: fields the caller never set are null, so they keep the stored value."""
    row: dict[str, Any] = {}
    for name in q.NODE_COLUMNS:
        value = getattr(node, name) if (name == "id" or name in node.model_fields_set) else None
        row[name] = _iso(value) if isinstance(value, datetime) else value
    row["default_on_hub"] = not node.id.startswith("ext:")
    row["default_is_benchmark"] = False
    row["default_domains"] = []
    return row


def node_from_row(row: Mapping[str, Any]) -> Node:
    data = {k: v for k, v in row.items() if v is not None and k in q.NODE_COLUMNS}
    return Node.model_validate(data)


def edge_row(edge: Edge) -> dict[str, Any]:
    """All fields of an edge as stored (enums as values, datetimes ISO, components as JSON)."""
    components = edge.components
    return {
        "target": edge.target,
        "source": edge.source,
        "relationship": edge.relationship.value,
        "confidence": edge.confidence,
        "evidence": edge.evidence,
        "evidence_url": edge.evidence_url,
        "source_kind": edge.source_kind.value if edge.source_kind is not None else None,
        "extractor": edge.extractor,
        "status": edge.status.value,
        "split": edge.split,
        "teacher": edge.teacher,
        "components": json.dumps(components.model_dump(mode="json"), sort_keys=True) if components else None,
        "run_id": edge.run_id,
        "note": edge.note,
        "version": edge.version,
        "updated_at": _iso(edge.updated_at),
    }


def edge_from_row(row: Mapping[str, Any]) -> Edge:
    data = {k: v for k, v in row.items() if v is not None}
    if isinstance(data.get("components"), str):
        data["components"] = json.loads(data["components"])
    return Edge.model_validate(data)


def _coerce(model: type[M], item: Any) -> M:
    if isinstance(item, model):
        return item
    if isinstance(item, Mapping):
        return model.model_validate(item)
    raise TypeError(f"expected {model.__name__} or a mapping, got {type(item).__name__}")


def _coerce_or_input_error(model: type[M], item: Any) -> M:
    try:
        return _coerce(model, item)
    except (ValidationError, TypeError, ValueError) as exc:
        raise InputError(f"invalid {model.__name__}: {_short_error(exc)}") from exc


def _validate_all(model: type[M], items: Iterable[Any], report: UpsertReport) -> list[M]:
    valid: list[M] = []
    for index, item in enumerate(items):
        try:
            valid.append(_coerce(model, item))
        except (ValidationError, TypeError, ValueError) as exc:
            label = (
                item.get("id") or f"{item.get('target')} <- {item.get('source')}"
                if isinstance(item, Mapping)
                else ""
            )
            report.rejected.append(f"item {index} {label}: {_short_error(exc)}".replace("  ", " "))
    return valid


def _short_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}" for err in exc.errors()
        )
    return str(exc)


# --- the shared store ------------------------------------------------------------------------------------------


class CypherGraphStore(GraphStore):
    """``GraphStore`` over a Cypher engine; subclasses provide the transport."""

    dialect: q.Dialect
    batch_size: int = 5000
    # Batch size of an edge write into a store that holds no edge yet (every row a create).
    fresh_batch_size: int = 5000
    # A write of at least this many items may read every node id once (``_id_snapshot``).
    snapshot_min_items: int = 50_000
    bfs_batch_size: int = 20000
    # A write with at least this many edges entering the DAG checks them against all its pairs, loaded once.
    dag_bulk_min: int = 2000
    # A BFS whose frontier grows past this fraction of all nodes loads the walkable edges in one scan.
    bfs_scan_fraction: float | None = None
    bfs_scan_min: int = 0

    # --- primitives -------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def _read(self, query: str, params: dict[str, Any]) -> Result:
        """Run one read statement."""

    @abc.abstractmethod
    def _write(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` in one write transaction; roll back if it raises."""

    @abc.abstractmethod
    def _next_audit_seq(self, tx: Tx) -> int:
        """The next audit sequence number, allocated inside ``tx``."""

    def _lock_edge(self, tx: Tx, target: str, source: str) -> None:
        """Take a write lock on one edge before reading it in a decision (no-op where writers are serialized)."""

    def _read_q(self, built: q.Query) -> Result:
        return self._read(built[0], built[1])

    def _read_by_ids(self, builder: Callable[..., q.Query], ids: Sequence[str], **options: Any) -> Result:
        """Run ``builder(dialect, ids, **options)``, in one statement per id list of ``dialect.id_lookups``.

        (On ladybug a short list goes id by id: one id is a primary-key lookup, 30x cheaper per id than a list.)
        """
        lookups = self.dialect.id_lookups(ids)
        if len(lookups) == 1:
            return self._read_q(builder(self.dialect, lookups[0], **options))
        merged = Result([])
        for some in lookups:
            result = self._read_q(builder(self.dialect, some, **options))
            merged.columns = result.columns
            merged.rows.extend(result.rows)
        return merged

    # --- writes -----------------------------------------------------------------------------------------------
    def upsert_nodes(self, nodes: Iterable[Node | Mapping[str, Any]]) -> UpsertReport:
        """MERGE nodes by id. Fields the caller set overwrite stored ones; unset or null fields keep them.

        Items may be ``Node`` objects or mappings; invalid mappings are listed in ``rejected``.
        """
        report = UpsertReport()
        merged: dict[str, dict[str, Any]] = {}
        for node in _validate_all(Node, nodes, report):
            row = node_row(node)
            if node.id in merged:
                previous = merged[node.id]
                row = {k: (v if v is not None else previous.get(k)) for k, v in row.items()}
            merged[node.id] = row
        rows = list(merged.values())
        with self._writer_guard():
            known = self._id_snapshot(len(rows))
            for batch in _chunks(rows, self.batch_size):
                created, updated, unchanged = self._write(
                    partial(self._upsert_nodes_tx, rows=list(batch), known=known)
                )
                report.created += created
                report.updated += updated
                report.unchanged += unchanged
        return report

    def _id_snapshot(self, items: int) -> set[str] | None:
        """Every stored node id, for a large write under the writer guard to look ids up in memory (else None).

        Only a backend whose writer guard excludes every other writer may return a set; the write keeps it
        up to date with the nodes it creates.
        """
        return None

    def _upsert_nodes_tx(
        self, tx: Tx, rows: list[dict[str, Any]], known: set[str] | None = None
    ) -> tuple[int, int, int]:
        ids = [r["id"] for r in rows]
        existing = self._existing_ids(tx, ids) if known is None else {i for i in ids if i in known}
        new_rows = [r for r in rows if r["id"] not in existing]
        old_rows = [r for r in rows if r["id"] in existing]
        if new_rows and tx.merge_creates:
            tx.run(*q.upsert_nodes(self.dialect, new_rows))
        elif new_rows:
            tx.run(*q.create_nodes(self.dialect, new_rows))
            if known is not None:
                known.update(r["id"] for r in new_rows)
        changed = self._changed_nodes(tx, old_rows) if old_rows else []
        if changed:
            tx.run(*q.update_nodes(self.dialect, changed))
            self._note_updates(len(changed))
        return len(new_rows), len(changed), len(old_rows) - len(changed)

    def _changed_nodes(self, tx: Tx, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows among ``rows`` (of stored nodes) that would change a stored field: a re-run of the same
        input rewrites nothing."""
        ids = [r["id"] for r in rows]
        stored = {r["id"]: r for r in tx.run(*q.get_nodes(self.dialect, ids)).dicts()}
        return [
            row
            for row in rows
            if any(
                value is not None and value != stored.get(row["id"], {}).get(name)
                for name, value in row.items()
                if name in q.NODE_COLUMNS
            )
        ]

    def _existing_ids(self, tx: Tx, ids: Sequence[str]) -> set[str]:
        return {r[0] for r in tx.run(*q.existing_ids(self.dialect, ids)).rows}

    def _stored_edges(
        self, tx: Tx, batch: Sequence[Edge], existing: set[str]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """The stored edges among ``batch`` (only targets that exist can have any)."""
        wanted = {e.key for e in batch if e.target in existing and e.source in existing}
        if not wanted:
            return {}
        targets = sorted({target for target, _ in wanted})
        rows = tx.run(*q.parents_of(self.dialect, targets, include_rejected=True)).dicts()
        return {(r["target"], r["source"]): r for r in rows if (r["target"], r["source"]) in wanted}

    def _insert_edges(self, tx: Tx, rows: list[dict[str, Any]]) -> None:
        """Write edges known to be new (endpoints exist). Backends may bulk-load instead."""
        tx.run(*q.create_edges(self.dialect, rows))

    def upsert_edges(self, edges: Iterable[Edge | Mapping[str, Any]]) -> UpsertReport:
        """MERGE edges by (target, source), creating missing endpoint nodes.

        A stored edge whose status is approved, rejected or edited is never changed (counted in ``protected``).
        Otherwise fields the caller set overwrite stored ones; a status change bumps ``version``.
        """
        report = UpsertReport()
        merged: dict[tuple[str, str], Edge] = {}
        for edge in _validate_all(Edge, edges, report):
            merged[edge.key] = edge
        with self._writer_guard():
            fresh = self._has_no_edges()
            items = self._keep_dag(merged, report)
            known = self._id_snapshot(len(items))
            # into a store with no edge every row is a create: batches may be larger (``fresh_batch_size``)
            size = max(self.batch_size, self.fresh_batch_size) if fresh else self.batch_size
            for batch in _chunks(items, size):
                created, updated, protected, unchanged = self._write(
                    partial(self._upsert_edges_tx, batch=list(batch), fresh=fresh, known=known)
                )
                report.created += created
                report.updated += updated
                report.protected += protected
                report.unchanged += unchanged
        return report

    def _keep_dag(self, merged: dict[tuple[str, str], Edge], report: UpsertReport) -> list[Edge]:
        """The edges to write, with each one that would close a cycle turned into a cycle candidate (and a
        stored reverse edge that loses to its new counterpart demoted): see ``graph_store.dag``.

        Only edges that will enter the DAG are checked; a small write searches upward from each one's source
        with one query per level, a large one (``dag_bulk_min`` edges) loads the DAG's pairs once.
        """
        rejected, flagged = EdgeStatus.REJECTED, EdgeStatus.FLAGGED
        entering = [
            (key, e)
            for key, e in merged.items()
            if e.status is not rejected
            and not (
                e.status is flagged
                and "note" in e.model_fields_set
                and dag.is_cycle_candidate(flagged, e.note)
            )
        ]
        if not entering:
            return list(merged.values())
        bulk = len(entering) >= self.dag_bulk_min
        states = self._edge_states([e for _, e in entering], bulk)
        candidates = []
        stale: set[tuple[str, str]] = set()  # stored cycle candidates written again: checked anew
        for key, edge in entering:
            state = states.get(key)
            if state is not None and (
                state["status"] in HUMAN_STATUSES or dag.in_dag(state["status"], state["note"])
            ):
                continue  # kept as stored (a human decision), or already in the DAG
            if state is not None and dag.is_cycle_candidate(state["status"], state["note"]):
                stale.add(key)
            candidates.append(edge)
        if not candidates:
            return list(merged.values())
        candidates.sort(key=dag.check_order)  # the same write gives the same DAG in any order
        stored_pairs = [k for k, st in states.items() if dag.in_dag(st["status"], st["note"])] if bulk else []
        oracle = dag.BulkOracle(stored_pairs, [e.key for e in candidates]) if bulk else None
        if oracle is not None and not oracle.suspects:
            for key in stale:  # stored + new edges have no cycle: one strong-components pass
                merged[key] = dag.as_dag_edge(merged[key])
            return list(merged.values())
        overlay = dag.Overlay()
        demoted: set[tuple[str, str]] = set()

        def parents_of(ids: list[str]) -> Iterator[tuple[str, str]]:
            if oracle is not None:
                yield from oracle.parents_of(ids)
                return
            yield from overlay.parents_of(ids)
            for batch in _chunks(ids, self.bfs_batch_size):
                yield from ((child, parent) for child, parent in self._read_by_ids(q.dag_parents, batch).rows)

        def children_of(ids: list[str]) -> Iterator[tuple[str, str]]:
            yield from overlay.children_of(ids)
            for batch in _chunks(ids, self.bfs_batch_size):
                yield from (
                    (child, parent) for child, parent in self._read_by_ids(q.dag_children, batch).rows
                )

        both_ways = None if oracle is not None else children_of

        def enter(edge: Edge) -> None:
            (oracle or overlay).add(*edge.key)
            if edge.key in stale:
                merged[edge.key] = dag.as_dag_edge(edge)

        # a target nothing derives from closes no cycle, nor does a source derived from nothing: one query each
        # finds which stored targets have children and which stored sources have parents
        parents_with_children: set[str] = set()
        children_with_parents: set[str] = set()
        if oracle is None:
            for batch in _chunks(sorted({e.target for e in candidates}), q.SHORT_ID_LIST):
                parents_with_children.update(p for _, p in self._read_by_ids(q.dag_children, batch).rows)
            if parents_with_children:
                for batch in _chunks(sorted({e.source for e in candidates}), q.SHORT_ID_LIST):
                    children_with_parents.update(c for c, _ in self._read_by_ids(q.dag_parents, batch).rows)
        cycles: dict[tuple[str, str], list[str]] = {}  # candidate key -> its cycle's path
        for edge in candidates:
            target, source = edge.key
            if oracle is not None and edge.key not in oracle.suspects:
                if edge.key in stale:  # on no cycle: in the oracle's graph already
                    merged[edge.key] = dag.as_dag_edge(edge)
                continue
            if oracle is None and (
                (target not in parents_with_children and target not in overlay.children)
                or (source not in children_with_parents and source not in overlay.parents)
            ):
                enter(edge)
                continue
            path = dag.closing_path(source, target, parents_of, demoted, both_ways)
            if path is not None and len(path) == 2:
                reverse = self._edge_row((source, target)) if (source, target) in states or not bulk else None
                if (
                    reverse is not None
                    and (source, target) not in merged
                    and dag.new_edge_wins(edge, reverse, self._created_dates([target, source]))
                ):
                    demoted.add((source, target))
                    path = dag.closing_path(source, target, parents_of, demoted, both_ways)
                    if path is None:
                        merged[(source, target)] = dag.as_cycle_candidate(
                            edge_from_row(reverse), [target, source]
                        )
                        cycles[(source, target)] = [target, source]
                    else:
                        demoted.discard((source, target))
            if path is None:
                enter(edge)
            else:
                merged[edge.key] = dag.as_cycle_candidate(edge, path)
                cycles[edge.key] = path
        if demoted:
            written = {edge.key: edge for edge in candidates}
            self._recheck_candidates(merged, cycles, demoted, parents_of, both_ways, enter, written)
        report.cycles.extend(
            f"{target} <- {source}: {dag.cycle_note(path)}"
            for (target, source), path in cycles.items()
            if (target, source) not in demoted
        )
        return list(merged.values())

    def _recheck_candidates(
        self,
        merged: dict[tuple[str, str], Edge],
        cycles: dict[tuple[str, str], list[str]],
        demoted: set[tuple[str, str]],
        parents_of: dag.ParentsOf,
        children_of: dag.ParentsOf | None,
        enter: Callable[[Edge], None],
        written: Mapping[tuple[str, str], Edge],
    ) -> None:
        """After a write demoted ``demoted``: each cycle candidate whose cycle ran through one of them (made in
        this write, or stored) is checked again against the DAG as the write leaves it; one that closes no cycle
        any more enters the DAG, one that still does gets its current cycle in its note."""
        recheck = {
            key: written[key]
            for key, path in cycles.items()
            if key not in demoted and set(pairwise(path)) & demoted
        }
        for stored in self.flagged():
            if stored.key not in merged and dag.cycle_edges(stored.note) & demoted:
                recheck[stored.key] = stored
        for key in sorted(recheck, key=lambda k: dag.check_order(recheck[k])):
            target, source = key
            path = dag.closing_path(source, target, parents_of, demoted, children_of)
            if path is None:
                cycles.pop(key, None)
                enter(recheck[key])
                merged[key] = dag.as_dag_edge(recheck[key])
            else:
                merged[key] = dag.as_cycle_candidate(recheck[key], path)
                if key in cycles:
                    cycles[key] = path

    def _edge_states(self, edges: list[Edge], everything: bool) -> dict[tuple[str, str], dict[str, Any]]:
        """Stored ``{status, note, …}`` by key: of every edge (one scan), or of ``edges`` (their targets' edges)."""
        if everything:
            rows = self._read_q(q.edge_states(self.dialect)).rows
            return {(r[0], r[1]): {"status": r[2], "note": r[3]} for r in rows}
        keys = {e.key for e in edges}
        found: dict[tuple[str, str], dict[str, Any]] = {}
        # short id lists are index lookups (see ``_read_by_ids``); a long one would scan every edge
        for batch in _chunks(sorted({target for target, _ in keys}), q.SHORT_ID_LIST):
            stored = self._read_by_ids(q.parents_of, batch, include_rejected=True).dicts()
            found.update({k: r for r in stored if (k := (r["target"], r["source"])) in keys})
        return found

    def _edge_row(self, key: tuple[str, str]) -> dict[str, Any] | None:
        rows = self._read_q(q.edges_by_keys(self.dialect, [{"target": key[0], "source": key[1]}])).dicts()
        return rows[0] if rows else None

    def _created_dates(self, ids: list[str]) -> dict[str, datetime | None]:
        return {n.id: n.created_at for n in self.get_nodes(ids)}

    def _note_updates(self, rows: int) -> None:
        """Called when a write transaction updates ``rows`` stored rows (a backend may release memory after)."""

    def _writer_guard(self) -> AbstractContextManager[Any]:
        """Held across a multi-batch write where no other writer can interleave (embedded: the store lock)."""
        return nullcontext()

    def _has_no_edges(self) -> bool:
        """True when the store holds no edge and no other writer can add one before the call ends.

        Then a bulk write skips looking up stored edges (its keys are unique). Only a backend with a single
        writer can promise that, so the default is False.
        """
        return False

    def _upsert_edges_tx(
        self, tx: Tx, batch: list[Edge], fresh: bool = False, known: set[str] | None = None
    ) -> tuple[int, int, int, int]:
        endpoints = sorted({e.target for e in batch} | {e.source for e in batch})
        existing = (
            self._existing_ids(tx, endpoints) if known is None else {i for i in endpoints if i in known}
        )
        stored = {} if fresh else self._stored_edges(tx, batch, existing)
        new_rows: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []
        created = updated = protected = unchanged = 0
        now = utcnow().isoformat()
        for edge in batch:
            incoming = edge_row(edge)
            old = stored.get(edge.key)
            if old is None:
                if incoming["updated_at"] is None:
                    incoming["updated_at"] = now
                new_rows.append(incoming)
                created += 1
                continue
            if old.get("status") in HUMAN_STATUSES:
                protected += 1
                continue
            row = dict(old)
            for name in q.EDGE_COLUMNS:
                if name in edge.model_fields_set and incoming[name] is not None:
                    row[name] = incoming[name]
            if dag.drops_cycle_note(edge, old.get("status"), old.get("note")):
                row["note"] = None
            old_version = old.get("version") or 0
            row["version"] = old_version + (1 if row["status"] != old.get("status") else 0)
            if all(row.get(name) == old.get(name) for name in q.EDGE_COLUMNS if name != "updated_at"):
                unchanged += 1  # nothing to write: a re-run of the same input converges without rewriting
                continue
            row["updated_at"] = incoming["updated_at"] if "updated_at" in edge.model_fields_set else now
            rows.append(row)
            updated += 1
        missing = [i for i in endpoints if i not in existing]
        if missing and (new_rows or rows):
            tx.run(
                *q.ensure_nodes(
                    self.dialect,
                    [{"id": i, "on_hub": not i.startswith("ext:")} for i in missing],
                    merge=tx.merge_creates,
                )
            )
        if new_rows and tx.merge_creates:
            tx.run(*q.upsert_edges(self.dialect, new_rows))
        elif new_rows:
            self._insert_edges(tx, new_rows)
        if rows:
            tx.run(*q.update_edges(self.dialect, rows))
            self._note_updates(len(rows))
        return created, updated, protected, unchanged

    def _ensure_endpoints(self, tx: Tx, rows: list[dict[str, Any]]) -> None:
        ids = sorted({r["target"] for r in rows} | {r["source"] for r in rows})
        existing = self._existing_ids(tx, ids)
        missing = [{"id": i, "on_hub": not i.startswith("ext:")} for i in ids if i not in existing]
        if missing:
            tx.run(*q.ensure_nodes(self.dialect, missing, merge=tx.merge_creates))

    def attach_scores(self, profiles: Iterable[ScoreProfile | Mapping[str, Any]]) -> int:
        """Store score profiles, replacing any earlier profile for the same (dataset, scorer, axis)."""
        rows = [
            _record_row(
                _coerce_or_input_error(ScoreProfile, p), ("dataset", "scorer", "axis"), q.SCORE_COLUMNS
            )
            for p in profiles
        ]
        return self._write_records("ScoreProfile", "HAS_SCORE", rows)

    def attach_results(self, results: Iterable[BenchResult | Mapping[str, Any]]) -> int:
        """Store benchmark results, replacing any earlier one for the same (dataset, base_model, benchmark)."""
        rows = [
            _record_row(
                _coerce_or_input_error(BenchResult, r),
                ("dataset", "base_model", "benchmark"),
                q.RESULT_COLUMNS,
            )
            for r in results
        ]
        return self._write_records("BenchResult", "HAS_RESULT", rows)

    def _write_records(self, label: str, rel: str, rows: list[dict[str, Any]]) -> int:
        unique = list({r["key"]: r for r in rows}.values())

        def work(tx: Tx, batch: list[dict[str, Any]]) -> None:
            self._ensure_endpoints(tx, [{"target": r["dataset"], "source": r["dataset"]} for r in batch])
            tx.run(*q.upsert_records(self.dialect, label, rel, batch))

        for batch in _chunks(unique, self.batch_size):
            self._write(partial(work, batch=list(batch)))
        return len(unique)

    # --- decisions --------------------------------------------------------------------------------------------
    def decide(
        self,
        target: str,
        source: str,
        action: Action | str,
        *,
        reviewer: str,
        reason: str | None = None,
        relationship: Relationship | str | None = None,
        new_source: str | None = None,
        note: str | None = None,
        expected_version: int | None = None,
    ) -> AuditEntry:
        """Apply a human decision to one edge and append it to the audit log (see ``GraphStore.decide``)."""
        try:
            chosen = Action.parse(action)
        except ValueError as exc:
            raise InputError(str(exc)) from exc
        if not reviewer or not str(reviewer).strip():
            raise InputError("a decision needs a reviewer")
        try:
            validate_node_id(target)
            validate_node_id(source)
            parsed_rel = Relationship.parse(relationship) if relationship is not None else None
            if new_source is not None:
                validate_node_id(new_source)
        except ValueError as exc:
            raise InputError(str(exc)) from exc
        if chosen is Action.EDIT and parsed_rel is None and note is None:
            raise InputError("edit needs a relationship and/or a note")
        if chosen is Action.REPOINT:
            if new_source is None:
                raise InputError("repoint needs new_source")
            if new_source in (source, target):
                raise InputError(f"cannot repoint {target} <- {source} to {new_source}")
        return self._write(
            lambda tx: self._decide_tx(
                tx, target, source, chosen, reviewer, reason, parsed_rel, new_source, note, expected_version
            )
        )

    def _decide_tx(
        self,
        tx: Tx,
        target: str,
        source: str,
        action: Action,
        reviewer: str,
        reason: str | None,
        relationship: Relationship | None,
        new_source: str | None,
        note: str | None,
        expected_version: int | None,
    ) -> AuditEntry:
        self._lock_edge(tx, target, source)
        found = tx.run(*q.edges_by_keys(self.dialect, [{"target": target, "source": source}])).dicts()
        if not found:
            raise UnknownEdgeError(f"no edge {target} <- {source}")
        row = found[0]
        version = row.get("version") or 0
        if expected_version is not None and expected_version != version:
            raise ConflictError(
                f"edge {target} <- {source} is at version {version}, not {expected_version}: "
                "someone else decided it meanwhile; reload and try again"
            )
        previous = {k: row.get(k) for k in DECISION_FIELDS}
        new: dict[str, Any] = {}
        writes: list[dict[str, Any]] = []
        now = utcnow().isoformat()
        if action is Action.APPROVE:
            new = {"status": EdgeStatus.APPROVED.value}
            if note is not None:
                new["note"] = note
        elif action is Action.REJECT:
            new = {"status": EdgeStatus.REJECTED.value, "note": note if note is not None else reason}
        elif action is Action.EDIT:
            new = {"status": EdgeStatus.EDITED.value}
            if relationship is not None:
                new["relationship"] = relationship.value
            if note is not None:
                new["note"] = note
        elif action is Action.REPOINT:
            assert new_source is not None
            new = {"status": EdgeStatus.REJECTED.value, "note": reason or f"repointed to {new_source}"}
            existing_new = tx.run(
                *q.edges_by_keys(self.dialect, [{"target": target, "source": new_source}])
            ).dicts()
            replacement = dict(existing_new[0]) if existing_new else dict(row)
            previous["repoint"] = {
                "source": new_source,
                "existed": bool(existing_new),
                **({k: existing_new[0].get(k) for k in DECISION_FIELDS} if existing_new else {}),
            }
            replacement.update(
                {
                    "target": target,
                    "source": new_source,
                    "status": EdgeStatus.EDITED.value,
                    "relationship": relationship.value if relationship is not None else row["relationship"],
                    "evidence": row.get("evidence"),
                    "evidence_url": row.get("evidence_url"),
                    "source_kind": row.get("source_kind") or SourceKind.HUMAN.value,
                    "extractor": "human",
                    "note": note,
                    "version": ((existing_new[0].get("version") or 0) + 1) if existing_new else 1,
                    "updated_at": now,
                }
            )
            writes.append(replacement)
            new["repointed_to"] = new_source
        elif action is Action.UNDO:
            undone = self._last_undoable(tx, target, source, reviewer)
            restore = {k: v for k, v in undone.previous.items() if k in DECISION_FIELDS}
            new = {**restore, "undone_seq": undone.seq}
            repoint = undone.previous.get("repoint")
            if isinstance(repoint, dict):
                if repoint.get("existed"):
                    restored = tx.run(
                        *q.edges_by_keys(self.dialect, [{"target": target, "source": repoint["source"]}])
                    ).dicts()
                    if restored:
                        back = dict(restored[0])
                        back.update({k: repoint.get(k) for k in DECISION_FIELDS})
                        back["version"] = (back.get("version") or 0) + 1
                        back["updated_at"] = now
                        writes.append(back)
                else:
                    tx.run(*q.delete_edge(self.dialect, target, repoint["source"]))
        updated = dict(row)
        updated.update({k: v for k, v in new.items() if k in DECISION_FIELDS})
        updated["version"] = version + 1
        updated["updated_at"] = now
        writes.insert(0, updated)
        self._refuse_cycles_tx(tx, row, writes, action)
        self._ensure_endpoints(tx, writes)
        tx.run(*q.upsert_edges(self.dialect, writes))
        entry = AuditEntry(
            seq=self._next_audit_seq(tx),
            target=target,
            source=source,
            action=action.value,
            reviewer=reviewer,
            previous=previous,
            new=new,
            reason=reason,
        )
        tx.run(*q.insert_audit(self.dialect, _audit_row(entry)))
        return entry

    def _refuse_cycles_tx(
        self, tx: Tx, before: dict[str, Any], writes: list[dict[str, Any]], action: Action
    ) -> None:
        """Refuse a decision that would bring an edge into the DAG where it closes a cycle."""
        was_in_dag = {
            (before["target"], before["source"]): dag.in_dag(before.get("status"), before.get("note"))
        }
        leaving = {
            (w["target"], w["source"]) for w in writes if not dag.in_dag(w.get("status"), w.get("note"))
        }

        def parents_of(ids: list[str]) -> Iterator[tuple[str, str]]:
            for batch in _chunks(ids, self.bfs_batch_size):
                rows = tx.run(*q.dag_parents(self.dialect, list(batch))).rows
                yield from ((child, parent) for child, parent in rows)

        def children_of(ids: list[str]) -> Iterator[tuple[str, str]]:
            for batch in _chunks(ids, self.bfs_batch_size):
                rows = tx.run(*q.dag_children(self.dialect, list(batch))).rows
                yield from ((child, parent) for child, parent in rows)

        for write in writes:
            key = (write["target"], write["source"])
            if not dag.in_dag(write.get("status"), write.get("note")) or was_in_dag.get(key, False):
                continue
            path = dag.closing_path(
                write["source"], write["target"], parents_of, leaving | {key}, children_of
            )
            if path is not None:
                cycle = " <- ".join([path[-1], *path])
                raise InputError(
                    f"cannot {action} {key[0]} <- {key[1]}: the lineage would contain the cycle {cycle}; "
                    "reject or re-point another edge on it first"
                )

    def _last_undoable(self, tx: Tx, target: str, source: str, reviewer: str) -> AuditEntry:
        entries = [
            _audit_from_row(r)
            for r in tx.run(*q.list_audit(self.dialect, target=target, source=source)).dicts()
        ]
        undone = {e.new.get("undone_seq") for e in entries if e.action == Action.UNDO}
        for entry in reversed(entries):
            if entry.reviewer == reviewer and entry.action != Action.UNDO and entry.seq not in undone:
                return entry
        raise StoreError(f"{reviewer} has no decision on {target} <- {source} left to undo")

    # --- reads ------------------------------------------------------------------------------------------------
    def get_node(self, node_id: str) -> Node | None:
        """The node with this id, or None."""
        rows = self._read_q(q.get_nodes(self.dialect, [node_id])).dicts()
        return node_from_row(rows[0]) if rows else None

    def get_nodes(self, ids: Sequence[str]) -> list[Node]:
        """The stored nodes among ``ids`` (in batches)."""
        found: list[Node] = []
        for batch in _chunks(list(ids), self.bfs_batch_size):
            found.extend(node_from_row(r) for r in self._read_by_ids(q.get_nodes, batch).dicts())
        return found

    def get_edge(self, target: str, source: str) -> Edge | None:
        """The edge ``target <- source``, or None."""
        rows = self._read_q(q.edges_by_keys(self.dialect, [{"target": target, "source": source}])).dicts()
        return edge_from_row(rows[0]) if rows else None

    def nodes(self) -> list[Node]:
        """Every node, ordered by id."""
        return [node_from_row(r) for r in self._read_q(q.get_nodes(self.dialect)).dicts()]

    def edges(
        self,
        *,
        status: EdgeStatus | Sequence[EdgeStatus] | None = None,
        target: str | None = None,
        source: str | None = None,
    ) -> list[Edge]:
        """Edges, optionally by status (one or several) and endpoint, ordered by (target, source)."""
        statuses = _status_values(status)
        built = q.list_edges(self.dialect, statuses=statuses, target=target, source=source)
        return [edge_from_row(r) for r in self._read_q(built).dicts()]

    def flagged(self) -> list[Edge]:
        """Edges with status ``flagged``, lowest confidence first."""
        built = q.list_edges(self.dialect, statuses=[EdgeStatus.FLAGGED.value], order_by_confidence=True)
        return [edge_from_row(r) for r in self._read_q(built).dicts()]

    def counts(self) -> dict[str, int]:
        """``{"nodes": …, "edges": …}``."""
        row = self._read_q(q.count_graph(self.dialect)).dicts()[0]
        return {"nodes": int(row["nodes"]), "edges": int(row["edges"])}

    def edge_pairs(self, *, include_rejected: bool = False) -> list[tuple[str, str]]:
        """``(target, source)`` of every edge (rejected ones only when asked)."""
        rows = self._read_q(q.all_edge_pairs(self.dialect, include_rejected=include_rejected)).rows
        return [(r[0], r[1]) for r in rows]

    def contamination(
        self,
        benchmark: str,
        *,
        min_confidence: float = 0.0,
        statuses: Sequence[EdgeStatus] | None = None,
        split: str | None = None,
    ) -> list[ContaminationHit]:
        """Every dataset from which ``benchmark`` is reachable upstream, with one shortest witness path.

        Only edges with confidence ≥ ``min_confidence`` are walked; rejected edges never are. ``statuses``
        restricts the edges walked, ``split`` keeps edges whose split is that value or unknown. A hit's
        ``min_confidence`` is the lowest confidence on its witness path. An unknown benchmark has no hits.
        Hits are ordered by hops, then dataset id.
        """
        if not 0.0 <= min_confidence <= 1.0:
            raise InputError(f"min_confidence must be in [0, 1], got {min_confidence}")
        bench_nodes = self.get_nodes([benchmark])
        if not bench_nodes:
            return []
        status_values = _status_values(statuses)
        filters: dict[str, Any] = {
            "min_confidence": min_confidence,
            "statuses": status_values,
            "split": split,
        }
        found = Witnesses(benchmark)
        frontier = [benchmark]
        scan_above = self._scan_threshold()
        while frontier:
            if scan_above is not None and len(frontier) > scan_above:
                found = self._bfs_in_memory(found, frontier, filters)
                break
            next_frontier: list[str] = []
            for batch in _chunks(frontier, self.bfs_batch_size):
                for child, pid, confidence in self._read_by_ids(q.children_of, batch, **filters).rows:
                    if found.reach(child, pid, confidence):
                        next_frontier.append(child)
            frontier = next_frontier
        names = [benchmark] + ([bench_nodes[0].name] if bench_nodes[0].name else [])
        scores = {r[0]: r[1] for r in self._read_q(q.results_for_benchmark(self.dialect, names)).rows}
        rows = [
            {
                "dataset": dataset,
                "path": found.path(dataset),
                "min_confidence": found.weakest[dataset],
                "hops": found.hops[dataset],
                "benchmark_score": scores.get(dataset),
            }
            for dataset in sorted(found.parent, key=lambda d: (found.hops[d], d))
        ]
        hits = _HITS.validate_python(rows)
        return hits

    def _scan_threshold(self) -> int | None:
        """Frontier size above which a BFS loads every walkable edge in one scan (None: never)."""
        if self.bfs_scan_fraction is None:
            return None
        nodes = int(self._read_q(q.count_nodes(self.dialect)).rows[0][0])
        return max(self.bfs_scan_min, int(nodes * self.bfs_scan_fraction))

    def _children_index(self, query: str, params: dict[str, Any]) -> dict[str, tuple[list[str], list[float]]]:
        """``parent -> (children, confidences)`` from a ``(child, parent, confidence)`` statement."""
        index: dict[str, tuple[list[str], list[float]]] = {}
        for child, pid, confidence in self._read(query, params).rows:
            entry = index.setdefault(pid, ([], []))
            entry[0].append(child)
            entry[1].append(confidence)
        return index

    def _bfs_in_memory(self, found: Witnesses, frontier: list[str], filters: dict[str, Any]) -> Witnesses:
        """Finish a downstream level-BFS over every walkable edge, loaded in one scan: ``found`` so far, with
        ``frontier`` its last level; returns what the whole BFS finds."""
        children = self._children_index(*q.walkable_edges(self.dialect, **filters))
        while frontier:
            next_frontier: list[str] = []
            for pid in frontier:
                for child, confidence in zip(*children.get(pid, ((), ())), strict=True):
                    if found.reach(child, pid, confidence):
                        next_frontier.append(child)
            frontier = next_frontier
        return found

    def upstream(self, dataset: str, depth: int = 6, *, include_rejected: bool = False) -> Subgraph:
        """The sources of ``dataset`` up to ``depth`` edges away, with the edges walked."""
        return self._tree(dataset, depth, upstream=True, include_rejected=include_rejected)

    def downstream(self, dataset: str, depth: int = 6, *, include_rejected: bool = False) -> Subgraph:
        """The datasets derived from ``dataset`` up to ``depth`` edges away, with the edges walked."""
        return self._tree(dataset, depth, upstream=False, include_rejected=include_rejected)

    def _tree(self, root: str, depth: int, *, upstream: bool, include_rejected: bool) -> Subgraph:
        if depth < 0:
            raise InputError(f"depth must be ≥ 0, got {depth}")
        if not self.get_nodes([root]):
            return Subgraph(root=root, nodes=[], edges=[])
        seen = {root}
        frontier = [root]
        edges: dict[tuple[str, str], Edge] = {}
        for _ in range(depth):
            if not frontier:
                break
            next_frontier: list[str] = []
            for batch in _chunks(frontier, self.bfs_batch_size):
                builder = q.parents_of if upstream else q.children_edges_of
                for row in self._read_by_ids(builder, batch, include_rejected=include_rejected).dicts():
                    edge = edge_from_row(row)
                    edges[edge.key] = edge
                    other = edge.source if upstream else edge.target
                    if other not in seen:
                        seen.add(other)
                        next_frontier.append(other)
            frontier = next_frontier
        nodes = sorted(self.get_nodes(sorted(seen)), key=lambda n: n.id)
        return Subgraph(root=root, nodes=nodes, edges=sorted(edges.values(), key=lambda e: e.key))

    def stats(self) -> dict[str, Any]:
        """Landscape figures (paper §3.2.2), computed by ``graph_store.stats.landscape``."""
        from graph_store.stats import landscape

        return landscape(self.nodes(), self.edge_pairs())

    def audit_log(self, *, target: str | None = None, source: str | None = None) -> list[AuditEntry]:
        """Audit entries, oldest first (by ``seq``)."""
        return [
            _audit_from_row(r)
            for r in self._read_q(q.list_audit(self.dialect, target=target, source=source)).dicts()
        ]

    def scores(self, dataset: str | None = None) -> list[ScoreProfile]:
        """Score profiles, all or of one dataset."""
        return _records(self._read_q(q.list_records(self.dialect, "ScoreProfile", dataset)), ScoreProfile)

    def results(self, dataset: str | None = None) -> list[BenchResult]:
        """Benchmark results, all or of one dataset."""
        return _records(self._read_q(q.list_records(self.dialect, "BenchResult", dataset)), BenchResult)


def _check_id(node_id: str) -> None:
    try:
        validate_node_id(node_id)
    except ValueError as exc:
        raise InputError(str(exc)) from exc


def _record_row(
    record: ScoreProfile | BenchResult, key_fields: tuple[str, ...], columns: dict[str, str]
) -> dict[str, Any]:
    """The stored row of a score profile or bench result: its key, its queryable columns and its JSON."""
    _check_id(record.dataset)
    row: dict[str, Any] = {"key": json.dumps([getattr(record, f) for f in key_fields])}
    row.update({name: getattr(record, name) for name in columns if name not in ("key", "data")})
    row["data"] = record.model_dump_json()
    return row


def _status_values(status: EdgeStatus | str | Sequence[EdgeStatus | str] | None) -> list[str] | None:
    if status is None:
        return None
    items = [status] if isinstance(status, str) else list(status)
    try:
        return [EdgeStatus(s).value for s in items]
    except ValueError as exc:
        raise InputError(f"{exc}; expected one of: {', '.join(s.value for s in EdgeStatus)}") from exc


_HITS = TypeAdapter(list[ContaminationHit])


def _records(result: Result, model: type[M]) -> list[M]:
    return [model.model_validate_json(row[0]) for row in result.rows]


def _audit_row(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "target": entry.target,
        "source": entry.source,
        "action": entry.action,
        "reviewer": entry.reviewer,
        "at": entry.at.isoformat(),
        "previous": json.dumps(entry.previous, sort_keys=True, default=str),
        "new": json.dumps(entry.new, sort_keys=True, default=str),
        "reason": entry.reason,
    }


def _audit_from_row(row: Mapping[str, Any]) -> AuditEntry:
    data = {k: v for k, v in row.items() if v is not None}
    data["previous"] = json.loads(data.get("previous") or "{}")
    data["new"] = json.loads(data.get("new") or "{}")
    return AuditEntry.model_validate(data)
