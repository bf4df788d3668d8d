"""The decision forms of the edge page: a decision, and the undo of the reviewer's last one. Both need a signed-in
reviewer and the session's CSRF token, and carry the queue view in hidden fields (``web.VIEW_FORM_NAMES``)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from graph_store.models import Action
from oda.errors import InputError
from review_ui.service import Decision
from review_ui.web import ReviewDep, ViewDep, edge_url

router = APIRouter()


@router.post("/decide")
def decide_form(
    request: Request,
    review: ReviewDep,
    view: ViewDep,
    csrf: str = Form(""),
    action: str = Form(...),
    target: str = Form(...),
    source: str = Form(...),
    expected_version: int | None = Form(None),
    reason: str = Form(""),
    relationship: str = Form(""),
    new_source: str = Form(""),
    note: str = Form(""),
    pos: int | None = Form(None),
) -> Response:
    reviewer = review.require_form_writer(request, csrf)
    decision = Decision(
        action=action,
        target=target,
        source=source,
        reason=reason,
        relationship=relationship,
        new_source=new_source,
        note=note,
        expected_version=expected_version,
    )
    if action == Action.UNDO:
        raise InputError("use the undo button to undo your last decision")
    review.service.decide(reviewer, decision)
    return review.go_to_position(view, pos if pos is not None else 0, action)


@router.post("/undo")
def undo_form(request: Request, review: ReviewDep, view: ViewDep, csrf: str = Form("")) -> Response:
    reviewer = review.require_form_writer(request, csrf)
    entry = review.service.undo_last(reviewer).entry
    return RedirectResponse(edge_url(entry.target, entry.source, view, done="undo"), status_code=303)
