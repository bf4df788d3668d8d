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

Every asset is served from ``review_ui/static``; pages allow scripts and styles from this origin only. The routes
live in ``review_ui.routes``, one router per part; what they share (the reviewer checks, the queue view a request
asks for) in ``review_ui.web``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from graph_store.base import GraphStore
from oda.errors import ConflictError, InputError, OdaError, StoreError, UnknownEdgeError
from review_ui.auth import Authenticator, Session
from review_ui.evidence import ContextSource
from review_ui.routes import account, api, forms, pages
from review_ui.service import CatalogCheck, ReviewService
from review_ui.web import AuthRequired, CsrfRejected, Review, is_api, same_site_referer

logger = logging.getLogger("oda.review")
HERE = Path(__file__).parent
SESSION_COOKIE = "oda_review_session"
DEFAULT_HUB_URL = "https://huggingface.co"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
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
    review = Review(
        service=service,
        auth=Authenticator(settings.tokens, settings.secret),
        templates=Jinja2Templates(directory=str(HERE / "templates")),
        hub_url=settings.hub_url.rstrip("/"),
        open_reads=settings.open_reads,
    )
    app = FastAPI(title="oda review", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.state.service = service
    app.state.review = review
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.middleware("http")(_session_and_headers)
    app.exception_handler(OdaError)(_oda_error)
    for part in (pages, forms, account, api):
        app.include_router(part.router)
    return app


async def _session_and_headers(request: Request, call_next: Any) -> Response:
    """Decode the session cookie into ``request.state.session`` (a new session when there is none), write the
    cookie back when a route replaced the session or a page opened a new one, and add the security headers."""
    auth: Authenticator = request.app.state.review.auth
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
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


async def _oda_error(request: Request, exc: Exception) -> Response:
    """An error as JSON (the API) or as an error page, with the status its kind calls for."""
    review: Review = request.app.state.review
    status = _status_of(exc)
    if status == 500:
        logger.error("%s %s failed: %s", request.method, request.url.path, exc)
    message = str(exc) if status != 500 or isinstance(exc, StoreError) else "internal error"
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 and is_api(request) else None
    if is_api(request):
        return JSONResponse({"error": type(exc).__name__, "detail": message}, status, headers=headers)
    context = review.page_context(request, title="Error")
    context.update(status=status, message=message, back=same_site_referer(request))
    return review.render(request, "error.html", context, status_code=status)
