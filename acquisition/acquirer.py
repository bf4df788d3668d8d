"""The ``Acquirer``: every read from the Hub, the web and arXiv, with retries, pacing, and record/replay.

Errors a caller sees are always ``oda.errors`` types, one per item (the run goes on)::

    InputError              malformed dataset id, URL or arXiv reference (never sent anywhere)
    AcquisitionError        connection failed, 5xx after all retries, other HTTP errors
    ├── NotFoundError       404/410, missing repo (or private: the Hub does not reveal those), card or paper
    ├── AccessDeniedError   gated or disabled repo, 401/403 from a web server
    ├── FetchTimeoutError   no complete answer within ``timeout_s`` after all retries
    ├── RateLimitedError    still 429 after all retries, or a ``Retry-After`` longer than ``max_backoff_s``
    ├── ContentError        too large, binary, not UTF-8, unexpected content type, redirect loop
    └── SnapshotMissError   offline, and the snapshot holds no answer for this read

Retries: 429, 5xx, timeouts and connection errors are retried ``retries`` times, waiting ``Retry-After`` when the
server gives one, else ``backoff_base_s * 2**attempt``. Offline replays are never retried (the answer would not
change).
"""

from __future__ import annotations

import asyncio
import difflib
import re
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from acquisition.cards import split_card
from acquisition.config import AcquisitionConfig
from acquisition.ids import arxiv_id_from_ref, check_repo_id
from acquisition.models import AcquisitionStats, Card, DatasetInfo, Page, Paper
from acquisition.snapshot import RecordedResponse, Snapshot, Tape
from acquisition.text import html_to_text, markdown_to_text, pdf_to_text, prune_paper
from acquisition.urls import check_url, classify_url, github_repo
from oda.errors import (
    AccessDeniedError,
    AcquisitionError,
    ConfigError,
    ContentError,
    FetchTimeoutError,
    InputError,
    NotFoundError,
    OdaError,
    RateLimitedError,
)

T = TypeVar("T")

DEFAULT_ARXIV_ENDPOINT = "https://export.arxiv.org/api/query"
DEFAULT_ARXIV_HTML = "https://arxiv.org/html/"
GITHUB_RAW_BASE = "https://raw.githubusercontent.com"
TEXT_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "text/markdown", "text/x-markdown")
PDF_TYPES = ("application/pdf",)
SEARCH_PAGE = 20


