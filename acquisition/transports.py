"""Record/replay at the transport boundary of each HTTP client the layer uses.

- Web pages: our own ``httpx.AsyncClient`` with ``TapeAsyncTransport`` around ``EnvProxyAsyncTransport`` (the
  network, through ``$HTTPS_PROXY``/``$HTTP_PROXY`` unless ``$NO_PROXY`` exempts the host, as httpx's own client).
- The Hub: ``huggingface_hub`` sends every request through one shared client, built by a factory that
  ``huggingface_hub.set_client_factory`` replaces. The client comes from the HTTP library the installed release is
  built on: ``httpx`` for 1.x, ``httpx2`` (the same API under another name) for 2.x; ``hub_http_library()`` says
  which. The library retries and maps errors (``GatedRepoError``, ``RepositoryNotFoundError``, 5xx retries) only for
  exceptions of *its* library, so ``install_hub_transport()`` installs a factory whose client is the library's usual
  one, of that library (same event hook, redirects, no default timeout), with a ``HubTapeTransport`` underneath.
  That transport is a plain pass-through unless the calling thread runs inside ``hub_context(...)`` (a
  ``ContextVar``, copied into worker threads by ``asyncio.to_thread``), so other users of ``huggingface_hub`` in
  the same process are unaffected, and ``HF_ENDPOINT`` keeps meaning what the library says it means.
- arXiv: the ``arxiv`` package uses a ``requests.Session``; ``TapeRequestsAdapter`` (a ``requests`` transport
  adapter) is mounted on it for ``http://`` and ``https://``.

Each transport asks the run's ``Tape`` first (replay, or ``SnapshotMissError`` offline), otherwise goes live and,
when recording, stores the answer. A recorded transport failure (timeout, refused connection) is raised again on
replay as the same kind of exception the client library would have seen.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import ModuleType
from typing import Any, cast

import httpx
import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from acquisition.models import AcquisitionStats
from acquisition.snapshot import RecordedResponse, Tape, keep_headers


def _error_kind_httpx(exc: Exception, lib: ModuleType = httpx) -> str | None:
    """What a transport failure of ``lib`` (``httpx`` or ``httpx2``) is recorded as."""
    if isinstance(exc, lib.TimeoutException):
        return "timeout"
    if isinstance(exc, lib.ConnectError):
        return "connect"
    if isinstance(exc, (lib.RemoteProtocolError, lib.ReadError)):
        return "protocol"
    return None


def _raise_httpx(kind: str, request: Any, lib: ModuleType = httpx) -> None:
    message = f"recorded {kind} failure"
    if kind == "timeout":
        raise lib.ReadTimeout(message, request=request)
    if kind == "connect":
        raise lib.ConnectError(message, request=request)
    raise lib.RemoteProtocolError(message, request=request)


def _replayed_httpx(found: RecordedResponse, request: Any, lib: ModuleType = httpx) -> Any:
    """A recorded answer as a ``lib.Response`` to ``request`` (or the recorded failure, raised again)."""
    if found.error:
        _raise_httpx(found.error, request, lib)
    headers = dict(found.headers)
    if request.method != "HEAD":
        headers.pop("content-length", None)
    return lib.Response(found.status, headers=headers, content=found.body, request=request)


def _recordable(status: int, headers: Any, body: bytes, truncated: bool, method: str) -> RecordedResponse:
    kept = keep_headers(headers)
    if truncated or method != "HEAD":
        kept.pop("content-length", None)
    return RecordedResponse(status=status, headers=kept, body=body)


def _env_proxy_for(url: Any) -> str | None:
    """The proxy ``$HTTPS_PROXY``/``$HTTP_PROXY``/``$ALL_PROXY`` names for ``url``, unless ``$NO_PROXY`` exempts its
    host (what a client built without an explicit transport would use)."""
    import urllib.request

    host = url.host
    if not host or urllib.request.proxy_bypass(host):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(url.scheme) or proxies.get("all")


class _ProxyChoices:
    """``_env_proxy_for`` once per scheme and host: the environment is read when a transport first reaches a
    host, as a client reads it when it is built, not on every request."""

    def __init__(self) -> None:
        self._chosen: dict[tuple[str, str], str | None] = {}

    def for_url(self, url: Any) -> str | None:
        key = (url.scheme, url.host)
        if key not in self._chosen:
            self._chosen[key] = _env_proxy_for(url)
        return self._chosen[key]


class EnvProxyAsyncTransport(httpx.AsyncBaseTransport):
    """Plain network access for web reads that honours the proxy environment variables, as httpx's own client
    does when no transport is given (a client given a transport ignores them)."""

    def __init__(self) -> None:
        self._direct = httpx.AsyncHTTPTransport(retries=0)
        self._proxied: dict[str, httpx.AsyncHTTPTransport] = {}
        self._proxies = _ProxyChoices()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        proxy = self._proxies.for_url(request.url)
        if proxy is None:
            return await self._direct.handle_async_request(request)
        if proxy not in self._proxied:
            self._proxied[proxy] = httpx.AsyncHTTPTransport(retries=0, proxy=proxy)
        return await self._proxied[proxy].handle_async_request(request)

    async def aclose(self) -> None:
        await self._direct.aclose()
        for transport in self._proxied.values():
            await transport.aclose()


class TapeAsyncTransport(httpx.AsyncBaseTransport):
    """Async transport for web reads: replay from / record to the tape around a real transport.

    When recording, the body is read here, raw (still content-encoded), up to ``max_bytes + 1`` bytes: enough for
    the client to see that a page is too large, without pulling 20 MB into the snapshot.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, tape: Tape, stats: AcquisitionStats, max_bytes: int):
        self.inner = inner
        self.tape = tape
        self.stats = stats
        self.max_bytes = max_bytes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        key = self.tape.key(request.method, str(request.url), body or None)
        found = self.tape.find(key)
        if found is not None:
            self.stats.bump("replayed")
            return cast(httpx.Response, _replayed_httpx(found, request))
        self.stats.bump("requests")
        if self.tape.record is None:
            return await self.inner.handle_async_request(request)
        try:
            response = await self.inner.handle_async_request(request)
        except httpx.TransportError as exc:
            self._record_error(key, exc)
            raise
        chunks: list[bytes] = []
        size = 0
        truncated = False
        try:
            if response.is_stream_consumed:  # an in-memory response (e.g. from an injected transport)
                chunks.append(response.content)
                size = len(response.content)
                truncated = size > self.max_bytes
            else:
                async for chunk in response.aiter_raw():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > self.max_bytes:
                        truncated = True
                        break
        except httpx.TransportError as exc:
            self._record_error(key, exc)
            raise
        finally:
            await response.aclose()
        raw = b"".join(chunks)[: self.max_bytes + 1]
        recorded = _recordable(response.status_code, response.headers, raw, truncated, request.method)
        self.tape.keep(key, recorded)
        self.stats.bump("recorded")
        return cast(httpx.Response, _replayed_httpx(recorded, request))

    def _record_error(self, key: str, exc: httpx.TransportError) -> None:
        """Keep a connection failure on the tape (the kinds a replay can reproduce)."""
        kind = _error_kind_httpx(exc)
        if kind:
            self.tape.keep(key, RecordedResponse(error=kind))
            self.stats.bump("recorded")

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class HubContext:
    """What ``HubTapeTransport`` needs from the current run."""

    tape: Tape
    stats: AcquisitionStats
    timeout_s: float


