"""The review web app: a server-rendered queue of flagged edges, an edge page with the evidence and a picture of
the local lineage, decision forms, and a JSON API beside the HTML.

Routes (HTML)::

    GET  /queue                the flagged edges (sort, domain, relationship, extractor, offset)
    GET  /edge                 one edge (?target=&source=), with its decision forms
    GET  /edge/lineage.svg     the picture of the edge's local lineage
    GET  /next                 the edge at ?pos= in the current queue view (used by "skip")
    POST /decide               approve, reject, edit, repoint (form; CSRF token required)
    POST /undo                 undo the signed-in reviewer's last decision (form; CSRF token required)
    GET  /login, POST /login, POST /logout

Routes (JSON, writes need ``Authorization: Bearer <token>``)::

    GET  /api/edges?status=flagged     GET /api/edge?target=&source=     POST /api/decisions
    GET  /api/progress                 GET /api/audit                    GET /api/me

Every asset is served from ``review_ui/static``; pages allow scripts and styles from this origin only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from graph_store.base import GraphStore
from graph_store.models import EdgeStatus, Relationship
from oda.errors import ConflictError, InputError, OdaError, StoreError, UnknownEdgeError
from review_ui.auth import Authenticator, Session
from review_ui.evidence import ContextSource
from review_ui.queue import SORTS, QueueFilter
from review_ui.service import CatalogCheck, Decision, ReviewService

logger = logging.getLogger("oda.review")
HERE = Path(__file__).parent
SESSION_COOKIE = "oda_review_session"
PAGE_SIZE = 100
DEFAULT_HUB_URL = "https://huggingface.co"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DONE_MESSAGES = {
    "approve": "Approved.",
    "reject": "Rejected.",
    "edit": "Edited.",
    "repoint": "Re-pointed to the new source.",
    "undo": "Your last decision was undone; the edge is shown as it is now.",
    "skip": "Skipped.",
}


@dataclass
class ReviewSettings:
    """How the app runs. ``tokens`` maps token -> reviewer; ``open_reads`` lets anyone read the queue."""

    tokens: dict[str, str]
    open_reads: bool = True
    secret: bytes | None = None
    hub_url: str = DEFAULT_HUB_URL
    catalog_check: CatalogCheck | None = None
    context_source: ContextSource | None = None


class AuthRequired(OdaError):
    """No valid reviewer token (or signed-in session) for an operation that needs one."""


class CsrfRejected(OdaError):
    """A form arrived without the CSRF token of its session."""


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


def _status_of(exc: Exception) -> int:
    if isinstance(exc, AuthRequired):
        return 401
    if isinstance(exc, CsrfRejected):
        return 403
    if isinstance(exc, UnknownEdgeError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, InputError):
        return 422
    return 500


def create_app(store: GraphStore, settings: ReviewSettings) -> FastAPI:
    """Build the review app over ``store``. The store stays open for the app's lifetime; the caller closes it."""
    service = ReviewService(
        store, catalog_check=settings.catalog_check, context_source=settings.context_source
    )
    auth = Authenticator(settings.tokens, settings.secret)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    hub_url = settings.hub_url.rstrip("/")
    app = FastAPI(title="oda review", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.state.service = service
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    # --- sessions, headers, errors -------------------------------------------------------------------------
    @app.middleware("http")
    async def session_and_headers(request: Request, call_next: Any) -> Response:
        session = auth.decode_session(request.cookies.get(SESSION_COOKIE))
        fresh = session is None
        request.state.session = session or auth.new_session()
        request.state.new_session = None
        response: Response = await call_next(request)
        replacement: Session | None = request.state.new_session
        if replacement is not None or (fresh and not request.url.path.startswith(("/api/", "/static/"))):
            response.set_cookie(
                SESSION_COOKIE,
                auth.encode_session(replacement or request.state.session),
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
                path="/",
            )
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    def is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    @app.exception_handler(OdaError)
    async def oda_error(request: Request, exc: OdaError) -> Response:
        status = _status_of(exc)
        if status == 500:
            logger.error("%s %s failed: %s", request.method, request.url.path, exc)
        message = str(exc) if status != 500 or isinstance(exc, StoreError) else "internal error"
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 and is_api(request) else None
        if is_api(request):
            return JSONResponse({"error": type(exc).__name__, "detail": message}, status, headers=headers)
        context = page_context(request, title="Error")
        context.update(status=status, message=message, back=_same_site_referer(request))
        return templates.TemplateResponse(request, "error.html", context, status_code=status)

    # --- helpers --------------------------------------------------------------------------------------------
    def session_of(request: Request) -> Session:
        session: Session = request.state.session
        return session

    def html_reviewer(request: Request) -> str | None:
        return session_of(request).reviewer or auth.reviewer_for_header(request.headers.get("authorization"))

    def api_reviewer(request: Request) -> str | None:
        return auth.reviewer_for_header(request.headers.get("authorization"))

    def require_api_writer(request: Request) -> str:
        reviewer = api_reviewer(request)
        if reviewer is None:
            raise AuthRequired("a reviewer token is required: send 'Authorization: Bearer <token>'")
        return reviewer

    def require_form_writer(request: Request, csrf: str) -> str:
        reviewer = session_of(request).reviewer
        if reviewer is None:
            raise AuthRequired("sign in with your reviewer token to make decisions")
        if not auth.check_csrf(session_of(request), csrf):
            raise CsrfRejected("the form's CSRF token is missing or wrong; reload the page and try again")
        return reviewer

    def check_read(request: Request) -> None:
        if settings.open_reads:
            return
        reviewer = api_reviewer(request) if is_api(request) else html_reviewer(request)
        if reviewer is None:
            raise AuthRequired("reading needs a reviewer token on this server")

    def hub_link(node_id: str) -> str | None:
        return f"{hub_url}/datasets/{node_id}" if service.node_on_hub(node_id) else None

    def page_context(request: Request, **extra: Any) -> dict[str, Any]:
        reviewer = session_of(request).reviewer
        try:
            progress: dict[str, Any] | None = service.progress(reviewer)
        except OdaError:  # an error page must render even when the store cannot answer
            progress = None
        context: dict[str, Any] = {
            "reviewer": reviewer,
            "csrf": auth.csrf_token(session_of(request)),
            "progress": progress,
        }
        context.update(extra)
        return context

    def view_from(sort: str, domain: str, relationship: str, extractor: str) -> QueueFilter:
        return QueueFilter(sort, domain, relationship, extractor).normalized()

    def edge_url(target: str, source: str, view: QueueFilter, pos: int | None = None, done: str = "") -> str:
        params = {"target": target, "source": source, **view.as_params()}
        if pos is not None:
            params["pos"] = str(pos)
        if done:
            params["done"] = done
        return "/edge?" + urlencode(params)

    def queue_url(view: QueueFilter, done: str = "") -> str:
        params = view.as_params()
        if done:
            params["done"] = done
        return "/queue" + ("?" + urlencode(params) if params else "")

    def go_to_position(view: QueueFilter, pos: int, done: str = "") -> RedirectResponse:
        queue = service.queue(view)
        if not queue.items:
            return RedirectResponse(queue_url(view, done), status_code=303)
        index = pos if 0 <= pos < len(queue.items) else 0
        edge = queue.items[index].edge
        return RedirectResponse(edge_url(edge.target, edge.source, view, index, done), status_code=303)

    # --- HTML -----------------------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/queue", status_code=303)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/queue", response_class=HTMLResponse)
    def queue_page(
        request: Request,
        sort: str = "downstream",
        domain: str = "",
        relationship: str = "",
        extractor: str = "",
        offset: int = Query(0, ge=0),
        done: str = "",
    ) -> Response:
        if not settings.open_reads and html_reviewer(request) is None:
            return RedirectResponse("/login?" + urlencode({"next": str(request.url.path)}), status_code=303)
        view = view_from(sort, domain, relationship, extractor)
        queue = service.queue(view)
        page = queue.items[offset : offset + PAGE_SIZE]
        context = page_context(
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
        return templates.TemplateResponse(request, "queue.html", context)

    @app.get("/edge", response_class=HTMLResponse)
    def edge_page(
        request: Request,
        target: str,
        source: str,
        sort: str = "downstream",
        domain: str = "",
        relationship: str = "",
        extractor: str = "",
        pos: int | None = None,
        done: str = "",
    ) -> Response:
        if not settings.open_reads and html_reviewer(request) is None:
            return RedirectResponse("/login?" + urlencode({"next": "/queue"}), status_code=303)
        view = view_from(sort, domain, relationship, extractor)
        edge = service.edge(target, source)
        queue = service.queue(view)
        position = queue.position(target, source)
        context = page_context(
            request,
            title=f"{edge.target} ← {edge.source}",
            edge=edge,
            view=view,
            pos=position,
            queue_len=len(queue.items),
            evidence=service.evidence(edge),
            siblings=service.siblings(edge),
            picture=service.picture(edge),
            history=service.history(edge),
            relationships=[r.value for r in Relationship],
            target_link=hub_link(edge.target),
            source_link=hub_link(edge.source),
            message=DONE_MESSAGES.get(done),
            edge_url=edge_url,
            queue_url=queue_url,
            hub_link=hub_link,
            svg_url="/edge/lineage.svg?" + urlencode({"target": edge.target, "source": edge.source}),
        )
        return templates.TemplateResponse(request, "edge.html", context)

    @app.get("/edge/lineage.svg")
    def lineage_svg(request: Request, target: str, source: str) -> Response:
        check_read(request)
        edge = service.edge(target, source)
        return templates.TemplateResponse(
            request, "lineage.svg.j2", {"picture": service.picture(edge)}, media_type="image/svg+xml"
        )

    @app.get("/next")
    def next_edge(
        request: Request,
        pos: int = 0,
        sort: str = "downstream",
        domain: str = "",
        relationship: str = "",
        extractor: str = "",
    ) -> Response:
        check_read(request)
        return go_to_position(view_from(sort, domain, relationship, extractor), pos, "skip")

    @app.post("/decide")
    def decide_form(
        request: Request,
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
        sort: str = Form("downstream"),
        domain: str = Form(""),
        filter_relationship: str = Form(""),
        extractor: str = Form(""),
    ) -> Response:
        reviewer = require_form_writer(request, csrf)
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
        if action == "undo":
            raise InputError("use the undo button to undo your last decision")
        service.decide(reviewer, decision)
        view = view_from(sort, domain, filter_relationship, extractor)
        return go_to_position(view, pos if pos is not None else 0, action)

    @app.post("/undo")
    def undo_form(
        request: Request,
        csrf: str = Form(""),
        sort: str = Form("downstream"),
        domain: str = Form(""),
        filter_relationship: str = Form(""),
        extractor: str = Form(""),
    ) -> Response:
        reviewer = require_form_writer(request, csrf)
        outcome = service.undo_last(reviewer)
        view = view_from(sort, domain, filter_relationship, extractor)
        entry = outcome.entry
        return RedirectResponse(edge_url(entry.target, entry.source, view, done="undo"), status_code=303)

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/queue", failed: int = 0) -> Response:
        context = page_context(request, title="Sign in", next=_safe_next(next), failed=bool(failed))
        return templates.TemplateResponse(request, "login.html", context)

    @app.post("/login")
    def login(
        request: Request, csrf: str = Form(""), token: str = Form(""), next: str = Form("/queue")
    ) -> Response:
        if not auth.check_csrf(session_of(request), csrf):
            raise CsrfRejected("the form's CSRF token is missing or wrong; reload the page and try again")
        reviewer = auth.reviewer_for_token(token.strip())
        if reviewer is None:
            params = urlencode({"next": _safe_next(next), "failed": 1})
            return RedirectResponse(f"/login?{params}", status_code=303)
        request.state.new_session = auth.new_session(reviewer)
        return RedirectResponse(_safe_next(next), status_code=303)

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        if not auth.check_csrf(session_of(request), csrf):
            raise CsrfRejected("the form's CSRF token is missing or wrong; reload the page and try again")
        request.state.new_session = auth.new_session()
        return RedirectResponse("/queue", status_code=303)

    # --- JSON API -------------------------------------------------------------------------------------------
    @app.get("/api/me")
    def api_me(request: Request) -> dict[str, Any]:
        return {"reviewer": api_reviewer(request), "open_reads": settings.open_reads}

    @app.get("/api/edges")
    def api_edges(
        request: Request,
        status: str = "flagged",
        sort: str = "downstream",
        domain: str = "",
        relationship: str = "",
        extractor: str = "",
        limit: int = Query(500, ge=1, le=10_000),
        offset: int = Query(0, ge=0),
    ) -> dict[str, Any]:
        check_read(request)
        if status == "flagged":
            queue = service.queue(view_from(sort, domain, relationship, extractor))
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
        edges = service.edges(wanted)
        return {
            "status": status,
            "total": len(edges),
            "edges": [e.model_dump(mode="json") for e in edges[offset : offset + limit]],
        }

    @app.get("/api/edge")
    def api_edge(request: Request, target: str, source: str) -> dict[str, Any]:
        check_read(request)
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

    @app.post("/api/decisions")
    def api_decide(request: Request, body: DecisionIn) -> dict[str, Any]:
        reviewer = require_api_writer(request)
        outcome = service.decide(reviewer, Decision(**body.model_dump()))
        return {
            "entry": outcome.entry.model_dump(mode="json"),
            "edge": outcome.edge.model_dump(mode="json") if outcome.edge else None,
        }

    @app.get("/api/progress")
    def api_progress(request: Request) -> dict[str, Any]:
        check_read(request)
        return service.progress(api_reviewer(request))

    @app.get("/api/audit")
    def api_audit(request: Request) -> list[dict[str, Any]]:
        check_read(request)
        return [entry.model_dump(mode="json") for entry in service.audit_log()]

    return app


def _same_site_referer(request: Request) -> str | None:
    """The page the reviewer came from, when it is on this site (to go back to it after an error)."""
    referer = request.headers.get("referer")
    if not referer:
        return None
    parts = urlsplit(referer)
    if parts.netloc != request.url.netloc or not parts.path.startswith("/"):
        return None
    return _safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


def _safe_next(target: str) -> str:
    """Only same-site paths are followed after signing in."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/queue"
