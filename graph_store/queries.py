"""Every Cypher statement the stores run, as pure builder functions.

Each builder takes a ``Dialect`` and returns a ``(query, params)`` pair. Ids and values always travel as
parameters; nothing user-supplied is ever interpolated into a statement. Only fixed field names chosen by this
module are.

The builders are written once; where engines differ they call the dialect's hooks, and each engine's dialect lives
beside its store (``embedded.LadybugDialect``; ``neo4j_store.Neo4jDialect``, also for Bolt servers that speak
Neo4j's dialect). The hooks:

- ``schema``: ladybug declares its tables up front; Neo4j needs constraints and indexes instead.
- ``loads_arrow``, ``row_column``: batched writes read their rows from ``$rows``, ``UNWIND $rows AS row`` over a
  list of maps on Neo4j; ladybug reads large batches with ``LOAD FROM $rows`` over a typed Arrow table (columns
  ``row_<field>``), since its conversion of Python maps is slow (3 s per 10k rows), and casts the columns of
  small ``UNWIND`` batches to their types (``_RowSource``).
- ``create_verb``: ladybug's ``MERGE`` is slow on large batches, so the stores read which ids and edges exist
  first, then ``CREATE`` what is new (new edges are bulk-loaded with ``COPY``) and ``MATCH … SET`` what is
  stored. On Neo4j those "create" builders still ``MERGE``, so concurrent writers never duplicate a node or an
  edge.
- ``carry``, ``match_edge``: endpoints are matched one after the other (``MATCH (c) WITH … MATCH (p)``); a
  ``MATCH (c), (p)`` form is 60x slower on ladybug. ladybug carries ``LOAD FROM`` columns with ``WITH *``.
- ``anchored``, ``id_params``, ``id_lookups``: how a read restricted to a list of ids is written, and split.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, Literal

Query = tuple[str, dict[str, Any]]

# Node properties (models.Node) and their ladybug column types. Datetimes are stored as ISO-8601 strings.
NODE_COLUMNS: dict[str, str] = {
    "id": "STRING",
    "name": "STRING",
    "on_hub": "BOOL",
    "created_at": "STRING",
    "downloads": "INT64",
    "domains": "STRING[]",
    "is_benchmark": "BOOL",
    "summary": "STRING",
    "trace_status": "STRING",
    "trace_note": "STRING",
}

# Edge properties (models.Edge minus target/source); ``components`` is a JSON string.
EDGE_COLUMNS: dict[str, str] = {
    "relationship": "STRING",
    "confidence": "DOUBLE",
    "evidence": "STRING",
    "evidence_url": "STRING",
    "source_kind": "STRING",
    "extractor": "STRING",
    "status": "STRING",
    "split": "STRING",
    "teacher": "STRING",
    "components": "STRING",
    "run_id": "STRING",
    "note": "STRING",
    "version": "INT64",
    "updated_at": "STRING",
}

AUDIT_COLUMNS: dict[str, str] = {
    "seq": "INT64",
    "target": "STRING",
    "source": "STRING",
    "action": "STRING",
    "reviewer": "STRING",
    "at": "STRING",
    "previous": "STRING",
    "new": "STRING",
    "reason": "STRING",
}

# Score profiles and bench results: key columns to filter on, plus the whole record as JSON in ``data``.
SCORE_COLUMNS: dict[str, str] = {
    "key": "STRING",
    "dataset": "STRING",
    "scorer": "STRING",
    "axis": "STRING",
    "family": "STRING",
    "mean": "DOUBLE",
    "n": "INT64",
    "data": "STRING",
}

RESULT_COLUMNS: dict[str, str] = {
    "key": "STRING",
    "dataset": "STRING",
    "base_model": "STRING",
    "benchmark": "STRING",
    "score": "DOUBLE",
    "delta": "DOUBLE",
    "data": "STRING",
}


NODE_ROW_COLUMNS: dict[str, str] = {
    **NODE_COLUMNS,
    "default_on_hub": "BOOL",
    "default_is_benchmark": "BOOL",
    "default_domains": "STRING[]",
}
EDGE_ROW_COLUMNS: dict[str, str] = {"target": "STRING", "source": "STRING", **EDGE_COLUMNS}
ENDPOINT_ROW_COLUMNS: dict[str, str] = {"id": "STRING", "on_hub": "BOOL"}


def arrow_type(column_type: str) -> Any:
    """The Arrow type of a column type."""
    import pyarrow as pa

    simple = {"STRING": pa.string(), "DOUBLE": pa.float64(), "INT64": pa.int64(), "BOOL": pa.bool_()}
    if column_type.endswith("[]"):
        return pa.list_(simple[column_type[:-2]])
    return simple[column_type]


# Reads of more ids than this go in several statements.
SHORT_ID_LIST = 256


class Dialect(abc.ABC):
    """The hooks through which one engine's Cypher differs from another's; the builders are written once over them.

    The defaults are the plain forms: ``MERGE`` for creates, ``UNWIND`` over maps, one statement per id list.
    """

    # The verb that writes what a lookup found missing: ``CREATE`` where one writer holds the store and a plain
    # create is much faster, ``MERGE`` where concurrent writers must never duplicate a node or an edge.
    create_verb: Literal["CREATE", "MERGE"] = "MERGE"
    # An empty ``STRING[]`` value.
    empty_string_list: str = "[]"

    @abc.abstractmethod
    def schema(self) -> list[str]:
        """Statements that create the schema (idempotent: safe to run on every open)."""

    def loads_arrow(self, rows: int) -> bool:
        """Whether a batch of ``rows`` rows travels as a typed Arrow table, read with ``LOAD FROM``."""
        return False

    def row_column(self, name: str, column_type: str) -> str:
        """The expression for the column ``name`` (of ``column_type``) of a row read with ``UNWIND``."""
        return f"row.{name}"

    @abc.abstractmethod
    def carry(self, *names: str) -> str:
        """What a ``WITH`` between two ``MATCH`` clauses of a batched write keeps: ``names`` and the row."""

    @abc.abstractmethod
    def match_edge(self, target: str, source: str) -> str:
        """``MATCH`` the stored edge ``r`` from ``c`` (id ``target``) to ``p`` (id ``source``)."""

    @abc.abstractmethod
    def anchored(self, ids: Sequence[str], var: str, pattern: str, where: str = "") -> str:
        """``MATCH pattern`` restricted to ``var.id IN ids``, in the form the engine runs fast.

        ``pattern`` names the anchor node ``{anchor}``; ``where`` is an extra condition. The statement reads
        the parameters ``id_params(ids)`` gives.
        """

    def id_params(self, ids: Sequence[str]) -> dict[str, Any]:
        """The parameters ``anchored`` reads for ``ids``."""
        return {"ids": list(ids)}

    def id_lookups(self, ids: Sequence[str]) -> list[list[str]]:
        """The id lists a read by ``ids`` runs one statement each for (by default one statement for all)."""
        return [list(ids)]


class _RowSource:
    """Where a batched write reads its rows from, in the form the dialect and the batch size call for.

    - ``LOAD FROM $rows`` over a typed Arrow table (``row_name``) where the dialect ``loads_arrow`` the batch;
    - else ``UNWIND $rows AS row`` over a list of maps, each column as the dialect's ``row_column``.
    """

    def __init__(self, dialect: Dialect, rows: list[dict[str, Any]], columns: dict[str, str]) -> None:
        self.dialect = dialect
        self.rows = rows
        self.columns = columns
        self.load_from = dialect.loads_arrow(len(rows))

    @property
    def clause(self) -> str:
        return "LOAD FROM $rows" if self.load_from else "UNWIND $rows AS row"

    def col(self, name: str) -> str:
        """The expression for one column of the current row."""
        if name not in self.columns:
            raise ValueError(f"row column {name!r} is not in the batch's columns")
        if self.load_from:
            return f"row_{name}"
        return self.dialect.row_column(name, self.columns[name])

    def query(self, text: str) -> Query:
        """``(text, params)`` with ``$rows`` in this source's form."""
        if not self.load_from:
            return text, {"rows": [{name: row.get(name) for name in self.columns} for row in self.rows]}
        import pyarrow as pa

        table = pa.table(
            {
                f"row_{name}": pa.array([row.get(name) for row in self.rows], arrow_type(t))
                for name, t in self.columns.items()
            }
        )
        return text, {"rows": table}