class _Transient(Exception):
    """An attempt failed in a way worth retrying; ``error`` is what the caller gets if retries run out."""

    def __init__(self, error: AcquisitionError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


@dataclass
class _Fetched:
    url: str
    final_url: str
    status: int
    content_type: str
    charset: str | None
    body: bytes


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        from datetime import UTC, datetime

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _status_error(status: int, url: str, retry_after: float | None = None) -> Exception:
    """The error for an HTTP status; ``_Transient`` for the retryable ones."""
    if status in (404, 410):
        return NotFoundError(f"not found ({status}): {url}", url=url)
    if status in (401, 403, 451):
        return AccessDeniedError(f"access denied ({status}): {url}", url=url)
    if status == 429:
        return _Transient(
            RateLimitedError(f"rate limited (429) by {urlsplit(url).hostname}: {url}", url=url), retry_after
        )
    if status >= 500 or status == 408:
        return _Transient(AcquisitionError(f"server error {status}: {url}", url=url), retry_after)
    return AcquisitionError(f"unexpected HTTP status {status}: {url}", url=url)


class Acquirer:
    """Reads datasets' metadata and cards from the Hub, web pages, and arXiv papers.

    ``Acquirer(config)`` does no I/O; clients, snapshots and the worker pool are created on first use. Use it as
    ``async with Acquirer(cfg) as acq: ...`` or call ``await acq.aclose()`` (which also writes the recorded
    snapshot's manifest).

    ``web_transport`` replaces the network under the web client (the offline world builder serves pages this way;
    tests route hosts to loopback servers). Recording and replay still wrap it.
    """

    def __init__(
        self,
        config: AcquisitionConfig | None = None,
        *,
        web_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config or AcquisitionConfig()
        self.stats = AcquisitionStats()
        self._web_transport = web_transport
        self._tape: Tape | None = None
        self._http: httpx.AsyncClient | None = None
        self._arxiv_client: Any = None
        self._hub_api: Any = None
        self._executor: ThreadPoolExecutor | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._limiter: Any = None
        self._lock = threading.RLock()
        self._closed = False

    # ---- lifecycle ---------------------------------------------------------------------------------------------

    async def __aenter__(self) -> Acquirer:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close clients and write the recorded manifest."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._arxiv_client is not None:
            self._arxiv_client._session.close()
            self._arxiv_client = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._tape is not None:
            self._tape.flush()
        self._closed = True

    # ---- lazily created parts ----------------------------------------------------------------------------------

    @property
    def hub_endpoint(self) -> str:
        """The Hub base URL in use: the configured one, else ``huggingface_hub``'s (``$HF_ENDPOINT``)."""
        if self.config.hf_endpoint:
            return self.config.hf_endpoint.rstrip("/")
        from huggingface_hub import constants

        return str(constants.ENDPOINT).rstrip("/")

    @property
    def arxiv_endpoint(self) -> str:
        return self.config.arxiv_endpoint or DEFAULT_ARXIV_ENDPOINT

    @property
    def arxiv_html_base(self) -> str:
        if self.config.arxiv_html_base:
            return self.config.arxiv_html_base
        if self.config.arxiv_endpoint:
            parts = urlsplit(self.config.arxiv_endpoint)
            prefix = parts.path.rsplit("/api/", 1)[0] if "/api/" in parts.path else ""
            return f"{parts.scheme}://{parts.netloc}{prefix}/html/"
        return DEFAULT_ARXIV_HTML

    def _get_tape(self) -> Tape:
        with self._lock:
            if self._tape is None:
                cfg = self.config
                replay = None
                if cfg.snapshot_dir is not None:
                    if not (cfg.snapshot_dir / "manifest.json").is_file():
                        raise ConfigError(f"snapshot directory has no manifest.json: {cfg.snapshot_dir}")
                    replay = Snapshot(cfg.snapshot_dir)
                record = None
                if cfg.record_dir is not None:
                    same = (
                        cfg.snapshot_dir is not None
                        and cfg.record_dir.resolve() == cfg.snapshot_dir.resolve()
                    )
                    record = replay if same and replay is not None else Snapshot(cfg.record_dir, create=True)
                aliases = {
                    "hub:": self.hub_endpoint,
                    "arxiv-api:": self.arxiv_endpoint,
                    "arxiv-html:": self.arxiv_html_base.rstrip("/"),
                }
                self._tape = Tape(replay, record, cfg.offline, aliases)
            return self._tape

    def _get_semaphore(self) -> asyncio.Semaphore:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.config.concurrency)
        return self._semaphore

    def _get_limiter(self) -> Any:
        if self._limiter is None:
            from acquisition.ratelimit import HostRateLimiter

            self._limiter = HostRateLimiter(
                self.config.per_host_rate, burst=max(1, round(self.config.per_host_rate))
            )
        return self._limiter

    def _get_http(self) -> httpx.AsyncClient:
        if self._closed:
            raise AcquisitionError("the acquirer is closed")
        if self._http is None:
            from acquisition.transports import EnvProxyAsyncTransport, TapeAsyncTransport

            inner = self._web_transport or EnvProxyAsyncTransport()
            transport = TapeAsyncTransport(inner, self._get_tape(), self.stats, self.config.max_bytes)
            self._http = httpx.AsyncClient(
                transport=transport,
                follow_redirects=True,
                max_redirects=10,
                timeout=httpx.Timeout(self.config.timeout_s),
                headers={"User-Agent": self.config.user_agent},
            )
        return self._http

    def _get_executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="oda-acq")
            return self._executor

    def _get_hub(self) -> Any:
        with self._lock:
            if self._hub_api is None:
                from huggingface_hub import HfApi

                from acquisition.transports import install_hub_transport

                install_hub_transport()
                self._hub_api = HfApi(endpoint=self.hub_endpoint, token=self.config.hf_token or False)
            return self._hub_api

    def _get_arxiv(self) -> Any:
        with self._lock:
            if self._arxiv_client is None:
                import arxiv

                from acquisition.transports import TapeRequestsAdapter

                client = arxiv.Client(page_size=10, delay_seconds=0.0, num_retries=0)
                client.query_url_format = self.arxiv_endpoint + "?{}"
                adapter = TapeRequestsAdapter(
                    self._get_tape(), self.stats, self.config.timeout_s, self.config.max_bytes
                )
                client._session.mount("http://", adapter)
                client._session.mount("https://", adapter)
                client._session.headers["User-Agent"] = self.config.user_agent
                self._arxiv_client = client
            return self._arxiv_client

    # ---- retry, pacing, bookkeeping ----------------------------------------------------------------------------

    async def _attempts(self, host: str, attempt: Callable[[], Awaitable[T]]) -> T:
        retries = 0 if self.config.offline else self.config.retries
        for number in range(retries + 1):
            if not self.config.offline:  # replaying a snapshot touches no server: nothing to pace
                await self._get_limiter().wait(host)
            async with self._get_semaphore():
                try:
                    return await attempt()
                except _Transient as transient:
                    failure = transient
            if number == retries:
                raise failure.error
            delay = failure.retry_after
            if delay is None:
                delay = self.config.backoff_base_s * (2**number)
            elif delay > self.config.max_backoff_s:
                raise type(failure.error)(
                    f"{failure.error} (server asks to retry after {delay:.0f}s, more than max_backoff_s)",
                    url=failure.error.url,
                ) from None
            self.stats.bump("retries")
            await asyncio.sleep(min(delay, self.config.max_backoff_s))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _tracked(self, work: Awaitable[T]) -> T:
        try:
            return await work
        except OdaError as exc:
            self.stats.fail(type(exc).__name__)
            raise

    async def _in_thread(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._get_executor(), fn)

    async def _in_thread_mapped(self, fn: Callable[[], T], to_error: Callable[[Exception], Exception]) -> T:
        """``fn`` in a worker thread: our own errors pass through, any other becomes ``to_error(exc)``."""
        try:
            return await self._in_thread(fn)
        except OdaError:
            raise
        except Exception as exc:
            raise to_error(exc) from exc

    # ---- the Hub -----------------------------------------------------------------------------------------------

    def _hub_call(self, fn: Callable[[Any], T], what: str) -> Callable[[], Awaitable[T]]:
        from acquisition.transports import HubContext, hub_context

        api = self._get_hub()
        ctx = HubContext(self._get_tape(), self.stats, self.config.timeout_s)

        def run() -> T:
            with hub_context(ctx):
                return fn(api)

        async def attempt() -> T:
            return await self._in_thread_mapped(run, lambda exc: _hub_error(exc, what))

        return attempt

    async def dataset_info(self, repo_id: str) -> DatasetInfo:
        """Metadata of a Hub dataset. ``NotFoundError`` when it does not exist (or is private)."""

        async def work() -> DatasetInfo:
            rid = check_repo_id(repo_id)
            info = await self._attempts(
                urlsplit(self.hub_endpoint).hostname or "hub",
                self._hub_call(lambda api: api.dataset_info(rid), f"dataset {rid}"),
            )
            return _dataset_info(info)

        return await self._tracked(work())

    async def dataset_card(self, repo_id: str) -> Card:
        """The dataset's README.md, split into YAML front matter and body (broken YAML is recorded, not raised)."""

        async def work() -> Card:
            rid = check_repo_id(repo_id)

            def download(api: Any) -> bytes:
                # The same HEAD + GET as hf_hub_download, minus its cache and its own retry loop (ours applies).
                from huggingface_hub import get_hf_file_metadata, get_session, hf_hub_url, hf_raise_for_status

                # listed in huggingface_hub.utils.__all__, which the type checker does not see
                from huggingface_hub.utils import build_hf_headers  # type: ignore[attr-defined,unused-ignore]

                token = self.config.hf_token or False
                file_url = hf_hub_url(rid, "README.md", repo_type="dataset", endpoint=self.hub_endpoint)
                meta = get_hf_file_metadata(
                    file_url, token=token, timeout=self.config.timeout_s, endpoint=self.hub_endpoint
                )
                if meta.size is not None and meta.size > self.config.max_bytes:
                    raise ContentError(
                        f"card of {rid} is {meta.size} bytes, more than max_bytes", url=file_url
                    )
                response = get_session().get(meta.location, headers=build_hf_headers(token=token))
                hf_raise_for_status(response)
                return response.content

            raw = await self._attempts(
                urlsplit(self.hub_endpoint).hostname or "hub", self._hub_call(download, f"card of {rid}")
            )
            url = f"{self.hub_endpoint}/datasets/{rid}/blob/main/README.md"
            if len(raw) > self.config.max_bytes:
                raise ContentError(f"card of {rid} is {len(raw)} bytes, more than max_bytes", url=url)
            text = _decode(raw, "utf-8", url, explicit=True)
            front, body, yaml_error = split_card(text)
            return Card(repo_id=rid, url=url, raw=text, front_matter=front, body=body, yaml_error=yaml_error)

        return await self._tracked(work())

    async def search_datasets(self, query: str, limit: int = 10) -> list[DatasetInfo]:
        """Hub datasets whose id contains ``query`` (the Hub's own search), at most ``limit``."""

        async def work() -> list[DatasetInfo]:
            if not isinstance(query, str) or not query.strip():
                raise InputError("search query is empty")
            if len(query) > 250:
                raise InputError(f"search query is {len(query)} characters long (at most 250)")
            if limit < 1 or limit > 1000:
                raise InputError(f"search limit must be between 1 and 1000, got {limit}")
            q = query.strip()
            # Ask for a fixed page so that one recorded search answers every limit up to SEARCH_PAGE.
            page = max(limit, SEARCH_PAGE)
            found = await self._attempts(
                urlsplit(self.hub_endpoint).hostname or "hub",
                self._hub_call(lambda api: list(api.list_datasets(search=q, limit=page)), f"search {q!r}"),
            )
            return [_dataset_info(item) for item in found[:limit]]

        return await self._tracked(work())

    # ---- the web -----------------------------------------------------------------------------------------------

    async def _fetch(self, url: str, accept: tuple[str, ...]) -> _Fetched:
        """GET ``url`` with retries, redirects, the size cap, and content-type and binary checks."""
        client = self._get_http()
        host = urlsplit(url).hostname or ""
        max_bytes = self.config.max_bytes

        async def attempt() -> _Fetched:
            try:
                # httpx bounds each connect/read/write by timeout_s; this bounds a whole trickling answer.
                async with asyncio.timeout(self.config.timeout_s * 2):
                    async with client.stream("GET", url) as response:
                        status = response.status_code
                        if status >= 400:
                            error = _status_error(
                                status, url, _retry_after(response.headers.get("retry-after"))
                            )
                            raise error
                        declared = response.headers.get("content-length")
                        if declared and declared.isdigit() and int(declared) > max_bytes:
                            raise ContentError(
                                f"{url}: body of {declared} bytes exceeds {max_bytes}", url=url
                            )
                        chunks: list[bytes] = []
                        size = 0
                        async for chunk in response.aiter_bytes():
                            size += len(chunk)
                            if size > max_bytes:
                                raise ContentError(f"{url}: body exceeds {max_bytes} bytes", url=url)
                            chunks.append(chunk)
                        content_type = response.headers.get("content-type", "")
                        return _Fetched(
                            url,
                            str(response.url),
                            status,
                            content_type.split(";")[0].strip().lower(),
                            response.charset_encoding,
                            b"".join(chunks),
                        )
            except TimeoutError as exc:
                tape = self._get_tape()
                if tape.record is not None and not tape.offline:
                    tape.keep(tape.key("GET", url), RecordedResponse(error="timeout"))
                raise _Transient(
                    FetchTimeoutError(
                        f"{url}: no complete answer within {2 * self.config.timeout_s}s", url=url
                    )
                ) from exc
            except httpx.TooManyRedirects as exc:
                raise ContentError(f"{url}: too many redirects (redirect loop?)", url=url) from exc
            except httpx.TimeoutException as exc:
                raise _Transient(
                    FetchTimeoutError(f"{url}: timed out ({type(exc).__name__})", url=url)
                ) from exc
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                raise _Transient(AcquisitionError(f"{url}: connection failed: {exc}", url=url)) from exc
            except httpx.HTTPError as exc:
                raise AcquisitionError(f"{url}: {type(exc).__name__}: {exc}", url=url) from exc

        fetched = await self._attempts(host, attempt)
        if fetched.content_type and not fetched.content_type.startswith(accept):
            raise ContentError(f"{url}: unexpected content type {fetched.content_type!r}", url=url)
        if fetched.content_type not in PDF_TYPES and b"\x00" in fetched.body[:4096]:
            raise ContentError(f"{url}: binary content (NUL bytes) where text was expected", url=url)
        return fetched

    async def fetch_page(self, url: str) -> Page:
        """A web page pruned to its main text. For a GitHub repository, its README (raw, code blocks dropped)."""

        async def work() -> Page:
            target = check_url(url)
            kind = classify_url(target)
            repo = github_repo(target) if kind == "github" else None
            if repo is not None:
                raw_url = f"{GITHUB_RAW_BASE}/{repo}/HEAD/README.md"
                try:
                    fetched = await self._fetch(raw_url, TEXT_TYPES)
                except NotFoundError:
                    fetched = None
                if fetched is not None:
                    text = _decode(fetched.body, fetched.charset, raw_url)
                    title, body = markdown_to_text(text)
                    return Page(
                        url=target,
                        final_url=fetched.final_url,
                        kind="github",
                        title=title or repo,
                        text=body,
                        content_type=fetched.content_type or "text/plain",
                        status=fetched.status,
                    )
            fetched = await self._fetch(target, TEXT_TYPES + PDF_TYPES)
            return self._page(target, kind, fetched)

        return await self._tracked(work())

    def _page(self, url: str, kind: Any, fetched: _Fetched) -> Page:
        ctype = fetched.content_type or "text/html"
        if ctype in PDF_TYPES:
            title, text = None, pdf_to_text(fetched.body)
        else:
            decoded = _decode(fetched.body, fetched.charset, url)
            if ctype in ("text/html", "application/xhtml+xml"):
                title, text = html_to_text(decoded)
            elif ctype in ("text/markdown", "text/x-markdown") or url.lower().endswith(".md"):
                title, text = markdown_to_text(decoded)
            else:
                title, text = None, decoded.strip()
        return Page(
            url=url,
            final_url=fetched.final_url,
            kind=kind,
            title=title,
            text=text,
            content_type=ctype,
            status=fetched.status,
        )

    # ---- arXiv -------------------------------------------------------------------------------------------------

    async def arxiv_paper(self, ref: str, *, full_text: bool = False) -> Paper:
        """Metadata and abstract of a paper by id, arXiv URL, hf.co/papers URL, or exact title.

        With ``full_text=True`` the paper's HTML (else its PDF) is read and pruned to the sections about data
        construction; ``text`` stays ``None`` when no full text is available.
        """

        async def work() -> Paper:
            if not isinstance(ref, str) or not ref.strip():
                raise InputError("arXiv reference is empty")
            value = ref.strip()
            arxiv_id = arxiv_id_from_ref(value)
            if arxiv_id is None:
                if value.startswith(("http://", "https://")) or len(value) > 300:
                    raise InputError(f"not an arXiv id, arXiv URL or hf.co/papers URL: {value[:100]!r}")
                if len(re.findall(r"\w+", value)) < 2:
                    raise InputError(f"not an arXiv id, and too short to search as a title: {value[:100]!r}")
            result = await self._arxiv_lookup(arxiv_id, value)
            paper = _paper(result)
            if full_text:
                text = await self._paper_text(paper.arxiv_id, getattr(result, "pdf_url", None))
                paper = paper.model_copy(update={"text": text})
            return paper

        return await self._tracked(work())

    async def _arxiv_lookup(self, arxiv_id: str | None, title: str) -> Any:
        import arxiv

        client = self._get_arxiv()
        if arxiv_id is not None:
            search = arxiv.Search(id_list=[arxiv_id], max_results=1)
        else:
            cleaned = re.sub(r"[\"():]", " ", title)
            search = arxiv.Search(query=f'ti:"{" ".join(cleaned.split())}"', max_results=5)
        url = self.arxiv_endpoint
        host = urlsplit(url).hostname or "arxiv"

        def run() -> list[Any]:
            return list(client.results(search))

        async def attempt() -> list[Any]:
            return await self._in_thread_mapped(run, lambda exc: _arxiv_error(exc, url))

        results = await self._attempts(host, attempt)
        if arxiv_id is not None:
            for item in results:
                if item.get_short_id().split("v")[0] == arxiv_id or arxiv_id in item.entry_id:
                    return item
            raise NotFoundError(f"arXiv has no paper {arxiv_id}", url=f"https://arxiv.org/abs/{arxiv_id}")
        wanted = _norm_title(title)
        scored = sorted(
            (
                (difflib.SequenceMatcher(None, wanted, _norm_title(r.title)).ratio(), i)
                for i, r in enumerate(results)
            ),
            reverse=True,
        )
        if scored and scored[0][0] >= 0.9:
            return results[scored[0][1]]
        closest = f" (closest: {results[scored[0][1]].title!r})" if scored else ""
        raise NotFoundError(f"no arXiv paper titled {title[:100]!r}{closest}", url=url)

    async def _paper_text(self, arxiv_id: str, pdf_url: str | None) -> str | None:
        """The pruned full text: the HTML rendering, else the PDF; ``None`` when neither can be read."""
        html_base = self.arxiv_html_base
        if html_base.rstrip("/").endswith("/html"):
            pdf_url = f"{html_base.rstrip('/')[: -len('html')]}pdf/{arxiv_id}"
        try:
            fetched = await self._fetch(f"{html_base}{arxiv_id}", ("text/html", "application/xhtml+xml"))
            _, text = html_to_text(_decode(fetched.body, fetched.charset, fetched.url))
        except AcquisitionError as html_error:
            if not pdf_url:
                self.stats.fail(f"full_text:{type(html_error).__name__}")
                return None
            try:
                fetched = await self._fetch(pdf_url, PDF_TYPES)
                text = pdf_to_text(fetched.body)
            except AcquisitionError as pdf_error:
                self.stats.fail(f"full_text:{type(pdf_error).__name__}")
                return None
        pruned = prune_paper(text)
        return pruned or None


