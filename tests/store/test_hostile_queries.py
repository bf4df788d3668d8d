"""Hostile user Cypher against every backend: each query is refused or has no effect.

"No effect" is checked the strict way: the store's ``json`` export and its audit log are byte-identical before
and after the query, and no file appears where a query tried to write one. The store holds nodes, edges, a
score, a result and audit entries, so a write to any of them would show.

The suite runs on the embedded store (the engine opened read-only in a child process) and on the Bolt stand-in
(``integration``: a READ session plus the keyword layer). Queries that only a time or memory limit stops run on
the embedded store only: the stand-in (ArcadeDB) does not enforce transaction timeouts, where Neo4j does.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from graph_store.cypher_store import CypherGraphStore
from graph_store.embedded import EmbeddedStore
from graph_store.io import export_json
from graph_store.models import BenchResult, Edge, Node, ScoreProfile
from graph_store.readonly import QueryLimits
from graph_store.sandbox import QueryLimitError
from oda.errors import ReadOnlyError, StoreError
from review_ui.export import write_audit_jsonl
from tests.store.conftest import SMALL_POOL

LIMITS = QueryLimits(timeout_s=5.0, max_rows=1000, max_memory_mb=512)
DROP = "{tmp}"  # replaced by a folder of the test's own

# The examples of the report this suite answers, first: each must be refused before it reaches the engine.
REPORTED = [
    "MATCH (n) DETACH DELETE n",
    "RETURN '//' AS x; MATCH (n) DETACH DELETE n; COMMIT",
    "RETURN '//' AS x; CREATE (n:Dataset {id: 'evil/created'})",
    "RETURN '//' AS x; DROP TABLE BenchResult",
    "RETURN '//' AS x; COPY (MATCH (n:Dataset) RETURN n.id) TO '{tmp}/leak.csv'",
    "RETURN '//' AS x; EXPORT DATABASE '{tmp}/dump'",
    "RETURN '//' AS x; LOAD FROM '/etc/passwd' (file_format='csv', header=false, delim=':') RETURN *",
    "RETURN '//' AS x; MATCH (a:AuditEntry) DETACH DELETE a",
]

# Everything else a user might try: hidden statements, writes, files, extensions, sessions, procedures.
REFUSED = [
    "match (n) detach delete n",
    "mAtCh (n) DeTaCh DeLeTe n",
    "MATCH (n) SET n.name = 'x'",
    "MATCH (n) REMOVE n.name",
    "MERGE (n:Dataset {id: 'evil/merged'})",
    "CREATE (n:Dataset {id: 'evil/c'})",
    "MATCH (n) /* c */ DETACH /* c */ DELETE n",
    "MATCH (n) WHERE n.id = 'a' // comment\n DETACH DELETE n",
    'RETURN "//" AS x; MATCH (n) DETACH DELETE n',
    "RETURN '\\'' AS x; MATCH (n) DETACH DELETE n",
    "RETURN '\\\\' AS x; MATCH (n) DETACH DELETE n",
    "RETURN '/*' AS x; MATCH (n) DETACH DELETE n; RETURN '*/'",
    "RETURN `//` AS x; MATCH (n) DETACH DELETE n",
    "RETURN 1 AS `a``;` ; MATCH (n) DETACH DELETE n",
    "RETURN '\\u0027' AS x; MATCH (n) DETACH DELETE n",
    "RETURN 'unterminated; MATCH (n) DETACH DELETE n",
    "RETURN 1 /* unterminated; MATCH (n) DETACH DELETE n",
    "RETURN 1; RETURN 2",
    "MATCH (n) RETURN n UNION MATCH (m) DETACH DELETE m RETURN m",
    "WITH 1 AS x MATCH (n) DETACH DELETE n",
    "OPTIONAL MATCH (n) DETACH DELETE n",
    "MATCH (n)\x0bDETACH\x0cDELETE n",
    "MATCH (n) DETACH\u00a0DELETE n",
    "DROP TABLE Dataset",
    "ALTER TABLE Dataset ADD evil STRING",
    "COPY Dataset FROM '/etc/passwd'",
    "COPY (MATCH (n:Dataset) RETURN n.id) TO '{tmp}/copy.csv'",
    "EXPORT DATABASE '{tmp}/dump2'",
    "IMPORT DATABASE '{tmp}/dump'",
    "LOAD FROM '/etc/passwd' RETURN *",
    "LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row",
    "LOAD EXTENSION json",
    "INSTALL json",
    "UNINSTALL json",
    "ATTACH '{tmp}/other' AS o (dbtype lbug)",
    "USE o",
    "BEGIN TRANSACTION",
    "COMMIT",
    "ROLLBACK",
    "CHECKPOINT",
    "CALL threads=1",
    "CALL timeout=0",
    "CALL drop_fts_index('Dataset', 'idx')",
    "CALL create_fts_index('Dataset', 'idx', ['name'])",
    "CALL apoc.create.node(['X'], {}) YIELD node RETURN node",
    "CALL apoc.load.json('file:///etc/passwd')",
    "CALL apoc.export.csv.all('{tmp}/apoc.csv', {})",
    "CALL apoc.cypher.runWrite('MATCH (n) DETACH DELETE n', {})",
    "CALL db.index.fulltext.createNodeIndex('i', ['Dataset'], ['name'])",
    "CALL dbms.setConfigValue('x', 'y')",
    "CALL { MATCH (n) DETACH DELETE n }",
    "MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS",
    "FOREACH (x IN [1] | CREATE (:Dataset {id: 'evil/f'}))",
    "UNWIND [1] AS x CREATE (:Dataset {id: 'evil/u'})",
    "MATCH (a:AuditEntry) SET a.reviewer = 'mallory'",
    "MATCH ()-[r:DERIVED_FROM]->() DELETE r",
    "MATCH ()-[r:DERIVED_FROM]->() SET r.status = 'approved'",
    "CREATE NODE TABLE Evil(id STRING PRIMARY KEY)",
    "CREATE REL TABLE Evil2(FROM Dataset TO Dataset)",
    "CREATE INDEX i FOR (n:Dataset) ON (n.name)",
    "CREATE CONSTRAINT c FOR (n:Dataset) REQUIRE n.name IS UNIQUE",
    "GRANT ALL ON DATABASE * TO PUBLIC",
    "REVOKE ALL ON DATABASE * FROM PUBLIC",
    "TERMINATE TRANSACTIONS 'x'",
    "START DATABASE lineage",
    "STOP DATABASE lineage",
    "MATCH (n) WITH n CREATE (m:Dataset {id: n.id + 'x'})",
    "",
    "   ;  ",
]

# Reads that pass the keyword layer: they run where the engine cannot write, and change nothing.
HARMLESS: list[tuple[str, dict[str, Any]]] = [
    ("MATCH (n:Dataset) RETURN n.id AS id ORDER BY id", {}),
    ("MATCH (n:Dataset) WHERE n.summary CONTAINS 'DETACH DELETE; COMMIT' RETURN n.id", {}),
    ("MATCH (n:Dataset {id: $id}) RETURN n.id", {"id": "x'}) DETACH DELETE n //"}),
    ("MATCH (n:Dataset) WHERE n.id = $id RETURN n", {"id": "'; MATCH (m) DETACH DELETE m; //"}),
    ("RETURN 'MATCH (n) DETACH DELETE n' AS text", {}),
    ("MATCH (a:AuditEntry) RETURN count(a) AS entries", {}),
    ("MATCH (n) RETURN n.id // DETACH DELETE n", {}),
    ("RETURN 1 AS x;", {}),
]

# Queries only a limit stops: the row limit holds on every backend, time and memory limits on the embedded
# store here (see the module docstring).
RUNAWAY_ROWS = ["UNWIND range(1, 200000) AS x RETURN x"]
RUNAWAY = [
    "UNWIND range(1, 100000000000) AS x RETURN count(x)",
    "UNWIND range(1, 1000000000) AS x RETURN count(x)",
    "UNWIND range(1, 100000000) AS x WITH collect(x) AS l RETURN size(l)",
]


def _populate(store: CypherGraphStore) -> None:
    store.upsert_nodes(
        [
            Node(id="org/bench", is_benchmark=True, name="Bench"),
            Node(id="org/mix", summary="mixes DETACH DELETE; COMMIT into its text"),
        ]
    )
    store.upsert_edges(
        [
            Edge(target="org/mix", source="org/bench", relationship="subset", confidence=0.9),
            Edge(target="org/derived", source="org/mix", relationship="distillation", confidence=0.5),
            Edge(
                target="org/other", source="org/mix", relationship="fusion", confidence=0.4, status="flagged"
            ),
        ]
    )
    store.decide("org/other", "org/mix", "approve", reviewer="alice")
    store.decide("org/derived", "org/mix", "edit", reviewer="bob", note="checked")
    store.attach_scores(
        [
            ScoreProfile(
                dataset="org/mix", scorer="IFD", axis="QA", family="Model-based Evaluation", mean=0.5, n=3
            )
        ]
    )
    store.attach_results(
        [BenchResult(dataset="org/mix", base_model="qwen", benchmark="org/bench", score=50.0)]
    )


def _state(store: CypherGraphStore) -> bytes:
    out = io.StringIO()
    export_json(store, out)
    write_audit_jsonl(store, out)
    return out.getvalue().encode("utf-8")


@pytest.fixture(scope="module", params=["embedded", pytest.param("bolt", marks=pytest.mark.integration)])
def hostile_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, CypherGraphStore, Path]]:
    drop = tmp_path_factory.mktemp("drop")
    if request.param == "embedded":
        store: CypherGraphStore = EmbeddedStore(
            tmp_path_factory.mktemp("hostile") / "graph", buffer_pool_size=SMALL_POOL
        )
    else:
        from tests.store.conftest import _bolt_store

        store = _bolt_store(request.getfixturevalue("arcadedb"))
    _populate(store)
    yield request.param, store, drop
    store.close()


def _run(store: CypherGraphStore, query: str, params: dict[str, Any] | None = None) -> Any:
    return store.cypher(query, params or {}, limits=LIMITS)  # type: ignore[call-arg]


def _assert_no_effect(store: CypherGraphStore, drop: Path, before: bytes) -> None:
    assert _state(store) == before
    assert list(drop.iterdir()) == [], "a query wrote a file"


def test_the_suite_is_large_enough() -> None:
    assert len(REPORTED) + len(REFUSED) + len(HARMLESS) + len(RUNAWAY) + len(RUNAWAY_ROWS) >= 60


@pytest.mark.parametrize("query", REPORTED + REFUSED)
def test_hostile_query_is_refused_and_changes_nothing(
    hostile_store: tuple[str, CypherGraphStore, Path], query: str
) -> None:
    _, store, drop = hostile_store
    before = _state(store)
    with pytest.raises(ReadOnlyError):
        _run(store, query.replace(DROP, str(drop)))
    _assert_no_effect(store, drop, before)


@pytest.mark.parametrize(("query", "params"), HARMLESS)
def test_read_passes_and_changes_nothing(
    hostile_store: tuple[str, CypherGraphStore, Path], query: str, params: dict[str, Any]
) -> None:
    _, store, drop = hostile_store
    before = _state(store)
    rows = _run(store, query, params)
    assert isinstance(rows, list)
    _assert_no_effect(store, drop, before)


@pytest.mark.parametrize("query", RUNAWAY_ROWS + RUNAWAY)
def test_runaway_query_is_stopped_by_a_limit(
    hostile_store: tuple[str, CypherGraphStore, Path], query: str
) -> None:
    backend, store, drop = hostile_store
    if backend == "bolt" and query in RUNAWAY:
        pytest.skip("the ArcadeDB stand-in enforces no transaction timeout (Neo4j does)")
    before = _state(store)
    with pytest.raises(QueryLimitError):
        _run(store, query)
    _assert_no_effect(store, drop, before)


def test_a_query_error_is_a_store_error_and_changes_nothing(
    hostile_store: tuple[str, CypherGraphStore, Path],
) -> None:
    _, store, drop = hostile_store
    before = _state(store)
    with pytest.raises(StoreError):
        _run(store, "MATCH (n RETURN n")
    _assert_no_effect(store, drop, before)