# --- node and edge writes ---------------------------------------------------------------------------------


def _node_sets(src: _RowSource) -> str:
    sets = []
    for name in NODE_COLUMNS:
        if name == "id":
            continue
        value = src.col(name)
        if name in ("on_hub", "is_benchmark", "domains"):
            sets.append(f"n.{name} = coalesce({value}, n.{name}, {src.col('default_' + name)})")
        else:
            sets.append(f"n.{name} = coalesce({value}, n.{name})")
    return ", ".join(sets)


def _node_writer(dialect: Dialect, verb: str, rows: list[dict[str, Any]]) -> Query:
    src = _RowSource(dialect, rows, NODE_ROW_COLUMNS)
    query = f"{src.clause} {verb} (n:Dataset {{id: {src.col('id')}}}) SET {_node_sets(src)}"
    return src.query(query)


def upsert_nodes(dialect: Dialect, rows: list[dict[str, Any]]) -> Query:
    """MERGE nodes by id. A null field in ``row`` keeps the stored value; ``default_*`` fill new nodes."""
    return _node_writer(dialect, "MERGE", rows)


def create_nodes(dialect: Dialect, rows: list[dict[str, Any]]) -> Query:
    """Create nodes the caller found missing, with the dialect's ``create_verb`` (a ``MERGE`` sets fields as
    ``upsert_nodes`` does)."""
    if dialect.create_verb == "MERGE":
        return _node_writer(dialect, "MERGE", rows)
    src = _RowSource(dialect, rows, NODE_ROW_COLUMNS)
    props = []
    for name in NODE_COLUMNS:
        value = src.col(name)
        if name in ("on_hub", "is_benchmark", "domains"):
            value = f"coalesce({value}, {src.col('default_' + name)})"
        props.append(f"{name}: {value}")
    query = f"{src.clause} CREATE (n:Dataset {{{', '.join(props)}}})"
    return src.query(query)


