"""Acquisition throughput and the cost of recording and replaying, against local stand-in servers.

For each injected server latency (default 10 and 100 ms) and client concurrency (default 1, 8, 32) it fetches the
same set of pages (and Hub cards) three ways: live, live while recording a snapshot, and offline from that snapshot.
It prints pages/s for each and the recording overhead relative to live.

    python bench/acquisition_speed.py                      # defaults
    python bench/acquisition_speed.py --pages 96 --latency-ms 10 100 --concurrency 1 8 32 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import tempfile
import time
from pathlib import Path
from typing import Any

from acquisition import Acquirer, AcquisitionConfig
from standins.hub import serve_hub
from standins.pages import serve_pages


def page_html(i: int) -> str:
    paragraphs = "".join(
        f"<p>Paragraph {j} of page {i}: built from org/source-{j % 7}.</p>" for j in range(120)
    )
    return (
        f"<html><head><title>Page {i}</title><script>var x={i};</script></head><body><nav>menu</nav>"
        f"<article><h1>Page {i}</h1>{paragraphs}</article><footer>footer</footer></body></html>"
    )


def make_world(root: Path, n: int) -> Path:
    for i in range(n):
        folder = root / "datasets" / "bench" / f"set-{i:03d}"
        folder.mkdir(parents=True)
        card = (
            f"---\nlicense: mit\nsource_datasets:\n- bench/set-{(i + 1) % n:03d}\n---\n# Set {i}\n\n"
            + "text " * 400
        )
        (folder / "README.md").write_text(card)
        (folder / "info.json").write_text(json.dumps({"downloads": i, "created_at": "2024-01-01T00:00:00Z"}))
    return root


async def run_pages(urls: list[str], cfg: AcquisitionConfig) -> float:
    async with Acquirer(cfg) as acq:
        started = time.perf_counter()
        results = await asyncio.gather(*(acq.fetch_page(u) for u in urls), return_exceptions=True)
        elapsed = time.perf_counter() - started
    failed = [r for r in results if isinstance(r, Exception)]
    if failed:
        raise RuntimeError(f"{len(failed)} page reads failed, first: {failed[0]!r}")
    return len(urls) / elapsed


async def run_cards(ids: list[str], cfg: AcquisitionConfig) -> float:
    async with Acquirer(cfg) as acq:
        started = time.perf_counter()
        results = await asyncio.gather(*(acq.dataset_card(i) for i in ids), return_exceptions=True)
        elapsed = time.perf_counter() - started
    failed = [r for r in results if isinstance(r, Exception)]
    if failed:
        raise RuntimeError(f"{len(failed)} card reads failed, first: {failed[0]!r}")
    return len(ids) / elapsed


def _page_server(n_pages: int, latency_s: float, ready: Any, stop: Any) -> None:
    with serve_pages(latency_s=latency_s) as server:
        for i in range(n_pages):
            server.add_page(f"/p{i}", page_html(i))
        ready.put(server.base_url)
        stop.wait()


def _hub_server(world: str, latency_s: float, ready: Any, stop: Any) -> None:
    with serve_hub(world, latency_s=latency_s) as server:
        ready.put(server.base_url)
        stop.wait()


class _ServerProcess:
    """Run a stand-in in its own process, so that its work does not compete with the client for the GIL."""

    def __init__(self, target: Any, *args: Any) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._ready = ctx.Queue()
        self._stop = ctx.Event()
        self._proc = ctx.Process(target=target, args=(*args, self._ready, self._stop), daemon=True)

    def __enter__(self) -> str:
        self._proc.start()
        return str(self._ready.get(timeout=60))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._proc.join(timeout=10)


REPEATS = 3


def best(run: Any) -> float:
    """Best of ``REPEATS`` runs: the first pays for connections and threads, and the machine is shared."""
    return max(run() for _ in range(REPEATS))


def measure(n_pages: int, latency_ms: float, concurrency: int, workdir: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    base = {"per_host_rate": 0, "concurrency": concurrency, "retries": 0, "timeout_s": 30, "hf_token": None}
    with _ServerProcess(_page_server, n_pages, latency_ms / 1000) as base_url:
        urls = [f"{base_url}/p{i}" for i in range(n_pages)]
        snap = workdir / f"pages-{latency_ms}-{concurrency}"
        live = best(lambda: asyncio.run(run_pages(urls, AcquisitionConfig(**base))))
        recording = best(lambda: asyncio.run(run_pages(urls, AcquisitionConfig(**base, record_dir=snap))))
        replay = best(
            lambda: asyncio.run(run_pages(urls, AcquisitionConfig(**base, snapshot_dir=snap, offline=True)))
        )
    rows.append(
        {
            "reads": "web pages",
            "latency_ms": latency_ms,
            "concurrency": concurrency,
            "live_per_s": live,
            "record_per_s": recording,
            "replay_per_s": replay,
        }
    )
    world = make_world(workdir / f"world-{latency_ms}-{concurrency}", n_pages)
    ids = [f"bench/set-{i:03d}" for i in range(n_pages)]
    with _ServerProcess(_hub_server, str(world), latency_ms / 1000) as hub_url:
        hub_cfg = {**base, "hf_endpoint": hub_url}
        snap = workdir / f"cards-{latency_ms}-{concurrency}"
        live = best(lambda: asyncio.run(run_cards(ids, AcquisitionConfig(**hub_cfg))))
        recording = best(lambda: asyncio.run(run_cards(ids, AcquisitionConfig(**hub_cfg, record_dir=snap))))
        replay = best(
            lambda: asyncio.run(run_cards(ids, AcquisitionConfig(**hub_cfg, snapshot_dir=snap, offline=True)))
        )
    rows.append(
        {
            "reads": "hub cards",
            "latency_ms": latency_ms,
            "concurrency": concurrency,
            "live_per_s": live,
            "record_per_s": recording,
            "replay_per_s": replay,
        }
    )
    for row in rows:
        row["record_overhead_pct"] = 100.0 * (row["live_per_s"] / row["record_per_s"] - 1.0)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=48, help="pages (and cards) read per measurement")
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[10.0, 100.0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--json", action="store_true", help="print rows as JSON lines")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs per cell")
    args = parser.parse_args()
    global REPEATS
    REPEATS = max(1, args.repeats)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="oda-bench-acq-") as tmp:
        for latency in args.latency_ms:
            for concurrency in args.concurrency:
                rows.extend(measure(args.pages, latency, concurrency, Path(tmp)))
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return
    print(
        f"{args.pages} reads per cell, best of {REPEATS}; a card is 2 requests (HEAD + GET), a page 1 request"
    )
    print(
        f"{'reads':<10} {'latency':>8} {'conc':>5} {'live/s':>9} {'record/s':>9} {'replay/s':>9} {'rec. overhead':>14}"
    )
    for row in rows:
        print(
            f"{row['reads']:<10} {row['latency_ms']:>6.0f}ms {row['concurrency']:>5} {row['live_per_s']:>9.1f} "
            f"{row['record_per_s']:>9.1f} {row['replay_per_s']:>9.1f} {row['record_overhead_pct']:>13.1f}%"
        )


if __name__ == "__main__":
    main()
