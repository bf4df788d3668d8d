"""The embedded store's adjacency index: contamination and lineage trees as a BFS over flat integer arrays.

The index is a file beside the database (``<db>.adjacency``) holding the graph's structure only:

- the node ids in Python's string order (a node's integer id is its rank, so ordering by id is ordering by rank);
- a downstream CSR (``down_indptr``/``down_indices``: source → the datasets derived from it) and, aligned with it,
  one entry per edge: ``confidence`` (float64), ``status`` (a code, ``STATUSES``) and ``split`` (a code into the
  stored split names, -1 when unknown);
- an upstream CSR (``up_indptr``/``up_indices``: dataset → its sources) whose ``up_edge`` points at the same edge
  entries;
- node names and benchmark results (benchmark, dataset, score), for a hit's ``benchmark_score``.

A query loads the file (memory-mapped), masks the walkable edges, runs a level-synchronous BFS in numpy and rebuilds
every witness path in one array operation per depth. The witness of a dataset goes through its smallest-id parent
one level closer to the benchmark, so answers do not depend on storage order.

**Freshness.** Every write transaction of the embedded store bumps the write stamp in ``<db>.writes`` (a counter and
a random token, replaced atomically and synced) before ``BEGIN`` and again after ``COMMIT``. An index is tagged with
the stamp and the identity of the database files (inode, size and mtime of the database and of its write-ahead log)
as of the data it read: read under the store's lock for a read-write store (no other process can write then); as
of the open for a read-only one (ladybug's read-only opens see the database as it was when opened, while a writer
may commit). The tag is kept only if stamp and identity are unchanged after the read, so an index that may have
missed a commit is used once, in memory, and never saved. An index is fresh only while both still match: a write
through the store always makes it stale, and so does a database replaced or changed by other tools. A stale index
is rebuilt from the database (one scan of nodes and edges) and saved; a process that cannot write beside the
database keeps it in memory. Any new write path of the embedded store must bump the stamp the same way.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import orjson

if TYPE_CHECKING:
    from graph_store.embedded import EmbeddedStore
    from graph_store.models import ContaminationHit, Subgraph

INDEX_SUFFIX = ".adjacency"
STAMP_SUFFIX = ".writes"
MAGIC = b"ODA-ADJACENCY-1\n"
ALIGN = 64
# Edge status codes; NO_STATUS marks an edge without a known status, which (as in the Cypher queries) is never
# walked; NO_SPLIT an edge of unknown split.
STATUSES = ("auto", "flagged", "approved", "rejected", "edited")
REJECTED = STATUSES.index("rejected")
NO_STATUS = -1
NO_SPLIT = -1
# The engine's buffer pool when a query process opens the database to rebuild the index (as the store's default).
READ_BUFFER_POOL = 512 * 1024 * 1024
# Rows per JSON chunk written to the output.
JSON_CHUNK_ROWS = 20_000

# The statements that read the graph for the index (the embedded engine's dialect: node offsets).
NODES_QUERY = "MATCH (n:Dataset) RETURN offset(id(n)) AS offset, n.id AS id, n.name AS name"
SPLITS_QUERY = "MATCH ()-[r:DERIVED_FROM]->() WHERE r.split IS NOT NULL RETURN DISTINCT r.split AS split"
# status and split as codes (positions in $statuses and $splits, -1 when absent); a missing confidence reads 0,
# which a confidence filter excludes, as the Cypher filter excludes a null
EDGES_QUERY = (
    "MATCH (c:Dataset)-[r:DERIVED_FROM]->(p:Dataset) RETURN offset(id(c)) AS child, offset(id(p)) AS parent, "
    "coalesce(r.confidence, 0.0) AS confidence, coalesce(list_position($statuses, r.status), 0) - 1 AS status, "
    "{split} AS split"
)
SPLIT_CODE = (
    "coalesce(list_position($splits, r.split), 0) - 1"  # (the engine cannot type an empty list parameter)
)
RESULTS_QUERY = "MATCH (x:BenchResult) RETURN x.benchmark AS benchmark, x.dataset AS dataset, x.score AS score ORDER BY x.key"


# --- the write stamp ---------------------------------------------------------------------------------------------


def index_path(db_path: str | os.PathLike[str]) -> Path:
    """Where the index of the database at ``db_path`` lives."""
    return Path(f"{os.fspath(db_path)}{INDEX_SUFFIX}")


def stamp_path(db_path: str | os.PathLike[str]) -> Path:
    """Where the write stamp of the database at ``db_path`` lives."""
    return Path(f"{os.fspath(db_path)}{STAMP_SUFFIX}")


def read_stamp(db_path: str | os.PathLike[str]) -> str | None:
    """The current write stamp, or None when the database has none yet."""
    try:
        return stamp_path(db_path).read_text(encoding="ascii").strip() or None
    except FileNotFoundError:
        return None


def bump_write_stamp(db_path: str | os.PathLike[str]) -> str:
    """Replace the write stamp with a new one (next counter, fresh token) and sync it; return it.

    Called before every write transaction, so any index built before the write no longer matches.
    """
    current = read_stamp(db_path)
    try:
        counter = int(current.split(":", 1)[0]) if current else 0
    except ValueError:
        counter = 0
    stamp = f"{counter + 1}:{secrets.token_hex(8)}"
    _write_atomically(stamp_path(db_path), stamp.encode("ascii"))
    return stamp


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _file_identity(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns]


def database_identity(db_path: str | os.PathLike[str]) -> list[list[int] | None]:
    """(inode, size, mtime) of the database file and of its write-ahead log (None when absent)."""
    return [_file_identity(Path(db_path)), _file_identity(Path(f"{os.fspath(db_path)}.wal"))]


# --- the index ---------------------------------------------------------------------------------------------------


@dataclass
class AdjacencyIndex:
    """The arrays of one index (see the module docstring); ``stamp``/``identity`` say what it was built from."""

    arrays: dict[str, np.ndarray]
    sections: Mapping[str, bytes | memoryview]
    stamp: str | None
    identity: list[Any]
    _parsed: dict[str, Any] = field(default_factory=dict, repr=False)
    _keepalive: Any = field(default=None, repr=False)

    # --- lazily parsed JSON sections
    def _section(self, name: str) -> Any:
        if name not in self._parsed:
            self._parsed[name] = orjson.loads(self.sections[name])
        return self._parsed[name]

    @property
    def ids(self) -> list[str]:
        """Node ids in rank order."""
        ids: list[str] = self._section("ids")
        return ids

    @property
    def splits(self) -> list[str]:
        splits: list[str] = self._section("splits")
        return splits

    @property
    def node_count(self) -> int:
        return len(self.arrays["down_indptr"]) - 1

    @property
    def edge_count(self) -> int:
        return len(self.arrays["down_indices"])

    def rank(self, node_id: str) -> int | None:
        """The integer id of ``node_id``, or None when the store has no such node."""
        import bisect

        ids = self.ids
        at = bisect.bisect_left(ids, node_id)
        return at if at < len(ids) and ids[at] == node_id else None

    def is_fresh(self, db_path: str | os.PathLike[str]) -> bool:
        """True when no write happened since the index was built and the database files are the same."""
        return (
            self.stamp is not None
            and read_stamp(db_path) == self.stamp
            and database_identity(db_path) == self.identity
        )

    # --- walks
    def walkable(
        self,
        *,
        min_confidence: float = 0.0,
        statuses: Sequence[str] | None = None,
        split: str | None = None,
        include_rejected: bool = False,
    ) -> np.ndarray:
        """A mask over the edges (downstream CSR order) a walk with these filters may use."""
        status = self.arrays["status"]
        if include_rejected:  # every edge (a tree may show rejected ones)
            mask = np.ones(len(status), dtype=bool)
        else:
            mask = (status != NO_STATUS) & (status != REJECTED)  # NO_STATUS is negative
        if min_confidence > 0:
            mask &= self.arrays["confidence"] >= min_confidence
        if statuses is not None:
            codes = [STATUSES.index(s) for s in statuses if s in STATUSES]
            mask &= np.isin(status, np.asarray(codes, dtype=np.int8))
        if split is not None:
            splits = self.splits
            code = splits.index(split) if split in splits else None
            split_codes = self.arrays["split"]
            allowed = split_codes == NO_SPLIT
            if code is not None:
                allowed |= split_codes == code
            mask &= allowed
        return mask

    def bfs(
        self, start: int, walkable: np.ndarray, *, upstream: bool = False, max_depth: int | None = None
    ) -> BfsTree:
        """Level-synchronous BFS from ``start`` over the walkable edges (downstream unless ``upstream``)."""
        if upstream:
            indptr, indices = self.arrays["up_indptr"], self.arrays["up_indices"]
            edge_of_slot: np.ndarray | None = self.arrays["up_edge"]
        else:
            indptr, indices = self.arrays["down_indptr"], self.arrays["down_indices"]
            edge_of_slot = None
        n = self.node_count
        hops = np.full(n, -1, dtype=np.int32)
        parent = np.full(n, -1, dtype=np.int32)
        via = np.full(n, -1, dtype=np.int64)
        hops[start] = 0
        parent[start] = start
        frontier = np.array([start], dtype=np.int64)
        levels = [frontier]
        depth = 0
        while frontier.size and (max_depth is None or depth < max_depth):
            starts = indptr[frontier]
            counts = indptr[frontier + 1] - starts
            total = int(counts.sum())
            if total == 0:
                break
            # every CSR slot of the frontier, in frontier order
            shift = np.repeat(starts - (np.cumsum(counts) - counts), counts)
            slots = np.arange(total, dtype=np.int64) + shift
            owners = np.repeat(frontier, counts)
            edges = slots if edge_of_slot is None else edge_of_slot[slots].astype(np.int64)
            keep = walkable[edges]
            targets = indices[slots[keep]]
            edges, owners = edges[keep], owners[keep]
            new = hops[targets] < 0
            targets, edges, owners = targets[new], edges[new], owners[new]
            if targets.size == 0:
                break
            depth += 1
            reached, first = np.unique(targets, return_index=True)
            hops[reached] = depth
            parent[reached] = owners[first]
            via[reached] = edges[first]
            levels.append(reached.astype(np.int64))
            frontier = levels[-1]
        return BfsTree(start=start, hops=hops, parent=parent, via=via, levels=levels)

    # --- benchmark results
    def benchmark_scores(self, benchmark: str) -> dict[str, float]:
        """``dataset -> score`` of the results on this benchmark (by node id or node name; the last by key wins)."""
        names = {benchmark}
        name = self._section("names").get(benchmark)
        if name:
            names.add(name)
        return {dataset: score for bench, dataset, score in self._section("results") if bench in names}

    # --- persistence
    def save(self, path: Path) -> None:
        """Write the index to ``path`` atomically."""
        _write_atomically(path, self.to_bytes())

    def to_bytes(self) -> bytes:
        layout: dict[str, Any] = {"arrays": {}, "sections": {}}
        chunks: list[bytes] = []
        offset = 0

        def place(data: bytes) -> int:
            nonlocal offset
            pad = (-offset) % ALIGN
            if pad:
                chunks.append(b"\0" * pad)
                offset += pad
            at = offset
            chunks.append(data)
            offset += len(data)
            return at

        for name, array in self.arrays.items():
            layout["arrays"][name] = [
                array.dtype.str,
                len(array),
                place(np.ascontiguousarray(array).tobytes()),
            ]
        for name, section in self.sections.items():
            layout["sections"][name] = [place(bytes(section)), len(section)]
        header = orjson.dumps(
            {"stamp": self.stamp, "identity": self.identity, "layout": layout}, option=orjson.OPT_SORT_KEYS
        )
        prefix = MAGIC + len(header).to_bytes(8, "little") + header
        pad = (-len(prefix)) % ALIGN
        return prefix + b"\0" * pad + b"".join(chunks)

    @classmethod
    def load(cls, path: Path) -> AdjacencyIndex | None:
        """The index saved at ``path``, memory-mapped; None when there is none or it is unreadable."""
        try:
            with open(path, "rb") as handle:
                mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (FileNotFoundError, ValueError, OSError):
            return None
        try:
            if mapped[: len(MAGIC)] != MAGIC:
                return None
            size = int.from_bytes(mapped[len(MAGIC) : len(MAGIC) + 8], "little")
            start = len(MAGIC) + 8
            header = orjson.loads(mapped[start : start + size])
            base = start + size + (-(start + size)) % ALIGN
            layout = header["layout"]
            arrays = {
                name: np.frombuffer(mapped, dtype=np.dtype(dtype), count=count, offset=base + at)
                for name, (dtype, count, at) in layout["arrays"].items()
            }
            view = memoryview(mapped)
            sections = {
                name: view[base + at : base + at + length]
                for name, (at, length) in layout["sections"].items()
            }
        except (orjson.JSONDecodeError, KeyError, ValueError, TypeError):
            return None
        return cls(arrays, sections, header["stamp"], header["identity"], _keepalive=mapped)

    def with_identity(self, identity: list[Any]) -> AdjacencyIndex:
        return AdjacencyIndex(self.arrays, self.sections, self.stamp, identity, dict(self._parsed))


@dataclass
class BfsTree:
    """A BFS from ``start``: per node ``hops`` (-1: not reached), ``parent`` and the edge it came by (``via``);
    ``levels[k]``: the nodes at ``k`` hops, in id order."""

    start: int
    hops: np.ndarray
    parent: np.ndarray
    via: np.ndarray
    levels: list[np.ndarray]

    @property
    def reached(self) -> int:
        return sum(len(level) for level in self.levels[1:])

    def paths(self, depth: int) -> np.ndarray:
        """The witness paths of the nodes at ``depth``: one row each, ``[node, parent, …, start]``."""
        level = self.levels[depth]
        matrix = np.empty((len(level), depth + 1), dtype=np.int64)
        matrix[:, 0] = level
        for k in range(1, depth + 1):
            matrix[:, k] = self.parent[matrix[:, k - 1]]
        return matrix


# --- building ------------------------------------------------------------------------------------------------------


def store_state(db_path: str | os.PathLike[str]) -> tuple[str | None, list[Any]]:
    """The write stamp and the database files' identity: what an index built now is tagged with."""
    return read_stamp(db_path), database_identity(db_path)