def update_nodes(dialect: Dialect, rows: list[dict[str, Any]]) -> Query:
    """Update nodes the caller found stored; null fields keep stored values."""
    return _node_writer(dialect, "MATCH", rows)


def ensure_nodes(dialect: Dialect, rows: list[dict[str, Any]], *, merge: bool = False) -> Query:
    """Create bare endpoint nodes (``{id, on_hub}``) the caller found missing, with the dialect's ``create_verb``.

    ``merge`` makes every dialect MERGE: slower, but safe when the caller cannot trust what it found missing.
    """
    src = _RowSource(dialect, rows, ENDPOINT_ROW_COLUMNS)
    node_id, on_hub = src.col("id"), src.col("on_hub")
    verb = "MERGE" if merge else dialect.create_verb
    sets = "ON CREATE SET" if verb == "MERGE" else "SET"
    query = (
        f"{src.clause} {verb} (n:Dataset {{id: {node_id}}}) "
        f"{sets} n.on_hub = {on_hub}, n.is_benchmark = false, n.domains = {dialect.empty_string_list}"
    )
    return src.query(query)


def get_all_ids(dialect: Dialect) -> Query:
    """Every node id."""
    return "MATCH (n:Dataset) RETURN n.id", {}


def existing_ids(dialect: Dialect, ids: Sequence[str]) -> Query:
    """The ids among ``ids`` that are stored."""
    return f"{dialect.anchored(ids, 'n', '{anchor}')} RETURN n.id", dialect.id_params(ids)


def _edge_sets(src: _RowSource) -> str:
    return ", ".join(f"r.{name} = {src.col(name)}" for name in EDGE_COLUMNS)


def _edge_writer(dialect: Dialect, verb: str, rows: list[dict[str, Any]]) -> Query:
    src = _RowSource(dialect, rows, EDGE_ROW_COLUMNS)
    target, source = src.col("target"), src.col("source")
    if verb == "MATCH":
        pattern = dialect.match_edge(target, source)
    else:
        pattern = (
            f"MATCH (c:Dataset {{id: {target}}}) WITH {dialect.carry('c')} "
            f"MATCH (p:Dataset {{id: {source}}}) {verb} (c)-[r:DERIVED_FROM]->(p)"
        )
    query = f"{src.clause} {pattern} SET {_edge_sets(src)}"
    return src.query(query)


def upsert_edges(dialect: Dialect, rows: list[dict[str, Any]]) -> Query:
    """MERGE edges by (target, source) and set every edge field from ``row`` (endpoints must exist)."""
    return _edge_writer(dialect, "MERGE", rows)


