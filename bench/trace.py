"""Throughput of the tracing pipeline: N synthetic datasets over a local Hub with 10–100 ms latency per request
and an emulated LLM that answers in 1 s.

    python bench/trace.py                 # 1,000 datasets (about 20 minutes: the LLM's second dominates)
    python bench/trace.py --n 100 --llm-latency 0.2
    python bench/trace.py --real-cards ../shared/data/real-cards/cards   # cards as long as real ones

Everything runs in this process: the Hub stand-in (``standins.hub``) with injected latency, the
world's web pages through an ``httpx`` transport with the same latency, the scripted OpenAI-compatible server
(``standins/openai_compat.py``) playing a source-extraction model, an arXiv stand-in that knows no paper (real
card bodies name arXiv ids), the SQLite checkpointer and the embedded store. The trace is ``--extractor llm``,
depth first, every dataset traced once (the queue lists them all, newest first).

What it prints:

- **wall**: the trace's wall time;
- **external busy**: the union of the intervals during which at least one Hub, web or LLM request was in flight.
  This is the ideal wall time *given the pipeline's concurrency* (datasets one at a time, depth first; resources
  and chunks of a dataset concurrently, up to the LLM's ``max_concurrency``): a pipeline with no cost of its own
  would take exactly this long;
- **overhead** = (wall − external busy) / external busy: what the pipeline itself adds (LangGraph steps and
  checkpoints, extraction bookkeeping, canonicalization, aggregation, store writes, client libraries). Goal ≤ 5%;
- **LLM lower bound** = Σ over datasets of ⌈LLM calls / max_concurrency⌉ × LLM latency, for comparison;
- **peak memory**: the process's peak resident set size (the servers run in a separate process, as a real Hub
  and LLM server would).

``--card-work`` measures the CPU a worker spends on each card around its LLM calls (chunking, section hints,
verbatim checks) against one markdown parse of the card body.

``--orchestration-only`` measures the graph alone: the same LangGraph graph and SQLite checkpointer, real chunking
and aggregation, but instant in-memory stand-ins for the Hub, the extractor and the store, over a chain of N
datasets. It prints the pipeline's own cost per dataset.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import math
import multiprocessing
import os
import resource
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")


T = TypeVar("T")


def union_length(intervals: list[tuple[float, float]]) -> float:
    """Total length covered by a set of intervals."""
    total = 0.0
    end = -math.inf
    for s, e in sorted(intervals):
        if s > end:
            total += e - s
            end = e
        elif e > end:
            total += e - end
            end = e
    return total


def peak_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one moment."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    open_now = peak = 0
    for _, step in events:
        open_now += step
        peak = max(peak, open_now)
    return peak


def in_flight_by_part(
    intervals: list[tuple[float, float]], start: float, end: float, parts: int = 10
) -> list[float]:
    """The mean number of intervals open in each of ``parts`` equal parts of [start, end]."""
    width = (end - start) / parts
    means = []
    for i in range(parts):
        lo, hi = start + i * width, start + (i + 1) * width
        covered = sum(max(0.0, min(e, hi) - max(s, lo)) for s, e in intervals)
        means.append(covered / width)
    return means


HUB_REQUESTS_ON_CRITICAL_PATH = 3
"""Hub requests no LLM call can overlap: the first dataset's metadata and card are read before its first LLM
call, and the sources of the last one are checked on the Hub after its last LLM call."""


def serve_stand_ins(
    world: str,
    hub_latency_ms: tuple[float, float],
    llm_latency: float,
    seed: int,
    conn: Any,
    parts: tuple[str, ...] = ("hub", "llm"),
) -> None:
    """In a separate process (as the real Hub and LLM server would be), the stand-ins named in ``parts``:
    ``"hub"``, the Hub stand-in with latency; ``"llm"``, the scripted LLM and an arXiv stand-in that knows no
    paper (a real card names arXiv ids, and a worker must not wait on a network this bench does not have).
    Sends their URLs (``hub_url``; ``llm_url``, ``arxiv_url`` and ``arxiv_html``), waits for "stop", then sends
    back what they saw: the busy intervals (wall-clock time) and the LLM calls per dataset."""
    from contextlib import ExitStack

    sys.path.insert(0, str(ROOT))
    from standins.arxiv import serve_arxiv
    from standins.faults import serve_hub_with_faults
    from standins.llm_emulator import reading_responder
    from standins.openai_compat import serve_openai

    llm_intervals: list[tuple[float, float]] = []
    llm_calls: Counter[str] = Counter()
    lock = threading.Lock()

    def responder(body: dict[str, Any]) -> str:
        start = time.time()
        prompt = "\n".join(str(m.get("content") or "") for m in body.get("messages", []))
        target = prompt.split("`", 2)[1] if prompt.count("`") >= 2 else "?"
        with lock:
            llm_intervals.append((start, start + llm_latency))
            llm_calls[target] += 1
        return reading_responder(body)

    with ExitStack() as stack:
        urls: dict[str, str] = {}
        plan = None
        if "hub" in parts:
            urls["hub_url"], plan = stack.enter_context(
                serve_hub_with_faults(world, latency_ms=hub_latency_ms, seed=seed, clock=time.time)
            )
        if "llm" in parts:
            urls["llm_url"] = stack.enter_context(serve_openai(responder, latency_s=llm_latency)).base_url
            arxiv = stack.enter_context(serve_arxiv([], latency_s=sum(hub_latency_ms) / 2000))
            urls["arxiv_url"], urls["arxiv_html"] = arxiv.query_url, arxiv.html_base
        conn.send(urls)
        conn.recv()
        conn.send(
            {
                "hub_intervals": plan.busy_intervals if plan else [],
                "hub_requests": plan.total if plan else 0,
                "llm_intervals": llm_intervals,
                "llm_calls": llm_calls,
            }
        )


def orchestration_only(n: int) -> None:
    """Time the graph and its checkpoints alone (see the module docstring)."""
    import types
    from datetime import UTC, datetime

    from catalog import Catalog
    from lineage.canonical import Resolution, ResolveOutcome
    from lineage.context import TraceContext, TraceServices
    from lineage.extract.types import ExtractionResult, RawClaim, ResourceChunk
    from lineage.graph import build_graph
    from lineage.runner import QueueFile, run_trace

    parents = {f"chain/d{i:05d}": [f"chain/d{i + 1:05d}"] if i + 1 < n else [] for i in range(n)}

    class InstantHub:
        async def dataset_info(self, repo: str) -> Any:
            return types.SimpleNamespace(
                id=repo,
                created_at=datetime(2024, 1, 1, tzinfo=UTC),
                downloads=1,
                tags=[],
                private=False,
                gated=False,
            )

        async def dataset_card(self, repo: str) -> Any:
            body = f"# {repo}\n\nThe problems were collected from {' and '.join(parents[repo]) or 'volunteers'}.\n"
            raw = f"---\nlicense: mit\n---\n{body}"
            return types.SimpleNamespace(
                repo_id=repo, url=f"hf://{repo}", raw=raw, body=body, front_matter={}
            )

    class InstantExtractor:
        name = "instant"
        fallback_note: str | None = None

        async def aclose(self) -> None:
            return None

        async def extract(self, chunk: ResourceChunk) -> ExtractionResult:
            claims = [
                RawClaim(
                    target=chunk.target,
                    source_name=p,
                    evidence=f"collected from {p}",
                    chunk_id=chunk.chunk_id,
                    source_kind=chunk.kind,
                    url=chunk.url,
                    extractor="rules",
                    support=0.9,
                )
                for p in parents[chunk.target]
                if f"collected from {p}" in chunk.text
            ]
            return ExtractionResult(claims=claims)

    class InstantCanonicalizer:
        catalog = Catalog.load()

        async def resolve_outcome(self, name: str, hint: str | None = None) -> ResolveOutcome:
            return ResolveOutcome(Resolution(id=name, name=name, on_hub=True, method="hf_id", certainty=1.0))

    class MemoryStore:
        def __init__(self) -> None:
            self.nodes: dict[str, Any] = {}
            self.edges: dict[tuple[str, str], Any] = {}

        def get_node(self, node_id: str) -> Any:
            return self.nodes.get(node_id)

        def upsert_nodes(self, nodes: Any) -> None:
            self.nodes.update({node.id: node for node in nodes})

        def upsert_edges(self, edges: Any) -> None:
            self.edges.update({edge.key: edge for edge in edges})

        def close(self) -> None:
            pass

    store = MemoryStore()
    services = TraceServices(
        store=store,  # type: ignore[arg-type]
        acquirer=InstantHub(),  # type: ignore[arg-type]
        extractor=InstantExtractor(),
        canonicalizer=InstantCanonicalizer(),  # type: ignore[arg-type]
        extract_limit=asyncio.Semaphore(8),
    )
    ctx = TraceContext(run_id="orchestration", store_uri="memory", max_depth=n, services=services)
    assert build_graph() is not None
    with tempfile.TemporaryDirectory(prefix="oda-bench-orch-") as tmp:
        started = time.perf_counter()
        summary = asyncio.run(
            run_trace(
                ctx,
                QueueFile(entries=["chain/d00000"]),
                checkpoints=Path(tmp) / "runs.sqlite",
                services=services,
            )
        )
        wall = time.perf_counter() - started
    print(
        f"orchestration only    {summary.datasets_traced} datasets, {len(store.edges)} edges in {wall:.2f} s"
    )
    print(
        f"per dataset           {1000 * wall / max(1, summary.datasets_traced):.1f} ms "
        "(LangGraph steps, SQLite checkpoints, chunking, aggregation)"
    )


def appendices(args: argparse.Namespace) -> list[str]:
    """The real card bodies ``--real-cards`` names (none without it), and a line saying what they add."""
    if args.real_cards is None:
        return []
    from acquisition.cards import split_card

    files = sorted(args.real_cards.glob("*.md"))
    if not files:
        raise SystemExit(f"--real-cards: no .md card in {args.real_cards}")
    bodies = [without_links(split_card(f.read_text(encoding="utf-8"))[1]) for f in files]
    mean = sum(map(len, bodies)) / len(bodies)
    print(
        f"cards: each ends with one of {len(bodies)} real card bodies ({mean:,.0f} characters on average, "
        "links removed)"
    )
    return bodies


def without_links(text: str) -> str:
    """``text`` without web links (a markdown link keeps its text): the stand-ins serve no page they point to,
    and a fetch of one would wait for a network this bench does not have."""
    import re

    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<https?://[^>]*>", "", text)
    return re.sub(r"https?://\S+", "", text)


def card_work(args: argparse.Namespace) -> None:
    """The CPU a worker spends on each card before and after its LLM calls: chunking, each chunk's section hints
    for the prompt, and a verbatim check of evidence against each chunk. The floor is one markdown parse of each
    card body, which any reading of its sections needs. Best of five passes over the synthetic world's cards."""
    from types import SimpleNamespace

    from acquisition.cards import split_card
    from lineage.cards.parser import heading_levels
    from lineage.extract.llm import chunk_sections, structure_hint
    from lineage.extract.verify import is_verbatim
    from lineage.resources import card_chunks
    from standins.synthetic_world import write_world

    with tempfile.TemporaryDirectory(prefix="oda-bench-cards-") as tmp:
        world = write_world(Path(tmp), args.n, seed=args.seed, appendices=appendices(args))
        cards = [(ds, (world.root / "datasets" / ds / "README.md").read_text("utf-8")) for ds in world.ids]
    bodies = [split_card(raw)[1] for _, raw in cards]

    def prepare() -> None:
        for ds, raw in cards:
            for chunk in card_chunks(ds, SimpleNamespace(url=f"hf://datasets/{ds}", raw=raw)):
                structure_hint(chunk, chunk_sections(chunk))
                middle = len(chunk.text) // 3
                is_verbatim(chunk.text[middle : middle + 80], chunk.text)

    def parse_once() -> None:
        for body in bodies:
            heading_levels(body)

    def best_ms_per_card(work: Callable[[], None]) -> float:
        work()  # warm: imports, compiled patterns
        times = []
        for _ in range(5):
            start = time.process_time()
            work()
            times.append(time.process_time() - start)
        return 1000 * min(times) / len(cards)

    mean = sum(map(len, bodies)) / len(bodies)
    work_ms, floor_ms = best_ms_per_card(prepare), best_ms_per_card(parse_once)
    print(
        f"{len(cards)} cards ({mean:,.0f} characters of body on average): {work_ms:.3f} ms of CPU per card to "
        f"chunk it, hint each chunk's sections and check evidence; floor (one parse of the body) {floor_ms:.3f} ms; "
        f"work / floor {work_ms / floor_ms:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1000, help="datasets in the synthetic world")
    parser.add_argument("--llm-latency", type=float, default=1.0, help="seconds per LLM answer")
    parser.add_argument("--hub-latency-ms", type=float, nargs=2, default=(10.0, 100.0), help="min and max")
    parser.add_argument("--llm-concurrency", type=int, default=8)
    parser.add_argument("--max-depth", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", help="write a cProfile of the trace (this process) to this file")
    parser.add_argument("--orchestration-only", action="store_true", help="time the graph alone (see above)")
    parser.add_argument(
        "--card-work", action="store_true", help="the CPU per card around its LLM calls (see card_work)"
    )
    parser.add_argument(
        "--service", action="store_true", help="oda worker processes over Postgres (see below)"
    )
    parser.add_argument("--workers", default="1,2,4", help="--service: worker counts to run, e.g. 1,2,4")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="--service: datasets in flight per worker"
    )
    parser.add_argument(
        "--real-cards",
        type=Path,
        help="append to every synthetic card the body of one of the real cards in this folder (cycled, links "
        "removed), so that cards have real cards' length and markdown; the sources they name are not on the Hub "
        "stand-in",
    )
    parser.add_argument(
        "--entries",
        type=int,
        default=0,
        help="--service: queue only the newest N datasets (0: all, newest first)",
    )
    args = parser.parse_args()
    if args.orchestration_only:
        orchestration_only(args.n)
        return
    if args.card_work:
        card_work(args)
        return
    if args.service:
        service_mode(args)
        return

    from acquisition import AcquisitionConfig
    from lineage.context import TraceContext
    from lineage.runner import build_services, parse_queue_text, run_trace
    from oda.llm import LLMConfig
    from standins.faults import FaultPlan, FaultyTransport
    from standins.synthetic_world import write_world
    from standins.world import World, WorldTransport

    ctx_mp = multiprocessing.get_context("spawn")
    parent_end, child_end = ctx_mp.Pipe()

    with tempfile.TemporaryDirectory(prefix="oda-bench-trace-") as tmp:
        work = Path(tmp)
        world = write_world(
            work / "world", args.n, seed=args.seed, pages_every=5, appendices=appendices(args)
        )
        queue = parse_queue_text("\n".join(reversed(world.ids)))
        web_plan = FaultPlan(latency_ms=tuple(args.hub_latency_ms), seed=args.seed + 1)
        servers = ctx_mp.Process(
            target=serve_stand_ins,
            args=(str(world.root), tuple(args.hub_latency_ms), args.llm_latency, args.seed, child_end),
            daemon=True,
        )
        servers.start()
        urls = parent_end.recv()
        hub_url, llm_url = urls["hub_url"], urls["llm_url"]
        arxiv_url, arxiv_html = urls["arxiv_url"], urls["arxiv_html"]
        ctx = TraceContext(
            run_id="bench",
            store_uri=str(work / "graph"),
            extractor="llm",
            max_depth=args.max_depth,
            acquisition=AcquisitionConfig(
                hf_endpoint=hub_url,
                arxiv_endpoint=arxiv_url,
                arxiv_html_base=arxiv_html,
                per_host_rate=0,
                timeout_s=30,
            ),
            llm=LLMConfig(
                base_url=llm_url,
                model="scripted-model",
                api_key="bench",
                max_concurrency=args.llm_concurrency,
                timeout_s=30,
                max_retries=0,
            ),
        )
        transport = FaultyTransport(WorldTransport(World(world.root)), web_plan, clock=time.time)

        async def go() -> Any:
            async with build_services(ctx, web_transport=transport) as services:
                return await run_trace(ctx, queue, checkpoints=work / "runs.sqlite", services=services)

        profiler = cProfile.Profile() if args.profile else None
        started = time.time()
        if profiler is not None:
            profiler.enable()
        summary = asyncio.run(go())
        wall = time.time() - started
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        parent_end.send("stop")
        seen = parent_end.recv()
        hub_intervals, hub_total = seen["hub_intervals"], seen["hub_requests"]
        llm_intervals, llm_calls = seen["llm_intervals"], seen["llm_calls"]
        servers.join(timeout=30)

        busy = union_length(llm_intervals + hub_intervals + web_plan.busy_intervals)
        llm_bound = sum(math.ceil(c / args.llm_concurrency) for c in llm_calls.values()) * args.llm_latency
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"datasets traced       {summary.datasets_traced} (failed {summary.datasets_failed})")
        print(f"edges                 {summary.edges} ({summary.flagged} flagged)")
        print(
            f"Hub requests          {hub_total}  web requests {web_plan.total}  LLM calls {sum(llm_calls.values())}"
        )
        print(f"wall                  {wall:.1f} s")
        print(f"external busy (ideal) {busy:.1f} s")
        print(f"overhead              {wall - busy:.1f} s = {100 * (wall - busy) / busy:.2f}% of the ideal")
        print(
            f"LLM lower bound       {llm_bound:.1f} s (wall is {100 * (wall / llm_bound - 1):.1f}% above it)"
        )
        print(
            f"per dataset           {1000 * wall / max(1, summary.datasets_traced):.0f} ms wall, "
            f"{1000 * (wall - busy) / max(1, summary.datasets_traced):.1f} ms pipeline"
        )
        print(f"peak memory (RSS)     {peak_mb:.0f} MB")


