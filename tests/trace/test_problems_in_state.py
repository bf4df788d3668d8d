"""The extractor's and the canonicalizer's problems are values that land in the run's checkpointed ``failures``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from acquisition import AcquisitionConfig
from graph_store.factory import open_store
from lineage.canonical import Canonicalizer
from lineage.context import TraceContext
from lineage.graph import build_graph
from lineage.runner import TraceSummary, build_services, parse_queue_text, run_trace
from oda.llm import LLMConfig
from standins.openai_compat import Reply, serve_openai
from standins.world import World, WorldTransport
from tests.trace.conftest import _dataset

HEDGED_CARD = """---
license: mit
---

# Hedged

Some of the problems may have been adapted from acme/parent-a.

The rest is a filtered subset of Zeta Puzzles.
"""


async def _failures_in_checkpoint(path: Path, run_id: str) -> list[dict[str, Any]]:
    """The ``failures`` of a run as a new process reads them back from the checkpoint file."""
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        snapshot = await build_graph(saver).aget_state({"configurable": {"thread_id": run_id}})
    return list(snapshot.values["failures"])


def test_llm_and_hub_search_problems_are_run_failures(tmp_path: Path, small_world: Path, hub_server) -> None:
    _dataset(small_world, "acme/hedged", HEDGED_CARD, "2024-01-01T00:00:00+00:00")
    checkpoints = tmp_path / "runs.sqlite"

    async def hub_search_down(query: str) -> list[str]:
        raise RuntimeError("503 from the Hub search")

    def run(hub_url: str, llm_url: str) -> TraceSummary:
        ctx = TraceContext(
            run_id="problems",
            store_uri=str(tmp_path / "graph"),
            extractor="auto",
            max_depth=0,
            acquisition=AcquisitionConfig(
                hf_endpoint=hub_url, per_host_rate=0, retries=1, backoff_base_s=0.01
            ),
            llm=LLMConfig(
                base_url=llm_url, model="scripted-model", api_key="test", max_retries=0, timeout_s=5
            ),
        )

        async def go() -> TraceSummary:
            async with build_services(ctx, web_transport=WorldTransport(World(small_world))) as services:
                services.canonicalizer = Canonicalizer(
                    hub_search=hub_search_down, hub_exists=services.canonicalizer.hub_exists
                )
                return await run_trace(
                    ctx, parse_queue_text("acme/hedged\n"), checkpoints=checkpoints, services=services
                )

        return asyncio.run(go())

    with hub_server(small_world) as hub_url, serve_openai([Reply(status=500)]) as llm:
        summary = run(hub_url, llm.base_url)
        assert len(llm.requests) == 1  # auto asked the LLM about the hedged sentence, and it failed

    assert summary.finished and summary.datasets_traced == 1
    by_stage = {f["stage"]: f for f in summary.failures}
    assert set(by_stage) == {"extract", "resolve"}
    extract = by_stage["extract"]
    assert extract["dataset"] == "acme/hedged"
    assert extract["reason"].startswith("LLM failed, rules kept: no valid answer after 1 attempt:")
    assert "InternalServerError" in extract["reason"]
    assert "/datasets/acme/hedged/" in extract["url"]  # the card the chunk came from
    assert "hub search for 'Zeta Puzzles' failed: 503 from the Hub search" in by_stage["resolve"]["reason"]
    # the rules' claim on the chunk the LLM failed on is still an edge; the dataset notes what went wrong
    with open_store(str(tmp_path / "graph")) as store:
        assert ("acme/hedged", "acme/parent-a") in {(e.target, e.source) for e in store.edges()}
        note = store.get_node("acme/hedged").trace_note or ""
    assert "1 chunk(s) not extracted" in note and "Zeta Puzzles" in note
    # the failures are part of the checkpointed state: a new process reads the same ones back
    assert asyncio.run(_failures_in_checkpoint(checkpoints, "problems")) == summary.failures
