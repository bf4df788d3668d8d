"""The HTML pages: the queue, an edge with its evidence and decision forms, the picture of its lineage, and
"skip" to the next edge of the queue."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from graph_store.models import Relationship
from review_ui.queue import SORTS
from review_ui.web import (
    DONE_MESSAGES,
    PAGE_SIZE,
    VIEW_QUERY_SCHEMA,
    ReviewDep,
    ViewDep,
    edge_url,
    queue_url,
)

router = APIRouter()


@router.get("/", include_in_schema=False)
def index() -> RedirectResponse:
    return RedirectResponse("/queue", status_code=303)


@router.get("/healthz", include_in_schema=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/queue", response_class=HTMLResponse, openapi_extra=VIEW_QUERY_SCHEMA)
def queue_page(
    request: Request, review: ReviewDep, view: ViewDep, offset: int = Query(0, ge=0), done: str = ""
) -> Response:
    sign_in = review.login_redirect(request, str(request.url.path))
    if sign_in is not None:
        return sign_in
    queue = review.service.queue(view)
    page = queue.items[offset : offset + PAGE_SIZE]
    context = review.page_context(
        request,
        title="Review queue",
        view=view,
        queue=queue,
        page=page,
        offset=offset,
        page_size=PAGE_SIZE,
        sorts=SORTS,
        message=DONE_MESSAGES.get(done),
        edge_url=edge_url,
        queue_url=queue_url,
    )
    return review.render(request, "queue.html", context)


@router.get("/edge", response_class=HTMLResponse, openapi_extra=VIEW_QUERY_SCHEMA)
def edge_page(
    request: Request,
    review: ReviewDep,
    view: ViewDep,
    target: str,
    source: str,
    pos: int | None = None,
    done: str = "",
) -> Response:
    sign_in = review.login_redirect(request, "/queue")
    if sign_in is not None:
        return sign_in
    service = review.service
    edge = service.edge(target, source)
    queue = service.queue(view)
    context = review.page_context(
        request,
        title=f"{edge.target} ← {edge.source}",
        edge=edge,
        view=view,
        pos=queue.position(target, source),
        queue_len=len(queue.items),
        evidence=service.evidence(edge),
        siblings=service.siblings(edge),
        picture=service.picture(edge),
        history=service.history(edge),
        relationships=[r.value for r in Relationship],
        target_link=review.hub_link(edge.target),
        source_link=review.hub_link(edge.source),
        message=DONE_MESSAGES.get(done),
        edge_url=edge_url,
        queue_url=queue_url,
        hub_link=review.hub_link,
        svg_url="/edge/lineage.svg?" + urlencode({"target": edge.target, "source": edge.source}),
    )
    return review.render(request, "edge.html", context)


@router.get("/edge/lineage.svg")
def lineage_svg(request: Request, review: ReviewDep, target: str, source: str) -> Response:
    review.check_read(request)
    edge = review.service.edge(target, source)
    context = {"picture": review.service.picture(edge)}
    return review.render(request, "lineage.svg.j2", context, media_type="image/svg+xml")


@router.get("/next", openapi_extra=VIEW_QUERY_SCHEMA)
def next_edge(request: Request, review: ReviewDep, view: ViewDep, pos: int = 0) -> Response:
    review.check_read(request)
    return review.go_to_position(view, pos, "skip")
