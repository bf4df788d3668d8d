"""A local web server for tests and benchmarks, with faults injectable per path.

    from standins.pages import Fault, serve_pages

    with serve_pages(seed=7) as server:
        server.add_page("/post", "<html><body><article><p>Hi</p></article></body></html>")
        server.add_page("/readme", "# Repo", content_type="text/markdown", host="raw.githubusercontent.com")
        server.add_fault("/busy", Fault(status=429, retry_after=1))
        server.add_fault("/flaky", Fault(status=503, fail_times=3), body="<p>ok at last</p>")
        url = server.url("/post")                   # http://127.0.0.1:PORT/post
        transport = server.transport()              # httpx transport sending *any* host here (virtual hosts)
        assert server.hits("/flaky") == 4

Pages are looked up by ``(Host header, path)``, then by path alone, so ``transport()`` lets a client fetch
``https://github.com/o/r`` or ``https://raw.githubusercontent.com/...`` from this server: the request goes to
loopback over plain HTTP with the original ``Host`` header, and the client still sees the original URL.

``Fault`` fields (all optional, combinable):

- ``latency_s``: sleep before answering.
- ``status`` (+ ``retry_after``, ``headers``): answer this status instead of the page; with ``fail_times=N`` only
  the first N requests fail, later ones get the page (a 5xx storm, or 429 then success).
- ``redirect_loop``: 302 back to the same path, forever.
- ``huge_bytes``: a body of that many bytes (text), ``declare_length`` says whether Content-Length is sent.
- ``binary``: seeded random bytes, served with ``content_type`` (default ``application/octet-stream``).
- ``invalid_utf8``: HTML declared as UTF-8 containing invalid byte sequences.
- ``slow_body_s``: send the headers, then trickle the body over that many seconds.

``serve_pages(transient_failure_rate=p, seed=s)`` makes every request fail with 503 with probability ``p``, drawn
from ``random.Random(seed)`` so that runs are reproducible. ``latency_s`` adds a fixed delay to every request.
Every request is logged in ``server.requests`` as ``(method, host, path)``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from standins.loopback import LoopbackServer, QuietHandler, running


@dataclass
class Fault:
    """What goes wrong on one path (see the module docstring)."""

    latency_s: float = 0.0
    status: int | None = None
    retry_after: float | str | None = None
    fail_times: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    redirect_loop: bool = False
    huge_bytes: int | None = None
    declare_length: bool = True
    binary: bool = False
    invalid_utf8: bool = False
    slow_body_s: float | None = None
    content_type: str | None = None


@dataclass
class _Page:
    body: bytes
    content_type: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class _Handler(QuietHandler):
    server: PageServer

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _send(self, status: int, headers: dict[str, str], body: bytes, send_body: bool) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _answer(self, send_body: bool) -> None:
        server = self.server
        host = (self.headers.get("Host") or "").split(":")[0]
        path = urlsplit(self.path).path
        hit = server._log(self.command, host, path)
        if server.latency_s:
            time.sleep(server.latency_s)
        if server._transient_fail():
            self._send(503, {"Content-Type": "text/plain"}, b"transient failure\n", send_body)
            return
        fault = server._faults.get((host, path)) or server._faults.get((None, path))
        page = server._pages.get((host, path)) or server._pages.get((None, path))
        if fault is not None:
            if fault.latency_s:
                time.sleep(fault.latency_s)
            if fault.status is not None and (fault.fail_times is None or hit <= fault.fail_times):
                headers = {"Content-Type": "text/plain", **fault.headers}
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(fault.retry_after)
                self._send(fault.status, headers, f"error {fault.status}\n".encode(), send_body)
                return
            if fault.redirect_loop:
                self._send(302, {"Location": self.path}, b"", send_body)
                return
            if fault.huge_bytes is not None:
                self._huge(fault, send_body)
                return
            if fault.binary:
                body = random.Random(server.seed).randbytes(4096)
                self._send(
                    200, {"Content-Type": fault.content_type or "application/octet-stream"}, body, send_body
                )
                return
            if fault.invalid_utf8:
                body = b"<html><body><p>caf\xc3 au lait \xff\xfe broken</p></body></html>"
                self._send(200, {"Content-Type": "text/html; charset=utf-8"}, body, send_body)
                return
            if fault.slow_body_s is not None:
                self._slow(fault, page, send_body)
                return
        if page is None:
            self._send(404, {"Content-Type": "text/plain"}, b"not found\n", send_body)
            return
        ctype = (fault.content_type if fault and fault.content_type else None) or page.content_type
        self._send(page.status, {"Content-Type": ctype, **page.headers}, page.body, send_body)

    def _huge(self, fault: Fault, send_body: bool) -> None:
        total = fault.huge_bytes or 0
        self.send_response(200)
        self.send_header("Content-Type", fault.content_type or "text/html; charset=utf-8")
        if fault.declare_length:
            self.send_header("Content-Length", str(total))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if not send_body:
            return
        chunk = (b"<p>" + b"lorem ipsum " * 85 + b"</p>\n")[:1024]
        sent = 0
        try:
            while sent < total:
                piece = chunk[: min(len(chunk), total - sent)]
                self.wfile.write(piece)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _slow(self, fault: Fault, page: _Page | None, send_body: bool) -> None:
        body = page.body if page else b"<html><body><p>" + b"slow " * 20 + b"</p></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", page.content_type if page else "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not send_body:
            return
        steps = max(1, min(len(body), 20))
        size = -(-len(body) // steps)
        try:
            for start in range(0, len(body), size):
                self.wfile.write(body[start : start + size])
                self.wfile.flush()
                time.sleep((fault.slow_body_s or 0) / steps)
        except (BrokenPipeError, ConnectionResetError):
            pass


class PageServer(LoopbackServer):
    """The page server (see the module docstring)."""

    allow_reuse_address = True

    def __init__(self, *, transient_failure_rate: float = 0.0, seed: int = 0, latency_s: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seed = seed
        self.latency_s = latency_s
        self.transient_failure_rate = transient_failure_rate
        self._rng = random.Random(seed)
        self._pages: dict[tuple[str | None, str], _Page] = {}
        self._faults: dict[tuple[str | None, str], Fault] = {}
        self._hits: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str, str]] = []

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def add_page(
        self,
        path: str,
        body: str | bytes,
        content_type: str = "text/html; charset=utf-8",
        *,
        host: str | None = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> str:
        """Serve ``body`` at ``path`` (on ``host`` only, when given). Returns the loopback URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self._pages[(host, path)] = _Page(data, content_type, status, dict(headers or {}))
        return self.url(path)

    def add_fault(
        self, path: str, fault: Fault, *, host: str | None = None, body: str | bytes | None = None
    ) -> str:
        """Make ``path`` misbehave; ``body`` is the page served once the fault lets requests through."""
        self._faults[(host, path)] = fault
        if body is not None:
            self.add_page(path, body, host=host)
        return self.url(path)

    def hits(self, path: str) -> int:
        """How many requests reached ``path`` (any host)."""
        with self._lock:
            return sum(count for (_, p), count in self._hits.items() if p == path)

    def _log(self, method: str, host: str, path: str) -> int:
        with self._lock:
            self.requests.append((method, host, path))
            key = (host, path)
            self._hits[key] = self._hits.get(key, 0) + 1
            return sum(count for (_, p), count in self._hits.items() if p == path)

    def _transient_fail(self) -> bool:
        if self.transient_failure_rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < self.transient_failure_rate

    def transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport that sends every request, whatever its host, to this server."""
        return _LoopbackTransport(self.server_address[1])


class _LoopbackTransport(httpx.AsyncBaseTransport):
    def __init__(self, port: int) -> None:
        self._port = port
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        original = request.url
        request.headers["Host"] = original.host
        request.url = original.copy_with(scheme="http", host="127.0.0.1", port=self._port)
        try:
            return await self._inner.handle_async_request(request)
        finally:
            request.url = original

    async def aclose(self) -> None:
        await self._inner.aclose()


@contextmanager
def serve_pages(
    *, transient_failure_rate: float = 0.0, seed: int = 0, latency_s: float = 0.0
) -> Iterator[PageServer]:
    """Run a ``PageServer`` on an ephemeral loopback port in a daemon thread."""
    server = PageServer(transient_failure_rate=transient_failure_rate, seed=seed, latency_s=latency_s)
    with running(server):
        yield server
