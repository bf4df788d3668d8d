"""What the review app's routers share: the app's context, the reviewer checks, the queue view a request asks for,
the URLs that carry that view, and page rendering."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from oda.errors import OdaError
from review_ui.auth import Authenticator, Session
from review_ui.queue import QueueFilter
from review_ui.service import ReviewService

PAGE_SIZE = 100
DONE_MESSAGES = {
    "approve": "Approved.",
    "reject": "Rejected.",
    "edit": "Edited.",
    "repoint": "Re-pointed to the new source.",
    "undo": "Your last decision was undone; the edge is shown as it is now.",
    "skip": "Skipped.",
}
FORM_INVALID = "the form's CSRF token is missing or wrong; reload the page and try again"

# The queue view's fields, their defaults, and the names they travel under: in a query string, and in a form,
# where ``relationship`` is the decision's own field and the view's travels as ``filter_relationship``.
VIEW_DEFAULTS = {"sort": "downstream", "domain": "", "relationship": "", "extractor": ""}
VIEW_FORM_NAMES = {
    "sort": "sort",
    "domain": "domain",
    "relationship": "filter_relationship",
    "extractor": "extractor",
}
# The query-string fields, as the schema of a route that reads them describes them (``openapi_extra``).
VIEW_QUERY_SCHEMA: dict[str, Any] = {
    "parameters": [
        {
            "name": name,
            "in": "query",
            "required": False,
            "schema": {"type": "string", "default": default, "title": name.title()},
        }
        for name, default in VIEW_DEFAULTS.items()
    ]
}


class AuthRequired(OdaError):
    """No valid reviewer token (or signed-in session) for an operation that needs one."""


class CsrfRejected(OdaError):
    """A form arrived without the CSRF token of its session."""


@dataclass
class Review:
    """The app's shared parts, kept on ``app.state.review`` for the routers."""

    service: ReviewService
    auth: Authenticator
    templates: Jinja2Templates
    hub_url: str
    open_reads: bool

    # --- who is asking ----------------------------------------------------------------------------------------
    def html_reviewer(self, request: Request) -> str | None:
        """The signed-in reviewer, else the one a bearer token names."""
        return session_of(request).reviewer or self.auth.reviewer_for_header(
            request.headers.get("authorization")
        )

    def api_reviewer(self, request: Request) -> str | None:
        return self.auth.reviewer_for_header(request.headers.get("authorization"))

    def require_api_writer(self, request: Request) -> str:
        reviewer = self.api_reviewer(request)
        if reviewer is None:
            raise AuthRequired("a reviewer token is required: send 'Authorization: Bearer <token>'")
        return reviewer

    def check_csrf(self, request: Request, csrf: str) -> None:
        if not self.auth.check_csrf(session_of(request), csrf):
            raise CsrfRejected(FORM_INVALID)

    def require_form_writer(self, request: Request, csrf: str) -> str:
        reviewer = session_of(request).reviewer
        if reviewer is None:
            raise AuthRequired("sign in with your reviewer token to make decisions")
        self.check_csrf(request, csrf)
        return reviewer

    def check_read(self, request: Request) -> None:
        if self.open_reads:
            return
        reviewer = self.api_reviewer(request) if is_api(request) else self.html_reviewer(request)
        if reviewer is None:
            raise AuthRequired("reading needs a reviewer token on this server")

    def login_redirect(self, request: Request, next_path: str) -> Response | None:
        """Where a page sends a reader who must sign in first (None: the page may be shown)."""
        if self.open_reads or self.html_reviewer(request) is not None:
            return None
        return RedirectResponse("/login?" + urlencode({"next": next_path}), status_code=303)

    # --- pages ------------------------------------------------------------------------------------------------
    def hub_link(self, node_id: str) -> str | None:
        return f"{self.hub_url}/datasets/{node_id}" if self.service.node_on_hub(node_id) else None

    def page_context(self, request: Request, **extra: Any) -> dict[str, Any]:
        reviewer = session_of(request).reviewer
        try:
            progress: dict[str, Any] | None = self.service.progress(reviewer)
        except OdaError:  # an error page must render even when the store cannot answer
            progress = None
        context: dict[str, Any] = {
            "reviewer": reviewer,
            "csrf": self.auth.csrf_token(session_of(request)),
            "progress": progress,
        }
        context.update(extra)
        return context

    def render(self, request: Request, template: str, context: dict[str, Any], **options: Any) -> Response:
        response: Response = self.templates.TemplateResponse(request, template, context, **options)
        return response

    def go_to_position(self, view: QueueFilter, pos: int, done: str = "") -> RedirectResponse:
        """To the edge at ``pos`` of the queue ``view`` (its first when ``pos`` is past the end), or to the
        queue when it is empty."""
        queue = self.service.queue(view)
        if not queue.items:
            return RedirectResponse(queue_url(view, done), status_code=303)
        index = pos if 0 <= pos < len(queue.items) else 0
        edge = queue.items[index].edge
        return RedirectResponse(edge_url(edge.target, edge.source, view, index, done), status_code=303)


def review_of(request: Request) -> Review:
    """The app's ``Review`` (a dependency of every route)."""
    review: Review = request.app.state.review
    return review


def session_of(request: Request) -> Session:
    session: Session = request.state.session
    return session


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def queue_view(request: Request) -> QueueFilter:
    """The queue view a request carries (a dependency): from the query string, or from the hidden view fields of
    a form (``VIEW_FORM_NAMES``); a field that is missing or empty takes its default."""
    if request.method == "POST":
        source: Any = await request.form()
        names = VIEW_FORM_NAMES
    else:
        source = request.query_params
        names = {name: name for name in VIEW_DEFAULTS}
    values = {}
    for name, default in VIEW_DEFAULTS.items():
        value = source.get(names[name])
        values[name] = value if isinstance(value, str) and value else default
    return QueueFilter(**values).normalized()


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


def same_site_referer(request: Request) -> str | None:
    """The page the reviewer came from, when it is on this site (to go back to it after an error)."""
    referer = request.headers.get("referer")
    if not referer:
        return None
    parts = urlsplit(referer)
    if parts.netloc != request.url.netloc or not parts.path.startswith("/"):
        return None
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


def safe_next(target: str) -> str:
    """Only same-site paths are followed after signing in."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/queue"


# The dependencies routes declare: the app's ``Review`` and the queue view the request asks for.
ReviewDep = Annotated[Review, Depends(review_of)]
ViewDep = Annotated[QueueFilter, Depends(queue_view)]
