"""Record a snapshot of a world: every read a tracer of it would make, through the real clients against its stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from acquisition.cards import split_card
from standins.world import World, WorldTransport


@dataclass
class BuildReport:
    """What ``build_snapshot`` recorded."""

    snapshot: Path
    entries: int
    datasets: int
    pages: int
    papers: int
    searches: int
    failures: list[str] = field(default_factory=list)


def search_queries(world: World) -> list[str]:
    """Hub searches a tracer is likely to make: each dataset's name, its source names, and searches.txt."""
    from acquisition.links import front_matter_sources
    from acquisition.models import Card

    queries: list[str] = []
    for dataset in world.datasets.values():
        queries.append(dataset.id.split("/")[1])
        if dataset.has_card:
            raw = dataset.card_path.read_text(encoding="utf-8", errors="replace")
            front, body, error = split_card(raw)
            card = Card(repo_id=dataset.id, url="", raw=raw, front_matter=front, body=body, yaml_error=error)
            for source in front_matter_sources(card):
                queries.append(source.split("/")[-1])
    queries.extend(world.searches())
    seen: set[str] = set()
    return [q for q in queries if q and not (q in seen or seen.add(q))]  # type: ignore[func-returns-value]


def build_snapshot(world_dir: str | Path, out_dir: str | Path) -> BuildReport:
    """Record a snapshot of everything in a world, through the real clients against the world's stand-in.

    Every dataset's info and card, every page in pages.json and every link the cards name, every paper (by id, by
    title, and its full text), and the Hub searches from ``search_queries``. Failing reads are recorded as they
    failed (a dead link replays as a 404) and listed in the report.
    """
    return asyncio.run(build_snapshot_async(world_dir, out_dir))


async def build_snapshot_async(world_dir: str | Path, out_dir: str | Path) -> BuildReport:
    """``build_snapshot`` for callers already inside an event loop."""
    from standins.hub import serve_in_thread

    world = World(world_dir)
    with serve_in_thread(world.root) as base:
        return await _record_world(world, Path(out_dir), base)


async def _record_world(world: World, out: Path, base: str) -> BuildReport:
    from acquisition.acquirer import Acquirer
    from acquisition.config import AcquisitionConfig
    from acquisition.links import discover_links
    from oda.errors import OdaError

    cfg = AcquisitionConfig(
        hf_endpoint=base,
        arxiv_endpoint=f"{base}/arxiv/api/query",
        record_dir=out,
        per_host_rate=0,
        retries=0,
        concurrency=8,
        hf_token=None,
    )
    netloc = urlsplit(base).netloc
    failures: list[str] = []
    pages: set[str] = set(world.page_urls())
    papers: set[str] = set(world.papers)

    async def attempt(label: str, coro: Any) -> Any:
        try:
            return await coro
        except OdaError as exc:
            failures.append(f"{label}: {type(exc).__name__}: {exc}")
            return None

    async with Acquirer(cfg, web_transport=WorldTransport(world, passthrough=(netloc,))) as acq:
        ids = list(world.datasets)
        await asyncio.gather(*(attempt(f"info {i}", acq.dataset_info(i)) for i in ids))
        cards = await asyncio.gather(
            *(attempt(f"card {i}", acq.dataset_card(i)) for i in ids if world.datasets[i].has_card)
        )
        for card in cards:
            if card is None:
                continue
            for link in discover_links(card):
                if link.kind in ("github", "blog"):
                    pages.add(link.url)
                elif link.kind in ("arxiv", "hf_paper"):
                    papers.add(link.ref)
        await asyncio.gather(*(attempt(f"page {u}", acq.fetch_page(u)) for u in sorted(pages)))
        await asyncio.gather(
            *(attempt(f"paper {p}", acq.arxiv_paper(p, full_text=True)) for p in sorted(papers))
        )
        await asyncio.gather(
            *(
                attempt(f"paper title {p['title']!r}", acq.arxiv_paper(str(p["title"])))
                for p in world.papers.values()
            )
        )
        queries = search_queries(world)
        await asyncio.gather(*(attempt(f"search {q!r}", acq.search_datasets(q)) for q in queries))
    from acquisition.snapshot import Snapshot

    return BuildReport(
        snapshot=out,
        entries=len(Snapshot(out)),
        datasets=len(world.datasets),
        pages=len(pages),
        papers=len(papers),
        searches=len(queries),
        failures=failures,
    )


def iter_world_files(world: World) -> Iterator[Path]:
    """Every file a world is made of (for change detection)."""
    yield from sorted(p for p in world.root.rglob("*") if p.is_file())
