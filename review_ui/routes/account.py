"""Signing in with a reviewer token, and out. The session cookie itself is written by the app's middleware."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from review_ui.web import ReviewDep, safe_next

router = APIRouter()


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, review: ReviewDep, next: str = "/queue", failed: int = 0) -> Response:
    context = review.page_context(request, title="Sign in", next=safe_next(next), failed=bool(failed))
    return review.render(request, "login.html", context)


@router.post("/login")
def login(
    request: Request,
    review: ReviewDep,
    csrf: str = Form(""),
    token: str = Form(""),
    next: str = Form("/queue"),
) -> Response:
    review.check_csrf(request, csrf)
    reviewer = review.auth.reviewer_for_token(token.strip())
    if reviewer is None:
        params = urlencode({"next": safe_next(next), "failed": 1})
        return RedirectResponse(f"/login?{params}", status_code=303)
    request.state.new_session = review.auth.new_session(reviewer)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, review: ReviewDep, csrf: str = Form("")) -> Response:
    review.check_csrf(request, csrf)
    request.state.new_session = review.auth.new_session()
    return RedirectResponse("/queue", status_code=303)
