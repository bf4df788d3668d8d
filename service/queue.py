"""The scale-out queue: one procrastinate job per queue entry, in Postgres.

procrastinate was chosen over pgqueuer because it gives, out of the box, what a worker that may die mid-job needs:
worker heartbeats with a query for the jobs of stalled workers (``get_stalled_jobs``) and ``retry_job`` to hand
them to another worker, retry strategies per task, job cancellation, queueing locks, and an async worker with
graceful shutdown. pgqueuer is leaner (LISTEN/NOTIFY-driven, fast dequeue), but retries after a crash and the
detection of dead consumers are left to the application; that is exactly the part that must not be home-made here.

The app is built here (in a package module, as procrastinate wants) by ``make_app(url)``; the task receives the
worker's ``ServiceRuntime`` through the job context (``additional_context["runtime"]``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

QUEUE_NAME = "oda-trace"
TASK_NAME = "oda.trace_entry"

log = logging.getLogger("oda.service.queue")


MAX_ATTEMPTS = 3
"""Attempts of one queue entry in scale-out mode (a crash or an unexpected error retries it)."""


def entries_in_progress(concurrency: int) -> int:
    """Queue entries one worker holds at once: its ``concurrency`` slots are filled from them, and as many again
    may wait for a dataset that another entry or worker is tracing."""
    return 2 * concurrency


def make_app(url: str) -> Any:
    """A procrastinate app on ``url`` with the ``trace_entry`` task."""
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(
        name=TASK_NAME,
        queue=QUEUE_NAME,
        pass_context=True,
        retry=procrastinate.RetryStrategy(max_attempts=2, wait=1),
    )
    async def trace_entry(context: Any, run_id: str, position: int) -> str:
        runtime = context.additional_context["runtime"]
        load = context.additional_context["load"]
        dataset = await asyncio.to_thread(runtime.book.start_entry, run_id, position, runtime.worker)
        if dataset is None:
            return "skipped"
        attempts = int(getattr(context.job, "attempts", 0) or 0)
        return str(
            await runtime.trace_entry(
                run_id, position, dataset, load=load, last_attempt=attempts + 1 >= MAX_ATTEMPTS
            )
        )

    return app


async def _ensure_schema(app: Any) -> None:
    """Apply procrastinate's schema once (a database that has it already is left alone)."""
    async with app.connector.pool.connection() as conn, conn.cursor() as cursor:
        await cursor.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
        row = await cursor.fetchone()
    if row and row[0]:
        return
    try:
        await app.schema_manager.apply_schema_async()
    except Exception as exc:  # another process applied it at the same moment
        if "already exists" not in str(exc):
            raise


@contextlib.asynccontextmanager
async def open_queue(url: str) -> AsyncIterator[Any]:
    """The procrastinate app, opened (schema applied when missing)."""
    app = make_app(url)
    async with app.open_async():
        await _ensure_schema(app)
        yield app


DEFER_BATCH = 500
"""Entries queued per statement: a large run is queued in a few round trips, and the workers start on its first
entries while the rest are queued."""


async def defer_entries(app: Any, run_id: str, positions: range) -> AsyncIterator[list[tuple[int, int]]]:
    """Queue the entries at ``positions``, in order, in batches; yields each batch's ``(position, job_id)``."""
    task = app.tasks[TASK_NAME]
    for start in range(0, len(positions), DEFER_BATCH):
        batch = positions[start : start + DEFER_BATCH]
        job_ids = await task.batch_defer_async(*({"run_id": run_id, "position": p} for p in batch))
        yield list(zip(batch, job_ids, strict=True))


async def retry_stalled_jobs(app: Any, stalled_after_s: float) -> int:
    """Hand the jobs of workers whose heartbeat stopped (killed, lost) back to the queue."""
    retried = 0
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after_s):
        try:
            await app.job_manager.retry_job(job)
        except Exception as exc:  # another worker retried it first
            log.debug("stalled job %s not retried: %s", job.id, exc)
            continue
        log.warning("job %s (%s) was stalled; queued again", job.id, job.task_kwargs)
        retried += 1
    return retried


async def run_worker(runtime: Any, *, stop: asyncio.Event | None = None) -> None:
    """Run a procrastinate worker plus the stalled-job check, until cancelled. The worker holds up to
    ``entries_in_progress`` queue entries (one procrastinate job each) at once; their datasets share its
    ``--concurrency`` slots, the oldest entry first, and the entries report their end in the order they were
    taken."""
    app = runtime.queue_app
    config = runtime.config
    load = runtime.new_worker()

    async def watch_stalled() -> None:
        while True:
            await asyncio.sleep(max(config.heartbeat_s, 1.0))
            try:
                await retry_stalled_jobs(app, config.stalled_after_s)
            except Exception as exc:
                log.warning("stalled-job check failed: %s", exc)

    watcher = asyncio.create_task(watch_stalled())
    worker = asyncio.create_task(
        app.run_worker_async(
            queues=[QUEUE_NAME],
            name=runtime.worker,
            concurrency=entries_in_progress(config.concurrency),
            additional_context={"runtime": runtime, "load": load},
            update_heartbeat_interval=config.heartbeat_s,
            stalled_worker_timeout=config.stalled_after_s,
            install_signal_handlers=stop is None,
            fetch_job_polling_interval=1.0,
        )
    )
    try:
        if stop is None:
            await worker
        else:
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({worker, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
    finally:
        watcher.cancel()
        if not worker.done():
            worker.cancel()
        await asyncio.gather(watcher, worker, return_exceptions=True)
