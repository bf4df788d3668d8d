"""``oda serve`` and ``oda worker``: the tracing service and its scale-out workers."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store", help="Store URI (default: [store].uri, else .oda/graph; bolt://… for scale-out)."
    ),
]
QueueOpt = Annotated[
    str | None,
    typer.Option(
        "--queue",
        help="Run book and queue: a SQLite file (default .oda/service.sqlite) or postgresql://… (scale-out).",
    ),
]
ConcurrencyOpt = Annotated[
    int | None, typer.Option("--concurrency", min=1, help="Datasets traced at once per worker (default 8).")
]
LeaseOpt = Annotated[
    float | None, typer.Option("--lease", min=1.0, help="Seconds a dataset claim lasts unless renewed (60).")
]


def _config(ctx: typer.Context, **values: Any) -> Any:
    from oda.command import settings_of
    from service.runtime import ServiceConfig

    return ServiceConfig.from_settings(settings_of(ctx), **values)


def serve(
    ctx: typer.Context,
    store: StoreOpt = None,
    queue: QueueOpt = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 8780,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", min=0, help="In-process workers (embedded default 1; scale-out default 0)."
        ),
    ] = None,
    concurrency: ConcurrencyOpt = None,
    lease: LeaseOpt = None,
    tokens_file: Annotated[
        Path | None,
        typer.Option(
            "--tokens-file", help="Tokens file, one 'name:token' a line (default: $ODA_REVIEW_TOKENS)."
        ),
    ] = None,
    open_reads: Annotated[
        bool | None,
        typer.Option(
            "--open-reads/--no-open-reads", help="Let anyone read (default on); writes need a token."
        ),
    ] = None,
    snapshot: Annotated[
        str | None, typer.Option("--snapshot", help="Traces replay reads from this snapshot.")
    ] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Traces never touch the network.")] = False,
    openlineage_url: Annotated[
        str | None,
        typer.Option(
            "--openlineage-url", help="Emit OpenLineage run events to this endpoint (e.g. Marquez)."
        ),
    ] = None,
) -> None:
    """Serve the lineage service: the tracing API, the lineage queries, the review UI, /metrics.

    With no servers configured, one process does everything: it holds the embedded store, queues runs in
    SQLite and traces them in-process, so review, tracing and queries share the graph.

    Examples:

      ODA_REVIEW_TOKENS="alice:s3cret-a" oda serve            # then open http://127.0.0.1:8780/docs

      oda serve --queue postgresql://oda:oda@127.0.0.1:5432/oda --store bolt://127.0.0.1:7687
    """

    from oda.errors import ConfigError
    from oda.output import console
    from review_ui.auth import load_tokens

    if offline and snapshot is None:
        raise ConfigError("--offline needs --snapshot DIR")
    acquisition: dict[str, Any] = {}
    if snapshot is not None:
        acquisition = {"snapshot_dir": str(Path(snapshot).resolve()), "offline": offline or None}
    config = _config(
        ctx,
        store_uri=store,
        queue=queue,
        workers=workers,
        concurrency=concurrency,
        lease_s=lease,
        open_reads=open_reads,
        openlineage_url=openlineage_url,
        acquisition=acquisition or None,
    )
    if workers is None and config.scale_out:
        config.workers = 0
    tokens = load_tokens(tokens_file)
    if not tokens:
        console.print("[yellow]no tokens configured (ODA_REVIEW_TOKENS): the service is read-only[/]")
    secret = os.environ.get("ODA_REVIEW_SECRET")
    mode = "scale-out" if config.scale_out else "embedded"

    def announce(url: str) -> None:
        console.print(
            f"oda service ({mode}) on {url}  (API docs: /docs, review: /review/, metrics: /metrics); "
            f"{config.workers} in-process worker(s), store {config.store_uri}",
            highlight=False,
        )

    run_loop(_serve(config, tokens, secret.encode() if secret else None, host, port, announce))


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop where it is installed (less CPU per task switch and socket read than asyncio's own
    loop: a worker is CPU-bound), else on asyncio's."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


async def _serve(
    config: Any,
    tokens: dict[str, str],
    secret: bytes | None,
    host: str,
    port: int,
    announce: Callable[[str], None],
) -> None:
    import uvicorn

    from oda.serving import AnnouncingServer
    from service.app import create_service_app
    from service.runtime import ServiceRuntime, use_worker_threads

    use_worker_threads(config)
    async with ServiceRuntime.open(config) as runtime:
        if not config.scale_out:
            requeued = await asyncio.to_thread(runtime.book.requeue_running)
            if requeued:
                print(f"{requeued} queue entr(y/ies) left running by an earlier process queued again")
        app = create_service_app(runtime, tokens=tokens, review_secret=secret)
        server = AnnouncingServer(
            uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"), announce
        )
        stop = asyncio.Event()
        if config.scale_out:
            from service.queue import run_worker

            workers = [run_worker(runtime, stop=stop) for _ in range(config.workers)]
        else:
            workers = [runtime.embedded_worker(stop) for _ in range(config.workers)]
        tasks = [asyncio.create_task(_warmed_up(worker)) for worker in workers]
        try:
            await server.serve()
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def worker(
    ctx: typer.Context,
    queue: Annotated[
        str | None,
        typer.Option("--queue", help="The service's postgresql:// queue (default: [service].queue)."),
    ] = None,
    store: StoreOpt = None,
    concurrency: ConcurrencyOpt = None,
    lease: LeaseOpt = None,
    heartbeat: Annotated[
        float | None, typer.Option("--heartbeat", min=0.1, help="Seconds between worker heartbeats (10).")
    ] = None,
    stalled_after: Annotated[
        float | None,
        typer.Option(
            "--stalled-after", min=0.5, help="A worker silent this long is dead; its job is retried (30)."
        ),
    ] = None,
    openlineage_url: Annotated[
        str | None, typer.Option("--openlineage-url", help="Emit OpenLineage run events to this endpoint.")
    ] = None,
) -> None:
    """Run a tracing worker of a scale-out service: take queue entries from Postgres, trace them into Neo4j.

    Start as many as you like, on any machines that reach the database and the Bolt server. A worker killed
    mid-entry is noticed when its heartbeat stops; its entry is queued again and resumed by another worker from
    the shared checkpoint.

    Example:

      oda worker --queue postgresql://oda:oda@db:5432/oda --store bolt://graph:7687 --concurrency 16
    """

    from oda.errors import ConfigError
    from oda.output import console

    config = _config(
        ctx,
        store_uri=store,
        queue=queue,
        concurrency=concurrency,
        lease_s=lease,
        heartbeat_s=heartbeat,
        stalled_after_s=stalled_after,
        openlineage_url=openlineage_url,
    )
    if not config.scale_out:
        raise ConfigError(
            "oda worker needs a postgresql:// queue (--queue or [service].queue); "
            "the embedded service runs its workers inside 'oda serve'"
        )
    console.print(
        f"oda worker: queue {_redact(config.queue)}, store {config.store_uri}, {config.concurrency} dataset(s) "
        "at once",
        highlight=False,
    )
    run_loop(_work(config))


async def _warmed_up(worker: Coroutine[Any, Any, None]) -> None:
    """Run ``worker`` once the tracing code is loaded (``service.tracer.warm_up``, in a thread: the API serves
    meanwhile)."""
    from service.tracer import warm_up

    try:
        await asyncio.to_thread(warm_up)
    except BaseException:
        worker.close()
        raise
    await worker


async def _work(config: Any) -> None:
    from service.queue import run_worker
    from service.runtime import ServiceRuntime, use_worker_threads

    use_worker_threads(config)
    async with ServiceRuntime.open(config) as runtime:
        await _warmed_up(run_worker(runtime))


def _redact(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


def register(app: typer.Typer) -> None:
    """Add ``oda serve`` and ``oda worker`` to the ``oda`` app."""
    app.command("serve")(serve)
    app.command("worker")(worker)
