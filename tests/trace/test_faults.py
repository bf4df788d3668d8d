"""Injected faults: 20% of Hub and web reads fail transiently and the trace still completes with the same graph;
permanent failures are listed per dataset."""

from __future__ import annotations

import asyncio
from pathlib import Path

from acquisition import AcquisitionConfig
from graph_store.factory import open_store
from lineage.context import TraceContext
from lineage.runner import build_services, parse_queue_text, run_trace
from standins.faults import FaultPlan, FaultyTransport, serve_hub_with_faults
from standins.synthetic_world import blog_url, write_world
from standins.world import World as HubWorld
from standins.world import WorldTransport

N = 30


async def _trace(ctx: TraceContext, world: Path, queue: list[str], plan: FaultPlan, checkpoints: Path):
    transport = FaultyTransport(WorldTransport(HubWorld(world)), plan)
    async with build_services(ctx, web_transport=transport) as services:
        return await run_trace(
            ctx, parse_queue_text("\n".join(queue)), checkpoints=checkpoints, services=services
        )


def _context(tmp_path: Path, name: str, hub_url: str) -> TraceContext:
    acquisition = AcquisitionConfig(
        hf_endpoint=hub_url,
        per_host_rate=0,
        retries=4,
        backoff_base_s=0.005,
        max_backoff_s=0.05,
        timeout_s=10,
    )
    return TraceContext(
        run_id=name, store_uri=str(tmp_path / name), extractor="rules", max_depth=3, acquisition=acquisition
    )


def _edges(store_uri: str) -> set[tuple[str, str, str]]:
    with open_store(store_uri) as store:
        return {(e.target, e.source, e.relationship.value) for e in store.edges()}


def test_transient_faults_are_absorbed_and_permanent_ones_listed(tmp_path: Path) -> None:
    world = write_world(tmp_path / "world", N, seed=5, pages_every=3)
    queue = list(reversed(world.ids))
    broken_hub = world.ids[N - 2]  # its metadata never answers
    broken_page = blog_url(world.ids[N - 1 - 2])  # a blog post that never answers

    with serve_hub_with_faults(world.root) as (url, _clean_plan):
        clean = asyncio.run(
            _trace(_context(tmp_path, "clean", url), world.root, queue, FaultPlan(), tmp_path / "c.sqlite")
        )
    assert clean.failures == [] and clean.datasets_traced == N

    with serve_hub_with_faults(
        world.root, fail_rate=0.2, always_fail=[f"/api/datasets/{broken_hub}"], seed=3
    ) as (url, hub_plan):
        web_plan = FaultPlan(fail_rate=0.2, always_fail=[broken_page], seed=4)
        faulty = asyncio.run(
            _trace(_context(tmp_path, "faulty", url), world.root, queue, web_plan, tmp_path / "f.sqlite")
        )

    # faults really happened, on both sides
    assert hub_plan.injected >= 0.1 * hub_plan.total
    assert web_plan.injected >= 1
    # the run completed; only the permanent failures are reported, each with its dataset and stage
    assert faulty.finished
    by_stage = {(f["dataset"], f["stage"]) for f in faulty.failures}
    assert by_stage == {(broken_hub, "validate"), (world.ids[N - 3], "fetch")}
    assert faulty.datasets_failed == 1
    assert faulty.datasets_traced == N - 1
    failed = [f for f in faulty.failures if f["dataset"] == broken_hub]
    assert failed[0]["outcome"] == "failed" and "metadata" in failed[0]["reason"]
    with open_store(str(tmp_path / "faulty")) as store:
        node = store.get_node(broken_hub)
        # a dataset that could not be validated is in the run's report; no edge names it, so it is no node
        assert node is None or node.trace_status == "failed"
        assert node is not None or not any(broken_hub in (e.source, e.target) for e in store.edges())
    # apart from the broken dataset's own sources, the graph is the fault-free one
    clean_edges = _edges(str(tmp_path / "clean"))
    faulty_edges = _edges(str(tmp_path / "faulty"))
    assert faulty_edges == {e for e in clean_edges if e[0] != broken_hub}
