"""Run a trace: parse the queue, build the services, drive the graph depth first, resume, summarize.

A run has an id (printed when it starts). Its state is checkpointed after every step into a SQLite file (default
``.oda/trace-runs.sqlite``, ``[trace].checkpoints`` in the config), keyed by that id. ``resume_trace`` continues a
run from its last checkpoint with the options it was started with; since every store write is a MERGE, a step
that was cut short and runs again writes the same nodes and edges once.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

from lineage.context import TraceContext, TraceServices
from lineage.state import Failure, TraceState
from oda.errors import ConfigError, InputError
from oda.settings import DEFAULT_CHECKPOINTS, AcquisitionSettings, LLMSettings, Settings

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from acquisition import AcquisitionConfig
    from oda.llm import LLMConfig

_COMMENT_RE = re.compile(r"(?:^|\s)#")
"""A comment starts with ``#`` at the start of a line or after a space (so URLs may keep a fragment)."""

RECURSION_LIMIT = 2_000_000_000
"""LangGraph counts steps per invocation; a trace takes about seven steps per dataset, so this is no limit."""


# --- the queue --------------------------------------------------------------------------------------------


class QueueFile(BaseModel):
    """A parsed queue: the valid entries in order (duplicates removed) and the lines that were refused."""

    entries: list[str]
    failures: list[dict[str, str]] = Field(default_factory=list)


def parse_queue_text(text: str, *, origin: str = "queue") -> QueueFile:
    """Parse a queue: one Hub dataset id (or dataset URL) per line; ``#`` starts a comment; blank lines are
    skipped. A malformed line is reported with its line number and the run goes on without it."""
    from acquisition.ids import check_repo_id

    entries: list[str] = []
    failures: list[dict[str, str]] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        value = _COMMENT_RE.split(line, maxsplit=1)[0].strip()
        if not value:
            continue
        try:
            repo_id = check_repo_id(value)
        except InputError as exc:
            failures.append({"dataset": value[:120], "stage": "queue", "reason": f"{origin}:{number}: {exc}"})
            continue
        if repo_id not in seen:
            seen.add(repo_id)
            entries.append(repo_id)
    return QueueFile(entries=entries, failures=failures)


def parse_queue(path: str | Path) -> QueueFile:
    """Read and parse a queue file (see ``parse_queue_text``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError(f"queue file not found: {p}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read queue file {p}: {exc}") from exc
    return parse_queue_text(text, origin=p.name)


def new_run_id() -> str:
    """A fresh, sortable run id such as ``trace-20250101T120000-3f9a1c``."""
    return f"trace-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"


# --- services ---------------------------------------------------------------------------------------------


@asynccontextmanager
async def build_services(
    ctx: TraceContext, *, web_transport: Any = None, store: Any = None
) -> AsyncIterator[TraceServices]:
    """Open the store, the acquirer, the extractor and the canonicalizer a run needs; close them after.

    ``web_transport`` (an ``httpx`` async transport) replaces the network under web reads, e.g. to serve a
    world's pages from memory. ``store``, when given, is used instead of opening ``ctx.store_uri``."""
    from acquisition import Acquirer, AcquisitionConfig
    from graph_store.factory import open_store
    from lineage.canonical import Canonicalizer
    from lineage.extract import make_extractor

    acquisition = ctx.acquisition or AcquisitionConfig()
    extractor = make_extractor(ctx.extractor, ctx.llm)
    acquirer = Acquirer(acquisition, web_transport=web_transport)

    async def hub_search(query: str) -> list[str]:
        return [info.id for info in await acquirer.search_datasets(query, limit=10)]

    info_cache: dict[str, Any] = {}

    async def hub_exists(repo_id: str) -> bool | None:
        """A Hub-looking source is a Hub node only if ``dataset_info`` finds it (read once, kept for validation).
        ``None`` when an offline snapshot holds no answer (it cannot tell); other read failures raise."""
        from oda.errors import AccessDeniedError, InputError, NotFoundError, SnapshotMissError

        if repo_id not in info_cache:
            try:
                info_cache[repo_id] = await acquirer.dataset_info(repo_id)
            except (NotFoundError, InputError):
                return False
            except AccessDeniedError:
                return True  # gated: it exists
            except SnapshotMissError:
                return None
        return True

    canonicalizer = Canonicalizer(
        hub_search=hub_search, hub_exists=hub_exists, llm=ctx.llm if ctx.extractor != "rules" else None
    )
    uses_llm = ctx.llm is not None and ctx.extractor != "rules"
    limit = asyncio.Semaphore(ctx.llm.max_concurrency if uses_llm and ctx.llm else 8)
    owns_store = store is None  # a service passes the store it already holds (and closes it itself)
    if owns_store:
        store = await asyncio.to_thread(open_store, ctx.store_uri)
    try:
        yield TraceServices(
            store=store,
            acquirer=acquirer,
            extractor=extractor,
            canonicalizer=canonicalizer,
            extract_limit=limit,
            info_cache=info_cache,
        )
    finally:
        try:
            await extractor.aclose()
            await canonicalizer.aclose()
        finally:
            await acquirer.aclose()
            if owns_store:
                await asyncio.to_thread(store.close)


