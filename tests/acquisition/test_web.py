"""Web pages through the real httpx client against the loopback page server, including its faults."""

from __future__ import annotations

import asyncio
import time

import pytest

from acquisition import Acquirer
from oda.errors import (
    AccessDeniedError,
    AcquisitionError,
    ContentError,
    FetchTimeoutError,
    NotFoundError,
    RateLimitedError,
)
from standins.pages import Fault

BLOG = (
    "<html><head><title>How we built it</title><style>p{}</style><script>track()</script></head><body>"
    "<header><a href='/'>Home</a></header><nav><ul><li>Menu item</li></ul></nav>"
    "<div class='sidebar'>Popular posts</div>"
    "<article><h1>How we built it</h1><p>We started from <b>org/beta</b>.</p>"
    "<pre><code>pip install secret-tool</code></pre><p>Then we filtered.</p></article>"
    "<footer>Copyright</footer><div id='cookie-banner'>Accept cookies</div></body></html>"
)


async def test_html_is_pruned_to_main_text(pages, fast_config):
    pages.add_page("/blog/post", BLOG)
    async with Acquirer(fast_config()) as acq:
        page = await acq.fetch_page(pages.url("/blog/post"))
    assert page.kind == "blog" and page.status == 200 and page.content_type == "text/html"
    assert page.title == "How we built it"
    assert "We started from org/beta." in page.text and "Then we filtered." in page.text
    for chrome in (
        "Menu item",
        "Home",
        "Popular posts",
        "Copyright",
        "track()",
        "Accept cookies",
        "pip install",
    ):
        assert chrome not in page.text


async def test_github_repo_reads_raw_readme_without_code(pages, fast_config):
    readme = "# Tool\n\n![badge](https://img.shields.io/x.svg)\n\nData comes from org/beta.\n\n```python\nimport os\n```\n"
    pages.add_page(
        "/org/tool/HEAD/README.md", readme, "text/plain; charset=utf-8", host="raw.githubusercontent.com"
    )
    pages.add_page("/org/tool", "<html><body>GitHub chrome</body></html>", host="github.com")
    async with Acquirer(fast_config(), web_transport=pages.transport()) as acq:
        page = await acq.fetch_page("https://github.com/org/tool/tree/main/src")
    assert page.kind == "github"
    assert page.final_url == "https://raw.githubusercontent.com/org/tool/HEAD/README.md"
    assert "Data comes from org/beta." in page.text
    assert "import os" not in page.text and "shields.io" not in page.text and "chrome" not in page.text


async def test_github_repo_without_readme_falls_back_to_html(pages, fast_config):
    pages.add_page(
        "/org/bare", "<html><body><main><p>A bare repository page</p></main></body></html>", host="github.com"
    )
    async with Acquirer(fast_config(), web_transport=pages.transport()) as acq:
        page = await acq.fetch_page("https://github.com/org/bare")
    assert page.kind == "github" and page.final_url == "https://github.com/org/bare"
    assert page.text == "A bare repository page"


async def test_markdown_and_plain_text_pages(pages, fast_config):
    pages.add_page("/notes.md", "# Notes\n\n```\ncode\n```\nText.", "text/markdown")
    pages.add_page("/plain", "  just text  ", "text/plain; charset=utf-8")
    async with Acquirer(fast_config()) as acq:
        md = await acq.fetch_page(pages.url("/notes.md"))
        plain = await acq.fetch_page(pages.url("/plain"))
    assert md.title == "Notes" and "code" not in md.text and "Text." in md.text
    assert plain.text == "just text"


async def test_declared_latin1_charset_is_honoured(pages, fast_config):
    pages.add_page("/latin", "<p>café</p>".encode("latin-1"), "text/html; charset=iso-8859-1")
    async with Acquirer(fast_config()) as acq:
        assert (await acq.fetch_page(pages.url("/latin"))).text == "café"


async def test_5xx_storm_shorter_than_retries_recovers(pages, fast_config):
    pages.add_fault("/flaky", Fault(status=503, fail_times=2), body="<p>finally</p>")
    async with Acquirer(fast_config(retries=3)) as acq:
        page = await acq.fetch_page(pages.url("/flaky"))
        assert acq.stats.retries == 2
    assert page.text == "finally" and pages.hits("/flaky") == 3


async def test_429_with_retry_after_is_waited_then_succeeds(pages, fast_config):
    pages.add_fault("/busy", Fault(status=429, retry_after=1, fail_times=1), body="<p>ok</p>")
    async with Acquirer(fast_config(retries=2, backoff_base_s=0.0)) as acq:
        started = time.monotonic()
        page = await acq.fetch_page(pages.url("/busy"))
        waited = time.monotonic() - started
    assert page.text == "ok"
    assert waited >= 0.9  # the server's Retry-After (1 s) was honoured, not the 0 s backoff


async def test_gather_runs_on_when_one_item_fails(pages, fast_config):
    pages.add_page("/a", "<p>a</p>")
    pages.add_fault("/b", Fault(status=500))
    pages.add_page("/c", "<p>c</p>")
    async with Acquirer(fast_config(retries=1)) as acq:
        results = await asyncio.gather(
            *(acq.fetch_page(pages.url(p)) for p in ("/a", "/b", "/c")), return_exceptions=True
        )
        assert acq.stats.failures == {"AcquisitionError": 1}
    assert results[0].text == "a" and results[2].text == "c"
    assert type(results[1]) is AcquisitionError and "500" in str(results[1])