def create_edges(dialect: Dialect, rows: list[dict[str, Any]]) -> Query:
    """Write edges the caller found missing (endpoints must exist), with the dialect's ``create_verb``."""
    return _edge_writer(dialect, dialect.create_verb, rows)


def update_edges(dialect: Dialect, rows: list[dict[str, Any]]) -> Query:
    """Set every field of stored edges from ``rows``."""
    return _edge_writer(dialect, "MATCH", rows)


def delete_edge(dialect: Dialect, target: str, source: str) -> Query:
    """Delete one edge (used only to undo a repoint that created it)."""
    query = "MATCH (c:Dataset {id: $target})-[r:DERIVED_FROM]->(p:Dataset {id: $source}) DELETE r"
    return query, {"target": target, "source": source}


# --- node and edge reads ----------------------------------------------------------------------------------


def _node_return(var: str) -> str:
    return ", ".join(f"{var}.{name} AS {name}" for name in NODE_COLUMNS)


def _edge_return(child: str = "c", parent: str = "p", rel: str = "r") -> str:
    fields = [f"{child}.id AS target", f"{parent}.id AS source"]
    fields += [f"{rel}.{name} AS {name}" for name in EDGE_COLUMNS]
    return ", ".join(fields)


def get_nodes(dialect: Dialect, ids: Sequence[str] | None = None) -> Query:
    """Nodes by id (all nodes when ``ids`` is None), ordered by id."""
    if ids is None:
        return f"MATCH (n:Dataset) RETURN {_node_return('n')} ORDER BY id", {}
    return f"{dialect.anchored(ids, 'n', '{anchor}')} RETURN {_node_return('n')}", dialect.id_params(ids)


def edges_by_keys(dialect: Dialect, keys: list[dict[str, str]]) -> Query:
    """The stored edges among ``[{target, source}, …]``."""
    query = (
        "UNWIND $keys AS k MATCH (c:Dataset {id: k.target}) WITH c, k "
        "MATCH (c)-[r:DERIVED_FROM]->(p:Dataset {id: k.source}) "
        f"RETURN {_edge_return()}"
    )
    return query, {"keys": keys}


def list_edges(
    dialect: Dialect,
    *,
    statuses: Sequence[str] | None = None,
    target: str | None = None,
    source: str | None = None,
    order_by_confidence: bool = False,
) -> Query:
    """Edges filtered by status and endpoints, ordered by (target, source) or by confidence."""
    child = "(c:Dataset {id: $target})" if target is not None else "(c:Dataset)"
    parent = "(p:Dataset {id: $source})" if source is not None else "(p:Dataset)"
    params: dict[str, Any] = {}
    if target is not None:
        params["target"] = target
    if source is not None:
        params["source"] = source
    where = ""
    if statuses is not None:
        where = " WHERE r.status IN $statuses"
        params["statuses"] = list(statuses)
    order = "confidence, target, source" if order_by_confidence else "target, source"
    query = f"MATCH {child}-[r:DERIVED_FROM]->{parent}{where} RETURN {_edge_return()} ORDER BY {order}"
    return query, params


def any_edge(dialect: Dialect) -> Query:
    """One row when the store holds at least one edge."""
    return "MATCH (:Dataset)-[r:DERIVED_FROM]->(:Dataset) RETURN 1 AS one LIMIT 1", {}


def count_nodes(dialect: Dialect) -> Query:
    """The number of datasets."""
    return "MATCH (n:Dataset) RETURN count(n) AS nodes", {}


def count_graph(dialect: Dialect) -> Query:
    """Node and edge counts."""
    return (
        "MATCH (n:Dataset) WITH count(n) AS nodes "
        "OPTIONAL MATCH (:Dataset)-[r:DERIVED_FROM]->(:Dataset) RETURN nodes, count(r) AS edges"
    ), {}


def walk_filter(
    rel: str,
    *,
    min_confidence: float,
    statuses: Sequence[str] | None,
    split: str | None,
    params: dict[str, Any],
) -> str:
    clauses = [f"{rel}.status <> 'rejected'"]
    if min_confidence > 0:
        clauses.append(f"{rel}.confidence >= $min_confidence")
        params["min_confidence"] = float(min_confidence)
    if statuses is not None:
        clauses.append(f"{rel}.status IN $statuses")
        params["statuses"] = list(statuses)
    if split is not None:
        clauses.append(f"({rel}.split IS NULL OR {rel}.split = $split)")
        params["split"] = split
    return " AND ".join(clauses)


