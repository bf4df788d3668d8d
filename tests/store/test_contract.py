"""The store contract, run against every backend (the ``store`` fixture is parametrized)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from graph_store.cypher_store import CypherGraphStore, Tx
from graph_store.models import BenchResult, Edge, EdgeStatus, Node, Relationship, ScoreProfile
from oda.errors import ConflictError, InputError, ReadOnlyError, StoreError, UnknownEdgeError


def edge(target: str, source: str, confidence: float = 0.9, **kw: Any) -> Edge:
    return Edge(
        target=target,
        source=source,
        relationship=kw.pop("relationship", "subset"),
        confidence=confidence,
        **kw,
    )


def chain_store(store: CypherGraphStore) -> None:
    """bench <- a/one <- a/two <- a/three, plus a/side <- bench (weak), and a benchmark node."""
    store.upsert_nodes([Node(id="ext:bench", name="Bench", is_benchmark=True, on_hub=False)])
    store.upsert_edges(
        [
            edge("a/one", "ext:bench", 0.9),
            edge("a/two", "a/one", 0.8),
            edge("a/three", "a/two", 0.7),
            edge("a/side", "ext:bench", 0.3, status="flagged"),
        ]
    )


# --- writes ---------------------------------------------------------------------------------------------------


def test_upsert_nodes_is_idempotent_and_nulls_keep_values(store: CypherGraphStore) -> None:
    first = store.upsert_nodes([Node(id="org/data", name="Data", downloads=10, domains=["Math"])])
    assert (first.created, first.updated) == (1, 0)
    again = store.upsert_nodes([Node(id="org/data", summary="about")])
    assert (again.created, again.updated) == (0, 1)
    node = store.get_node("org/data")
    assert node is not None
    assert (node.name, node.downloads, node.domains, node.summary) == ("Data", 10, ["Math"], "about")
    assert [n.id for n in store.nodes()] == ["org/data"]


def test_minimal_node_write_keeps_benchmark_flag(store: CypherGraphStore) -> None:
    store.upsert_nodes([Node(id="org/bench", is_benchmark=True)])
    store.upsert_nodes([Node(id="org/bench", trace_status="traced")])
    node = store.get_node("org/bench")
    assert node is not None and node.is_benchmark and node.trace_status == "traced"


def test_upsert_edges_creates_endpoints_and_merges(store: CypherGraphStore) -> None:
    report = store.upsert_edges([edge("org/child", "ext:wikipedia"), edge("org/child", "ext:wikipedia", 0.5)])
    assert (report.created, report.updated) == (1, 0)  # duplicates in one batch merge (last wins)
    parent = store.get_node("ext:wikipedia")
    assert parent is not None and parent.on_hub is False
    child = store.get_node("org/child")
    assert child is not None and child.on_hub is True
    stored = store.get_edge("org/child", "ext:wikipedia")
    assert stored is not None and stored.confidence == 0.5
    again = store.upsert_edges([edge("org/child", "ext:wikipedia", 0.6, evidence="built from Wikipedia")])
    assert (again.created, again.updated) == (0, 1)
    assert len(store.edges()) == 1
    stored = store.get_edge("org/child", "ext:wikipedia")
    assert stored is not None and stored.evidence == "built from Wikipedia" and stored.confidence == 0.6


def test_edge_fields_round_trip(store: CypherGraphStore) -> None:
    full = edge(
        "org/child",
        "org/parent",
        0.42,
        relationship="CoT Distillation",
        evidence="distilled from org/parent",
        evidence_url="https://example.org/card",
        source_kind="card_yaml",
        extractor="rules",
        status="flagged",
        split="train",
        teacher="DeepSeek-R1",
        components={"support": 0.5, "credibility": 1.0, "agreement": 0.3},
        run_id="run-1",
        note="check",
    )
    store.upsert_edges([full])
    stored = store.get_edge("org/child", "org/parent")
    assert stored is not None
    assert stored.model_dump(exclude={"updated_at"}) == full.model_dump(exclude={"updated_at"})
    assert stored.updated_at is not None


def test_invalid_items_are_reported_not_written(store: CypherGraphStore) -> None:
    report = store.upsert_edges(
        [
            {"target": "org/a", "source": "org/a", "relationship": "subset", "confidence": 0.5},
            {"target": "org/a", "source": "org/b", "relationship": "telepathy", "confidence": 0.5},
            {"target": "org/a", "source": "org/b", "relationship": "subset", "confidence": 1.5},
            {
                "target": "x'}) DETACH DELETE n //",
                "source": "org/b",
                "relationship": "subset",
                "confidence": 0.5,
            },
            {"target": "org/a", "source": "org/b", "relationship": "subset", "confidence": 0.5},
        ]
    )
    assert report.created == 1
    assert len(report.rejected) == 4
    assert "self-loop" in report.rejected[0]
    assert "unknown relationship" in report.rejected[1]
    assert "confidence" in report.rejected[2]
    assert "invalid node id" in report.rejected[3]
    assert [e.key for e in store.edges()] == [("org/a", "org/b")]


def test_machine_writes_never_overwrite_human_decisions(store: CypherGraphStore) -> None:
    store.upsert_edges([edge("org/a", "org/b", 0.4, status="flagged"), edge("org/a", "org/c", 0.4)])
    store.decide("org/a", "org/b", "approve", reviewer="ann")
    store.decide("org/a", "org/c", "reject", reviewer="ann", reason="only a baseline")
    report = store.upsert_edges([edge("org/a", "org/b", 0.1, status="flagged"), edge("org/a", "org/c", 0.99)])
    assert (report.protected, report.updated, report.created) == (2, 0, 0)
    approved = store.get_edge("org/a", "org/b")
    rejected = store.get_edge("org/a", "org/c")
    assert approved is not None and approved.status == EdgeStatus.APPROVED and approved.confidence == 0.4
    assert rejected is not None and rejected.status == EdgeStatus.REJECTED and rejected.confidence == 0.4


def test_machine_status_change_bumps_version(store: CypherGraphStore) -> None:
    store.upsert_edges([edge("org/a", "org/b", 0.9)])
    store.upsert_edges([edge("org/a", "org/b", 0.2, status="flagged")])
    stored = store.get_edge("org/a", "org/b")
    assert stored is not None and stored.status == EdgeStatus.FLAGGED and stored.version == 1


def test_failed_batch_leaves_store_unchanged(store: CypherGraphStore) -> None:
    store.upsert_edges([edge("org/a", "org/b", 0.9)])
    before = ([n.id for n in store.nodes()], [(e.key, e.confidence) for e in store.edges()])

    class Boom(RuntimeError):
        pass

    original_write = store._write

    def failing_write(work: Any) -> Any:
        def failing_work(tx: Tx) -> Any:
            calls = {"n": 0}

            class FailingTx:
                merge_creates = tx.merge_creates

                def run(self, query: str, params: dict[str, Any]) -> Any:
                    calls["n"] += 1
                    result = tx.run(query, params)
                    if calls["n"] == 3:  # after the endpoints and the edges were written
                        raise Boom("connection lost")
                    return result

            return work(FailingTx())

        return original_write(failing_work)

    store._write = failing_write  # type: ignore[method-assign]
    with pytest.raises(Boom):
        store.upsert_edges([edge("org/a", "org/b", 0.1), edge("org/new", "org/other", 0.5)])
    store._write = original_write  # type: ignore[method-assign]
    after = ([n.id for n in store.nodes()], [(e.key, e.confidence) for e in store.edges()])
    assert after == before


# --- decisions ------------------------------------------------------------------------------------------------


def test_decide_approve_reject_edit_and_audit(store: CypherGraphStore) -> None:
    store.upsert_edges([edge("org/a", "org/b", 0.4, status="flagged")])
    first = store.decide("org/a", "org/b", "approve", reviewer="ann", expected_version=0)
    assert (
        first.seq is not None and first.previous["status"] == "flagged" and first.new["status"] == "approved"
    )
    second = store.decide(
        "org/a", "org/b", "edit", reviewer="bob", relationship=Relationship.COT_DISTILLATION, note="distilled"
    )
    stored = store.get_edge("org/a", "org/b")
    assert stored is not None
    assert (stored.status, stored.relationship, stored.note, stored.version) == (
        EdgeStatus.EDITED,
        Relationship.COT_DISTILLATION,
        "distilled",
        2,
    )
    assert second.seq is not None and second.seq > first.seq
    log = store.audit_log(target="org/a", source="org/b")
    assert [e.action for e in log] == ["approve", "edit"]
    assert [e.reviewer for e in log] == ["ann", "bob"]


def test_decide_conflict_and_unknown_edge(store: CypherGraphStore) -> None:
    store.upsert_edges([edge("org/a", "org/b", 0.4, status="flagged")])
    store.decide("org/a", "org/b", "approve", reviewer="ann", expected_version=0)
    with pytest.raises(ConflictError):
        store.decide("org/a", "org/b", "reject", reviewer="bob", expected_version=0)
    with pytest.raises(UnknownEdgeError):
        store.decide("org/a", "org/zzz", "approve", reviewer="ann")
    with pytest.raises(InputError):
        store.decide("org/a", "org/b", "obliterate", reviewer="ann")
    with pytest.raises(InputError):
        store.decide("org/a", "org/b", "edit", reviewer="ann", relationship="telepathy")
    assert len(store.audit_log()) == 1


def test_repoint_and_undo(store: CypherGraphStore) -> None:
    store.upsert_edges([edge("org/a", "org/wrong", 0.4, status="flagged", evidence="uses the right data")])
    store.decide("org/a", "org/wrong", "repoint", reviewer="ann", new_source="org/right", reason="misnamed")
    old = store.get_edge("org/a", "org/wrong")
    new = store.get_edge("org/a", "org/right")
    assert old is not None and old.status == EdgeStatus.REJECTED and old.note == "misnamed"
    assert new is not None and new.status == EdgeStatus.EDITED and new.evidence == "uses the right data"
    undo = store.decide("org/a", "org/wrong", "undo", reviewer="ann")
    restored = store.get_edge("org/a", "org/wrong")
    assert restored is not None and restored.status == EdgeStatus.FLAGGED and restored.note is None
    assert store.get_edge("org/a", "org/right") is None
    assert undo.new["undone_seq"] is not None
    with pytest.raises(StoreError):
        store.decide("org/a", "org/wrong", "undo", reviewer="ann")


def at_once(work: Callable[[int], None], threads: int) -> None:
    """``work(0)`` … ``work(threads - 1)``, each on a thread of its own, all started before any is waited for."""
    started = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()


def test_concurrent_reviewers_never_lose_audit_entries(store: CypherGraphStore) -> None:
    store.upsert_edges([edge(f"org/d{i}", "org/base", 0.4, status="flagged") for i in range(10)])
    store.upsert_edges([edge("org/shared", "org/base", 0.4, status="flagged")])
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def review(i: int) -> None:
        try:
            store.decide(f"org/d{i}", "org/base", "approve", reviewer=f"r{i}")
            store.decide("org/shared", "org/base", "reject", reviewer=f"r{i}", expected_version=0)
            outcomes.append("won")
        except ConflictError:
            outcomes.append("conflict")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    at_once(review, 10)
    assert not errors
    assert sorted(outcomes).count("won") == 1
    log = store.audit_log()
    seqs = [e.seq for e in log]
    assert len(log) == 11
    assert seqs == sorted(seqs) and len(set(seqs)) == 11
    shared = store.get_edge("org/shared", "org/base")
    assert shared is not None and shared.version == 1


def test_a_unit_of_work_reads_its_own_writes(store: CypherGraphStore) -> None:
    def work() -> tuple[list[str], str | None]:
        store.upsert_nodes([Node(id="org/a", name="A"), Node(id="org/b", name="B")])
        seen = sorted(n.id for n in store.get_nodes(["org/a", "org/b", "org/c"]))
        store.upsert_edges([edge("org/a", "org/b", 0.9)])
        store.upsert_edges([edge("org/b", "org/a", 0.5)])  # closes a cycle with the edge written just before
        reverse = store.get_edge("org/b", "org/a")
        return seen, reverse.status.value if reverse else None

    seen, reverse_status = store.atomically(work)
    assert seen == ["org/a", "org/b"]
    assert reverse_status == "flagged"
    forward = store.get_edge("org/a", "org/b")
    assert forward is not None and forward.status.value == "auto"


@pytest.mark.parametrize("as_units", [False, True], ids=["edge writes", "units"])
def test_concurrent_writers_merging_one_new_source_all_succeed(
    store: CypherGraphStore, as_units: bool
) -> None:
    # workers tracing datasets built from the same source write that source's node at the same moment, either
    # with a bare edge write or as a traced dataset's unit (read the nodes it touches, write them, then its edges)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def unit(child: str, shared: str) -> None:
        known = {n.id for n in store.get_nodes([child, shared])}
        store.upsert_nodes([Node(id=node, name=node) for node in (child, shared) if node not in known])
        store.upsert_edges([edge(child, shared, 0.8)])

    def write(i: int) -> None:
        try:
            start.wait()
            for round_ in range(3):
                child, shared = f"org/child{i}-{round_}", f"org/shared{round_}"
                if as_units:
                    store.atomically(partial(unit, child, shared))
                else:
                    store.upsert_edges([edge(child, shared, 0.8)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    at_once(write, 8)
    assert not errors
    ids = [n.id for n in store.nodes()]
    assert sorted(i for i in ids if i.startswith("org/shared")) == [
        "org/shared0",
        "org/shared1",
        "org/shared2",
    ]
    assert len(store.edges()) == 24


@pytest.mark.integration
def test_a_unit_of_work_on_bolt_is_one_transaction(arcadedb: Any) -> None:
    """All the reads and writes of a unit go through one session and one transaction; a unit that fails
    leaves nothing behind."""
    from graph_store.neo4j_store import Neo4jStore
    from tests.store.conftest import _bolt_store

    opened = _bolt_store(arcadedb)
    assert isinstance(opened, Neo4jStore)
    sessions = SessionCount(opened._driver)
    store = Neo4jStore(sessions, database=opened.database)
    store.ensure_schema()
    try:
        store.upsert_nodes([Node(id="org/up", name="Up")])
        store.upsert_edges([edge("org/mid", "org/up", 0.9)])  # the check below walks past a stored edge
        sessions.opened = 0

        def unit() -> None:
            store.get_nodes(["org/new", "org/mid"])
            store.upsert_nodes([Node(id="org/new", name="New")])
            store.upsert_edges([edge("org/new", "org/mid", 0.9), edge("org/up", "org/new", 0.4)])

        store.atomically(unit)
        assert sessions.opened == 1
        assert store.get_edge("org/up", "org/new").status.value == "flagged"  # type: ignore[union-attr]

        def failing() -> None:
            store.upsert_nodes([Node(id="org/lost", name="Lost")])
            store.upsert_edges([edge("org/lost", "org/up", 0.9)])
            raise RuntimeError("the unit fails after its writes")

        with pytest.raises(RuntimeError, match="after its writes"):
            store.atomically(failing)
        assert store.get_node("org/lost") is None and store.get_edge("org/lost", "org/up") is None
        assert store.get_node("org/new") is not None  # the earlier unit stays
    finally:
        opened.close()


class SessionCount:
    """A driver that counts the sessions opened through it."""

    def __init__(self, driver: Any) -> None:
        self._driver = driver
        self.opened = 0

    def session(self, **options: Any) -> Any:
        self.opened += 1
        return self._driver.session(**options)


# --- records --------------------------------------------------------------------------------------------------


def test_scores_and_results_replace_by_key(store: CypherGraphStore) -> None:
    profile = ScoreProfile(
        dataset="org/a", scorer="Deita", axis="Q", family="Model-based Evaluation", mean=3.0, n=10
    )
    store.attach_scores([profile, profile.model_copy(update={"mean": 4.0})])
    store.attach_scores([profile.model_copy(update={"axis": "QA", "mean": 5.0})])
    assert sorted((p.axis, p.mean) for p in store.scores("org/a")) == [("Q", 4.0), ("QA", 5.0)]
    result = BenchResult(dataset="org/a", base_model="qwen", benchmark="ext:bench", score=50.0)
    store.attach_results([result])
    store.attach_results([result.model_copy(update={"score": 55.0})])
    assert [r.score for r in store.results("org/a")] == [55.0]
    assert store.results("org/other") == []


# --- queries --------------------------------------------------------------------------------------------------


def test_contamination_walks_with_witnesses(store: CypherGraphStore) -> None:
    chain_store(store)
    store.attach_results([BenchResult(dataset="a/two", base_model="qwen", benchmark="Bench", score=61.5)])
    hits = {h.dataset: h for h in store.contamination("ext:bench")}
    assert set(hits) == {"a/one", "a/two", "a/three", "a/side"}
    assert hits["a/three"].path == ["a/three", "a/two", "a/one", "ext:bench"]
    assert hits["a/three"].hops == 3 and hits["a/three"].min_confidence == pytest.approx(0.7)
    assert hits["a/two"].benchmark_score == 61.5
    strong = {h.dataset for h in store.contamination("ext:bench", min_confidence=0.75)}
    assert strong == {"a/one", "a/two"}
    auto_only = {h.dataset for h in store.contamination("ext:bench", statuses=[EdgeStatus.AUTO])}
    assert auto_only == {"a/one", "a/two", "a/three"}
    assert store.contamination("ext:nothing") == []


def test_contamination_skips_rejected_and_respects_split(store: CypherGraphStore) -> None:
    chain_store(store)
    store.decide("a/two", "a/one", "reject", reviewer="ann")
    assert {h.dataset for h in store.contamination("ext:bench")} == {"a/one", "a/side"}
    store.upsert_edges(
        [edge("a/test-user", "ext:bench", split="test"), edge("a/train-user", "ext:bench", split="train")]
    )
    train = {h.dataset for h in store.contamination("ext:bench", split="train")}
    assert "a/train-user" in train and "a/test-user" not in train and "a/one" in train


def test_contamination_survives_cycles(store: CypherGraphStore) -> None:
    store.upsert_edges([edge("a/x", "ext:bench"), edge("a/y", "a/x"), edge("a/x", "a/y")])
    hits = {h.dataset: h.path for h in store.contamination("ext:bench")}
    assert hits == {"a/x": ["a/x", "ext:bench"], "a/y": ["a/y", "a/x", "ext:bench"]}


def test_upstream_and_downstream_trees(store: CypherGraphStore) -> None:
    chain_store(store)
    up = store.upstream("a/three", depth=2)
    assert {n.id for n in up.nodes} == {"a/three", "a/two", "a/one"}
    assert {e.key for e in up.edges} == {("a/three", "a/two"), ("a/two", "a/one")}
    down = store.downstream("ext:bench")
    assert {n.id for n in down.nodes} == {"ext:bench", "a/one", "a/two", "a/three", "a/side"}
    assert store.upstream("org/unknown").nodes == []


def test_flagged_lowest_confidence_first(store: CypherGraphStore) -> None:
    store.upsert_edges(
        [
            edge("a/a", "a/b", 0.6, status="flagged"),
            edge("a/a", "a/c", 0.2, status="flagged"),
            edge("a/a", "a/d", 0.1),
        ]
    )
    assert [e.source for e in store.flagged()] == ["a/c", "a/b"]
    assert [e.source for e in store.edges(status=[EdgeStatus.AUTO])] == ["a/d"]


def test_stats_landscape(store: CypherGraphStore) -> None:
    chain_store(store)
    stats = store.stats()
    assert stats["nodes"] == 5 and stats["edges"] == 4
    assert stats["max_depth"] == 3
    assert {b["benchmark"]: b["downstream"] for b in stats["benchmarks"]} == {"ext:bench": 4}


def test_cypher_is_read_only(store: CypherGraphStore) -> None:
    chain_store(store)
    rows = store.cypher("MATCH (n:Dataset) WHERE n.id = $id RETURN n.id AS id", {"id": "a/one"})
    assert rows == [{"id": "a/one"}]
    for query in (
        "MATCH (n:Dataset) DETACH DELETE n",
        "MATCH (n:Dataset) SET n.name = 'x' RETURN n",
        "CREATE (n:Dataset {id: 'evil/one'})",
        "MATCH (n) RETURN n; MATCH (m) DETACH DELETE m",
        "MERGE (n:Dataset {id: 'evil/two'})",
    ):
        with pytest.raises(ReadOnlyError):
            store.cypher(query)
    # an id that carries Cypher is just a value
    assert (
        store.cypher("MATCH (n:Dataset {id: $id}) RETURN n.id AS id", {"id": "x'}) DETACH DELETE n //"}) == []
    )
    assert len(store.nodes()) == 5 and len(store.edges()) == 4


@pytest.mark.integration
def test_processes_opening_the_store_at_once_all_make_their_first_write(arcadedb: Any) -> None:
    """A service's workers start together: each opens the store and sets it up (constraints, the audit counter)
    on its first write, at the same moment as the others. Every first write succeeds, and one audit counter
    exists."""
    import neo4j

    from graph_store.neo4j_store import Neo4jStore
    from tests.store.conftest import empty_bolt_database

    empty_bolt_database(arcadedb)  # no audit counter yet: the first writes create it
    stores = [
        Neo4jStore.connect(arcadedb.uri, auth=arcadedb.auth, database=arcadedb.database) for _ in range(8)
    ]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def first_write(i: int) -> None:
        try:
            start.wait()
            stores[i].upsert_nodes([Node(id=f"org/worker{i}", name=f"Worker {i}")])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    try:
        at_once(first_write, 8)
        assert not errors, errors
        assert len(stores[0].nodes()) == 8
        with (
            neo4j.GraphDatabase.driver(arcadedb.uri, auth=arcadedb.auth) as driver,
            driver.session(database=arcadedb.database) as session,
        ):
            counters = session.run("MATCH (k:Counter {name: 'audit'}) RETURN count(k) AS n").single()
        assert counters is not None and counters["n"] == 1
    finally:
        for store in stores:
            store.close()