Query = Callable[[str, dict[str, Any]], Any]  # a statement and its parameters -> an Arrow table


def build(store: EmbeddedStore) -> AdjacencyIndex:
    """Read the graph of ``store`` (under its lock) into a new index.

    The index is tagged with the store's state (``store_state``) as of the data it read: taken now for a
    read-write store (no other process can write meanwhile), at open time for a read-only one (it reads the
    database as it was then). The tag is kept only if the state is the same after the read, so a write that
    committed meanwhile leaves the index untagged: never fresh, used once in memory, not saved.
    """
    with store._lock:
        store._check_open()
        before = store.state_at_open if store.read_only else store_state(store.path)
        return _build(store.path, store._arrow, before)


def build_read_only(db_path: Path) -> AdjacencyIndex:
    """Build the index of the database at ``db_path`` with the engine alone, opened read-only (what a query
    process does when the saved index is stale: it needs no store object, models or schema)."""
    import ladybug

    before = store_state(db_path)
    pool = int(os.environ.get("ODA_STORE_BUFFER_POOL", READ_BUFFER_POOL))
    database = ladybug.Database(str(db_path), buffer_pool_size=pool, read_only=True)
    connection = ladybug.Connection(database)

    def arrow(query: str, params: dict[str, Any]) -> Any:
        result = connection.execute(query, params)
        assert not isinstance(result, list), "one statement expected"
        table = result.get_as_arrow()
        result.close()
        return table

    try:
        return _build(db_path, arrow, before)
    finally:
        connection.close()
        database.close()