def children_of(
    dialect: Dialect,
    ids: Sequence[str],
    *,
    min_confidence: float = 0.0,
    statuses: Sequence[str] | None = None,
    split: str | None = None,
) -> Query:
    """One level-BFS step downstream: ``(child, parent, confidence)`` for each walkable edge into ``ids``."""
    params: dict[str, Any] = dialect.id_params(ids)
    where = walk_filter("r", min_confidence=min_confidence, statuses=statuses, split=split, params=params)
    match = dialect.anchored(ids, "p", "(c:Dataset)-[r:DERIVED_FROM]->{anchor}", where)
    query = f"{match} RETURN c.id, p.id, r.confidence"
    return query, params


def walkable_edges(
    dialect: Dialect,
    *,
    min_confidence: float = 0.0,
    statuses: Sequence[str] | None = None,
    split: str | None = None,
) -> Query:
    """Every walkable edge as ``(child, parent, confidence)``: one scan, for a BFS that reaches much of the graph."""
    params: dict[str, Any] = {}
    where = walk_filter("r", min_confidence=min_confidence, statuses=statuses, split=split, params=params)
    return (
        f"MATCH (c:Dataset)-[r:DERIVED_FROM]->(p:Dataset) WHERE {where} RETURN c.id, p.id, r.confidence",
        params,
    )


def parents_of(dialect: Dialect, ids: Sequence[str], *, include_rejected: bool = False) -> Query:
    """One level-BFS step upstream: every edge out of ``ids``, with all fields."""
    where = "" if include_rejected else "r.status <> 'rejected'"
    match = dialect.anchored(ids, "c", "{anchor}-[r:DERIVED_FROM]->(p:Dataset)", where)
    query = f"{match} RETURN {_edge_return()}"
    return query, dialect.id_params(ids)


def children_edges_of(dialect: Dialect, ids: Sequence[str], *, include_rejected: bool = False) -> Query:
    """One level-BFS step downstream: every edge into ``ids``, with all fields."""
    where = "" if include_rejected else "r.status <> 'rejected'"
    match = dialect.anchored(ids, "p", "(c:Dataset)-[r:DERIVED_FROM]->{anchor}", where)
    query = f"{match} RETURN {_edge_return()}"
    return query, dialect.id_params(ids)


def all_edge_pairs(dialect: Dialect, *, include_rejected: bool = False) -> Query:
    """``(target, source)`` of every edge (for statistics and cycle checks)."""
    where = "" if include_rejected else " WHERE r.status <> 'rejected'"
    return f"MATCH (c:Dataset)-[r:DERIVED_FROM]->(p:Dataset){where} RETURN c.id, p.id", {}


# --- audit log -----------------------------------------------------------------------------------------------


def max_audit_seq(dialect: Dialect) -> Query:
    """The highest audit sequence number (embedded store: read under the writer lock)."""
    return "MATCH (a:AuditEntry) RETURN max(a.seq) AS seq", {}


def init_audit_counter(dialect: Dialect) -> Query:
    """Create the audit counter if missing, starting after the highest stored sequence number."""
    return (
        "OPTIONAL MATCH (a:AuditEntry) WITH coalesce(max(a.seq), 0) AS top "
        "MERGE (k:Counter {name: 'audit'}) ON CREATE SET k.value = top"
    ), {}


def next_audit_seq(dialect: Dialect) -> Query:
    """Atomically bump and return the audit counter (Neo4j: the SET takes a write lock on the counter)."""
    return "MATCH (k:Counter {name: 'audit'}) SET k.value = k.value + 1 RETURN k.value AS seq", {}


def insert_audit(dialect: Dialect, row: dict[str, Any]) -> Query:
    """Append one audit entry (``previous``/``new`` are JSON strings)."""
    fields = ", ".join(f"{name}: $row_{name}" for name in AUDIT_COLUMNS)
    return f"CREATE (a:AuditEntry {{{fields}}})", {f"row_{k}": row[k] for k in AUDIT_COLUMNS}