_REPO_PATH_RE = re.compile(r"^(/[^/]+)*?/(api/)?(datasets|models|spaces)(/|$)")
_HUB_CONTEXT: ContextVar[HubContext | None] = ContextVar("oda_hub_context", default=None)
_install_lock = threading.Lock()
_installed_factory: Any = None


@contextmanager
def hub_context(ctx: HubContext) -> Iterator[None]:
    """Route ``huggingface_hub`` requests made in this context through ``ctx``'s tape, with its timeout."""
    token = _HUB_CONTEXT.set(ctx)
    try:
        yield
    finally:
        _HUB_CONTEXT.reset(token)


def hub_http_library() -> ModuleType:
    """The HTTP library the installed ``huggingface_hub`` builds its client from: ``httpx`` (1.x) or ``httpx2`` (2.x).

    The library's retries and error mapping only recognise that library's exceptions, so every client handed to it
    must come from the same module."""
    from huggingface_hub.utils import _http

    for name in ("httpx2", "httpx"):
        lib = getattr(_http, name, None)
        if isinstance(lib, ModuleType) and hasattr(lib, "Client"):
            return lib
    from huggingface_hub import get_session  # a layout we do not know: ask the client itself

    return sys.modules[type(get_session()).__module__.split(".", 1)[0]]