# --- service mode ---------------------------------------------------------------------------------------------


def _fresh_database(admin_url: str) -> str:
    import secrets

    import psycopg

    name = "oda_bench_" + secrets.token_hex(4)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + "/" + name


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, for its utilisation between two readings."""
    import psutil

    times = psutil.cpu_times()._asdict()
    guest = ("guest", "guest_nice")  # already counted in user time
    total = sum(v for k, v in times.items() if k not in guest)
    idle = times["idle"] + times.get("iowait", 0.0)
    return total - idle, total


def process_cpu() -> dict[int, tuple[str, float]]:
    """Every process's name and CPU seconds so far (user + system)."""
    import psutil

    found: dict[int, tuple[str, float]] = {}
    for proc in psutil.process_iter(["name", "cpu_times"]):
        cpu = proc.info["cpu_times"]
        if cpu is not None:  # None: ended or not readable meanwhile
            found[proc.pid] = (proc.info["name"] or "?", cpu.user + cpu.system)
    return found


def cpu_by_group(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], groups: dict[int, str]
) -> dict[str, float]:
    """CPU seconds spent between two ``process_cpu`` snapshots, summed by group (``groups`` names some pids;
    the others are grouped by process name)."""
    spent: dict[str, float] = {}
    for pid, (name, cpu) in after.items():
        group = groups.get(pid, name)
        spent[group] = spent.get(group, 0.0) + cpu - before.get(pid, (name, 0.0))[1]
    return spent