def list_audit(dialect: Dialect, *, target: str | None = None, source: str | None = None) -> Query:
    """Audit entries, oldest first, optionally for one edge endpoint."""
    clauses = []
    params: dict[str, Any] = {}
    if target is not None:
        clauses.append("a.target = $target")
        params["target"] = target
    if source is not None:
        clauses.append("a.source = $source")
        params["source"] = source
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    fields = ", ".join(f"a.{name} AS {name}" for name in AUDIT_COLUMNS)
    return f"MATCH (a:AuditEntry){where} RETURN {fields} ORDER BY seq", params


# --- score profiles and bench results ------------------------------------------------------------------------


def upsert_records(dialect: Dialect, label: str, rel: str, rows: list[dict[str, Any]]) -> Query:
    """MERGE ``ScoreProfile``/``BenchResult`` records by key and link them to their (existing) dataset."""
    if (label, rel) not in (("ScoreProfile", "HAS_SCORE"), ("BenchResult", "HAS_RESULT")):
        raise ValueError(f"unknown record kind {label}/{rel}")
    columns = SCORE_COLUMNS if label == "ScoreProfile" else RESULT_COLUMNS
    src = _RowSource(dialect, rows, columns)
    sets = ", ".join(f"x.{name} = {src.col(name)}" for name in columns if name != "key")
    query = (
        f"{src.clause} MATCH (d:Dataset {{id: {src.col('dataset')}}}) "
        f"MERGE (x:{label} {{key: {src.col('key')}}}) SET {sets} MERGE (d)-[:{rel}]->(x)"
    )
    return src.query(query)


def list_records(dialect: Dialect, label: str, dataset: str | None = None) -> Query:
    """The ``data`` JSON of score profiles or bench results, optionally for one dataset."""
    if label not in ("ScoreProfile", "BenchResult"):
        raise ValueError(f"unknown record kind {label}")
    if dataset is None:
        return f"MATCH (x:{label}) RETURN x.data AS data ORDER BY x.key", {}
    return f"MATCH (x:{label}) WHERE x.dataset = $dataset RETURN x.data AS data ORDER BY x.key", {
        "dataset": dataset
    }


def results_for_benchmark(dialect: Dialect, names: Sequence[str]) -> Query:
    """``(dataset, score)`` of every result whose benchmark is one of ``names`` (the node id and its name)."""
    return (
        "MATCH (x:BenchResult) WHERE x.benchmark IN $names RETURN x.dataset, x.score ORDER BY x.key",
        {"names": list(names)},
    )


# --- the DAG ------------------------------------------------------------------------------------------------

# An edge is in the DAG unless it is rejected or is a cycle candidate (flagged with a ``cycle:`` note).
_IN_DAG = (
    "r.status <> 'rejected' AND NOT (r.status = 'flagged' AND coalesce(r.note, '') STARTS WITH 'cycle:')"
)


def edge_states(dialect: Dialect) -> Query:
    """``(target, source, status, note)`` of every edge: one scan, for checking a large write against the DAG."""
    return "MATCH (c:Dataset)-[r:DERIVED_FROM]->(p:Dataset) RETURN c.id, p.id, r.status, r.note", {}


def dag_parents(dialect: Dialect, ids: Sequence[str]) -> Query:
    """``(child, parent)`` of every DAG edge out of ``ids``: one upward step of a reachability search."""
    match = dialect.anchored(ids, "c", "{anchor}-[r:DERIVED_FROM]->(p:Dataset)", _IN_DAG)
    return f"{match} RETURN c.id, p.id", dialect.id_params(ids)


def dag_children(dialect: Dialect, ids: Sequence[str]) -> Query:
    """``(child, parent)`` of every DAG edge into ``ids``: one downward step of a reachability search."""
    match = dialect.anchored(ids, "p", "(c:Dataset)-[r:DERIVED_FROM]->{anchor}", _IN_DAG)
    return f"{match} RETURN c.id, p.id", dialect.id_params(ids)


def dag_pairs(dialect: Dialect) -> Query:
    """``(target, source)`` of every DAG edge."""
    return f"MATCH (c:Dataset)-[r:DERIVED_FROM]->(p:Dataset) WHERE {_IN_DAG} RETURN c.id, p.id", {}