class _HubTape:
    """The tape logic of ``HubTapeTransport``, over any httpx-compatible library ``lib``."""

    lib: ModuleType = httpx

    def __init__(self, inner: Any = None) -> None:
        self.inner = inner or _EnvProxyTransport(self.lib)

    def handle_request(self, request: Any) -> Any:
        lib = self.lib
        ctx = _HUB_CONTEXT.get()
        if ctx is None:
            return self.inner.handle_request(request)
        request.extensions["timeout"] = lib.Timeout(ctx.timeout_s).as_dict()
        if not _REPO_PATH_RE.match(request.url.path):
            # The library's own housekeeping (e.g. its agent-harness registry): never part of a snapshot.
            if ctx.tape.offline:
                raise lib.ConnectError("offline: not a repository read", request=request)
            return self.inner.handle_request(request)
        body = request.read()
        key = ctx.tape.key(request.method, str(request.url), body or None)
        found = ctx.tape.find(key)
        if found is not None:
            ctx.stats.bump("replayed")
            return _replayed_httpx(found, request, lib)
        ctx.stats.bump("requests")
        if ctx.tape.record is None:
            return self.inner.handle_request(request)
        try:
            response = self.inner.handle_request(request)
            try:
                raw = response.content if response.is_stream_consumed else b"".join(response.iter_raw())
            finally:
                response.close()
        except lib.TransportError as exc:
            kind = _error_kind_httpx(exc, lib)
            if kind:
                ctx.tape.keep(key, RecordedResponse(error=kind))
            raise
        recorded = _recordable(response.status_code, response.headers, raw, False, request.method)
        ctx.tape.keep(key, recorded)
        ctx.stats.bump("recorded")
        return _replayed_httpx(recorded, request, lib)

    def close(self) -> None:
        self.inner.close()


class _EnvProxyTransport:
    """The network under the Hub's client, honouring the proxy environment variables like the library's default
    client (which has no explicit transport) does."""

    def __init__(self, lib: ModuleType) -> None:
        self.lib = lib
        self._direct = lib.HTTPTransport()
        self._proxied: dict[str, Any] = {}
        self._proxies = _ProxyChoices()
        self._lock = threading.Lock()

    def handle_request(self, request: Any) -> Any:
        proxy = self._proxies.for_url(request.url)
        if proxy is None:
            return self._direct.handle_request(request)
        with self._lock:
            if proxy not in self._proxied:
                self._proxied[proxy] = self.lib.HTTPTransport(proxy=proxy)
            transport = self._proxied[proxy]
        return transport.handle_request(request)

    def close(self) -> None:
        self._direct.close()
        for transport in self._proxied.values():
            transport.close()


_transport_classes: dict[str, type[Any]] = {}