def _build(path: Path, arrow: Query, before: tuple[str | None, list[Any]]) -> AdjacencyIndex:
    if before[0] is None and store_state(path) == before:
        # no stamp yet (a store written before stamps existed): start one; no write can have begun yet
        with contextlib.suppress(OSError):
            before = (bump_write_stamp(path), before[1])
    nodes = arrow(NODES_QUERY, {})
    splits = sorted(arrow(SPLITS_QUERY, {}).column("split").to_pylist())
    if splits:
        edges = arrow(EDGES_QUERY.format(split=SPLIT_CODE), {"statuses": list(STATUSES), "splits": splits})
    else:
        edges = arrow(EDGES_QUERY.format(split=NO_SPLIT), {"statuses": list(STATUSES)})
    results = arrow(RESULTS_QUERY, {})
    after = store_state(path)
    stamp, identity = before if before == after else (None, [])
    node_ids = nodes.column("id").to_pylist()
    n = len(node_ids)
    order = sorted(range(n), key=node_ids.__getitem__)
    rank_of_row = np.empty(n, dtype=np.int64)
    rank_of_row[order] = np.arange(n, dtype=np.int64)
    offsets = _numbers(nodes, "offset", np.int64)
    dense = np.full(int(offsets.max()) + 1 if n else 0, -1, dtype=np.int64)
    dense[offsets] = rank_of_row
    names = {
        node_id: name
        for node_id, name in zip(node_ids, nodes.column("name").to_pylist(), strict=True)
        if name
    }
    child = dense[_numbers(edges, "child", np.int64)]
    source = dense[_numbers(edges, "parent", np.int64)]
    down = np.lexsort((child, source))
    up = np.lexsort((source, child))
    position_in_down = np.empty(len(down), dtype=np.int64)
    position_in_down[down] = np.arange(len(down), dtype=np.int64)
    arrays = {
        "down_indptr": _indptr(source[down], n),
        "down_indices": child[down].astype(np.int32),
        "confidence": _numbers(edges, "confidence", np.float64)[down],
        "status": _numbers(edges, "status", np.int64)[down].astype(np.int8),
        "split": _numbers(edges, "split", np.int64)[down].astype(np.int32),
        "up_indptr": _indptr(child[up], n),
        "up_indices": source[up].astype(np.int32),
        "up_edge": position_in_down[up].astype(np.int32),
    }
    columns = [results.column(name).to_pylist() for name in ("benchmark", "dataset", "score")]
    sections = {
        "ids": orjson.dumps([node_ids[row] for row in order]),
        "names": orjson.dumps(names),
        "splits": orjson.dumps(splits),
        "results": orjson.dumps([list(row) for row in zip(*columns, strict=True)]),
    }
    return AdjacencyIndex(arrays, sections, stamp, identity)