# ---- conversions and error mapping ------------------------------------------------------------------------------


def _decode(body: bytes, charset: str | None, url: str, *, explicit: bool = False) -> str:
    encoding = (charset or "utf-8").lower()
    try:
        return body.decode(encoding)
    except LookupError:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ContentError(f"{url}: unknown charset {charset!r} and not valid UTF-8", url=url) from exc
    except UnicodeDecodeError as exc:
        raise ContentError(
            f"{url}: not valid {encoding.upper()} text (byte {exc.start}: {exc.reason})", url=url
        ) from exc


def _norm_title(value: str) -> str:
    return " ".join(re.findall(r"\w+", value.lower()))


def _dataset_info(info: Any) -> DatasetInfo:
    card = getattr(info, "card_data", None)
    card_data: dict[str, Any] = {}
    if card is not None:
        card_data = card.to_dict() if hasattr(card, "to_dict") else dict(card)
    from acquisition.cards import _jsonable

    return DatasetInfo(
        id=info.id,
        created_at=info.created_at,
        last_modified=info.last_modified,
        downloads=info.downloads,
        likes=info.likes,
        tags=list(info.tags or []),
        card_data=_jsonable(card_data),
        gated=bool(info.gated),
        private=bool(info.private),
        sha=info.sha,
    )