def hub_transport_class(lib: ModuleType | None = None) -> type[Any]:
    """``HubTapeTransport`` for ``lib`` (default: ``hub_http_library()``): a ``lib.BaseTransport`` subclass."""
    lib = lib or hub_http_library()
    cls = _transport_classes.get(lib.__name__)
    if cls is None:
        cls = type(
            "HubTapeTransport",
            (_HubTape, lib.BaseTransport),
            {
                "lib": lib,
                "__doc__": "Sync transport under ``huggingface_hub``'s shared client (module docstring).",
            },
        )
        _transport_classes[lib.__name__] = cls
    return cls


HubTapeTransport = hub_transport_class(httpx)
"""The transport under an ``httpx`` client (huggingface_hub 1.x); ``hub_transport_class()`` gives the one in use."""


def _hub_client_factory() -> Any:
    lib = hub_http_library()
    try:  # the library's own request hook: offline-mode guard, request ids, download counter
        from huggingface_hub.utils._http import hf_request_event_hook

        hooks: dict[str, list[Any]] = {"request": [hf_request_event_hook]}
    except ImportError:  # pragma: no cover - older or newer layouts
        hooks = {}
    transport = hub_transport_class(lib)()
    return lib.Client(event_hooks=hooks, follow_redirects=True, timeout=None, transport=transport)


def install_hub_transport() -> None:
    """Make ``huggingface_hub``'s shared client use ``HubTapeTransport`` (idempotent, thread-safe)."""
    global _installed_factory
    import huggingface_hub

    with _install_lock:
        if _installed_factory is not None:
            session = huggingface_hub.get_session()
            if isinstance(getattr(session, "_transport", None), _HubTape):
                return
        huggingface_hub.set_client_factory(_hub_client_factory)
        _installed_factory = _hub_client_factory


class TapeRequestsAdapter(HTTPAdapter):
    """``requests`` transport adapter (for the ``arxiv`` package): tape replay/record and a default timeout."""

    def __init__(self, tape: Tape, stats: AcquisitionStats, timeout_s: float, max_bytes: int) -> None:
        super().__init__(max_retries=0)
        self.tape = tape
        self.stats = stats
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        raw_body = request.body
        body = (
            raw_body
            if isinstance(raw_body, bytes)
            else raw_body.encode()
            if isinstance(raw_body, str)
            else b""
        )
        key = self.tape.key(request.method or "GET", request.url or "", body or None)
        found = self.tape.find(key)
        if found is not None:
            self.stats.bump("replayed")
            return self._replayed(found, request)
        self.stats.bump("requests")
        kwargs["timeout"] = (self.timeout_s, self.timeout_s)
        kwargs["stream"] = True
        try:
            response = super().send(request, **kwargs)
            raw = response.raw.read(self.max_bytes + 1, decode_content=True) or b""
            response.close()
        except requests.Timeout:
            self._keep_error(key, "timeout")
            raise
        except requests.ConnectionError as exc:
            self._keep_error(key, "timeout" if "timed out" in str(exc).lower() else "connect")
            raise
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-encoding"}
        recorded = _recordable(
            response.status_code, headers, raw, len(raw) > self.max_bytes, request.method or "GET"
        )
        if self.tape.record is not None:
            self.tape.keep(key, recorded)
            self.stats.bump("recorded")
        return self._replayed(recorded, request)

    def _keep_error(self, key: str, kind: str) -> None:
        if self.tape.record is not None:
            self.tape.keep(key, RecordedResponse(error=kind))
            self.stats.bump("recorded")

    @staticmethod
    def _replayed(found: RecordedResponse, request: requests.PreparedRequest) -> requests.Response:
        if found.error == "timeout":
            raise requests.ReadTimeout("recorded timeout", request=request)
        if found.error:
            raise requests.ConnectionError(f"recorded {found.error} failure", request=request)
        response = requests.Response()
        response.status_code = found.status
        response.headers = CaseInsensitiveDict(found.headers)
        response._content = found.body
        response.url = request.url or ""
        response.request = request
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        return response