def _numbers(table: Any, name: str, dtype: type[np.generic]) -> np.ndarray:
    """A numeric Arrow column without nulls as a numpy array, read from its buffers (``to_numpy`` would load
    pyarrow's compute module, slower to import than the whole query)."""
    parts = [
        np.frombuffer(
            chunk.buffers()[1], dtype=dtype, count=len(chunk), offset=chunk.offset * np.dtype(dtype).itemsize
        )
        for chunk in table.column(name).chunks
    ]
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


def _indptr(sorted_keys: np.ndarray, n: int) -> np.ndarray:
    counts = np.bincount(sorted_keys, minlength=n) if len(sorted_keys) else np.zeros(n, dtype=np.int64)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr


def fresh_index(store: EmbeddedStore, cached: AdjacencyIndex | None) -> AdjacencyIndex:
    """``cached`` if still fresh, else the saved index if fresh, else a rebuilt one (saved when it is tagged)."""
    path = store.path
    if cached is not None and cached.is_fresh(path):
        return cached
    saved = AdjacencyIndex.load(index_path(path))
    if saved is not None and saved.is_fresh(path):
        return saved
    return save_if_tagged(build(store), path)


def save_if_tagged(index: AdjacencyIndex, db_path: Path) -> AdjacencyIndex:
    """Save ``index`` beside the database unless it is untagged; a folder this process cannot write keeps it
    in memory only."""
    if index.stamp is not None:
        with contextlib.suppress(OSError):
            index.save(index_path(db_path))
    return index


