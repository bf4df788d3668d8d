"""The lineage stays a DAG at every write: upserts, imports and review decisions."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import networkx as nx
import pytest

from graph_store.cypher_store import CypherGraphStore
from graph_store.dag import in_dag, is_cycle_candidate
from graph_store.embedded import EmbeddedStore
from graph_store.models import Edge, EdgeStatus, Node
from oda.errors import InputError
from tests.store.conftest import SMALL_POOL


def edge(target: str, source: str, confidence: float = 0.9, **fields: object) -> Edge:
    return Edge(target=target, source=source, relationship="subset", confidence=confidence, **fields)  # type: ignore[arg-type]


def dag_of(store: CypherGraphStore) -> nx.DiGraph:
    return nx.DiGraph([e.key for e in store.edges() if in_dag(e.status, e.note)])


def test_reverse_edge_becomes_a_candidate_and_unrelated_edges_are_written(store: CypherGraphStore) -> None:
    store.upsert_edges([edge("org/a", "org/b")])
    report = store.upsert_edges([edge("org/b", "org/a"), edge("org/c", "org/a")])
    assert report.created == 2 and len(report.cycles) == 1
    reverse = store.get_edge("org/b", "org/a")
    assert reverse is not None and is_cycle_candidate(reverse.status, reverse.note)
    assert "org/b <- org/a <- org/b" in (reverse.note or "")
    assert store.get_edge("org/a", "org/b").status == EdgeStatus.AUTO  # type: ignore[union-attr]
    assert store.get_edge("org/c", "org/a").status == EdgeStatus.AUTO  # type: ignore[union-attr]
    assert [e.key for e in store.flagged()] == [("org/b", "org/a")]
    # writing the same again converges: nothing new, still one candidate
    again = store.upsert_edges([edge("org/b", "org/a"), edge("org/c", "org/a")])
    assert again.created == 0 and len(store.flagged()) == 1


def test_creation_dates_pick_the_direction(store: CypherGraphStore) -> None:
    old, new = datetime(2022, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)
    store.upsert_nodes([Node(id="org/old", created_at=old), Node(id="org/new", created_at=new)])
    store.upsert_edges([edge("org/old", "org/new")])  # wrong: the old dataset cannot derive from the new one
    report = store.upsert_edges([edge("org/new", "org/old", confidence=0.6)])
    assert report.created == 1
    right = store.get_edge("org/new", "org/old")
    wrong = store.get_edge("org/old", "org/new")
    assert right is not None and right.status == EdgeStatus.AUTO
    assert wrong is not None and is_cycle_candidate(wrong.status, wrong.note) and wrong.version == 1
    assert nx.is_directed_acyclic_graph(dag_of(store))


def test_a_human_decision_is_never_demoted(store: CypherGraphStore) -> None:
    store.upsert_nodes(
        [
            Node(id="org/old", created_at=datetime(2022, 1, 1)),
            Node(id="org/new", created_at=datetime(2024, 1, 1)),
        ]
    )
    store.upsert_edges([edge("org/old", "org/new")])
    store.decide("org/old", "org/new", "approve", reviewer="alice")
    store.upsert_edges([edge("org/new", "org/old")])
    assert store.get_edge("org/old", "org/new").status == EdgeStatus.APPROVED  # type: ignore[union-attr]
    candidate = store.get_edge("org/new", "org/old")
    assert candidate is not None and is_cycle_candidate(candidate.status, candidate.note)


def test_long_cycle_in_one_batch_and_in_bulk(store: CypherGraphStore) -> None:
    chain = [edge(f"org/n{i}", f"org/n{i + 1}") for i in range(5)] + [edge("org/n5", "org/n0")]
    store.dag_bulk_min = 1  # the large-write path: pairs loaded once, search inside strong components
    report = store.upsert_edges(chain)
    assert len(report.cycles) == 1 and "org/n5 <- org/n0" in report.cycles[0]
    assert nx.is_directed_acyclic_graph(dag_of(store)) and len(store.edges()) == 6


def test_a_small_write_closes_a_cycle_through_stored_and_new_edges(store: CypherGraphStore) -> None:
    """The per-edge path: a source derived from nothing enters without a search, and a cycle whose closing edge's
    source is derived from something only through an edge entered earlier in the same write is still found."""
    store.upsert_edges([edge("org/p", "org/t")])  # p <- t
    # checked in key order: a <- fresh, a <- p, then t <- a, which closes t <- a <- p <- t
    report = store.upsert_edges([edge("org/t", "org/a"), edge("org/a", "org/p"), edge("org/a", "org/fresh")])
    assert [c.split(":")[0] for c in report.cycles] == ["org/t <- org/a"]
    assert store.get_edge("org/a", "org/fresh").status == EdgeStatus.AUTO  # type: ignore[union-attr]
    assert store.get_edge("org/a", "org/p").status == EdgeStatus.AUTO  # type: ignore[union-attr]
    assert nx.is_directed_acyclic_graph(dag_of(store)) and len(store.edges()) == 4


def test_repoint_and_approve_cannot_close_a_cycle(store: CypherGraphStore) -> None:
    store.upsert_edges([edge("org/a", "org/b"), edge("org/b", "org/c"), edge("org/c", "org/y")])
    before = [e.model_dump() for e in store.edges()]
    # org/c derives from org/a would close org/a <- org/b <- org/c <- org/a
    with pytest.raises(InputError, match="cycle"):
        store.decide("org/c", "org/y", "repoint", reviewer="alice", new_source="org/a")
    assert [e.model_dump() for e in store.edges()] == before and store.audit_log() == []
    store.upsert_edges([edge("org/c", "org/a")])  # the same edge from a trace: written as a candidate
    with pytest.raises(InputError, match="cycle"):
        store.decide("org/c", "org/a", "approve", reviewer="alice")
    assert store.audit_log() == []
    # once the cycle is broken, the candidate can be approved
    store.decide("org/b", "org/c", "reject", reviewer="alice", reason="wrong direction")
    store.decide("org/c", "org/a", "approve", reviewer="alice")
    assert store.get_edge("org/c", "org/a").status == EdgeStatus.APPROVED  # type: ignore[union-attr]
    assert nx.is_directed_acyclic_graph(dag_of(store))


def test_undo_cannot_bring_back_a_cycle(store: CypherGraphStore) -> None:
    store.upsert_edges([edge("org/a", "org/b")])
    store.upsert_edges([edge("org/b", "org/a")])  # candidate
    store.decide("org/a", "org/b", "reject", reviewer="alice")
    store.decide("org/b", "org/a", "approve", reviewer="alice")
    with pytest.raises(InputError, match="cycle"):
        store.decide("org/a", "org/b", "undo", reviewer="alice")
    assert nx.is_directed_acyclic_graph(dag_of(store))


@pytest.mark.parametrize("bulk", [False, True])
def test_random_writes_keep_a_dag(store: CypherGraphStore, bulk: bool) -> None:
    rng = random.Random(11)
    ids = [f"org/d{i}" for i in range(25)]
    if bulk:
        store.dag_bulk_min = 1
    for _ in range(4):
        pairs = {tuple(rng.sample(ids, 2)) for _ in range(30)}
        store.upsert_edges([edge(t, s, confidence=rng.choice([0.3, 0.8])) for t, s in pairs])
    edges = store.edges()
    assert nx.is_directed_acyclic_graph(dag_of(store))
    # every candidate really closes a cycle through the DAG
    graph = dag_of(store)
    for e in edges:
        if is_cycle_candidate(e.status, e.note):
            assert graph.has_node(e.target) and graph.has_node(e.source)
            assert nx.has_path(graph, e.source, e.target)


def test_a_demotion_lets_in_the_candidates_whose_cycle_it_broke(store: CypherGraphStore) -> None:
    # org/d <- org/b would close org/d <- org/b <- org/c <- org/d: it waits as a candidate
    store.upsert_edges([edge("org/b", "org/c", confidence=0.3), edge("org/c", "org/d")])
    store.upsert_edges([edge("org/d", "org/b")])
    waiting = store.get_edge("org/d", "org/b")
    assert waiting is not None and is_cycle_candidate(waiting.status, waiting.note)
    # the stronger reverse of org/b <- org/c demotes it: the cycle through it is gone, so the candidate enters
    report = store.upsert_edges([edge("org/c", "org/b", confidence=0.8)])
    assert report.cycles == [] and store.get_edge("org/c", "org/b").status == EdgeStatus.AUTO  # type: ignore[union-attr]
    demoted = store.get_edge("org/b", "org/c")
    assert demoted is not None and is_cycle_candidate(demoted.status, demoted.note)
    entered = store.get_edge("org/d", "org/b")
    assert entered is not None and entered.status == EdgeStatus.AUTO and entered.note is None
    assert nx.is_directed_acyclic_graph(dag_of(store))


def test_a_candidate_written_again_enters_once_its_cycle_is_gone(store: CypherGraphStore) -> None:
    store.upsert_edges([edge("org/a", "org/b"), edge("org/b", "org/c")])
    store.upsert_edges([edge("org/c", "org/a")])
    store.decide("org/a", "org/b", "reject", reviewer="alice")
    report = store.upsert_edges([edge("org/c", "org/a")])
    entered = store.get_edge("org/c", "org/a")
    assert report.cycles == [] and entered is not None
    assert entered.status == EdgeStatus.AUTO and entered.note is None


@pytest.mark.parametrize("bulk", [False, True])
def test_the_order_of_a_write_does_not_change_the_dag(tmp_path: Path, bulk: bool) -> None:
    rng = random.Random(5)
    ids = [f"org/d{i}" for i in range(12)]
    writes = [
        [
            edge(t, s, confidence=rng.choice([0.3, 0.8]))
            for t, s in {tuple(rng.sample(ids, 2)) for _ in range(20)}
        ]
        for _ in range(3)
    ]
    outcomes = []
    for attempt in range(3):
        store = EmbeddedStore(tmp_path / f"graph{attempt}", buffer_pool_size=SMALL_POOL)
        if bulk:
            store.dag_bulk_min = 1
        for write in writes:
            store.upsert_edges(random.Random(attempt).sample(write, len(write)))
        outcomes.append(sorted((e.key, e.status, e.note) for e in store.edges()))
        store.close()
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert any(is_cycle_candidate(status, note) for _, status, note in outcomes[0])


def _in_store_order(pairs: list[tuple[str, str]], end: int) -> Callable[[list[str]], list[tuple[str, str]]]:
    """A store's answer for the pairs whose ``end`` (0: child, 1: parent) is in the asked ids, in its stored order."""
    return lambda ids: [pair for pair in pairs if pair[end] in ids]