def _paper(result: Any) -> Paper:
    short = result.get_short_id()
    arxiv_id = re.sub(r"v\d+$", "", short)
    return Paper(
        arxiv_id=arxiv_id,
        title=" ".join(result.title.split()),
        abstract=" ".join(result.summary.split()),
        authors=[a.name for a in result.authors],
        published=result.published,
        url=f"https://arxiv.org/abs/{arxiv_id}",
    )


def _hub_error(exc: Exception, what: str) -> Exception:
    """Map a ``huggingface_hub``/``httpx`` exception to ours (``_Transient`` for retryable ones)."""
    from huggingface_hub import errors as hf

    from acquisition.transports import hub_http_library

    url = None
    response = getattr(exc, "response", None)
    if response is not None and getattr(response, "request", None) is not None:
        url = str(response.request.url)
    if isinstance(exc, hf.GatedRepoError):
        return AccessDeniedError(
            f"{what}: gated repo; accept its conditions on the Hub and set HF_TOKEN", url=url
        )
    if isinstance(exc, hf.DisabledRepoError):
        return AccessDeniedError(f"{what}: access to this repo is disabled", url=url)
    if isinstance(exc, hf.RepositoryNotFoundError):
        return NotFoundError(f"{what}: no such dataset on the Hub (or it is private)", url=url)
    if isinstance(exc, (hf.RemoteEntryNotFoundError, hf.RevisionNotFoundError)):
        return NotFoundError(f"{what}: not found (the repo has no such file or revision)", url=url)
    if isinstance(exc, hf.LocalEntryNotFoundError):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, Exception) and cause is not exc:
            return (
                _hub_error(cause, what)
                if not isinstance(cause, hf.LocalEntryNotFoundError)
                else (_Transient(AcquisitionError(f"{what}: the Hub could not be reached", url=url)))
            )
        return _Transient(AcquisitionError(f"{what}: the Hub could not be reached", url=url))
    if isinstance(exc, hf.OfflineModeIsEnabled):
        return AcquisitionError(
            f"{what}: HF_HUB_OFFLINE is set; use --snapshot DIR --offline instead", url=url
        )
    if isinstance(exc, hf.HfHubHTTPError) and response is not None:
        status = response.status_code
        return _status_error(status, url or what, _retry_after(response.headers.get("retry-after")))
    libs = {httpx, hub_http_library()}  # the Hub's client raises its own library's exceptions
    if isinstance(exc, tuple(lib.TimeoutException for lib in libs)):
        return _Transient(FetchTimeoutError(f"{what}: the Hub timed out", url=url))
    if isinstance(exc, tuple(c for lib in libs for c in (lib.NetworkError, lib.RemoteProtocolError))):
        return _Transient(AcquisitionError(f"{what}: connection to the Hub failed: {exc}", url=url))
    if isinstance(exc, (ValueError, KeyError, TypeError)):
        return ContentError(
            f"{what}: the Hub's answer could not be read: {type(exc).__name__}: {exc}", url=url
        )
    if isinstance(exc, OSError):
        return AcquisitionError(f"{what}: {type(exc).__name__}: {exc}", url=url)
    return AcquisitionError(f"{what}: unexpected {type(exc).__name__}: {exc}", url=url)


def _arxiv_error(exc: Exception, url: str) -> Exception:
    import arxiv
    import requests

    if isinstance(exc, arxiv.HTTPError):
        return _status_error(exc.status, exc.url)
    if isinstance(exc, arxiv.UnexpectedEmptyPageError):
        return _Transient(AcquisitionError(f"arXiv returned an empty page for {exc.url}", url=exc.url))
    if isinstance(exc, requests.Timeout):
        return _Transient(FetchTimeoutError(f"arXiv timed out: {url}", url=url))
    if isinstance(exc, requests.ConnectionError):
        return _Transient(AcquisitionError(f"connection to arXiv failed: {exc}", url=url))
    if isinstance(exc, (ValueError, KeyError, TypeError, AttributeError)):
        return ContentError(f"arXiv's answer could not be read: {type(exc).__name__}: {exc}", url=url)
    return AcquisitionError(f"arXiv: unexpected {type(exc).__name__}: {exc}", url=url)
