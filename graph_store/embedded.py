"""The embedded default store: ladybug (the maintained fork of Kùzu), on disk, no server.

Concurrency: ladybug lets one process open a database for writing at a time, so the review web server and a CLI
command cannot both hold the same store open; open it from one process and let others read exports, or run Neo4j
for several processes. Within one process the store is thread-safe: one lock serializes every statement, and each
write batch is one transaction, so a crash mid-batch leaves the last committed state (ladybug's WAL replays or
discards it on the next open). A process killed while it wrote the WAL leaves a torn last record, which ladybug
refuses by default; the next open replays the log up to that record (the unfinished write is not kept) and says so
on the ``oda.store`` logger.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from graph_store import adjacency_index as adj
from graph_store import queries as q
from graph_store.cypher_store import CypherGraphStore, Result, Tx, Witnesses
from graph_store.readonly import QueryLimits, check_read_only, make_query_limits
from oda.errors import InputError, StoreError

if TYPE_CHECKING:
    from graph_store.models import ContaminationHit, EdgeStatus, Subgraph

T = TypeVar("T")
log = logging.getLogger("oda.store")

DEFAULT_BUFFER_POOL = 512 * 1024 * 1024
# The write-ahead log is folded into the database file once it exceeds this size (and on close). ladybug's
# default (16 MB) checkpoints after nearly every bulk batch, which dominated ingest time.
DEFAULT_CHECKPOINT_THRESHOLD = 256 * 1024 * 1024
# New edges in a batch above this count are bulk-loaded with COPY. (Only relationships: ladybug 0.22 corrupts
# its heap when a transaction holding a node-table COPY rolls back, so new nodes are written with CREATE.)
# Below it they are CREATEd: the COMMIT of a COPY into a large relationship table costs seconds however few rows
# it holds (1.7 s for 1,000 edges into 250k), a CREATE of the same rows 0.1 s.
COPY_MIN_ROWS = 20_000
# ladybug 0.22 never gives back the buffer-pool pages a scan of a Python object (``LOAD FROM``/``COPY`` over Arrow or
# pandas) pins: a long-lived process making many small writes (the review server, a long trace) runs out of buffer
# pool after a few hundred of them. ``UNWIND`` over a list of maps does not leak, so batches below this size use it,
# with every column cast to its declared type (a field null in every row would otherwise be inferred as STRING).
LOAD_FROM_MIN_ROWS = 1_000


def _columns_ddl(columns: dict[str, str], primary: str | None = None) -> str:
    parts = []
    for name, column_type in columns.items():
        suffix = " PRIMARY KEY" if name == primary else ""
        parts.append(f"{name} {column_type}{suffix}")
    return ", ".join(parts)


class LadybugDialect(q.Dialect):
    """ladybug's Cypher: declared tables, Arrow batches, plain creates, and id reads shaped for its planner."""

    create_verb = "CREATE"
    empty_string_list = "CAST([] AS STRING[])"

    def schema(self) -> list[str]:
        return [
            f"CREATE NODE TABLE IF NOT EXISTS Dataset({_columns_ddl(q.NODE_COLUMNS, 'id')})",
            f"CREATE REL TABLE IF NOT EXISTS DERIVED_FROM(FROM Dataset TO Dataset, {_columns_ddl(q.EDGE_COLUMNS)})",
            f"CREATE NODE TABLE IF NOT EXISTS AuditEntry({_columns_ddl(q.AUDIT_COLUMNS, 'seq')})",
            f"CREATE NODE TABLE IF NOT EXISTS ScoreProfile({_columns_ddl(q.SCORE_COLUMNS, 'key')})",
            f"CREATE NODE TABLE IF NOT EXISTS BenchResult({_columns_ddl(q.RESULT_COLUMNS, 'key')})",
            "CREATE REL TABLE IF NOT EXISTS HAS_SCORE(FROM Dataset TO ScoreProfile)",
            "CREATE REL TABLE IF NOT EXISTS HAS_RESULT(FROM Dataset TO BenchResult)",
        ]

    def loads_arrow(self, rows: int) -> bool:
        return rows >= LOAD_FROM_MIN_ROWS

    def row_column(self, name: str, column_type: str) -> str:
        return f"CAST(row.{name} AS {column_type})"

    def carry(self, *names: str) -> str:
        return "*"

    def match_edge(self, target: str, source: str) -> str:
        return f"MATCH (c:Dataset {{id: {target}}})-[r:DERIVED_FROM]->(p:Dataset {{id: {source}}})"

    def anchored(self, ids: Sequence[str], var: str, pattern: str, where: str = "") -> str:
        """ladybug plans ``UNWIND $ids … {id: x}`` as a hash join that scans the table (about 50 ms at 10^5
        nodes, at any list size), while ``WHERE x.id IN $ids`` does one index lookup per id (about 0.2 ms each),
        so short lists (≤ ``SHORT_ID_LIST``) use ``IN``. One id, matched as ``{id: $one}``, is a primary-key
        lookup 30x cheaper than ``IN`` (``id_params`` passes it): short lists are read id by id (``id_lookups``).
        """
        extra = f" AND {where}" if where else ""
        anchor = f"({var}:Dataset)"
        if len(ids) == 1:
            clause = f" WHERE {where}" if where else ""
            return f"MATCH {pattern.format(anchor=f'({var}:Dataset {{id: $one}})')}{clause}"
        if len(ids) <= q.SHORT_ID_LIST:
            return f"MATCH {pattern.format(anchor=anchor)} WHERE {var}.id IN $ids{extra}"
        return (
            f"UNWIND $ids AS {var}_id MATCH {pattern.format(anchor=anchor)} WHERE {var}.id = {var}_id{extra}"
        )

    def id_params(self, ids: Sequence[str]) -> dict[str, Any]:
        return {"one": ids[0]} if len(ids) == 1 else {"ids": list(ids)}

    def id_lookups(self, ids: Sequence[str]) -> list[list[str]]:
        if len(ids) > q.SHORT_ID_LIST or len(ids) <= 1:
            return [list(ids)]
        return [[one] for one in ids]


