"""The JSON API beside the pages: edges, one edge with its evidence and history, decisions (a reviewer token in
``Authorization: Bearer <token>``), progress, the audit log, and who the token names."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from graph_store.models import EdgeStatus
from oda.errors import InputError
from review_ui.service import Decision
from review_ui.web import VIEW_QUERY_SCHEMA, ReviewDep, ViewDep

router = APIRouter(prefix="/api")


class DecisionIn(BaseModel):
    """A decision sent to the JSON API."""

    action: str = Field(description="approve, reject, edit, repoint or undo")
    target: str | None = Field(
        default=None, description="the derived dataset; omit with undo for your last one"
    )
    source: str | None = None
    reason: str | None = None
    relationship: str | None = None
    new_source: str | None = None
    note: str | None = None
    expected_version: int | None = Field(
        default=None, description="the edge version you saw; detects conflicts"
    )


@router.get("/me")
def api_me(request: Request, review: ReviewDep) -> dict[str, Any]:
    return {"reviewer": review.api_reviewer(request), "open_reads": review.open_reads}


@router.get("/edges", openapi_extra=VIEW_QUERY_SCHEMA)
def api_edges(
    request: Request,
    review: ReviewDep,
    view: ViewDep,
    status: str = "flagged",
    limit: int = Query(500, ge=1, le=10_000),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    review.check_read(request)
    if status == "flagged":
        queue = review.service.queue(view)
        rows = [
            {
                **item.edge.model_dump(mode="json"),
                "downstream": item.downstream,
                "downloads": item.downloads,
            }
            for item in queue.items[offset : offset + limit]
        ]
        return {"status": status, "total": len(queue.items), "edges": rows}
    try:
        wanted = None if status == "all" else EdgeStatus(status)
    except ValueError as exc:
        choices = ", ".join([s.value for s in EdgeStatus] + ["all"])
        raise InputError(f"unknown status {status!r}; expected one of: {choices}") from exc
    edges = review.service.edges(wanted)
    return {
        "status": status,
        "total": len(edges),
        "edges": [e.model_dump(mode="json") for e in edges[offset : offset + limit]],
    }


@router.get("/edge")
def api_edge(request: Request, review: ReviewDep, target: str, source: str) -> dict[str, Any]:
    review.check_read(request)
    service = review.service
    edge = service.edge(target, source)
    evidence = service.evidence(edge)
    return {
        "edge": edge.model_dump(mode="json"),
        "others": [e.model_dump(mode="json") for e in service.siblings(edge)],
        "evidence": {
            "found_in_context": evidence.found,
            "context": evidence.context_label,
            "url": evidence.url,
        },
        "history": [e.model_dump(mode="json") for e in service.history(edge)],
    }


@router.post("/decisions")
def api_decide(request: Request, review: ReviewDep, body: DecisionIn) -> dict[str, Any]:
    reviewer = review.require_api_writer(request)
    outcome = review.service.decide(reviewer, Decision(**body.model_dump()))
    return {
        "entry": outcome.entry.model_dump(mode="json"),
        "edge": outcome.edge.model_dump(mode="json") if outcome.edge else None,
    }


@router.get("/progress")
def api_progress(request: Request, review: ReviewDep) -> dict[str, Any]:
    review.check_read(request)
    return review.service.progress(review.api_reviewer(request))


@router.get("/audit")
def api_audit(request: Request, review: ReviewDep) -> list[dict[str, Any]]:
    review.check_read(request)
    return [entry.model_dump(mode="json") for entry in review.service.audit_log()]
