"""Two cards that name each other as a source: the trace writes one edge and one flagged cycle candidate.

Both datasets were created the same day and both cards give the same evidence, so nothing tells which direction
is right: the edge traced first stays in the lineage and the other is flagged for a reviewer, with the cycle in
its note. (A source created after its dataset is dropped by the trace before it reaches the store.) The store's
own export then imports into an empty store, unchanged.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from acquisition import AcquisitionConfig
from graph_store.dag import in_dag, is_cycle_candidate
from graph_store.factory import open_store
from graph_store.io import export_document, import_file
from graph_store.models import EdgeStatus
from lineage.context import TraceContext
from lineage.runner import build_services, parse_queue, run_trace
from standins.world import World, WorldTransport
from tests.trace.conftest import _dataset

FIRST_CARD = """---
license: mit
source_datasets:
- acme/second
---

# First

A filtered subset of [acme/second](https://huggingface.co/datasets/acme/second), keeping verified answers.
"""

SECOND_CARD = """---
license: mit
source_datasets:
- acme/first
---

# Second

A filtered subset of [acme/first](https://huggingface.co/datasets/acme/first), keeping verified answers.
"""


def _world(root: Path) -> Path:
    _dataset(root, "acme/first", FIRST_CARD, "2024-06-01T00:00:00+00:00")
    _dataset(root, "acme/second", SECOND_CARD, "2024-06-01T00:00:00+00:00")
    (root / "pages").mkdir(exist_ok=True)
    (root / "pages.json").write_text("{}", encoding="utf-8")
    (root / "arxiv").mkdir(exist_ok=True)
    return root


async def _trace(ctx: TraceContext, world: Path, queue: Path, tmp_path: Path) -> object:
    async with build_services(ctx, web_transport=WorldTransport(World(world))) as services:
        return await run_trace(
            ctx, parse_queue(queue), checkpoints=tmp_path / "runs.sqlite", services=services
        )


def test_a_card_pair_naming_each_other_traces_to_one_edge_and_one_candidate(
    tmp_path: Path, hub_server: object
) -> None:
    world = _world(tmp_path / "world")
    queue = tmp_path / "queue.txt"
    queue.write_text("acme/first\n", encoding="utf-8")
    with hub_server(world) as hub_url:  # type: ignore[operator]
        ctx = TraceContext(
            run_id="run-1",
            store_uri=str(tmp_path / "graph"),
            acquisition=AcquisitionConfig(
                hf_endpoint=hub_url, per_host_rate=0, retries=1, backoff_base_s=0.01, timeout_s=10
            ),
            extractor="rules",
            max_depth=3,
        )
        asyncio.run(_trace(ctx, world, queue, tmp_path))

    with open_store(ctx.store_uri) as store:
        edges = {e.key: e for e in store.edges()}
        assert set(edges) == {("acme/first", "acme/second"), ("acme/second", "acme/first")}
        kept, candidate = edges[("acme/first", "acme/second")], edges[("acme/second", "acme/first")]
        assert in_dag(kept.status, kept.note) and kept.status != EdgeStatus.FLAGGED
        assert is_cycle_candidate(candidate.status, candidate.note)
        assert "acme/second <- acme/first <- acme/second" in (candidate.note or "")
        assert [e.key for e in store.flagged()] == [("acme/second", "acme/first")]
        document = export_document(store)

    backup = tmp_path / "backup.json"
    backup.write_text(json.dumps(document), encoding="utf-8")
    with open_store(str(tmp_path / "restored")) as empty:
        report = import_file(empty, backup, "json")
        assert report.edges.created == 2 and report.edges.cycles == []
        assert export_document(empty) == document
