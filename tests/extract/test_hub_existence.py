"""A trace through the Hub stand-in: a Hub-looking source becomes a Hub node only when the Hub knows it.

The card below names, besides two real parents, the kinds of Hub-looking text real cards hold: a YAML config path,
a logo under a Hub ``resolve`` URL, ids in an HTML comment, and an ``org/name`` that no repo has."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from acquisition import AcquisitionConfig
from graph_store.factory import open_store
from lineage.context import TraceContext
from lineage.runner import build_services, parse_queue_text, run_trace
from standins.world import World, WorldTransport

CARD = """---
license: mit
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*
---

# Mixed Math

<img src="https://huggingface.co/datasets/acme/blog-images/resolve/main/logo.png" width="200">

<!-- TODO: link commit/pr and 2f17/readme.md -->

## Data Sources

- [Parent A](https://huggingface.co/datasets/acme/parent-a)
- Problems derived from `ghost/not-on-the-hub` and from acme/parent-b.

The shards live under `data/train-*`.

## Evaluation

We evaluate on GSM8K.
"""

PARENT = "---\nlicense: mit\n---\n\n# Parent\n\nProblems written by hand.\n"


def _dataset(root: Path, repo: str, card: str, created: str) -> None:
    folder = root / "datasets" / repo
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text(card, encoding="utf-8")
    info = {"created_at": created, "downloads": 10, "likes": 1, "tags": [], "gated": False, "private": False}
    (folder / "info.json").write_text(json.dumps(info), encoding="utf-8")


def test_only_hub_known_ids_become_hub_nodes(tmp_path: Path) -> None:
    from standins.hub import serve_in_thread

    world = tmp_path / "world"
    _dataset(world, "acme/mixed-math", CARD, "2024-05-01T00:00:00+00:00")
    _dataset(world, "acme/parent-a", PARENT, "2023-01-01T00:00:00+00:00")
    _dataset(world, "acme/parent-b", PARENT, "2023-02-01T00:00:00+00:00")
    (world / "pages").mkdir()
    (world / "pages.json").write_text("{}", encoding="utf-8")
    (world / "arxiv").mkdir()

    with serve_in_thread(world) as hub_url:
        ctx = TraceContext(
            run_id="exists-1",
            store_uri=str(tmp_path / "graph"),
            extractor="rules",
            max_depth=0,
            acquisition=AcquisitionConfig(
                hf_endpoint=hub_url, per_host_rate=0, retries=1, backoff_base_s=0.01, timeout_s=10
            ),
        )

        async def trace() -> object:
            async with build_services(ctx, web_transport=WorldTransport(World(world))) as services:
                return await run_trace(
                    ctx,
                    parse_queue_text("acme/mixed-math\n", origin="q"),
                    checkpoints=tmp_path / "runs.sqlite",
                    services=services,
                )

        asyncio.run(trace())

    with open_store(str(tmp_path / "graph")) as store:
        sources = {e.source for e in store.edges() if e.target == "acme/mixed-math"}
        nodes = {n.id: n for n in store.nodes()}
        hub_nodes = {i for i, n in nodes.items() if n.on_hub}
    assert {"acme/parent-a", "acme/parent-b"} <= sources
    on_the_hub = {"acme/mixed-math", "acme/parent-a", "acme/parent-b", "openai/gsm8k"}
    assert hub_nodes <= on_the_hub, hub_nodes - on_the_hub
    for bogus in ("data/train-", "acme/blog-images", "commit/pr", "2f17/readme.md", "ghost/not-on-the-hub"):
        assert bogus not in nodes