STORE_ORDERS = [(0, 1, 2, 3, 4), (4, 3, 2, 1, 0), (2, 4, 0, 3, 1), (1, 3, 4, 0, 2)]


@pytest.mark.parametrize("search", ["bulk", "small write, one way", "small write, both ways"])
def test_the_cycle_a_note_names_does_not_depend_on_the_order_the_store_gives_its_pairs(search: str) -> None:
    """Two paths close the same cycle (e <- a <- b <- c <- e and e <- a <- b <- d <- e): the one a cycle
    candidate's note names must not depend on the order in which the store returned its stored pairs, whether a
    bulk write searches them in memory or a small write asks the store step by step (from one or both ends)."""
    from graph_store.dag import BulkOracle, closing_path

    stored = [("a", "b"), ("b", "c"), ("b", "d"), ("c", "e"), ("d", "e")]
    paths = set()
    for order in STORE_ORDERS:
        pairs = [stored[i] for i in order]
        if search == "bulk":
            oracle = BulkOracle(pairs, [("e", "a")])
            assert oracle.suspects == {("e", "a")}
            path = closing_path("a", "e", oracle.parents_of)
        else:
            children_of = _in_store_order(pairs, 1) if search.endswith("both ways") else None
            path = closing_path("a", "e", _in_store_order(pairs, 0), children_of=children_of)
        assert path is not None and path[0] == "a" and path[-1] == "e" and len(path) == 4
        paths.add(tuple(path))
    assert len(paths) == 1
