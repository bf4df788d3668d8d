"""Contamination equals an independent networkx reference on random lineage graphs, and witnesses are real chains."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph_store.cypher_store import CypherGraphStore
from graph_store.dag import in_dag, is_cycle_candidate
from graph_store.embedded import EmbeddedStore
from graph_store.models import Edge, EdgeStatus

STATUSES = [s.value for s in EdgeStatus]
SPLITS = [None, "train", "test"]


@st.composite
def lineage_graphs(draw: st.DrawFn, *, acyclic: bool = True) -> dict[str, Any]:
    """A random graph over a handful of datasets; edges child -> parent, mostly acyclic."""
    n = draw(st.integers(min_value=2, max_value=12))
    ids = [f"org/d{i}" for i in range(n)]
    pairs = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1])
    if acyclic:
        pairs = pairs.map(lambda p: (max(p), min(p)))  # child index > parent index: a DAG
    chosen = draw(st.lists(pairs, max_size=30, unique=True))
    edges = [
        Edge(
            target=ids[c],
            source=ids[p],
            relationship="subset",
            confidence=draw(st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.9, 1.0])),
            status=draw(st.sampled_from(STATUSES)),
            split=draw(st.sampled_from(SPLITS)),
        )
        for c, p in chosen
    ]
    return {
        "ids": ids,
        "edges": edges,
        "benchmark": draw(st.sampled_from(ids)),
        "min_confidence": draw(st.sampled_from([0.0, 0.4, 0.8])),
        "statuses": draw(st.sampled_from([None, ["auto"], ["auto", "approved", "flagged"]])),
        "split": draw(st.sampled_from([None, "train"])),
    }


def reference(case: dict[str, Any]) -> dict[str, int]:
    """Dataset -> hops (shortest), by networkx over the edges the query may walk."""
    graph = nx.DiGraph()
    graph.add_nodes_from(case["ids"])
    for e in case["edges"]:
        if e.status == EdgeStatus.REJECTED or e.confidence < case["min_confidence"]:
            continue
        if case["statuses"] is not None and e.status.value not in case["statuses"]:
            continue
        if case["split"] is not None and e.split not in (None, case["split"]):
            continue
        graph.add_edge(e.source, e.target)  # parent -> child: benchmark reaches its downstream
    lengths = nx.single_source_shortest_path_length(graph, case["benchmark"])
    return {node: hops for node, hops in lengths.items() if node != case["benchmark"]}


def check(store: CypherGraphStore, case: dict[str, Any]) -> None:
    store.upsert_edges(case["edges"])
    # the store keeps the lineage a DAG: an edge that would close a cycle is stored as a flagged candidate
    stored = store.edges()
    given = {e.key: e for e in case["edges"]}
    assert {e.key for e in stored} == set(given)
    for edge in stored:
        if edge.status != given[edge.key].status:
            assert is_cycle_candidate(edge.status, edge.note), edge
    assert nx.is_directed_acyclic_graph(nx.DiGraph([e.key for e in stored if in_dag(e.status, e.note)]))
    case = {**case, "edges": stored}
    hits = store.contamination(
        case["benchmark"],
        min_confidence=case["min_confidence"],
        statuses=[EdgeStatus(s) for s in case["statuses"]] if case["statuses"] else None,
        split=case["split"],
    )
    expected = reference(case)
    stored_benchmark = any(case["benchmark"] in e.key for e in case["edges"])
    if not stored_benchmark:
        assert hits == []
        return
    assert {h.dataset: h.hops for h in hits} == expected
    by_key = {e.key: e for e in case["edges"]}
    for hit in hits:
        assert hit.path[0] == hit.dataset and hit.path[-1] == case["benchmark"]
        assert len(hit.path) == hit.hops + 1 and len(set(hit.path)) == len(hit.path)
        walked = [by_key[(child, parent)] for child, parent in zip(hit.path, hit.path[1:], strict=False)]
        assert all(e.status != EdgeStatus.REJECTED and e.confidence >= case["min_confidence"] for e in walked)
        assert hit.min_confidence == pytest.approx(min(e.confidence for e in walked))


def fresh_embedded(scan_fraction: float | None = None) -> tuple[CypherGraphStore, Callable[[], None]]:
    """An embedded store; ``scan_fraction=0`` makes every BFS load all walkable edges in one scan."""
    folder = tempfile.TemporaryDirectory()
    store = EmbeddedStore(Path(folder.name) / "graph", buffer_pool_size=32 << 20)
    store.bfs_scan_fraction = scan_fraction

    def cleanup() -> None:
        store.close()
        folder.cleanup()

    return store, cleanup


@settings(max_examples=40, deadline=None)
@given(case=lineage_graphs())
def test_contamination_matches_networkx_on_random_dags(case: dict[str, Any]) -> None:
    store, cleanup = fresh_embedded()
    try:
        check(store, case)
    finally:
        cleanup()


@settings(max_examples=30, deadline=None)
@given(case=lineage_graphs(acyclic=False))
def test_contamination_in_one_scan_matches_networkx(case: dict[str, Any]) -> None:
    store, cleanup = fresh_embedded(scan_fraction=0.0)
    try:
        check(store, case)
    finally:
        cleanup()


@settings(max_examples=30, deadline=None)
@given(case=lineage_graphs(acyclic=False))
def test_contamination_terminates_and_matches_on_cyclic_graphs(case: dict[str, Any]) -> None:
    store, cleanup = fresh_embedded()
    try:
        check(store, case)
    finally:
        cleanup()


@pytest.mark.integration
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=lineage_graphs())
def test_contamination_matches_networkx_over_bolt(arcadedb: Any, case: dict[str, Any]) -> None:
    from tests.store.conftest import _bolt_store

    store = _bolt_store(arcadedb)
    try:
        check(store, case)
    finally:
        store.close()