async def test_transient_failures_with_seeded_rng_are_absorbed_by_retries(fast_config):
    from standins.pages import serve_pages

    with serve_pages(transient_failure_rate=0.3, seed=42) as server:
        for i in range(20):
            server.add_page(f"/p{i}", f"<p>page {i}</p>")
        async with Acquirer(fast_config(retries=6, concurrency=4)) as acq:
            results = await asyncio.gather(*(acq.fetch_page(server.url(f"/p{i}")) for i in range(20)))
            retries = acq.stats.retries
    assert [r.text for r in results] == [f"page {i}" for i in range(20)]
    assert retries > 0 and len(server.requests) == 20 + retries


async def test_concurrency_is_bounded(fast_config):
    from standins.pages import serve_pages

    with serve_pages() as server:
        for i in range(12):
            server.add_fault(f"/p{i}", Fault(latency_s=0.15), body="<p>x</p>")
        active = 0
        peak = 0
        real_handle = server.RequestHandlerClass._answer

        def counting(handler, send_body):
            nonlocal active, peak
            with server._lock:
                active += 1
                peak = max(peak, active)
            try:
                real_handle(handler, send_body)
            finally:
                with server._lock:
                    active -= 1

        server.RequestHandlerClass._answer = counting
        try:
            async with Acquirer(fast_config(concurrency=3)) as acq:
                await asyncio.gather(*(acq.fetch_page(server.url(f"/p{i}")) for i in range(12)))
        finally:
            server.RequestHandlerClass._answer = real_handle
    assert 1 < peak <= 3


async def test_per_host_rate_limit_paces_requests(pages, fast_config):
    for i in range(4):
        pages.add_page(f"/r{i}", "<p>r</p>")
    # 2 requests/s with a burst of 2: requests 3 and 4 wait 0.5 s and 1 s for their tokens.
    async with Acquirer(fast_config(per_host_rate=2.0, concurrency=8)) as acq:
        started = time.monotonic()
        await asyncio.gather(*(acq.fetch_page(pages.url(f"/r{i}")) for i in range(4)))
        paced = time.monotonic() - started
    assert paced >= 0.9


def _describe(fault: Fault) -> str:
    """A test id naming the fault's non-default fields, e.g. ``status=429,retry_after=3600``."""
    defaults = Fault()
    changed = [f"{name}={value}" for name, value in vars(fault).items() if value != getattr(defaults, name)]
    return ",".join(changed).replace(" ", "_")[:60]


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        (Fault(status=404), NotFoundError, "404"),
        (Fault(status=410), NotFoundError, "410"),
        (Fault(status=401), AccessDeniedError, "401"),
        (Fault(status=403), AccessDeniedError, "403"),
        (Fault(status=451), AccessDeniedError, "451"),
        (Fault(status=400), AcquisitionError, "400"),
        (Fault(status=429), RateLimitedError, "429"),
        (Fault(status=429, retry_after=3600), RateLimitedError, "retry after"),
        (Fault(status=429, retry_after="Wed, 21 Oct 2099 07:28:00 GMT"), RateLimitedError, "retry after"),
        (Fault(status=500), AcquisitionError, "500"),
        (Fault(status=502), AcquisitionError, "502"),
        (Fault(status=503, retry_after=0), AcquisitionError, "503"),
        (Fault(status=504), AcquisitionError, "504"),
        (Fault(latency_s=1.5), FetchTimeoutError, "timed out"),
        (Fault(slow_body_s=2.0), FetchTimeoutError, "no complete answer"),
        (Fault(redirect_loop=True), ContentError, "redirect"),
        (Fault(huge_bytes=20_000_000), ContentError, "exceeds"),
        (Fault(huge_bytes=20_000_000, declare_length=False), ContentError, "exceeds"),
        (Fault(binary=True), ContentError, "content type"),
        (Fault(binary=True, content_type="text/html"), ContentError, "binary"),
        (Fault(invalid_utf8=True), ContentError, "UTF-8"),
        (Fault(binary=True, content_type="image/png"), ContentError, "image/png"),
    ],
    ids=lambda v: _describe(v) if isinstance(v, Fault) else "",
)
async def test_web_failures_are_typed_per_item(pages, fast_config, fault, error, message):
    pages.add_fault("/bad", fault, body="<p>never mind</p>" if fault.slow_body_s else None)
    pages.add_page("/good", "<p>fine</p>")
    cfg = fast_config(retries=1, timeout_s=0.5, max_bytes=1_000_000, max_backoff_s=5.0, backoff_base_s=0.01)
    async with Acquirer(cfg) as acq:
        with pytest.raises(error, match=message) as caught:
            await acq.fetch_page(pages.url("/bad"))
        assert type(caught.value) is error
        assert caught.value.url is not None
        assert (await acq.fetch_page(pages.url("/good"))).text == "fine"  # the run goes on
        assert acq.stats.failures == {error.__name__: 1}


async def test_web_reads_honour_the_proxy_environment(pages, fast_config, monkeypatch):
    # the page server answers absolute-form requests, so it stands in for a forward proxy
    pages.add_page("/proxied", "<html><body><p>Served through the proxy.</p></body></html>")
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", pages.base_url)
    monkeypatch.setenv("http_proxy", pages.base_url)
    async with Acquirer(fast_config(retries=0)) as acq:
        page = await acq.fetch_page("http://pages.invalid/proxied")
    assert "Served through the proxy." in page.text
    assert pages.hits("/proxied") == 1
    monkeypatch.setenv("NO_PROXY", "pages.invalid")
    monkeypatch.setenv("no_proxy", "pages.invalid")
    async with Acquirer(fast_config(retries=0)) as acq:
        with pytest.raises(AcquisitionError):  # exempt from the proxy: the unresolvable host itself is tried
            await acq.fetch_page("http://pages.invalid/proxied")
    assert pages.hits("/proxied") == 1
