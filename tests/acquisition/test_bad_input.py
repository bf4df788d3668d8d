"""Bad input and hostile servers: each is a clear, typed, per-item error, and the run goes on."""

from __future__ import annotations

import asyncio
import json

import pytest

from acquisition import Acquirer
from oda.errors import (
    AccessDeniedError,
    AcquisitionError,
    ContentError,
    FetchTimeoutError,
    InputError,
    NotFoundError,
    OdaError,
    RateLimitedError,
)
from standins.pages import Fault

MALFORMED_IDS = [
    ("foo", "no organization"),
    ("a/b/c", "more than one"),
    ("", "empty"),
    ("   ", "empty"),
    ("org/", "malformed"),
    ("/name", "malformed"),
    ("org/na me", "malformed"),
    ("org/na--me", "malformed"),
    ("org/..", "malformed"),
    ("org/-name", "malformed"),
    ("orgé/name", "non-ASCII"),
    ("org/数据集", "non-ASCII"),
    ("org/\u200bname", "non-ASCII"),
    ("o" * 250 + "/" + "n" * 249, "characters long"),
    ("org/" + "n" * 150, "malformed"),
    ("https://example.com/datasets/a/b", "not a Hub dataset URL"),
    ("org/name\n", None),  # surrounding whitespace is trimmed: valid, and simply not found
]


@pytest.mark.parametrize(("repo_id", "reason"), MALFORMED_IDS, ids=[repr(i[0])[:30] for i in MALFORMED_IDS])
async def test_malformed_dataset_ids(hub, hub_acquirer, repo_id, reason):
    async with hub_acquirer() as acq:
        if reason is None:
            with pytest.raises(NotFoundError):
                await acq.dataset_info(repo_id)
            return
        for read in (acq.dataset_info, acq.dataset_card):
            with pytest.raises(InputError, match=reason):
                await read(repo_id)
    assert hub.requests == []  # never sent anywhere


@pytest.mark.parametrize("repo_id", [None, 42, ["a/b"]])
async def test_non_string_ids(hub_acquirer, repo_id):
    async with hub_acquirer() as acq:
        with pytest.raises(InputError, match="must be a string"):
            await acq.dataset_info(repo_id)


BAD_URLS = [
    "",
    "not a url",
    "ftp://example.com/file",
    "javascript:alert(1)",
    "http://",
    "https:///path",
    "http://exa mple.com/",
    "http://[::1/",
    "file:///etc/passwd",
    "http://example.com:99999/",
]


@pytest.mark.parametrize("url", BAD_URLS)
async def test_malformed_urls(fast_config, url):
    async with Acquirer(fast_config()) as acq:
        with pytest.raises(InputError):
            await acq.fetch_page(url)
        assert acq.stats.requests == 0 and acq.stats.failures == {"InputError": 1}


@pytest.mark.parametrize(
    ("query", "limit"), [("", 10), ("   ", 10), ("x" * 251, 10), ("ok", 0), ("ok", 5000)]
)
async def test_bad_searches(hub, hub_acquirer, query, limit):
    async with hub_acquirer() as acq:
        with pytest.raises(InputError):
            await acq.search_datasets(query, limit=limit)
    assert hub.requests == []


# ---- a misbehaving Hub: the page server answers huggingface_hub's API paths with faults ----------------------

HUB_INFO = json.dumps({"id": "org/ok", "sha": "a" * 40, "downloads": 7, "tags": []})


@pytest.mark.parametrize(
    ("fault", "error", "hits"),
    [
        (Fault(status=503), AcquisitionError, 3),
        (Fault(status=500, fail_times=2), None, 3),
        (Fault(status=429, retry_after=0), RateLimitedError, 3),
        (Fault(status=429, retry_after=0, fail_times=1), None, 2),
        (Fault(latency_s=1.5), FetchTimeoutError, 3),
        (Fault(status=502, fail_times=1), None, 2),
        (Fault(status=404, headers={"X-Error-Code": "RepoNotFound"}), NotFoundError, 1),
        (Fault(status=401, headers={"X-Error-Code": "GatedRepo"}), AccessDeniedError, 1),
        (Fault(status=400), AcquisitionError, 1),
    ],
)
async def test_hub_faults_are_retried_and_typed(pages, fast_config, fault, error, hits):
    pages.add_fault("/api/datasets/org/ok", fault, body=HUB_INFO)
    cfg = fast_config(hf_endpoint=pages.base_url, retries=2, timeout_s=0.5, backoff_base_s=0.01)
    async with Acquirer(cfg) as acq:
        if error is None:
            assert (await acq.dataset_info("org/ok")).downloads == 7
        else:
            with pytest.raises(error) as caught:
                await acq.dataset_info("org/ok")
            assert type(caught.value) is error
    assert pages.hits("/api/datasets/org/ok") == hits


async def test_hub_answer_that_is_not_json_is_a_content_error(pages, fast_config):
    pages.add_page("/api/datasets/org/ok", "<html>captive portal</html>")
    async with Acquirer(fast_config(hf_endpoint=pages.base_url)) as acq:
        with pytest.raises(ContentError):
            await acq.dataset_info("org/ok")


async def test_hub_unreachable_is_an_acquisition_error(fast_config):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with Acquirer(fast_config(hf_endpoint=f"http://127.0.0.1:{port}", retries=1)) as acq:
        with pytest.raises(AcquisitionError, match="connection"):
            await acq.dataset_info("org/ok")
        with pytest.raises(AcquisitionError):
            await acq.dataset_card("org/ok")


async def test_card_over_the_size_cap(hub_acquirer):
    async with hub_acquirer(max_bytes=100) as acq:
        with pytest.raises(ContentError, match="max_bytes"):
            await acq.dataset_card("org/alpha")


async def test_card_that_is_not_utf8(hub, world_dir, hub_acquirer):
    (world_dir / "datasets" / "org" / "beta" / "README.md").write_bytes(b"---\na: 1\n---\n\xff\xfe bad")
    async with hub_acquirer() as acq:
        with pytest.raises(ContentError, match="UTF-8"):
            await acq.dataset_card("org/beta")


async def test_a_mixed_batch_goes_on_and_reports_each_failure(hub, pages, hub_acquirer):
    pages.add_page("/fine", "<p>fine</p>")
    pages.add_fault("/huge", Fault(huge_bytes=20_000_000))
    pages.add_fault("/loop", Fault(redirect_loop=True))
    async with hub_acquirer(max_bytes=1_000_000) as acq:
        results = await asyncio.gather(
            acq.dataset_info("org/alpha"),
            acq.dataset_info("foo"),
            acq.dataset_info("org/missing"),
            acq.dataset_card("org/beta"),
            acq.fetch_page(pages.url("/fine")),
            acq.fetch_page(pages.url("/huge")),
            acq.fetch_page(pages.url("/loop")),
            acq.fetch_page("ftp://nope"),
            return_exceptions=True,
        )
        failures = dict(acq.stats.failures)
    kinds = [type(r).__name__ if isinstance(r, Exception) else "ok" for r in results]
    assert kinds == [
        "ok",
        "InputError",
        "NotFoundError",
        "ok",
        "ok",
        "ContentError",
        "ContentError",
        "InputError",
    ]
    assert all(isinstance(r, OdaError) for r in results if isinstance(r, Exception))
    assert failures == {"InputError": 2, "NotFoundError": 1, "ContentError": 2}
    assert results[3].yaml_error  # broken YAML is data, not an error
