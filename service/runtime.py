"""What a service process holds: its settings, the run book, the graph store, the checkpointer and the workers.

``ServiceConfig.from_settings`` takes ``[service]`` from the settings (command-line options win):

    [service]
    queue = ".oda/service.sqlite"   # or "postgresql://oda:oda@127.0.0.1:5432/oda" (scale-out)
    concurrency = 8                 # datasets in flight per worker
    workers = 1                     # in-process workers of the embedded service
    lease_s = 60                    # a dataset claim's lease (renewed every third of it)
    open_reads = true               # GET routes without a token
    openlineage_url = ""            # emit OpenLineage run events to this endpoint
    llm_concurrency = 64            # LLM calls in flight for the whole service, split among live workers
    hub_rate = 20.0                 # Hub requests per second per host for the whole service, split the same way

The embedded service checkpoints into ``<queue>-checkpoints.sqlite`` next to its queue; scale-out checkpoints into
the same Postgres database with LangGraph's ``AsyncPostgresSaver``, and needs a Bolt store shared by the workers.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import os
import socket
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph_store.readonly import QueryLimits, make_query_limits
from oda.errors import ConfigError
from oda.settings import Settings
from service.queue import entries_in_progress
from service.runs import RunBook, is_postgres_url
from service.slots import DatasetSlots
from service.tracer import DatasetObserver, DatasetResult, EntryJob, RunMemo, build_entry_graph, run_entry

log = logging.getLogger("oda.service")

DEFAULT_QUEUE = ".oda/service.sqlite"


@dataclass
class ServiceConfig:
    """Where the service keeps things and how hard its workers work (see the module docstring)."""

    store_uri: str
    queue: str = DEFAULT_QUEUE
    concurrency: int = 8
    workers: int = 1
    lease_s: float = 60.0
    open_reads: bool = True
    openlineage_url: str | None = None
    acquisition: dict[str, Any] = field(default_factory=dict)
    """Acquisition options every run of this service uses (snapshot_dir, offline), as saved in run options."""
    heartbeat_s: float = 10.0
    stalled_after_s: float = 30.0
    llm_concurrency: int | None = None
    """LLM calls in flight for the whole service; each live worker takes an equal share (None: ``[llm]``'s)."""
    hub_rate: float | None = None
    """Requests per second per host for the whole service, shared the same way (None: ``[acquisition]``'s)."""
    settings: Settings = field(default_factory=Settings)
    """The process's settings: ``[trace]`` defaults for requests, ``[llm]``/``[acquisition]`` for runs."""

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ConfigError("service concurrency must be >= 1")
        if self.workers < 0:
            raise ConfigError("service workers must be >= 0")
        if self.lease_s <= 0:
            raise ConfigError("service lease_s must be > 0")
        if self.scale_out and not self.store_uri.split("://", 1)[0].startswith(("bolt", "neo4j")):
            raise ConfigError(
                "a postgresql:// queue is shared by workers on several machines: give a Bolt store too "
                "(--store bolt://HOST:7687), since the embedded store admits one process"
            )

    @property
    def scale_out(self) -> bool:
        return is_postgres_url(self.queue)

    @property
    def checkpoints(self) -> str:
        if self.scale_out:
            return self.queue
        path = Path(self.queue.removeprefix("sqlite:"))
        return str(path.with_name(path.stem + "-checkpoints.sqlite"))

    @property
    def query_limits(self) -> QueryLimits:
        """Limits on user Cypher: ``[store]``'s ``query_*`` keys."""
        store = self.settings.store
        return make_query_limits(store.query_timeout_s, store.query_max_rows, store.query_max_memory_mb)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ServiceConfig:
        """``[service]`` (with ``ODA_OPENLINEAGE_URL``) from ``settings``; ``overrides`` (not ``None``) win."""
        values: dict[str, Any] = settings.service.values()
        values.update({k: v for k, v in overrides.items() if v is not None})
        values.setdefault("store_uri", settings.store.uri)
        return cls(settings=settings, **values)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class MetricsObserver(DatasetObserver):
    """Counts datasets and failures into the Prometheus metrics; forwards to OpenLineage when configured."""

    def __init__(self, openlineage: Any = None) -> None:
        self.openlineage = openlineage

    def started(self, run_id: str, item: Any) -> None:
        from service.metrics import IN_FLIGHT

        IN_FLIGHT.inc()
        if self.openlineage is not None:
            self.openlineage.started(run_id, item)

    def close(self) -> None:
        if self.openlineage is not None:
            self.openlineage.close()

    def finished(self, run_id: str, result: DatasetResult) -> None:
        from service.metrics import DATASETS, FAILURES, IN_FLIGHT

        IN_FLIGHT.dec()
        DATASETS.labels(result.status).inc()
        for failure in result.failures:
            FAILURES.labels(failure.get("stage", "?")).inc()
        if self.openlineage is not None:
            self.openlineage.finished(run_id, result)


class ServiceRuntime:
    """The shared parts of one service process. Use ``async with ServiceRuntime.open(config)``."""

    def __init__(self, config: ServiceConfig, book: RunBook, store: Any, checkpointer: Any) -> None:
        self.config = config
        self.book = book
        self.store = store
        self.checkpointer = checkpointer
        self.worker = worker_name()
        self.wake = asyncio.Event()
        self.queue_app: Any = None
        openlineage = None
        if config.openlineage_url:
            from service.openlineage import OpenLineageEmitter

            openlineage = OpenLineageEmitter(config.openlineage_url)
        self.observer = MetricsObserver(openlineage)

    @functools.cached_property
    def entry_graph(self) -> Any:
        """The entry loop graph over this process's checkpointer, compiled once (compiling costs more than a
        short entry's whole walk)."""
        return build_entry_graph(self.checkpointer)

    @classmethod
    @asynccontextmanager
    async def open(cls, config: ServiceConfig, *, store: Any = None) -> AsyncIterator[ServiceRuntime]:
        """Open the run book, the store (unless given) and the checkpointer; close them after."""
        from graph_store.factory import open_store

        async with AsyncExitStack() as stack:
            book = await asyncio.to_thread(RunBook, config.queue)
            stack.callback(book.close)
            if store is None:
                store = await asyncio.to_thread(open_store, config.store_uri)
                stack.callback(store.close)
            checkpointer = await stack.enter_async_context(_open_checkpointer(config))
            runtime = cls(config, book, store, checkpointer)
            stack.callback(runtime.observer.close)  # sends the OpenLineage events still queued
            if config.scale_out:
                from service.queue import open_queue

                runtime.queue_app = await stack.enter_async_context(open_queue(config.queue))
            yield runtime

    # --- runs ---------------------------------------------------------------------------------------------
    async def submit(
        self, run_id: str, options: dict[str, Any], datasets: list[str], refused: list[Any]
    ) -> None:
        """Record a run and queue its entries (a procrastinate job each in scale-out mode)."""
        await asyncio.to_thread(self.book.create_run, run_id, options, datasets, refused)
        if self.queue_app is not None:
            from service.queue import defer_entries

            async for job_ids in defer_entries(self.queue_app, run_id, range(len(datasets))):
                await asyncio.to_thread(self.book.set_job_ids, run_id, job_ids)
        self.wake.set()

    async def cancel(self, run_id: str) -> bool:
        job_ids = await asyncio.to_thread(self.book.cancel, run_id)
        if job_ids is None:
            return False
        if self.queue_app is not None:
            for job_id in job_ids:
                await self.queue_app.job_manager.cancel_job_by_id_async(job_id)
        return True

    # --- working ------------------------------------------------------------------------------------------
    def new_worker(self) -> WorkerLoad:
        """The dataset slots and entry order of one worker loop of this process."""
        return WorkerLoad(self)

    async def trace_entry(
        self,
        run_id: str,
        position: int,
        dataset: str,
        *,
        load: WorkerLoad | None = None,
        last_attempt: bool = True,
    ) -> str:
        """Trace one queue entry's tree to the end (or resume it) on ``load``'s dataset slots, behind the entries
        ``load`` took before it; returns the entry's final state. Without ``load`` the entry has a worker's slots
        to itself. The run book finishes entries in queue order (see ``RunBook.finish_entry``)."""
        load = load or self.new_worker()
        started = time.perf_counter()
        try:
            async with load.run_context(run_id) as ctx:
                job = EntryJob(
                    trace=ctx,
                    book=self.book,
                    worker=self.worker,
                    entry=dataset,
                    position=position,
                    concurrency=self.config.concurrency,
                    lease_s=self.config.lease_s,
                    observer=self.observer,
                    slots=load.slots,
                    ticket=load.take_ticket(),
                    memo=load.memo(run_id),
                )
                final = await run_entry(job, self.entry_graph)
        except Exception as exc:
            log.exception("entry %s of run %s failed", dataset, run_id)
            if last_attempt:
                await asyncio.to_thread(
                    self.book.finish_entry, run_id, position, "failed", error=f"{type(exc).__name__}: {exc}"
                )
            raise
        state = "cancelled" if final.get("cancelled") else "finished"
        await asyncio.to_thread(
            self.book.finish_entry,
            run_id,
            position,
            state,
            counters=dict(final.get("counters") or {}),
            failures=[dict(f) for f in final.get("failures") or []],
        )
        log.info("entry %s of run %s %s in %.1fs", dataset, run_id, state, time.perf_counter() - started)
        return state

    async def live_workers(self) -> int:
        """Workers sharing the service's budgets: the in-process ones, or the queue's live workers."""
        if not self.config.scale_out:
            return max(1, self.config.workers)
        return max(1, await asyncio.to_thread(self.book.live_queue_workers, self.config.stalled_after_s))

    async def take_share(self, ctx: Any) -> None:
        """Give this worker its share of the service's LLM and Hub budgets (``[service]`` llm_concurrency and
        hub_rate), split evenly among the live workers when the worker opens a run's services."""
        import dataclasses

        if self.config.llm_concurrency is None and self.config.hub_rate is None:
            return
        workers = await self.live_workers()
        if self.config.llm_concurrency is not None and ctx.llm is not None:
            share = max(1, self.config.llm_concurrency // workers)
            ctx.llm = dataclasses.replace(ctx.llm, max_concurrency=share)
        if self.config.hub_rate is not None and ctx.acquisition is not None:
            ctx.acquisition = dataclasses.replace(
                ctx.acquisition, per_host_rate=self.config.hub_rate / workers
            )

    async def embedded_worker(self, stop: asyncio.Event) -> None:
        """One in-process worker: take the oldest queued entries while its dataset slots have room (up to
        ``entries_in_progress`` at once) and trace them until ``stop``, then finish the entries it holds."""
        load = self.new_worker()
        running: set[asyncio.Task[str]] = set()
        try:
            while not stop.is_set():
                if len(running) >= entries_in_progress(self.config.concurrency) or (
                    running and not load.slots.idle
                ):
                    await _first_of(stop.wait(), load.slots.changed(), timeout=1.0)
                    continue
                taken = await asyncio.to_thread(self.book.next_entry, self.worker)
                if taken is None:
                    self.wake.clear()
                    await _first_of(self.wake.wait(), stop.wait(), load.slots.changed(), timeout=1.0)
                    continue
                run_id, position, dataset = taken
                task = asyncio.create_task(self.trace_entry(run_id, position, dataset, load=load))
                running.add(task)
                task.add_done_callback(lambda done: _settle(running, done))
                await _first_of(load.slots.changed(), asyncio.shield(task), timeout=0.25)
            await asyncio.gather(*running, return_exceptions=True)  # stopping: finish the entries held
        finally:
            for task in list(running):  # cancelled: the entries stay running, queued again at the next start
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)


def _settle(running: set[asyncio.Task[str]], task: asyncio.Task[str]) -> None:
    running.discard(task)
    if not task.cancelled():
        task.exception()  # a failed entry is recorded (and logged) by trace_entry itself


def use_worker_threads(config: ServiceConfig) -> None:
    """Size the running loop's default thread pool for the workers' blocking calls (run book statements, store
    writes): a few per dataset slot, rather than the CPU-count default that would queue them."""
    from concurrent.futures import ThreadPoolExecutor

    threads = 2 * config.concurrency * max(1, config.workers) + 8
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(threads, thread_name_prefix="oda-worker")
    )


