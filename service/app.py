"""The service's ASGI app: the tracing, lineage and query API, the review UI at ``/review``, health and metrics.

Writes (``POST``/``DELETE /api/traces``) need ``Authorization: Bearer <token>`` with a reviewer token (the review
UI's tokens: ``ODA_REVIEW_TOKENS`` or a tokens file). Reads are open unless ``open_reads`` is off, in which case
they need a token too. ``POST /api/cypher`` is a read: the query runs through the store's read-only path.
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from graph_store.models import ContaminationHit, EdgeStatus
from oda.errors import ConfigError, InputError, OdaError, ReadOnlyError
from service.models import (
    CypherIn,
    DatasetView,
    ErrorOut,
    Health,
    RunView,
    TraceAccepted,
    TraceRequest,
)
from service.runtime import ServiceRuntime


class AuthError(OdaError):
    """No valid token for an operation that needs one."""


class NotFound(OdaError):
    """The run or dataset asked for does not exist."""


def _status_of(exc: OdaError) -> int:
    if isinstance(exc, AuthError):
        return 401
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, (InputError, ReadOnlyError, ConfigError)):
        return 400
    return 500


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "bad input"},
    401: {"model": ErrorOut, "description": "a token is needed"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "not found"}}

_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


def create_service_app(
    runtime: ServiceRuntime,
    *,
    tokens: dict[str, str] | None = None,
    review_secret: bytes | None = None,
    mount_review: bool = True,
) -> FastAPI:
    """Build the app over an opened ``ServiceRuntime``. ``tokens`` maps token -> reviewer."""
    from review_ui.auth import Authenticator

    config = runtime.config
    auth = Authenticator(tokens or {}, review_secret)
    app = FastAPI(
        title="oda service",
        version="1",
        description="Lineage tracing as a service: queue traces, read the lineage graph, query it.",
    )
    app.state.runtime = runtime

    @app.exception_handler(OdaError)
    async def oda_error(request: Request, exc: OdaError) -> Response:
        status = _status_of(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)

    def writer(request: Request) -> str:
        who = auth.reviewer_for_header(request.headers.get("authorization"))
        if who is None:
            raise AuthError("this operation needs 'Authorization: Bearer <token>' with a reviewer token")
        return who

    def reader(request: Request) -> str | None:
        if config.open_reads:
            return None
        return writer(request)

    def check_run_id(run_id: str) -> str:
        if not _RUN_ID_RE.match(run_id):
            raise NotFound(f"no run {run_id[:80]!r}")
        return run_id

    # --- health and metrics -------------------------------------------------------------------------------
    @app.get("/healthz", response_model=Health, tags=["service"])
    def healthz() -> Health:
        return Health(
            status="ok", mode="scale-out" if config.scale_out else "embedded", store=str(config.store_uri)
        )

    @app.get(
        "/metrics",
        tags=["service"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    def metrics() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        from service.metrics import render

        return Response(render(runtime.book, runtime.store), media_type=CONTENT_TYPE_LATEST)

    # --- tracing ------------------------------------------------------------------------------------------
    @app.post(
        "/api/traces", status_code=202, response_model=TraceAccepted, responses=ERRORS, tags=["tracing"]
    )
    async def create_trace(body: TraceRequest, who: str = Depends(writer)) -> TraceAccepted:
        from lineage.runner import new_run_id, parse_queue_text

        # like a queue file: invalid ids are refused one by one (listed in the answer and the run's failures),
        # the valid ones are queued; a run with none is recorded as finished at once
        queue = parse_queue_text("\n".join(d.replace("\n", " ").replace("\r", " ") for d in body.datasets))
        options = trace_options(body, config)
        run_id = new_run_id()
        await runtime.submit(run_id, options, queue.entries, queue.failures)
        return TraceAccepted.model_validate(
            {"run_id": run_id, "queued": len(queue.entries), "refused": queue.failures}
        )

    @app.get(
        "/api/traces/{run_id}", response_model=RunView, responses={**ERRORS, **NOT_FOUND}, tags=["tracing"]
    )
    def get_trace(run_id: str, _: str | None = Depends(reader)) -> RunView:
        view = runtime.book.run_view(check_run_id(run_id))
        if view is None:
            raise NotFound(f"no run {run_id!r}")
        return RunView.model_validate(view)

    @app.delete(
        "/api/traces/{run_id}", response_model=RunView, responses={**ERRORS, **NOT_FOUND}, tags=["tracing"]
    )
    async def cancel_trace(run_id: str, who: str = Depends(writer)) -> RunView:
        if not await runtime.cancel(check_run_id(run_id)):
            raise NotFound(f"no run {run_id!r}")
        view = await asyncio.to_thread(runtime.book.run_view, run_id)
        return RunView.model_validate(view)

    # --- lineage ------------------------------------------------------------------------------------------
    @app.get(
        "/api/datasets/{dataset_id:path}",
        response_model=DatasetView,
        responses={**ERRORS, **NOT_FOUND},
        tags=["lineage"],
    )
    def get_dataset(
        dataset_id: Annotated[str, Path(description="a node id, e.g. org/name or ext:name")],
        _: str | None = Depends(reader),
        depth: Annotated[int, Query(ge=0, le=50)] = 6,
    ) -> DatasetView:
        store = runtime.store
        node = store.get_node(dataset_id)
        if node is None:
            raise NotFound(f"no dataset {dataset_id[:200]!r} in the graph")
        return DatasetView(
            node=node,
            upstream=store.upstream(dataset_id, depth),
            downstream=store.downstream(dataset_id, depth),
        )

    @app.get(
        "/api/contamination/{benchmark:path}",
        response_model=list[ContaminationHit],
        responses={**ERRORS, **NOT_FOUND},
        tags=["lineage"],
    )
    def contamination(
        benchmark: str,
        _: str | None = Depends(reader),
        min_confidence: Annotated[float, Query(ge=0.0, le=1.0)] = 0.0,
        status: Annotated[list[EdgeStatus] | None, Query(description="walk only these statuses")] = None,
        split: str | None = None,
    ) -> list[ContaminationHit]:
        from graph_store.cli import _resolve

        store = runtime.store
        node_id = _resolve(
            store, benchmark
        )  # the id, a catalog name (GSM8K) or an ext: slug, as the CLI does
        if node_id is None:
            return []  # no such benchmark in the graph: nothing is contaminated by it
        return store.contamination(
            node_id, min_confidence=min_confidence, statuses=status or None, split=split
        )

    @app.post("/api/cypher", response_model=list[dict[str, Any]], responses=ERRORS, tags=["lineage"])
    def cypher(body: CypherIn, _: str | None = Depends(reader)) -> list[dict[str, Any]]:
        from graph_store.readonly import check_read_only

        check_read_only(body.query)
        try:
            return runtime.store.cypher(body.query, body.params, limits=config.query_limits)
        except ReadOnlyError:
            raise
        except OdaError as exc:
            raise InputError(str(exc)) from exc
        except RuntimeError as exc:  # the engine refused the statement (syntax, unknown function, ...)
            raise InputError(
                f"the query failed: {str(exc).strip().splitlines()[0] if str(exc) else exc}"
            ) from exc

    @app.get("/api/stats", response_model=dict[str, Any], responses=ERRORS, tags=["lineage"])
    def stats(_: str | None = Depends(reader)) -> dict[str, Any]:
        return runtime.store.stats()

    if mount_review:
        from review_ui.app import ReviewSettings, create_app
        from review_ui.service import catalog_check_from_lineage
        from service.prefix import PrefixedApp

        review = create_app(
            runtime.store,
            ReviewSettings(
                tokens=dict(tokens or {}),
                open_reads=config.open_reads,
                secret=review_secret,
                catalog_check=catalog_check_from_lineage(),
            ),
        )
        app.mount("/review", PrefixedApp(review, "/review"), name="review")
    return app


def trace_options(body: TraceRequest, config: Any) -> dict[str, Any]:
    """The run's saved options (as ``TraceContext.settings`` writes them): the request over the service's
    settings (``[trace]``, ``[acquisition]`` with the service's own acquisition options, ``[llm]``)."""
    from acquisition import AcquisitionConfig
    from lineage.context import TraceContext
    from lineage.runner import llm_config

    settings = config.settings
    trace = settings.override(
        "trace",
        extractor=body.extractor,
        max_depth=body.max_depth,
        max_branching=body.max_branching,
        threshold=body.threshold,
        min_year=body.min_year,
    ).trace
    ctx = TraceContext(
        run_id="options",
        store_uri=str(config.store_uri),
        extractor=trace.extractor,
        max_depth=trace.max_depth,
        max_branching=trace.max_branching,
        threshold=trace.threshold,
        min_year=trace.min_year,
        acquisition=AcquisitionConfig.from_settings(settings.acquisition, **dict(config.acquisition)),
        llm=llm_config(settings.llm),
    )
    return ctx.settings()
