"""Recording and replaying every kind of read; snapshots built from worlds; serving snapshots."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import huggingface_hub
import pytest
from typer.testing import CliRunner

from acquisition import Acquirer, AcquisitionConfig
from acquisition.snapshot import Snapshot, canonical_url, request_key
from oda.cli import app
from oda.errors import ConfigError, FetchTimeoutError, NotFoundError, SnapshotMissError
from standins.hub import serve_hub
from standins.pages import Fault
from standins.snapshot_builder import build_snapshot, build_snapshot_async


async def _read_everything(acq: Acquirer) -> list[str]:
    """One read of each kind; results as JSON strings (errors by type and message)."""
    calls = [
        acq.dataset_info("org/alpha"),
        acq.dataset_card("org/alpha"),
        acq.dataset_card("org/beta"),
        acq.search_datasets("alpha"),
        acq.dataset_info("org/missing"),
        acq.fetch_page("https://github.com/org/alpha-code"),
        acq.fetch_page("https://blog.example.com/posts/alpha"),
        acq.fetch_page("https://blog.example.com/dead"),
        acq.arxiv_paper("2401.01234", full_text=True),
        acq.arxiv_paper("Alpha: Rewriting Math Problems at Scale"),
    ]
    out = []
    for result in await asyncio.gather(*calls, return_exceptions=True):
        if isinstance(result, Exception):
            out.append(f"{type(result).__name__}: {result}")
        elif isinstance(result, list):
            out.append(json.dumps([r.model_dump(mode="json") for r in result]))
        else:
            out.append(result.model_dump_json())
    return out


@pytest.fixture
def world_pages(world_dir):
    from standins.world import World, WorldTransport

    return WorldTransport(World(world_dir))


async def test_record_then_offline_replay_is_identical(hub, world_dir, world_pages, fast_config, tmp_path):
    snap = tmp_path / "snap"
    live_cfg = fast_config(
        hf_endpoint=hub.base_url, arxiv_endpoint=f"{hub.base_url}/arxiv/api/query", record_dir=snap
    )
    async with Acquirer(live_cfg, web_transport=world_pages) as acq:
        live = await _read_everything(acq)
        assert acq.stats.recorded > 0
    served = len(hub.requests)
    # Offline, against the default endpoints: every read comes from the snapshot, none reaches a server.
    offline_cfg = fast_config(
        snapshot_dir=snap,
        offline=True,
        hf_endpoint=hub.base_url,
        arxiv_endpoint=f"{hub.base_url}/arxiv/api/query",
    )
    async with Acquirer(offline_cfg) as acq:
        replayed = await _read_everything(acq)
        assert acq.stats.requests == 0 and acq.stats.replayed > 0
    assert replayed == live
    assert len(hub.requests) == served
    assert "NotFoundError" in live[4] and "NotFoundError" in live[7]


async def test_snapshot_replays_against_any_endpoint(hub, fast_config, tmp_path):
    snap = tmp_path / "snap"
    async with Acquirer(fast_config(hf_endpoint=hub.base_url, record_dir=snap)) as acq:
        recorded = await acq.dataset_info("org/alpha")
    async with Acquirer(
        fast_config(hf_endpoint="https://huggingface.co", snapshot_dir=snap, offline=True)
    ) as acq:
        assert await acq.dataset_info("org/alpha") == recorded


async def test_replayed_bytes_are_identical_to_recorded(pages, fast_config, tmp_path):
    body = "<html><body><article><p>caf\u00e9 \u2014 \U0001f600</p></article></body></html>".encode()
    pages.add_page("/page", body)
    snap = tmp_path / "snap"
    async with Acquirer(fast_config(record_dir=snap)) as acq:
        live = await acq.fetch_page(pages.url("/page"))
    snapshot = Snapshot(snap)
    key = request_key("GET", pages.url("/page"))
    assert snapshot.lookup(key).body == body
    digest = snapshot.entry(key)["blob"]
    assert (snap / "blobs" / digest[:2] / digest[2:]).read_bytes() == body
    async with Acquirer(fast_config(snapshot_dir=snap, offline=True)) as acq:
        assert await acq.fetch_page(pages.url("/page")) == live


async def test_offline_miss_is_a_per_item_error(hub, fast_config, tmp_path):
    snap = tmp_path / "snap"
    async with Acquirer(fast_config(hf_endpoint=hub.base_url, record_dir=snap)) as acq:
        await acq.dataset_info("org/alpha")
    async with Acquirer(fast_config(hf_endpoint=hub.base_url, snapshot_dir=snap, offline=True)) as acq:
        results = await asyncio.gather(
            acq.dataset_info("org/alpha"),
            acq.dataset_info("org/beta"),
            acq.fetch_page("https://example.org/x"),
            return_exceptions=True,
        )
    assert results[0].id == "org/alpha"
    assert isinstance(results[1], SnapshotMissError) and "org/beta" in str(results[1])
    assert isinstance(results[2], SnapshotMissError) and "https://example.org/x" in str(results[2])


async def test_recording_twice_gives_identical_directories(hub, world_pages, fast_config, tmp_path):
    for name in ("a", "b"):
        cfg = fast_config(
            hf_endpoint=hub.base_url,
            arxiv_endpoint=f"{hub.base_url}/arxiv/api/query",
            record_dir=tmp_path / name,
        )
        async with Acquirer(cfg, web_transport=world_pages) as acq:
            await _read_everything(acq)
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert list(manifest["entries"]) == sorted(manifest["entries"])
    assert "GET hub:/api/datasets/org/alpha" in manifest["entries"]
    assert all("date" not in e.get("headers", {}) for e in manifest["entries"].values())


async def test_recorded_timeout_replays_as_timeout(pages, fast_config, tmp_path):
    pages.add_fault("/slow", Fault(latency_s=1.0), body="<p>late</p>")
    snap = tmp_path / "snap"
    async with Acquirer(fast_config(record_dir=snap, timeout_s=0.3, retries=0)) as acq:
        with pytest.raises(FetchTimeoutError):
            await acq.fetch_page(pages.url("/slow"))
    assert Snapshot(snap).entry(request_key("GET", pages.url("/slow"))) == {"error": "timeout"}
    async with Acquirer(fast_config(snapshot_dir=snap, offline=True)) as acq:
        with pytest.raises(FetchTimeoutError):
            await acq.fetch_page(pages.url("/slow"))


async def test_replay_without_offline_goes_live_for_unrecorded_reads(hub, fast_config, tmp_path):
    snap = tmp_path / "snap"
    async with Acquirer(fast_config(hf_endpoint=hub.base_url, record_dir=snap)) as acq:
        await acq.dataset_info("org/alpha")
    async with Acquirer(fast_config(hf_endpoint=hub.base_url, snapshot_dir=snap, record_dir=snap)) as acq:
        assert (await acq.dataset_info("org/beta")).id == "org/beta"
        assert acq.stats.requests == 1
    assert "GET hub:/api/datasets/org/beta" in Snapshot(snap)


def test_offline_without_snapshot_is_a_config_error():
    with pytest.raises(ConfigError):
        AcquisitionConfig(offline=True)


async def test_missing_snapshot_directory_is_a_config_error(fast_config, tmp_path):
    async with Acquirer(fast_config(snapshot_dir=tmp_path / "nope", offline=True)) as acq:
        with pytest.raises(ConfigError):
            await acq.dataset_info("org/alpha")


def test_canonical_url_sorts_query_and_applies_aliases():
    aliases = {"hub:": "http://127.0.0.1:9/", "arxiv-api:": "http://127.0.0.1:9/arxiv/api/query"}
    assert canonical_url("http://127.0.0.1:9/api/datasets?b=2&a=1", aliases) == "hub:/api/datasets?a=1&b=2"
    assert canonical_url("http://127.0.0.1:9/arxiv/api/query?x=1", aliases) == "arxiv-api:?x=1"
    assert canonical_url("http://127.0.0.1:99/api", aliases) == "http://127.0.0.1:99/api"
    assert request_key("post", "http://h/p", b"body").startswith("POST http://h/p#")


def test_build_snapshot_covers_world_and_is_stable(world_dir, tmp_path):
    first = build_snapshot(world_dir, tmp_path / "one")
    second = build_snapshot(world_dir, tmp_path / "two")
    assert first.entries == second.entries > 10
    assert (tmp_path / "one" / "manifest.json").read_bytes() == (
        tmp_path / "two" / "manifest.json"
    ).read_bytes()
    assert any("blog.example.com/dead" in f for f in first.failures)
    keys = Snapshot(tmp_path / "one").request_keys()
    assert "HEAD hub:/datasets/org/alpha/resolve/main/README.md" in keys
    assert any(k.startswith("GET hub:/api/datasets?") and "search=gsm8k" in k for k in keys)
    assert "GET https://raw.githubusercontent.com/org/alpha-code/HEAD/README.md" in keys


async def test_built_snapshot_serves_a_trace_offline(world_dir, fast_config, tmp_path):
    await build_snapshot_async(world_dir, tmp_path / "snap")
    async with Acquirer(fast_config(snapshot_dir=tmp_path / "snap", offline=True)) as acq:
        card = await acq.dataset_card("org/alpha")
        page = await acq.fetch_page("https://github.com/org/alpha-code")
        paper = await acq.arxiv_paper("https://huggingface.co/papers/2401.01234", full_text=True)
        found = await acq.search_datasets("gsm8k")
        redirected = await acq.fetch_page("https://blog.example.com/old")
        with pytest.raises(NotFoundError):
            await acq.fetch_page("https://blog.example.com/dead")
    assert card.front_matter["source_datasets"] == ["org/beta", "gsm8k"]
    assert "Built from org/beta." in page.text and "pip x" not in page.text
    assert paper.text and "Data Construction" in paper.text
    assert found == []
    assert redirected.final_url == "https://blog.example.com/posts/alpha"


def test_cli_build_snapshot(world_dir, tmp_path):
    result = CliRunner().invoke(
        app, ["hub", "build-snapshot", str(world_dir), "-o", str(tmp_path / "s"), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["datasets"] == 7 and report["entries"] > 10
    assert (tmp_path / "s" / "manifest.json").is_file()


def test_hub_stand_in_serves_a_snapshot(world_dir, tmp_path):
    build_snapshot(world_dir, tmp_path / "snap")
    with serve_hub(tmp_path / "snap") as server:
        api = huggingface_hub.HfApi(endpoint=server.base_url, token=False)
        info = api.dataset_info("org/alpha")
        assert info.downloads == 1234
        path = api.hf_hub_download("org/alpha", "README.md", repo_type="dataset", cache_dir=tmp_path / "c")
        assert Path(path).read_text().startswith("---\nlicense: mit")
        assert [d.id for d in api.list_datasets(search="alpha-v")] == ["org/alpha-v2"]
        with pytest.raises(huggingface_hub.errors.RepositoryNotFoundError):
            api.dataset_info("org/not-recorded")