def llm_config(llm: LLMSettings) -> LLMConfig | None:
    """The LLM client configuration the ``[llm]`` settings describe (``None`` when none is configured)."""
    from oda.llm import LLMConfig

    return LLMConfig.from_mapping(llm.model_dump())


def context_from_settings(
    run_id: str, settings: dict[str, Any], current: Settings | None = None, **overrides: Any
) -> TraceContext:
    """Rebuild a run's context from the settings saved in its state (``TraceContext.settings``).

    The saved values are used as they are. ``current`` (the settings of this process) fills only what a run
    saved by an older version lacks: the ``[acquisition]`` keys it did not save, and the LLM."""
    from acquisition import AcquisitionConfig
    from oda.llm import LLMConfig

    now = current if current is not None else Settings()
    saved_acquisition = dict(settings.get("acquisition") or {})
    merged = {k: v for k, v in now.acquisition.values().items() if k not in saved_acquisition}
    merged |= {k: v for k, v in saved_acquisition.items() if v is not None}
    try:
        acquisition = AcquisitionConfig.from_settings(AcquisitionSettings.model_validate(merged))
    except ValidationError as exc:
        raise ConfigError(f"run {run_id!r}: invalid saved acquisition settings: {exc}") from exc
    if "llm" in settings:
        saved_llm = settings["llm"]
        llm = LLMConfig.from_mapping(saved_llm) if isinstance(saved_llm, dict) else None
    else:
        llm = llm_config(now.llm)
    values: dict[str, Any] = {
        k: settings[k]
        for k in (
            "store_uri",
            "extractor",
            "max_depth",
            "max_branching",
            "threshold",
            "min_year",
            "resource_concurrency",
        )
        if k in settings
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return TraceContext(run_id=run_id, acquisition=acquisition, llm=llm, **values)


# --- progress ---------------------------------------------------------------------------------------------


class ProgressEvent(BaseModel):
    """What the runner reports while a trace goes on."""

    kind: str = Field(
        description="start, dataset (one was traced, dropped or failed), skipped (a queue entry "
        "already traced in an earlier entry's tree)"
    )
    dataset: str | None = None
    depth: int | None = None
    root: str | None = None
    queue_index: int = 0
    queue_size: int = 0
    status: str | None = None
    note: str | None = None
    edges: int = 0
    flagged: int = 0
    totals: dict[str, int] = Field(default_factory=dict)


ProgressSink = Callable[[ProgressEvent], None]


# --- the summary ------------------------------------------------------------------------------------------


class TraceSummary(BaseModel):
    """The end of a run, for people (rendered by the CLI) and machines (``--json``)."""

    run_id: str
    finished: bool
    store: str
    queue_size: int
    datasets_traced: int
    datasets_dropped: int
    datasets_failed: int
    edges: int
    flagged: int
    chunks: int
    claims: int
    failures: list[dict[str, str]]
    notes: list[str]
    elapsed_s: float


def summarize(values: dict[str, Any], *, run_id: str, finished: bool, elapsed_s: float) -> TraceSummary:
    """The summary of a run from its (final or latest) state."""
    counters = values.get("counters") or {}
    settings = values.get("settings") or {}
    return TraceSummary(
        run_id=run_id,
        finished=finished,
        store=str(settings.get("store_uri", "")),
        queue_size=len(values.get("queue") or []),
        datasets_traced=counters.get("traced", 0),
        datasets_dropped=counters.get("dropped", 0),
        datasets_failed=counters.get("failed", 0),
        edges=counters.get("edges", 0),
        flagged=counters.get("flagged", 0),
        chunks=counters.get("chunks", 0),
        claims=counters.get("claims", 0),
        failures=[dict(f) for f in values.get("failures") or []],
        notes=list(values.get("notes") or []),
        elapsed_s=round(elapsed_s, 3),
    )


# --- running ----------------------------------------------------------------------------------------------


def _is_finished(snapshot: Any) -> bool:
    """A run is over when no task is left. ``snapshot.next`` alone is not enough: after a crash, a task that
    finished but whose step was not checkpointed yet has its writes saved and is no longer listed there."""
    return bool(snapshot.values) and not snapshot.next and not snapshot.tasks


def _run_config(run_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": run_id}, "recursion_limit": RECURSION_LIMIT}


@asynccontextmanager
async def _checkpointer(path: str | Path) -> AsyncIterator[Any]:
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    async with aiosqlite.connect(str(p)) as conn:
        # WAL with synchronous=NORMAL survives a killed process (what resuming is for) without an fsync per
        # step; only a power loss could drop the last steps, which a resume then simply runs again.
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        yield AsyncSqliteSaver(conn)


def checkpoints_path(explicit: str | Path | None = None) -> Path:
    """Where run checkpoints live: ``explicit`` (``--checkpoints``, else ``[trace].checkpoints``), else
    ``.oda/trace-runs.sqlite``."""
    return Path(explicit or DEFAULT_CHECKPOINTS)


async def _drive(
    graph: Any,
    graph_input: TraceState | None,
    ctx: TraceContext,
    progress: ProgressSink | None,
) -> None:
    queue = list((graph_input or {}).get("queue") or [])
    start_pos = 0
    if graph_input is None:
        snapshot = await graph.aget_state(_run_config(ctx.run_id))
        queue = list(snapshot.values.get("queue") or [])
        start_pos = int(snapshot.values.get("queue_pos") or 0)
    _on_update = _progress_reporter(queue, progress, start_pos=start_pos)
    stream = graph.astream(graph_input, _run_config(ctx.run_id), context=ctx, stream_mode="updates")
    datasets = 0
    async with aclosing(stream):
        async for update in stream:
            _on_update(update)
            if isinstance(update, dict) and "write" in update:
                datasets += 1
                if datasets % PRUNE_EVERY == 0:
                    await prune_checkpoints(graph.checkpointer, ctx.run_id)
    await prune_checkpoints(graph.checkpointer, ctx.run_id)


PRUNE_EVERY = 25
"""Datasets between two prunings of a run's old checkpoints."""
KEEP_CHECKPOINTS = 20
"""Checkpoints kept per run: the latest is what a resume starts from; a few more are kept for inspection."""


async def prune_checkpoints(saver: Any, run_id: str, keep: int = KEEP_CHECKPOINTS) -> None:
    """Delete all but the ``keep`` latest checkpoints of a run (and their pending writes).

    LangGraph's SQLite saver stores the whole state at every step, so without pruning the file grows with the
    square of the run's length (the visited set is in every checkpoint). Only the latest checkpoint is needed to
    resume. Checkpoint ids are time-ordered, as the saver itself assumes when it picks the latest one."""
    conn = getattr(saver, "conn", None)
    lock = getattr(saver, "lock", None)
    if conn is None or lock is None:
        return  # another saver (e.g. in memory): nothing to prune
    async with lock:
        for table in ("writes", "checkpoints"):
            await conn.execute(
                f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_id NOT IN ("
                "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? "
                "ORDER BY checkpoint_id DESC LIMIT ?)",
                (run_id, run_id, keep),
            )
        await conn.commit()


def _progress_reporter(
    queue: list[str], progress: ProgressSink | None, *, start_pos: int = 0
) -> Callable[[Any], None]:
    """Turn the graph's per-node updates into progress events.

    Every queue entry gets one event: a ``dataset`` event when it is traced (or dropped, or failed), a ``skipped``
    event when an earlier entry's tree already traced it (``select_next`` then moves past it silently)."""
    totals: dict[str, int] = {}
    current: dict[str, Any] | None = None
    queue_size = len(queue)
    queue_index = start_pos

    def on_update(update: Any) -> None:
        nonlocal current, queue_index
        if not isinstance(update, dict):
            return
        for node, delta in update.items():
            if not isinstance(delta, dict):
                continue
            for key, value in (delta.get("counters") or {}).items():
                totals[key] = totals.get(key, 0) + int(value)
            if node == "select_next":
                current = delta.get("current")
                new_pos = int(delta.get("queue_pos") or queue_index)
                # entries started but not traced now: the last one started is the current dataset's root
                starts_tree = current is not None and current.get("depth") == 0 and new_pos > queue_index
                last_skipped = new_pos - 1 if starts_tree else new_pos
                if progress is not None:
                    for index in range(queue_index, last_skipped):
                        progress(
                            ProgressEvent(
                                kind="skipped",
                                dataset=queue[index] if index < queue_size else None,
                                depth=0,
                                queue_index=index + 1,
                                queue_size=queue_size,
                                status="already traced",
                                note="in the tree of an earlier queue entry",
                                totals=dict(totals),
                            )
                        )
                queue_index = new_pos
            elif node == "write" and progress is not None and current is not None:
                outcome = delta.get("outcome") or {}
                counters = delta.get("counters") or {}
                progress(
                    ProgressEvent(
                        kind="dataset",
                        dataset=current["id"],
                        depth=current["depth"],
                        root=current["root"],
                        queue_index=queue_index,
                        queue_size=queue_size,
                        status=outcome.get("status"),
                        note=outcome.get("note"),
                        edges=int(counters.get("edges", 0)),
                        flagged=int(counters.get("flagged", 0)),
                        totals=dict(totals),
                    )
                )

    return on_update


async def run_trace(
    ctx: TraceContext,
    queue: QueueFile | None,
    *,
    checkpoints: str | Path | None = None,
    progress: ProgressSink | None = None,
    services: TraceServices | None = None,
) -> TraceSummary:
    """Trace ``queue`` (a new run, ``ctx.run_id``), or resume ``ctx.run_id`` when ``queue`` is ``None``.

    ``services`` may be passed in (tests, benchmarks); otherwise they are built from ``ctx`` and closed after.
    """
    from lineage.graph import build_graph

    started = time.perf_counter()
    async with _checkpointer(checkpoints_path(checkpoints)) as saver:
        graph = build_graph(saver)
        config = _run_config(ctx.run_id)
        existing = await graph.aget_state(config)
        graph_input: TraceState | None
        if queue is None:
            if not existing.values:
                raise InputError(f"no run {ctx.run_id!r} in {checkpoints_path(checkpoints)}")
            graph_input = None
        else:
            if existing.values:
                raise InputError(f"run {ctx.run_id!r} already exists; resume it with --resume {ctx.run_id}")
            graph_input = TraceState(
                run_id=ctx.run_id,
                settings=ctx.settings(),
                queue=list(queue.entries),
                queue_pos=0,
                stack=[],
                visited=[],
                counters={},
                failures=[
                    Failure(dataset=f["dataset"], stage=f["stage"], reason=f["reason"])
                    for f in queue.failures
                ],
                notes=[],
            )
        finished_before = queue is None and _is_finished(existing)
        if not finished_before:
            async with _maybe_services(ctx, services) as svc:
                ctx.services = svc
                note = svc.extractor.fallback_note
                if note and graph_input is not None:
                    graph_input["notes"] = [note]
                if progress is not None:
                    progress(ProgressEvent(kind="start", queue_size=len(queue.entries) if queue else 0))
                await _drive(graph, graph_input, ctx, progress)
        final = await graph.aget_state(config)
        return summarize(
            dict(final.values),
            run_id=ctx.run_id,
            finished=_is_finished(final),
            elapsed_s=time.perf_counter() - started,
        )


@asynccontextmanager
async def _maybe_services(ctx: TraceContext, services: TraceServices | None) -> AsyncIterator[TraceServices]:
    if services is not None:
        yield services
        return
    async with build_services(ctx) as built:
        yield built


async def saved_settings(run_id: str, checkpoints: str | Path | None = None) -> dict[str, Any]:
    """The settings a run was started with (for ``--resume``)."""
    from lineage.graph import build_graph

    path = checkpoints_path(checkpoints)
    if not path.exists():
        raise InputError(f"no run {run_id!r}: {path} does not exist")
    async with _checkpointer(path) as saver:
        snapshot = await build_graph(saver).aget_state(_run_config(run_id))
    if not snapshot.values:
        raise InputError(f"no run {run_id!r} in {path}")
    settings = snapshot.values.get("settings")
    if not isinstance(settings, dict):
        raise ConfigError(f"run {run_id!r} has no saved settings")
    return settings


def acquisition_from_options(
    *,
    hf_endpoint: str | None,
    snapshot: str | Path | None,
    offline: bool,
    record: str | Path | None,
    configured: AcquisitionSettings | None = None,
) -> AcquisitionConfig:
    """The acquisition config for ``oda trace`` options (``configured``, the ``[acquisition]`` settings, fills
    the rest)."""
    from acquisition import AcquisitionConfig

    if offline and snapshot is None:
        raise ConfigError("--offline needs --snapshot DIR")
    if snapshot is not None and record is not None:
        raise ConfigError("--snapshot and --record cannot be used together")
    return AcquisitionConfig.from_settings(
        configured,
        hf_endpoint=hf_endpoint,
        snapshot_dir=Path(snapshot) if snapshot else None,
        offline=offline or None,
        record_dir=Path(record) if record else None,
    )