# --- statements only the embedded engine runs -----------------------------------------------------------------


def copy_edges(rows: list[dict[str, Any]]) -> q.Query:
    """The bulk load of new edges: ``COPY`` from an Arrow table (from, to, then the edge columns)."""
    import pyarrow as pa

    columns = {
        "from": pa.array([r["target"] for r in rows], pa.string()),
        "to": pa.array([r["source"] for r in rows], pa.string()),
    }
    for name, column_type in q.EDGE_COLUMNS.items():
        columns[name] = pa.array([r.get(name) for r in rows], q.arrow_type(column_type))
    return "COPY DERIVED_FROM FROM $edges", {"edges": pa.table(columns)}


def walkable_edge_offsets(
    *, min_confidence: float = 0.0, statuses: Sequence[str] | None = None, split: str | None = None
) -> q.Query:
    """Every walkable edge as ``(child offset, parent offset, confidence)``, integers being far cheaper to return
    than id strings."""
    params: dict[str, Any] = {}
    where = q.walk_filter("r", min_confidence=min_confidence, statuses=statuses, split=split, params=params)
    query = (
        f"MATCH (c:Dataset)-[r:DERIVED_FROM]->(p:Dataset) WHERE {where} "
        "RETURN offset(id(c)) AS child, offset(id(p)) AS parent, r.confidence AS confidence"
    )
    return query, params


def node_offsets() -> q.Query:
    """``(offset, id)`` of every node."""
    return "MATCH (n:Dataset) RETURN offset(id(n)) AS offset, n.id AS id", {}


class _LadybugTx:
    def __init__(self, conn: Any, *, merge_creates: bool = False) -> None:
        self._conn = conn
        self.merge_creates = merge_creates

    def run(self, query: str, params: dict[str, Any]) -> Result:
        return _execute(self._conn, query, params)


def _execute(conn: Any, query: str, params: Mapping[str, Any] | None) -> Result:
    try:
        result = conn.execute(query, dict(params or {}))
    except RuntimeError as exc:
        raise StoreError(f"embedded store: {exc}") from exc
    if isinstance(result, list):  # several statements: keep the last result
        result = result[-1]
    columns = result.get_column_names()
    rows = result.get_all()
    result.close()
    return Result(columns, rows)


def _rollback(conn: Any) -> None:
    """Roll back the open transaction; ladybug has already done so when a statement in it failed."""
    try:
        conn.execute("ROLLBACK")
    except RuntimeError as exc:
        if "no active transaction" not in str(exc).lower():
            raise StoreError(f"embedded store: rollback failed: {exc}") from exc


# How ladybug reports a write-ahead log whose last record fails its checksum
_TORN_LOG = "the wal file is corrupted"