def refresh_saved_identity(db_path: Path, known_identities: Sequence[list[Any]]) -> None:
    """After a read-write store was closed: record the database files' new identity in the saved index, if no
    write came since it was built and its identity is one the closing store knew to be right.

    Closing folds the write-ahead log into the database file, which changes its identity but not the graph;
    without this the next process would rebuild an index that is still right. ``known_identities``: the files'
    identity when the store was opened, and that of an index the store built. The identity is read before the
    stamp: a writer that committed before it was read had bumped the stamp already, and one that commits later
    changes the identity again.
    """
    identity = database_identity(db_path)
    stamp = read_stamp(db_path)
    saved = AdjacencyIndex.load(index_path(db_path))
    if saved is None or saved.stamp is None or saved.stamp != stamp or saved.identity == identity:
        return
    if saved.identity not in known_identities:
        return
    with contextlib.suppress(OSError):
        saved.with_identity(identity).save(index_path(db_path))


# --- answers ------------------------------------------------------------------------------------------------------


def contamination_tree(
    index: AdjacencyIndex,
    benchmark: str,
    *,
    min_confidence: float = 0.0,
    statuses: Sequence[str] | None = None,
    split: str | None = None,
) -> BfsTree | None:
    """The downstream BFS of a contamination query; None when the benchmark is not in the store."""
    start = index.rank(benchmark)
    if start is None:
        return None
    walkable = index.walkable(min_confidence=min_confidence, statuses=statuses, split=split)
    return index.bfs(start, walkable)


