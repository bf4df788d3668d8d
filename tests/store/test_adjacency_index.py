"""The embedded store's adjacency index: freshness after writes, the walk filters, agreement with the Cypher
level-BFS on random graphs, and ``oda query … --json`` answered from it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from graph_store import adjacency_index as adj
from graph_store.cypher_store import CypherGraphStore
from graph_store.embedded import EmbeddedStore
from graph_store.models import BenchResult, Edge, EdgeStatus, Node
from graph_store.quick_query import answer
from oda.output import to_json
from tests.store.conftest import SMALL_POOL
from tests.store.test_contamination_property import lineage_graphs

ROOT = Path(__file__).resolve().parents[2]


def edge(target: str, source: str, confidence: float = 0.9, **fields: Any) -> Edge:
    return Edge(target=target, source=source, relationship="subset", confidence=confidence, **fields)


CHAIN = [
    edge("a/one", "ext:bench", 0.9),
    edge("a/two", "a/one", 0.7),
    edge("a/three", "a/two", 0.8, split="train"),
    edge("a/side", "ext:bench", 0.5, status=EdgeStatus.APPROVED),
    edge("a/gone", "ext:bench", 1.0, status=EdgeStatus.REJECTED),
    edge("a/testy", "a/one", 0.95, split="test"),
]


@pytest.fixture
def store(tmp_path: Path) -> Any:
    opened = EmbeddedStore(tmp_path / "graph", buffer_pool_size=SMALL_POOL)
    yield opened
    opened.close()


def hits_of(store: EmbeddedStore, benchmark: str = "ext:bench", **filters: Any) -> dict[str, Any]:
    return {h.dataset: h for h in store.contamination(benchmark, **filters)}


# --- freshness ---------------------------------------------------------------------------------------------------


def test_index_is_saved_beside_the_database_and_reused(store: EmbeddedStore) -> None:
    store.upsert_edges(CHAIN)
    first = store.adjacency()
    saved = adj.AdjacencyIndex.load(adj.index_path(store.path))
    assert saved is not None and saved.is_fresh(store.path)
    assert saved.stamp == first.stamp and saved.ids == first.ids
    assert store.adjacency() is first  # no write since: the same index


def test_every_write_makes_the_index_stale(store: EmbeddedStore) -> None:
    store.upsert_edges(CHAIN)
    before = store.adjacency()
    assert set(hits_of(store)) == {"a/one", "a/two", "a/three", "a/side", "a/testy"}
    store.upsert_edges([edge("a/four", "a/three")])
    assert not before.is_fresh(store.path)
    assert hits_of(store)["a/four"].hops == 4
    store.decide("a/two", "a/one", "reject", reviewer="ana", reason="wrong")
    assert "a/two" not in hits_of(store) and "a/four" not in hits_of(store)
    store.upsert_nodes([Node(id="org/lonely")])
    assert store.adjacency().rank("org/lonely") is not None


def test_a_write_that_fails_still_leaves_the_index_stale(store: EmbeddedStore) -> None:
    store.upsert_edges(CHAIN)
    index = store.adjacency()

    def failing(tx: Any) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store._write(failing)
    assert not index.is_fresh(store.path)  # stale is safe; the rebuilt index has the same graph
    assert set(hits_of(store)) == {"a/one", "a/two", "a/three", "a/side", "a/testy"}


def test_index_of_a_read_only_open_that_missed_a_write_is_never_saved(tmp_path: Path) -> None:
    path = tmp_path / "graph"
    with EmbeddedStore(path, buffer_pool_size=SMALL_POOL) as writer:
        writer.upsert_edges(CHAIN)
    reader = EmbeddedStore(path, buffer_pool_size=SMALL_POOL, read_only=True, create=False)
    try:
        adj.bump_write_stamp(path)  # what a writer in another process does before it begins
        index = reader.adjacency()
        assert index.stamp is None and not index.is_fresh(path)
        saved = adj.AdjacencyIndex.load(adj.index_path(path))
        assert saved is None or not saved.is_fresh(path)
    finally:
        reader.close()
    with EmbeddedStore(path, buffer_pool_size=SMALL_POOL, read_only=True, create=False) as again:
        assert again.adjacency().is_fresh(path)


def test_a_database_changed_behind_the_stores_back_makes_the_index_stale(store: EmbeddedStore) -> None:
    store.upsert_edges(CHAIN)
    index = store.adjacency()
    st = os.stat(store.path)
    os.utime(store.path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert not index.is_fresh(store.path)


def test_closing_keeps_the_saved_index_fresh(tmp_path: Path) -> None:
    path = tmp_path / "graph"
    with EmbeddedStore(path, buffer_pool_size=SMALL_POOL) as writer:
        writer.upsert_edges(CHAIN)
        built = writer.adjacency()
    saved = adj.AdjacencyIndex.load(adj.index_path(path))
    assert saved is not None and saved.stamp == built.stamp and saved.is_fresh(path)
    # a read-write open that writes nothing keeps it fresh too
    EmbeddedStore(path, buffer_pool_size=SMALL_POOL).close()
    reloaded = adj.AdjacencyIndex.load(adj.index_path(path))
    assert reloaded is not None and reloaded.is_fresh(path)


def test_a_corrupt_index_file_is_rebuilt(store: EmbeddedStore) -> None:
    store.upsert_edges(CHAIN)
    store.adjacency()
    adj.index_path(store.path).write_bytes(b"not an index")
    store._adjacency = None
    assert set(hits_of(store)) == {"a/one", "a/two", "a/three", "a/side", "a/testy"}
    assert adj.AdjacencyIndex.load(adj.index_path(store.path)) is not None


# --- filters -----------------------------------------------------------------------------------------------------


def test_filters_match_the_cypher_walk(store: EmbeddedStore) -> None:
    store.upsert_edges(CHAIN)
    cases: list[dict[str, Any]] = [
        {},
        {"min_confidence": 0.7},  # an edge exactly at the threshold is walked
        {"min_confidence": 0.71},
        {"statuses": [EdgeStatus.AUTO]},
        {"statuses": [EdgeStatus.APPROVED, EdgeStatus.REJECTED]},  # rejected edges never count
        {"split": "train"},
        {"split": "validation"},  # an unknown split keeps only edges of unknown split
    ]
    for filters in cases:
        fast = hits_of(store, **filters)
        slow = {h.dataset: h for h in CypherGraphStore.contamination(store, "ext:bench", **filters)}
        assert {d: h.hops for d, h in fast.items()} == {d: h.hops for d, h in slow.items()}, filters
        assert {d: h.min_confidence for d, h in fast.items()} == pytest.approx(
            {d: h.min_confidence for d, h in slow.items()}
        )
    assert set(hits_of(store, min_confidence=0.7)) == {"a/one", "a/two", "a/three", "a/testy"}
    assert set(hits_of(store, split="train")) == {"a/one", "a/two", "a/three", "a/side"}
    assert set(hits_of(store, statuses=[EdgeStatus.APPROVED])) == {"a/side"}


def test_hits_carry_the_benchmark_score_by_id_or_name(store: EmbeddedStore) -> None:
    store.upsert_nodes([Node(id="ext:bench", name="BENCH", is_benchmark=True)])
    store.upsert_edges(CHAIN)
    store.attach_results(
        [
            BenchResult(dataset="a/one", base_model="m", benchmark="BENCH", score=41.5),
            BenchResult(dataset="a/two", base_model="m", benchmark="ext:bench", score=12.0),
            BenchResult(dataset="a/side", base_model="m", benchmark="other", score=99.0),
        ]
    )
    hits = hits_of(store)
    assert hits["a/one"].benchmark_score == 41.5
    assert hits["a/two"].benchmark_score == 12.0
    assert hits["a/side"].benchmark_score is None
    slow = {h.dataset: h.benchmark_score for h in CypherGraphStore.contamination(store, "ext:bench")}
    assert {d: h.benchmark_score for d, h in hits.items()} == slow


def test_witness_goes_through_the_smallest_parent_one_level_closer(store: EmbeddedStore) -> None:
    store.upsert_edges(
        [
            edge("a/z", "ext:bench"),
            edge("a/b", "ext:bench"),
            edge("a/end", "a/z", 0.99),
            edge("a/end", "a/b", 0.6),
        ]
    )
    assert hits_of(store)["a/end"].path == ["a/end", "a/b", "ext:bench"]
    assert hits_of(store)["a/end"].min_confidence == 0.6


def test_trees_match_the_cypher_walk(store: EmbeddedStore) -> None:
    store.upsert_edges([*CHAIN, edge("a/three", "a/side", 0.4), edge("a/mix", "a/three")])
    for root, depth in (("a/mix", 0), ("a/mix", 2), ("a/mix", 6), ("ext:bench", 1), ("ext:bench", 6)):
        for include_rejected in (False, True):
            for name in ("upstream", "downstream"):
                fast = getattr(store, name)(root, depth, include_rejected=include_rejected)
                slow = getattr(CypherGraphStore, name)(store, root, depth, include_rejected=include_rejected)
                assert fast == slow, (root, depth, name, include_rejected)
    assert store.upstream("org/unknown").nodes == []


# --- agreement on random graphs ------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(case=lineage_graphs(acyclic=False))
def test_index_agrees_with_the_cypher_level_bfs_on_random_graphs(case: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = EmbeddedStore(Path(folder) / "graph", buffer_pool_size=32 << 20)
        try:
            store.upsert_edges(case["edges"])
            filters = {
                "min_confidence": case["min_confidence"],
                "statuses": [EdgeStatus(s) for s in case["statuses"]] if case["statuses"] else None,
                "split": case["split"],
            }
            fast = store.contamination(case["benchmark"], **filters)
            slow = CypherGraphStore.contamination(store, case["benchmark"], **filters)
            assert [(h.dataset, h.hops) for h in fast] == [(h.dataset, h.hops) for h in slow]
            by_key = {e.key: e for e in case["edges"]}
            for hit in fast:
                walked = [by_key[pair] for pair in zip(hit.path, hit.path[1:], strict=False)]
                assert len(walked) == hit.hops and hit.path[-1] == case["benchmark"]
                assert all(e.status != EdgeStatus.REJECTED for e in walked)
                assert hit.min_confidence == min(e.confidence for e in walked)
            for name in ("upstream", "downstream"):
                assert getattr(store, name)(case["benchmark"], 3) == getattr(CypherGraphStore, name)(
                    store, case["benchmark"], 3
                )
        finally:
            store.close()


# --- the command line ------------------------------------------------------------------------------------------


def quick(argv: list[str]) -> tuple[int | None, str]:
    out = io.BytesIO()
    return answer(argv, out), out.getvalue().decode()


def test_quick_answer_is_what_the_full_command_line_prints(tmp_path: Path) -> None:
    path = tmp_path / "graph"
    with EmbeddedStore(path, buffer_pool_size=SMALL_POOL) as writer:
        writer.upsert_nodes([Node(id="ext:aime", name="AIME", is_benchmark=True)])
        writer.upsert_edges(
            [e.model_copy(update={"source": "ext:aime"}) if e.source == "ext:bench" else e for e in CHAIN]
        )
        writer.attach_results([BenchResult(dataset="a/two", base_model="m", benchmark="AIME", score=3.5)])
    cases: list[tuple[list[str], dict[str, Any]]] = [
        ([], {}),
        (["--min-confidence", "0.7"], {"min_confidence": 0.7}),
        (["--status", "auto", "--status=approved"], {"statuses": [EdgeStatus.AUTO, EdgeStatus.APPROVED]}),
        (["--split", "train"], {"split": "train"}),
    ]
    for extra, filters in cases:
        code, text = quick(["query", "contamination", "AIME", "--store", str(path), "--json", *extra])
        with EmbeddedStore(path, read_only=True, create=False) as reader:
            hits = reader.contamination("ext:aime", **filters)
        assert code == 0 and hits
        assert text == to_json(hits) + "\n"
    assert {row["dataset"]: row.get("benchmark_score") for row in json.loads(text)}["a/two"] == 3.5
    code, text = quick(["query", "upstream", "a/three", "--store", str(path), "--json", "--depth", "2"])
    with EmbeddedStore(path, read_only=True, create=False) as reader:
        assert code == 0 and text == to_json(reader.upstream("a/three", 2)) + "\n"


def test_quick_answer_leaves_other_forms_to_the_full_command_line(tmp_path: Path) -> None:
    path = tmp_path / "graph"
    with EmbeddedStore(path, buffer_pool_size=SMALL_POOL) as writer:
        writer.upsert_edges(CHAIN)
    store = ["--store", str(path)]
    for argv in (
        ["query", "contamination", "ext:bench", *store],  # a table
        ["query", "contamination", "ext:bench", *store, "--json", "--help"],
        ["query", "contamination", "ext:bench", *store, "--json", "--min-confidence", "2"],
        ["query", "contamination", "ext:bench", *store, "--json", "--status", "maybe"],
        [
            "query",
            "contamination",
            "ext:nothing",
            *store,
            "--json",
        ],  # the full CLI says there is no such node
        ["query", "contamination", "ext:bench", "--store", str(tmp_path / "missing"), "--json"],
        ["query", "contamination", "ext:bench", "--store", "bolt://localhost:7687", "--json"],
        ["query", "upstream", "a/two", *store, "--json", "--depth", "99"],
        ["query", "flagged", *store, "--json"],
        ["--config", "x.toml", "query", "contamination", "ext:bench", *store, "--json"],
    ):
        assert quick(argv) == (None, ""), argv
    assert not (tmp_path / "missing").exists()


def test_a_quick_contamination_query_loads_no_heavy_package(tmp_path: Path) -> None:
    path = tmp_path / "graph"
    with EmbeddedStore(path, buffer_pool_size=SMALL_POOL) as writer:
        writer.upsert_edges(CHAIN)
        writer.adjacency()
    probe = (
        "import io, sys\n"
        "from graph_store.quick_query import answer\n"
        f"assert answer(['query', 'contamination', 'ext:bench', '--store', {str(path)!r}, '--json'], io.BytesIO()) == 0\n"
        "heavy = ('typer', 'click', 'rich', 'pydantic', 'ladybug', 'pyarrow', 'scipy', 'networkx', 'langgraph',\n"
        "         'huggingface_hub')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"


def test_the_oda_executable_answers_from_the_index(tmp_path: Path) -> None:
    path = tmp_path / "graph"
    with EmbeddedStore(path, buffer_pool_size=SMALL_POOL) as writer:
        writer.upsert_edges(CHAIN)
    command = [sys.executable, "-m", "oda.entry", "query", "contamination", "ext:bench", "--store", str(path)]
    result = subprocess.run([*command, "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert [row["dataset"] for row in json.loads(result.stdout)] == [
        "a/one",
        "a/side",
        "a/testy",
        "a/two",
        "a/three",
    ]
    assert adj.AdjacencyIndex.load(adj.index_path(path)) is not None  # the stale index was rebuilt and saved
    table = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert table.returncode == 0 and "a/three" in table.stdout + table.stderr  # the full command line's table