def _open_database(ladybug: Any, path: Path, pool: int, checkpoint_threshold: int, read_only: bool) -> Any:
    """The ladybug database; a log that ends in a torn record (a process killed while writing it) is first replayed
    up to that record, as a crash in the middle of a write must leave the last committed state."""
    try:
        return _open_as_asked(ladybug, path, pool, checkpoint_threshold, read_only)
    except RuntimeError as exc:
        if _TORN_LOG not in str(exc).lower():
            raise
    log.warning(
        "%s: the store's write-ahead log ends in a torn record (a process was killed while writing it); "
        "replaying it up to that record: the write that process left unfinished is not in the store",
        path,
    )
    ladybug.Database(str(path), buffer_pool_size=pool, throw_on_wal_replay_failure=False).close()
    return _open_as_asked(ladybug, path, pool, checkpoint_threshold, read_only)


def _open_as_asked(ladybug: Any, path: Path, pool: int, checkpoint_threshold: int, read_only: bool) -> Any:
    """The ladybug database; a read-only open first lets a writer finish a pending recovery."""
    if not read_only:
        return ladybug.Database(str(path), buffer_pool_size=pool, checkpoint_threshold=checkpoint_threshold)
    try:
        return ladybug.Database(str(path), buffer_pool_size=pool, read_only=True)
    except RuntimeError as exc:
        if "recovery is pending" not in str(exc):
            raise
    # a process was killed during a checkpoint: a read-write open replays it, then the read-only open works
    ladybug.Database(str(path), buffer_pool_size=pool).close()
    return ladybug.Database(str(path), buffer_pool_size=pool, read_only=True)