def contamination_rows(
    index: AdjacencyIndex, tree: BfsTree, benchmark: str
) -> Iterator[list[dict[str, Any]]]:
    """The hits of ``tree`` as JSON-ready dicts, in chunks, ordered by hops then dataset id."""
    ids = np.asarray(index.ids, dtype=object)
    scores = index.benchmark_scores(benchmark)
    confidence = index.arrays["confidence"]
    weakest = np.ones(index.node_count, dtype=np.float64)
    for depth in range(1, len(tree.levels)):
        level = tree.levels[depth]
        weakest[level] = np.minimum(weakest[tree.parent[level]], confidence[tree.via[level]])
        for start in range(0, len(level), JSON_CHUNK_ROWS):
            part = slice(start, start + JSON_CHUNK_ROWS)
            paths = ids[tree.paths(depth)[part]].tolist()
            rows = [
                {"dataset": path[0], "path": path, "min_confidence": low, "hops": depth}
                for path, low in zip(paths, weakest[level[part]].tolist(), strict=True)
            ]
            if scores:
                for row in rows:
                    score = scores.get(row["dataset"])
                    if score is not None:
                        row["benchmark_score"] = score
            yield rows


def contamination_hits(
    store: EmbeddedStore,
    benchmark: str,
    *,
    min_confidence: float = 0.0,
    statuses: Sequence[Any] | None = None,
    split: str | None = None,
) -> list[ContaminationHit]:
    """``GraphStore.contamination`` answered from the store's adjacency index."""
    from graph_store.cypher_store import _status_values
    from graph_store.models import ContaminationHit
    from oda.errors import InputError

    if not 0.0 <= min_confidence <= 1.0:
        raise InputError(f"min_confidence must be in [0, 1], got {min_confidence}")
    status_values = _status_values(statuses)
    index = store.adjacency()
    tree = contamination_tree(
        index, benchmark, min_confidence=min_confidence, statuses=status_values, split=split
    )
    if tree is None:
        return []
    hits = _HITS.get("adapter")
    if hits is None:
        from pydantic import TypeAdapter

        hits = _HITS["adapter"] = TypeAdapter(list[ContaminationHit])
    # validating the rows in one call is faster than constructing each model
    return [hit for rows in contamination_rows(index, tree, benchmark) for hit in hits.validate_python(rows)]


_HITS: dict[str, Any] = {}


def tree_subgraph(
    store: EmbeddedStore, root: str, depth: int, *, upstream: bool, include_rejected: bool = False
) -> Subgraph:
    """``GraphStore.upstream``/``downstream``: the nodes within ``depth`` edges of ``root`` found by a BFS over the
    index, then their records and those of the edges out of every node closer than ``depth`` read from the store
    in batches (the same edges the level-BFS walks: each such node's edges in that direction)."""
    from graph_store.cypher_store import edge_from_row
    from graph_store.models import Subgraph
    from graph_store.queries import children_edges_of, parents_of
    from oda.errors import InputError

    if depth < 0:
        raise InputError(f"depth must be ≥ 0, got {depth}")
    index = store.adjacency()
    start = index.rank(root)
    if start is None:
        return Subgraph(root=root, nodes=[], edges=[])
    tree = index.bfs(
        start, index.walkable(include_rejected=include_rejected), upstream=upstream, max_depth=depth
    )
    ids = np.asarray(index.ids, dtype=object)
    seen = ids[np.concatenate(tree.levels)].tolist()
    anchors = ids[np.concatenate(tree.levels[:depth])].tolist() if depth else []
    builder = parents_of if upstream else children_edges_of
    edges = {}
    for at in range(0, len(anchors), store.bfs_batch_size):
        batch = anchors[at : at + store.bfs_batch_size]
        for row in store._read_by_ids(builder, batch, include_rejected=include_rejected).dicts():
            edge = edge_from_row(row)
            edges[edge.key] = edge
    nodes = sorted(store.get_nodes(sorted(seen)), key=lambda n: n.id)
    return Subgraph(root=root, nodes=nodes, edges=sorted(edges.values(), key=lambda e: e.key))


def write_json_rows(chunks: Iterator[list[dict[str, Any]]], out: IO[bytes]) -> int:
    """Stream rows as one JSON array (the layout ``json.dumps(rows, indent=2)`` gives); return the row count."""
    count = 0
    for rows in chunks:
        if not rows:
            continue
        body = orjson.dumps(rows, option=orjson.OPT_INDENT_2)
        out.write(b"[\n" if count == 0 else b",\n")
        out.write(body[2:-2])  # without this chunk's own "[\n" and "\n]"
        count += len(rows)
    out.write(b"\n]\n" if count else b"[]\n")
    return count


__all__ = [
    "AdjacencyIndex",
    "BfsTree",
    "build",
    "bump_write_stamp",
    "contamination_hits",
    "contamination_rows",
    "contamination_tree",
    "fresh_index",
    "index_path",
    "read_stamp",
    "tree_subgraph",
    "write_json_rows",
]