def _postgres_work(queue_url: str) -> dict[str, int]:
    """Counters of the queue's database so far: transactions committed (every run-book, queue and checkpointer
    transaction, this bench's polling included), and the rows the workers' checkpointer wrote (checkpoints: one
    per step of an entry's graph)."""
    import psycopg

    with psycopg.connect(queue_url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        work = {
            "Postgres transactions": int(
                conn.execute(  # type: ignore[index]
                    "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
                ).fetchone()[0]
            )
        }
        for table in ("checkpoints", "checkpoint_writes"):
            if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() == (None,):
                work[f"{table} rows"] = 0  # the checkpointer's tables are made by the first worker
                continue
            rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            work[f"{table} rows"] = int(rows[0]) if rows else 0
        return work


def _entries_run_again(queue_url: str) -> int:
    """Queue jobs (entries) that took more than one attempt: an error ended an attempt, and the entry ran again
    from its checkpoint, tracing its datasets in flight once more."""
    import psycopg

    with psycopg.connect(queue_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE attempts > 1").fetchone()
    return int(row[0]) if row else 0


def _logged_errors(logs: list[Path], most: int = 5) -> list[str]:
    """The distinct last lines of the tracebacks in the workers' logs (at most ``most``)."""
    errors: list[str] = []
    for log in logs:
        lines = log.read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            if line.startswith("Traceback"):
                end = next((j for j in range(i + 1, len(lines)) if not lines[j].startswith(" ")), None)
                last = lines[end][:300] if end is not None else None
                if last is not None and last not in errors:
                    errors.append(last)
    return errors[:most]


def _wait_for_workers(queue_url: str, workers: int, timeout_s: float = 120.0) -> None:
    import psycopg

    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            with psycopg.connect(queue_url, autocommit=True) as conn:
                row = conn.execute("SELECT COUNT(*) FROM procrastinate_workers").fetchone()
            if row and row[0] >= workers:
                return
        except psycopg.Error:
            pass  # the first worker has not created the queue's tables yet
        time.sleep(0.25)
    raise SystemExit(f"{workers} worker(s) did not start within {timeout_s:.0f} s")


def _prepare_database(queue_url: str, store_uri: str) -> None:
    """The run book's, the checkpointer's and the queue's tables, before the workers start."""
    from service.runtime import ServiceConfig, ServiceRuntime

    async def prepare() -> None:
        async with ServiceRuntime.open(ServiceConfig(store_uri=store_uri, queue=queue_url)):
            pass

    asyncio.run(prepare())


def _run_as_served(
    queue_url: str, store_uri: str, ids: list[str], max_depth: int, snapshot: Callable[[], T]
) -> tuple[T, float, float, float]:
    """Queue ``ids`` as one run, as a running ``oda serve`` would on ``POST /api/traces`` (its runtime already
    open, so opening it is not timed), and wait for the run's end. Returns what ``snapshot`` gave just before the
    run was queued, when it was queued, when the queueing returned and when the run finished (``time.time()``)."""
    from oda.settings import load_settings
    from service.app import TraceRequest, trace_options
    from service.runtime import ServiceConfig, ServiceRuntime

    # the run saves the service's settings ([llm] from ODA_CONFIG), as the service's would
    config = ServiceConfig.from_settings(load_settings(), store_uri=store_uri, queue=queue_url)

    async def run() -> tuple[T, float, float, float]:
        async with ServiceRuntime.open(config) as runtime:
            request = TraceRequest(datasets=["a/b"], extractor="llm", max_depth=max_depth)
            options = trace_options(request, config)
            taken = snapshot()
            started = time.time()
            await runtime.submit("bench", options, ids, [])
            queued = time.time()
            while (await asyncio.to_thread(runtime.book.run_view, "bench") or {}).get("state") != "finished":
                await asyncio.sleep(0.25)
            return taken, started, queued, time.time()

    return asyncio.run(run())


def _first_after(intervals: list[tuple[float, float]], start: float) -> float:
    """Seconds from ``start`` to the first interval that began after it (NaN when none did)."""
    return min((s - start for s, _ in intervals if s >= start), default=math.nan)


class StandIns(NamedTuple):
    """A process serving some of the stand-ins (see ``serve_stand_ins``)."""

    process: Any
    conn: Any
    """The parent's end of its pipe: send "stop", then receive what the stand-ins saw."""
    urls: dict[str, str]


def _start_stand_ins(ctx_mp: Any, world_root: Path, args: Any, parts: tuple[str, ...]) -> StandIns:
    parent_end, child_end = ctx_mp.Pipe()
    process = ctx_mp.Process(
        target=serve_stand_ins,
        args=(str(world_root), tuple(args.hub_latency_ms), args.llm_latency, args.seed, child_end, parts),
        daemon=True,
    )
    process.start()
    return StandIns(process, parent_end, parent_end.recv())


def service_mode(args: Any) -> None:
    """``--service`` measures the scale-out service as it is deployed: W ``oda worker`` processes (``--concurrency``
    datasets in flight each, the LLM's ``max_concurrency`` and the Hub client's concurrency set to the same) are
    started over Postgres (``scripts/start_postgres.sh``) and the Bolt stand-in (ArcadeDB); once they are up, the run
    is queued as ``oda serve`` queues one (``ServiceRuntime.submit``, on a runtime opened before the clock starts)
    and timed until it has finished. The scripted LLM and the arXiv stand-in run in a process of their own, and
    each worker reads from a Hub stand-in in a process of its own (cards only: the workers run in other processes,
    so web pages are not served), so that no stand-in's one Python core caps what the workers can do. For each W it
    prints:

    - **queued in**: how long queueing the run's entries took (what ``POST /api/traces`` waits for);
    - **wall**: from queueing the run to its end;
    - **ideal**: LLM calls × latency / (W × concurrency), the bound set by the LLM's concurrency, plus the Hub
      latency nothing can overlap (``HUB_REQUESTS_ON_CRITICAL_PATH`` requests at the mean latency). It ignores
      that a dataset also holds its slot while its Hub reads, claims and store writes run, and that a dataset's
      sources are only known once it is traced;
    - **wall/ideal**, the mean and peak LLM calls in flight (the scripted LLM serves every call concurrently), the
      speed-up over the first W, and each worker's peak RSS;
    - **LLM calls in flight by tenth of the run**: where the wall goes beyond the ideal, at the start (the first
      datasets' Hub reads before any LLM call), in the steady state, or at the end (the last trees' chains); and
      when the first Hub request and the first LLM call came after the run was queued;
    - **CPU**: how busy the machine was, the workers' CPU per traced dataset, the CPU seconds by process, and the
      machine's CPU floor (all CPU seconds spent during the run / cores), which no run on this machine can beat;
    - **work per traced dataset**, counted rather than timed (so it does not vary with the machine's speed):
      Postgres transactions, and the rows the checkpointer wrote.
    - **queue entries run again after an error** (an entry that fails runs again from its checkpoint and traces
      its datasets in flight once more), with the errors the workers logged.

    The default queues every dataset of the world, newest first: many small, overlapping trees. A worker fills its
    slots from several queue entries at once (the oldest first), so its parallelism does not depend on one tree's
    width. With ``--real-cards DIR`` every synthetic card also carries a real card's body (its links removed: no
    stand-in serves the pages they point to): the same trees, with a real card's length and markdown to fetch,
    parse, chunk and send to the LLM. A source such a body names that the scripted model reports is looked up on
    the Hub stand-in, which does not have it, as a real trace looks up every source it reads."""
    import signal
    import subprocess

    from service.runs import RunBook
    from standins.arcadedb import start_arcadedb
    from standins.synthetic_world import write_world

    mean_hub_latency = sum(args.hub_latency_ms) / 2 / 1000
    admin_url = os.environ.get("ODA_BENCH_POSTGRES", "postgresql://oda:oda@127.0.0.1:5432/oda")
    counts = [int(c) for c in args.workers.split(",")]
    ctx_mp = multiprocessing.get_context("spawn")
    results: list[tuple[int, float, float, list[float], int]] = []
    with tempfile.TemporaryDirectory(prefix="oda-bench-service-") as tmp:
        work = Path(tmp)
        world = write_world(work / "world", args.n, seed=args.seed, appendices=appendices(args))
        ids = list(reversed(world.ids))[: args.entries or None]
        with start_arcadedb(work / "arcadedb", heap="2g") as bolt:
            store_uri = f"{bolt.uri}?database={bolt.database}"
            for workers in counts:
                # the LLM (with arXiv) in one process, and a Hub stand-in per worker: a Python server on one
                # core would otherwise cap the workers' Hub throughput, as no real Hub does
                llm_stand_in = _start_stand_ins(ctx_mp, world.root, args, ("llm",))
                hub_stand_ins = [_start_stand_ins(ctx_mp, world.root, args, ("hub",)) for _ in range(workers)]
                stand_ins = [llm_stand_in, *hub_stand_ins]
                urls = llm_stand_in.urls
                hub_urls = [hub.urls["hub_url"] for hub in hub_stand_ins]
                arxiv_url, arxiv_html, llm_url = urls["arxiv_url"], urls["arxiv_html"], urls["llm_url"]
                config = work / f"oda-{workers}.toml"
                config.write_text(
                    f"[acquisition]\nper_host_rate = 0\ntimeout_s = 30\nconcurrency = {args.concurrency}\n"
                    f'arxiv_endpoint = "{arxiv_url}"\narxiv_html_base = "{arxiv_html}"\n'
                    f'[llm]\nbase_url = "{llm_url}"\nmodel = "scripted-model"\n'
                    f"max_concurrency = {args.concurrency}\ntimeout_s = 30\nmax_retries = 0\n",
                    encoding="utf-8",
                )
                env = {
                    **os.environ,
                    "ODA_CONFIG": str(config),
                    "ODA_LLM_API_KEY": "bench",
                    "ODA_NEO4J_USER": bolt.auth[0],
                    "ODA_NEO4J_PASSWORD": bolt.auth[1],
                    # the workers import this checkout first, then whatever the caller's path adds
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
                }
                os.environ.update({k: env[k] for k in ("ODA_CONFIG", "ODA_NEO4J_USER", "ODA_NEO4J_PASSWORD")})
                queue_url = _fresh_database(admin_url)
                _prepare_database(queue_url, store_uri)
                command = [
                    sys.executable,
                    "-m",
                    "oda.cli",
                    "worker",
                    "--queue",
                    queue_url,
                    "--store",
                    store_uri,
                ]
                command += ["--concurrency", str(args.concurrency)]
                logs = [work / f"worker-{workers}-{i}.log" for i in range(workers)]
                procs = []
                for log, hub_url in zip(logs, hub_urls, strict=True):
                    with log.open("wb") as sink:  # the worker keeps its own copy of the file
                        procs.append(
                            subprocess.Popen(
                                command,
                                env={**env, "HF_ENDPOINT": hub_url},
                                cwd=work,
                                stdout=sink,
                                stderr=subprocess.STDOUT,
                            )
                        )
                try:
                    _wait_for_workers(queue_url, workers)  # a service's workers are up before work arrives
                except SystemExit:
                    for proc in procs:
                        proc.kill()
                    raise
                work_before = _postgres_work(queue_url)
                (cpu_before, per_process_before), started, queued, ended = _run_as_served(
                    queue_url, store_uri, ids, args.max_depth, lambda: (machine_cpu(), process_cpu())
                )
                run_id = "bench"
                book = RunBook(queue_url)
                wall = ended - started
                cpu_after, per_process_after = machine_cpu(), process_cpu()
                groups = {proc.pid: "oda workers" for proc in procs}
                groups[os.getpid()] = "this bench"
                groups[llm_stand_in.process.pid or -1] = "LLM stand-in"
                for hub in hub_stand_ins:
                    groups[hub.process.pid or -1] = "Hub stand-ins"
                spent = cpu_by_group(per_process_before, per_process_after, groups)
                busy = (cpu_after[0] - cpu_before[0]) / max(1.0, cpu_after[1] - cpu_before[1])
                traced = book.traced_total().get("traced", 0)
                if traced == 0:
                    view = book.run_view(run_id) or {}
                    errors = {e.get("error") for e in view.get("entries", []) if e.get("error")}
                    print("nothing was traced; entry errors:", *sorted(errors)[:5], sep="\n  ")
                    print("the first worker's log ends:", logs[0].read_text(errors="replace")[-3000:])
                book.close()
                work_after = _postgres_work(queue_url)
                work_done = {name: work_after[name] - work_before.get(name, 0) for name in work_after}
                run_again = _entries_run_again(queue_url)
                peaks = []
                worker_cpu = 0.0
                for proc in procs:
                    proc.send_signal(signal.SIGINT)
                    _, _, usage = os.wait4(proc.pid, 0)
                    proc.returncode = 0
                    peaks.append(usage.ru_maxrss / 1024)
                    worker_cpu += usage.ru_utime + usage.ru_stime
                hub_intervals: list[tuple[float, float]] = []
                llm_intervals: list[tuple[float, float]] = []
                llm_calls: Counter[str] = Counter()
                for stand_in in stand_ins:
                    stand_in.conn.send("stop")
                    seen = stand_in.conn.recv()
                    hub_intervals += seen["hub_intervals"]
                    llm_intervals += seen["llm_intervals"]
                    llm_calls.update(seen["llm_calls"])
                    stand_in.process.join(timeout=30)
                calls = sum(llm_calls.values())
                slots = workers * args.concurrency
                llm_bound = calls * args.llm_latency / slots
                hub_path = HUB_REQUESTS_ON_CRITICAL_PATH * mean_hub_latency
                ideal = llm_bound + hub_path
                results.append((workers, wall, ideal, peaks, traced))
                print(
                    f"{workers} worker(s): {traced} datasets traced, {calls} LLM calls, {len(hub_intervals)} Hub "
                    f"requests; queued in {queued - started:.2f} s; wall {wall:.1f} s, ideal {ideal:.1f} s (LLM {llm_bound:.1f} s + Hub {hub_path:.2f} s), "
                    f"wall/ideal {wall / ideal:.2f}; LLM calls in flight: mean {calls * args.llm_latency / wall:.1f}, "
                    f"peak {peak_overlap(llm_intervals)} of {slots}; "
                    f"peak RSS per worker {', '.join(f'{p:.0f}' for p in peaks)} MB",
                    flush=True,
                )
                by_part = in_flight_by_part(llm_intervals, started, ended)
                print(
                    "  LLM calls in flight by tenth of the run: "
                    + " ".join(f"{m:.1f}" for m in by_part)
                    + f"; after queueing, the first Hub request came at {_first_after(hub_intervals, started):.2f} s"
                    f" and the first LLM call at {_first_after(llm_intervals, started):.2f} s",
                    flush=True,
                )
                print(
                    f"  CPU: the machine's {os.cpu_count()} cores {100 * busy:.0f}% busy during the run; the workers "
                    f"used {worker_cpu:.1f} CPU s ({1000 * worker_cpu / max(1, traced):.0f} ms per traced dataset, "
                    "start-up and shutdown included)",
                    flush=True,
                )
                print(
                    "  work per traced dataset (counted, not timed): "
                    + ", ".join(f"{count / max(1, traced):.2f} {name}" for name, count in work_done.items()),
                    flush=True,
                )
                print(f"  queue entries run again after an error: {run_again}", flush=True)
                if run_again:
                    print(
                        "  the errors, from the workers' logs:",
                        *_logged_errors(logs),
                        sep="\n    ",
                        flush=True,
                    )
                top = sorted(spent.items(), key=lambda kv: -kv[1])[:6]
                print(
                    "  CPU seconds during the run by process: "
                    + ", ".join(f"{group} {seconds:.1f}" for group, seconds in top),
                    flush=True,
                )
                cpu_floor = sum(spent.values()) / (os.cpu_count() or 1)
                print(
                    f"  CPU floor on this machine (all CPU seconds spent / cores): {cpu_floor:.1f} s; "
                    f"wall / max(ideal, CPU floor) = {wall / max(ideal, cpu_floor):.2f}",
                    flush=True,
                )
                import neo4j

                with (
                    neo4j.GraphDatabase.driver(bolt.uri, auth=bolt.auth) as driver,
                    driver.session(database=bolt.database) as session,
                ):
                    session.run("MATCH (n) DETACH DELETE n").consume()
    base = results[0]
    for workers, wall, _, _, _ in results:
        print(f"speed-up with {workers} worker(s): {base[1] / wall:.2f}x over {base[0]} (goal >= 3.5x at 4)")


if __name__ == "__main__":
    main()