def checkpoint_connections(concurrency: int) -> int:
    """Postgres connections for one worker's checkpoints."""
    return max(2, min(4, concurrency // 8))


async def _first_of(*waits: Any, timeout: float) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()


@dataclass
class _RunShare:
    ctx: Any
    stack: AsyncExitStack
    memo: RunMemo = field(default_factory=RunMemo)
    users: int = 0


class WorkerLoad:
    """What the queue entries held by one worker share: its ``DatasetSlots`` (the entry taken first is served
    first), and per run one trace context with its services, so the worker's LLM and Hub budgets bound all its
    entries together."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.slots = DatasetSlots(runtime.config.concurrency)
        self._tickets = itertools.count()
        self._runs: dict[str, _RunShare] = {}
        self._opening = asyncio.Lock()

    def take_ticket(self) -> int:
        return next(self._tickets)

    def memo(self, run_id: str) -> RunMemo:
        """What this worker's entries of the run learnt (see ``RunMemo``); open while the run's context is."""
        return self._runs[run_id].memo

    @asynccontextmanager
    async def run_context(self, run_id: str) -> AsyncIterator[Any]:
        """The run's trace context with live services, opened by the first entry of the run and closed after
        the last one this worker holds."""
        async with self._opening:
            share = self._runs.get(run_id)
            if share is None:
                share = await self._open(run_id)
                self._runs[run_id] = share
            share.users += 1
        try:
            yield share.ctx
        finally:
            share.users -= 1
            if share.users == 0 and self._runs.get(run_id) is share:
                del self._runs[run_id]
                await share.stack.aclose()

    async def _open(self, run_id: str) -> _RunShare:
        from lineage.runner import build_services, context_from_settings
        from service.metrics import instrument

        runtime = self.runtime
        options = await asyncio.to_thread(runtime.book.run_options, run_id) or {}
        ctx = context_from_settings(
            run_id, options, runtime.config.settings, store_uri=runtime.config.store_uri
        )
        await runtime.take_share(ctx)
        stack = AsyncExitStack()
        services = await stack.enter_async_context(build_services(ctx, store=runtime.store))
        instrument(services, ctx.extractor)
        ctx.services = services
        return _RunShare(ctx=ctx, stack=stack)


@asynccontextmanager
async def _open_checkpointer(config: ServiceConfig) -> AsyncIterator[Any]:
    if config.scale_out:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        # A pool, so the entries a worker holds write their checkpoints side by side. Checkpoint commits do not
        # wait for the disk (synchronous_commit off): only a crash of Postgres itself can lose the last few, and
        # an entry then resumes from an earlier checkpoint and traces a dataset again (store writes are MERGEs;
        # claims and attempts stay in the run book, committed durably).
        pool = AsyncConnectionPool(
            config.checkpoints,
            min_size=1,
            max_size=checkpoint_connections(config.concurrency),
            kwargs={
                "autocommit": True,
                "prepare_threshold": 0,
                "row_factory": dict_row,
                "options": "-c synchronous_commit=off",
            },
            open=False,
        )
        async with pool:
            saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
            await saver.setup()
            yield saver
        return
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = Path(config.checkpoints)
    path.parent.mkdir(parents=True, exist_ok=True)
    async with aiosqlite.connect(str(path)) as conn:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        yield AsyncSqliteSaver(conn)