class EmbeddedStore(CypherGraphStore):
    """``GraphStore`` on an on-disk ladybug database at ``path`` (a file; its parent folder is created)."""

    dialect: q.Dialect = LadybugDialect()
    # Each batch is one transaction. A transaction that updates more than about 100k stored edges exhausts a
    # 512 MB buffer pool (updated pages stay pinned until the database is reopened: see ``_reopen``).
    batch_size = 50_000
    # ...while a store with no edge yet takes creates only: one COPY (its COMMIT costs seconds whatever its size)
    fresh_batch_size = 300_000
    copy_min_rows = COPY_MIN_ROWS
    # Past a frontier of max(256, 1% of the nodes), one scan of the walkable edges beats per-level lookups.
    bfs_scan_fraction = 0.01
    bfs_scan_min = q.SHORT_ID_LIST
    # Fold the write-ahead log into the database after this many write transactions (see ``_write``).
    checkpoint_every_writes = 32
    # Reopen the database once write transactions have updated this many stored rows (see ``_write_once``).
    reopen_after_updates = 50_000

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        buffer_pool_size: int | None = None,
        checkpoint_threshold: int = DEFAULT_CHECKPOINT_THRESHOLD,
        create: bool = True,
        read_only: bool = False,
        query_limits: QueryLimits | None = None,
    ) -> None:
        """Open (``create``: or create) the database at ``path``.

        ``read_only`` opens it so that the engine refuses every write (several read-only openers may share a
        store with one writer); ``create=False`` raises ``StoreError`` naming the path when there is no store.
        """
        import ladybug

        self.path = Path(path)
        if self.path.is_dir():
            raise InputError(f"{self.path} is a folder; the embedded store is a file (try {self.path}/graph)")
        if not (create or self.path.exists()):
            raise StoreError(f"no store at {self.path} (run `oda trace` or `oda import` to create one)")
        if create and not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.read_only = read_only
        self.query_limits = query_limits
        pool = buffer_pool_size or int(os.environ.get("ODA_STORE_BUFFER_POOL", DEFAULT_BUFFER_POOL))
        self._open_options = (pool, checkpoint_threshold)
        self._updated_rows = 0
        # the adjacency index: the write stamp and files as this open sees them, and the index in use
        self.state_at_open = adj.store_state(self.path)
        self._adjacency: adj.AdjacencyIndex | None = None
        try:
            self._db = _open_database(ladybug, self.path, pool, checkpoint_threshold, read_only)
        except RuntimeError as exc:
            message = str(exc)
            if "lock" in message.lower():
                raise StoreError(
                    f"{self.path} is open in another process; the embedded store allows one process at a time "
                    "(stop the other one, or use a Neo4j store for several processes)"
                ) from exc
            raise StoreError(f"cannot open embedded store {self.path}: {message}") from exc
        self._conn = ladybug.Connection(self._db)
        self._lock = threading.RLock()
        self._closed = False
        self._writes_since_checkpoint = 0
        if not read_only:
            with self._lock:
                for statement in self.dialect.schema():
                    _execute(self._conn, statement, {})

    def __repr__(self) -> str:
        return f"EmbeddedStore({str(self.path)!r})"

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed")

    def _read(self, query: str, params: dict[str, Any]) -> Result:
        with self._lock:
            self._check_open()
            return _execute(self._conn, query, params)

    def _writer_guard(self) -> AbstractContextManager[Any]:
        return self._lock

    def _id_snapshot(self, items: int) -> set[str] | None:
        if items < self.snapshot_min_items:
            return None
        with self._lock:
            self._check_open()
            result = self._conn.execute(*q.get_all_ids(self.dialect))
            assert not isinstance(result, list), "one statement expected"
            table = result.get_as_arrow()
            result.close()
        return set(table.column(0).to_pylist())

    def _has_no_edges(self) -> bool:
        return not self._read(*q.any_edge(self.dialect)).rows

    def _arrow(self, query: str, params: dict[str, Any]) -> Any:
        with self._lock:
            self._check_open()
            try:
                result = self._conn.execute(query, dict(params))
                assert not isinstance(result, list), "one statement expected"
                table = result.get_as_arrow()
                result.close()
            except RuntimeError as exc:
                raise StoreError(f"embedded store: {exc}") from exc
        return table

    def _bfs_in_memory(self, found: Witnesses, frontier: list[str], filters: dict[str, Any]) -> Witnesses:
        """Redo the BFS from ``found.root`` in memory: walkable edges as node offsets, scipy's BFS over them.

        Same answer as the level-BFS (a BFS tree gives shortest witnesses); it replaces a Python loop over
        every edge with one integer scan and C code.
        """
        import numpy as np
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import breadth_first_order

        with self._lock:  # both reads see the same graph
            edges = self._arrow(*walkable_edge_offsets(**filters))
            nodes = self._arrow(*node_offsets())
        offsets = nodes.column("offset").to_numpy()
        size = int(offsets.max()) + 1
        ids: list[str | None] = [None] * size
        for offset, node_id in zip(offsets.tolist(), nodes.column("id").to_pylist(), strict=True):
            ids[offset] = node_id
        start = ids.index(found.root)
        child = edges.column("child").to_numpy()
        source = edges.column("parent").to_numpy()
        confidence = edges.column("confidence").to_numpy()
        # parent -> child adjacency; the stored value is the edge's index + 1 (a zero would read as no edge)
        graph = csr_matrix((np.arange(1, len(child) + 1), (source, child)), shape=(size, size))
        order, predecessors = breadth_first_order(graph, start, directed=True, return_predecessors=True)
        reached = order[1:]
        tree_parents = predecessors[reached]
        # the confidence of each tree edge (tree_parent -> node)
        edge_index = np.asarray(graph[tree_parents, reached]).ravel() - 1
        tree_confidence = confidence[edge_index].tolist()
        redone = Witnesses(found.root)
        for node, up, conf in zip(reached.tolist(), tree_parents.tolist(), tree_confidence, strict=True):
            node_id, up_id = ids[node], ids[up]
            assert node_id is not None and up_id is not None
            redone.reach(node_id, up_id, conf)
        return redone

    def _write(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` in one transaction.

        If the engine refuses a CREATE with a duplicated primary key that the lookup before it did not find (seen
        once after a process was killed mid-write, in ladybug's recovery), the transaction has been rolled back;
        it is run once more in a transaction whose creates are MERGEs (``Tx.merge_creates``), which are idempotent.
        """
        try:
            return self._write_once(work)
        except StoreError as exc:
            if "duplicated primary key" not in str(exc).lower():
                raise
        return self._write_once(work, merge_creates=True)

    def _write_once(self, work: Callable[[Tx], T], *, merge_creates: bool = False) -> T:
        with self._lock:
            self._check_open()
            if self.read_only:
                raise StoreError(f"{self.path} is open read-only; this command cannot write to it")
            # the write stamp, bumped before and after: the adjacency index goes stale (see its module)
            adj.bump_write_stamp(self.path)
            _execute(self._conn, "BEGIN TRANSACTION", {})
            try:
                value = work(_LadybugTx(self._conn, merge_creates=merge_creates))
            except BaseException:
                _rollback(self._conn)
                raise
            _execute(self._conn, "COMMIT", {})
            adj.bump_write_stamp(self.path)
            if self._updated_rows >= self.reopen_after_updates:
                self._reopen()
            self._writes_since_checkpoint += 1
            if self._writes_since_checkpoint >= self.checkpoint_every_writes:
                # ladybug keeps buffer-pool pages of updated relationship properties pinned until a checkpoint;
                # without one, a few hundred small updates (review decisions) exhaust even a 512 MB pool.
                _execute(self._conn, "CHECKPOINT", {})
                self._writes_since_checkpoint = 0
            return value

    def _note_updates(self, rows: int) -> None:
        self._updated_rows += rows

    def _reopen(self) -> None:
        """Close and reopen the database (under the lock, between transactions).

        ladybug 0.22 keeps buffer-pool pages of updated rows pinned for as long as the database is open, and a
        checkpoint does not release them: updating 200k stored edges filled a 512 MB pool, in batches of any
        size. Reopening releases them all; it costs a checkpoint (seconds), so it happens only after
        ``reopen_after_updates`` updated rows, never for writes that only create.
        """
        import ladybug

        pool, checkpoint_threshold = self._open_options
        self._conn.close()
        self._db.close()
        self._db = _open_database(ladybug, self.path, pool, checkpoint_threshold, self.read_only)
        self._conn = ladybug.Connection(self._db)
        self._updated_rows = 0
        self._writes_since_checkpoint = 0

    def _insert_edges(self, tx: Tx, rows: list[dict[str, Any]]) -> None:
        """Bulk-load new edges with ``COPY`` from an Arrow table (it rolls back with the transaction)."""
        if len(rows) < self.copy_min_rows:
            super()._insert_edges(tx, rows)
        else:
            tx.run(*copy_edges(rows))

    def _next_audit_seq(self, tx: Tx) -> int:
        rows = tx.run(*q.max_audit_seq(self.dialect)).rows
        current = rows[0][0] if rows and rows[0][0] is not None else 0
        return int(current) + 1

    def cypher(
        self, query: str, params: Mapping[str, Any] | None = None, *, limits: QueryLimits | None = None
    ) -> list[dict[str, Any]]:
        """Run user Cypher where the engine cannot write: the keyword layer, then a child process that opens
        the database read-only, under time, row and memory limits (``graph_store.sandbox``)."""
        from graph_store.sandbox import run_read_only

        checked = check_read_only(query)
        limits = limits or self.query_limits or make_query_limits()
        self._check_open()
        columns, rows = run_read_only(self.path, checked, dict(params or {}), limits)
        return Result(columns, rows).dicts()

    def close(self) -> None:
        """Close the connection and the database (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._conn.close()
            self._db.close()
            if not self.read_only:
                known = [self.state_at_open[1]] + ([self._adjacency.identity] if self._adjacency else [])
                adj.refresh_saved_identity(self.path, known)

    # --- the adjacency index (graph_store.adjacency_index) ------------------------------------------------------
    def adjacency(self) -> adj.AdjacencyIndex:
        """The adjacency index, rebuilt from the database and saved beside it when a write made it stale."""
        with self._lock:
            self._check_open()
            self._adjacency = adj.fresh_index(self, self._adjacency)
            return self._adjacency

    def contamination(
        self,
        benchmark: str,
        *,
        min_confidence: float = 0.0,
        statuses: Sequence[EdgeStatus] | None = None,
        split: str | None = None,
    ) -> list[ContaminationHit]:
        """``GraphStore.contamination``, answered by a BFS over the adjacency index."""
        return adj.contamination_hits(
            self, benchmark, min_confidence=min_confidence, statuses=statuses, split=split
        )

    def upstream(self, dataset: str, depth: int = 6, *, include_rejected: bool = False) -> Subgraph:
        """The sources of ``dataset`` up to ``depth`` edges away, with the edges walked (BFS over the index)."""
        return adj.tree_subgraph(self, dataset, depth, upstream=True, include_rejected=include_rejected)

    def downstream(self, dataset: str, depth: int = 6, *, include_rejected: bool = False) -> Subgraph:
        """The datasets derived from ``dataset`` up to ``depth`` edges away, with the edges walked."""
        return adj.tree_subgraph(self, dataset, depth, upstream=False, include_rejected=include_rejected)


__all__ = ["EmbeddedStore"]
