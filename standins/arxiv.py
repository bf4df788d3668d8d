"""An arXiv API stand-in on loopback: the Atom query API, HTML full texts and PDFs, with injectable failures.

    from standins.arxiv import serve_arxiv

    papers = [{"id": "2401.01234", "title": "A Dataset", "abstract": "...", "authors": ["A. B"],
               "published": "2024-01-02T00:00:00Z", "full_text": "# 3 Data Construction\\n\\nWe..."}]
    with serve_arxiv(papers, fail_times=2, status=503) as server:
        cfg = AcquisitionConfig(arxiv_endpoint=server.query_url, arxiv_html_base=server.html_base)
        ...
        server.requests      # [(method, path_with_query), ...]

- ``GET /api/query`` answers like export.arxiv.org (see ``acquisition.atom.answer_query``).
- ``GET /html/{id}`` serves ``full_text`` as HTML (404 when a paper has none, or when ``html=False``).
- ``GET /pdf/{id}`` serves ``pdf`` bytes given in the paper record (``"pdf": b"%PDF..."``), else 404.
- ``fail_times=N`` answers ``status`` (default 503) to the first N API queries; ``retry_after`` adds the header.
- ``latency_s`` delays every answer; ``malformed=True`` answers the API with broken XML.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

from acquisition.atom import answer_query
from standins.loopback import LoopbackServer, QuietHandler, running
from standins.world import World


class _Handler(QuietHandler):
    server: ArxivServer

    def _send(self, status: int, ctype: str, body: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        server = self.server
        parts = urlsplit(self.path)
        with server.lock:
            server.requests.append(("GET", self.path))
        if server.latency_s:
            time.sleep(server.latency_s)
        if parts.path == "/api/query":
            with server.lock:
                server.api_hits += 1
                failing = server.api_hits <= server.fail_times
            if failing:
                extra = {"Retry-After": str(server.retry_after)} if server.retry_after is not None else {}
                self._send(server.status, "text/plain", b"unavailable\n", extra)
                return
            if server.malformed:
                self._send(200, "application/atom+xml", b"<feed><entry><id>broken")
                return
            params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            self._send(200, "application/atom+xml; charset=utf-8", answer_query(server.papers, params))
            return
        if parts.path.startswith("/html/") and server.html:
            page = server.world_html(parts.path[len("/html/") :])
            if page is not None:
                self._send(200, "text/html; charset=utf-8", page)
                return
        if parts.path.startswith("/pdf/"):
            paper = server.papers.get(parts.path[len("/pdf/") :].removesuffix("v1"))
            if paper and paper.get("pdf"):
                self._send(200, "application/pdf", paper["pdf"])
                return
        self._send(404, "text/plain", b"not found\n")


class ArxivServer(LoopbackServer):
    """The arXiv stand-in (see the module docstring)."""

    def __init__(
        self,
        papers: Iterable[dict[str, Any]],
        *,
        fail_times: int = 0,
        status: int = 503,
        retry_after: float | None = None,
        latency_s: float = 0.0,
        malformed: bool = False,
        html: bool = True,
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.papers = {str(p["id"]): p for p in papers}
        self.fail_times = fail_times
        self.status = status
        self.retry_after = retry_after
        self.latency_s = latency_s
        self.malformed = malformed
        self.html = html
        self.api_hits = 0
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    @property
    def query_url(self) -> str:
        return f"{self.base_url}/api/query"

    @property
    def html_base(self) -> str:
        return f"{self.base_url}/html/"

    def world_html(self, arxiv_id: str) -> bytes | None:
        return World.paper_html_of(self.papers.get(arxiv_id))


@contextmanager
def serve_arxiv(papers: Iterable[dict[str, Any]], **options: Any) -> Iterator[ArxivServer]:
    """Run an ``ArxivServer`` on an ephemeral loopback port in a daemon thread."""
    server = ArxivServer(papers, **options)
    with running(server):
        yield server
