"""The tracing graph end to end, in process: a small world served by the Hub stand-in, the rules extractor."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from acquisition import AcquisitionConfig
from graph_store.factory import open_store
from graph_store.models import EdgeStatus, Relationship
from lineage.context import TraceContext
from lineage.graph import build_graph
from lineage.runner import ProgressEvent, build_services, parse_queue, run_trace
from standins.world import World, WorldTransport


def _context(tmp_path: Path, hub_url: str, **options: object) -> TraceContext:
    acquisition = AcquisitionConfig(
        hf_endpoint=hub_url, per_host_rate=0, retries=1, backoff_base_s=0.01, timeout_s=10
    )
    values: dict[str, object] = {"extractor": "rules", "max_depth": 3}
    values.update(options)
    return TraceContext(
        run_id=str(values.pop("run_id", "run-1")),
        store_uri=str(tmp_path / "graph"),
        acquisition=acquisition,
        **values,  # type: ignore[arg-type]
    )


async def _trace(
    ctx: TraceContext, world: Path, queue_path: Path, tmp_path: Path
) -> tuple[object, list[ProgressEvent]]:
    events: list[ProgressEvent] = []
    async with build_services(ctx, web_transport=WorldTransport(World(world))) as services:
        summary = await run_trace(
            ctx,
            parse_queue(queue_path),
            checkpoints=tmp_path / "runs.sqlite",
            progress=events.append,
            services=services,
        )
    return summary, [e for e in events if e.kind == "dataset"]


def test_small_world_depth_first(tmp_path: Path, small_world: Path, small_queue: Path, hub_server) -> None:
    with hub_server(small_world) as hub_url:
        ctx = _context(tmp_path, hub_url)
        summary, events = asyncio.run(_trace(ctx, small_world, small_queue, tmp_path))

    # depth first: the child's whole tree (parent-a, then its parent grand, then parent-b) before the next entry
    order = [e.dataset for e in events]
    assert order == [
        "acme/child",
        "acme/parent-a",
        "acme/grand",
        "acme/parent-b",
        "old/legacy",
        "acme/locked",
        "nobody/missing",
    ]
    assert [e.depth for e in events][:4] == [0, 1, 2, 1]

    with open_store(ctx.store_uri) as store:
        edges = {(e.target, e.source): e for e in store.edges()}
        nodes = {n.id: n for n in store.nodes()}
    assert set(edges) == {
        ("acme/child", "acme/parent-a"),
        ("acme/child", "acme/parent-b"),
        ("acme/parent-a", "acme/grand"),
    }
    assert edges[("acme/parent-a", "acme/grand")].relationship == Relationship.COT_DISTILLATION
    for edge in edges.values():
        assert edge.run_id == "run-1"
        assert edge.evidence and edge.evidence_url
        assert 0 < edge.confidence <= 1
        assert edge.status in (EdgeStatus.AUTO, EdgeStatus.FLAGGED)
    # the teacher models and the evaluation benchmark are not nodes
    assert not any("deepseek" in n.lower() or "qwq" in n.lower() for n in nodes)
    assert not any("gsm8k" in n.lower() for n in nodes)
    # statuses and reasons, on the nodes and in the summary
    assert nodes["acme/child"].trace_status == "traced"
    assert "github.com/acme/child-data" in (nodes["acme/child"].trace_note or "")
    # dropped candidates (too old, gated, missing) are in the run's report, never nodes of the lineage
    for dropped in ("old/legacy", "acme/locked", "nobody/missing"):
        assert dropped not in nodes
    reasons = {(f["dataset"], f["stage"]): f["reason"] for f in summary.failures}
    assert "before 2020" in reasons[("old/legacy", "validate")]
    assert "gated" in reasons[("acme/locked", "validate")]
    assert "not found" in reasons[("nobody/missing", "validate")]
    outcomes = {f["dataset"]: f.get("outcome") for f in summary.failures if f["stage"] == "validate"}
    assert outcomes == {"old/legacy": "dropped", "acme/locked": "dropped", "nobody/missing": "dropped"}
    assert ("not an id", "queue") in reasons
    assert ("acme/child", "fetch") in reasons  # the dead link
    assert summary.finished and summary.datasets_traced == 4 and summary.datasets_dropped == 3
    assert summary.edges == 3


def test_max_depth_zero_extracts_only_the_queue_sources(
    tmp_path: Path, small_world: Path, hub_server
) -> None:
    queue = tmp_path / "q.txt"
    queue.write_text("acme/child\n", encoding="utf-8")
    with hub_server(small_world) as hub_url:
        ctx = _context(tmp_path, hub_url, max_depth=0)
        summary, events = asyncio.run(_trace(ctx, small_world, queue, tmp_path))
    assert [e.dataset for e in events] == ["acme/child"]
    with open_store(ctx.store_uri) as store:
        assert {(e.target, e.source) for e in store.edges()} == {
            ("acme/child", "acme/parent-a"),
            ("acme/child", "acme/parent-b"),
        }
        assert store.get_node("acme/parent-a").trace_status is None  # known, not traced
    assert summary.datasets_traced == 1


def test_max_branching_follows_the_most_confident_parent(
    tmp_path: Path, small_world: Path, hub_server
) -> None:
    queue = tmp_path / "q.txt"
    queue.write_text("acme/child\n", encoding="utf-8")
    with hub_server(small_world) as hub_url:
        ctx = _context(tmp_path, hub_url, max_branching=1)
        _summary, events = asyncio.run(_trace(ctx, small_world, queue, tmp_path))
    traced = [e.dataset for e in events]
    # parent-a is named in the YAML and the body: the stronger edge wins the only branch
    assert traced == ["acme/child", "acme/parent-a", "acme/grand"]


def test_retrace_is_idempotent_and_keeps_human_decisions(
    tmp_path: Path, small_world: Path, small_queue: Path, hub_server
) -> None:
    with hub_server(small_world) as hub_url:
        first = _context(tmp_path, hub_url, run_id="run-a")
        asyncio.run(_trace(first, small_world, small_queue, tmp_path))
        with open_store(first.store_uri) as store:
            before = sorted((e.target, e.source, e.confidence, e.evidence) for e in store.edges())
            store.decide("acme/child", "acme/parent-b", "reject", reviewer="ana", reason="wrong")
        second = _context(tmp_path, hub_url, run_id="run-b")
        asyncio.run(_trace(second, small_world, small_queue, tmp_path))
    with open_store(first.store_uri) as store:
        edges = store.edges()
        after = sorted((e.target, e.source, e.confidence, e.evidence) for e in edges)
        assert after == before
        assert store.get_edge("acme/child", "acme/parent-b").status == EdgeStatus.REJECTED


def test_interrupted_run_resumes_to_the_same_graph(
    tmp_path: Path, small_world: Path, small_queue: Path, hub_server
) -> None:
    class Stop(Exception):
        pass

    def stop_after_two(event: ProgressEvent) -> None:
        if event.kind == "dataset" and event.totals.get("traced", 0) >= 2:
            raise Stop

    async def interrupted(ctx: TraceContext) -> None:
        async with build_services(ctx, web_transport=WorldTransport(World(small_world))) as services:
            with pytest.raises(Stop):
                await run_trace(
                    ctx,
                    parse_queue(small_queue),
                    checkpoints=tmp_path / "cut.sqlite",
                    progress=stop_after_two,
                    services=services,
                )
            summary = await run_trace(ctx, None, checkpoints=tmp_path / "cut.sqlite", services=services)
            assert summary.finished and summary.datasets_traced == 4

    with hub_server(small_world) as hub_url:
        ref = _context(tmp_path / "ref", hub_url)
        asyncio.run(_trace(ref, small_world, small_queue, tmp_path / "ref"))
        cut = _context(tmp_path / "cut", hub_url)
        asyncio.run(interrupted(cut))
    with open_store(ref.store_uri) as a, open_store(cut.store_uri) as b:
        key = lambda e: (e.target, e.source, e.relationship, e.confidence, e.evidence, e.status)  # noqa: E731
        assert sorted(map(key, a.edges())) == sorted(map(key, b.edges()))


def test_graph_compiles_with_a_fresh_checkpointer() -> None:
    graph = build_graph(InMemorySaver())
    assert {
        "select_next",
        "validate",
        "retrieve",
        "fetch_resources",
        "trace_chunk",
        "aggregate",
        "write",
    } <= set(graph.get_graph().nodes)


def test_a_recorded_trace_replays_offline_to_the_same_graph(
    tmp_path: Path, small_world: Path, small_queue: Path, hub_server
) -> None:
    with hub_server(small_world) as hub_url:
        live = _context(tmp_path / "live", hub_url)
        assert live.acquisition is not None
        live.acquisition.record_dir = tmp_path / "snapshot"
        asyncio.run(_trace(live, small_world, small_queue, tmp_path / "live"))
    # the server is gone: the replay reads only the snapshot
    replay = _context(tmp_path / "replay", "http://127.0.0.1:9")
    assert replay.acquisition is not None
    replay.acquisition.snapshot_dir = tmp_path / "snapshot"
    replay.acquisition.offline = True
    summary, _events = asyncio.run(_trace(replay, small_world, small_queue, tmp_path / "replay"))
    assert summary.datasets_traced == 4
    with open_store(live.store_uri) as a, open_store(replay.store_uri) as b:
        key = lambda e: (e.target, e.source, e.relationship, e.confidence, e.evidence)  # noqa: E731
        assert sorted(map(key, a.edges())) == sorted(map(key, b.edges()))


def test_old_checkpoints_are_pruned(tmp_path: Path, small_world: Path, small_queue: Path, hub_server) -> None:
    import sqlite3

    from lineage.runner import KEEP_CHECKPOINTS

    with hub_server(small_world) as hub_url:
        ctx = _context(tmp_path, hub_url)
        summary, _events = asyncio.run(_trace(ctx, small_world, small_queue, tmp_path))
    assert summary.finished
    with sqlite3.connect(tmp_path / "runs.sqlite") as db:
        (kept,) = db.execute("SELECT count(*) FROM checkpoints WHERE thread_id = ?", ("run-1",)).fetchone()
    # seven datasets take about fifty steps; only the latest few are kept, and the finished run still reads back
    assert 1 <= kept <= KEEP_CHECKPOINTS
    again = asyncio.run(run_trace(ctx, None, checkpoints=tmp_path / "runs.sqlite"))
    assert again.finished and again.datasets_traced == summary.datasets_traced
