"""Hub reads through the real huggingface_hub client against the loopback Hub stand-in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub import errors as hf_errors

from oda.errors import AccessDeniedError, NotFoundError
from standins.hub import serve_hub


async def test_dataset_info_reads_world_metadata(hub_acquirer):
    async with hub_acquirer() as acq:
        info = await acq.dataset_info("org/alpha")
    assert info.id == "org/alpha"
    assert info.created_at == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert info.downloads == 1234 and info.likes == 5
    assert info.tags == ["math", "en"]
    assert info.card_data["source_datasets"] == ["org/beta", "gsm8k"]
    assert info.gated is False and info.private is False
    assert info.sha and len(info.sha) == 40


async def test_dataset_info_accepts_hub_url(hub_acquirer):
    async with hub_acquirer() as acq:
        info = await acq.dataset_info("https://huggingface.co/datasets/org/alpha")
    assert info.id == "org/alpha"


async def test_dataset_card_splits_front_matter_and_body(hub, hub_acquirer):
    async with hub_acquirer() as acq:
        card = await acq.dataset_card("org/alpha")
    assert card.yaml_error is None
    assert card.front_matter["license"] == "mit"
    assert card.body.lstrip().startswith("# Alpha")
    assert card.raw.startswith("---\nlicense: mit")
    assert ("HEAD", "/datasets/org/alpha/resolve/main/README.md") in hub.requests
    assert ("GET", "/datasets/org/alpha/resolve/main/README.md") in hub.requests


async def test_broken_yaml_card_is_not_an_exception(hub_acquirer):
    async with hub_acquirer() as acq:
        card = await acq.dataset_card("org/beta")
    assert card.front_matter == {}
    assert card.yaml_error is not None and "YAML" in card.yaml_error
    assert "Body of beta." in card.body


async def test_card_without_front_matter(hub_acquirer):
    async with hub_acquirer() as acq:
        card = await acq.dataset_card("org/alpha-v2")
    assert card.front_matter == {} and card.yaml_error is None
    assert "No front matter." in card.body


async def test_missing_repo_is_not_found(hub_acquirer):
    async with hub_acquirer() as acq:
        with pytest.raises(NotFoundError):
            await acq.dataset_info("org/does-not-exist")
        with pytest.raises(NotFoundError):
            await acq.dataset_card("org/does-not-exist")
        assert acq.stats.failures == {"NotFoundError": 2}


async def test_dataset_without_card(hub_acquirer):
    async with hub_acquirer() as acq:
        info = await acq.dataset_info("org/nocard")
        assert info.downloads == 3
        with pytest.raises(NotFoundError, match="card"):
            await acq.dataset_card("org/nocard")


async def test_private_repo_hidden_without_token_and_served_with_it(hub_acquirer):
    async with hub_acquirer() as acq:
        with pytest.raises(NotFoundError, match="private"):
            await acq.dataset_info("org/private")
    async with hub_acquirer(hf_token="secret-token") as acq:
        info = await acq.dataset_info("org/private")
        assert info.private is True
        assert "Private card." in (await acq.dataset_card("org/private")).body


async def test_gated_repo_card_is_public_but_info_says_gated(hub_acquirer):
    async with hub_acquirer() as acq:
        info = await acq.dataset_info("org/gated")
        card = await acq.dataset_card("org/gated")
    assert info.gated is True
    assert "Gated card." in card.body


def test_gated_data_file_raises_library_typed_error(hub, tmp_path):
    api = huggingface_hub.HfApi(endpoint=hub.base_url, token=False)
    with pytest.raises(hf_errors.GatedRepoError):
        api.hf_hub_download("org/gated", "data/x.jsonl", repo_type="dataset", cache_dir=tmp_path)
    authorized = huggingface_hub.HfApi(endpoint=hub.base_url, token="secret-token")
    path = authorized.hf_hub_download("org/gated", "data/x.jsonl", repo_type="dataset", cache_dir=tmp_path)
    assert Path(path).read_text() == "{}\n"


async def test_disabled_repo_is_access_denied(hub_acquirer):
    async with hub_acquirer() as acq:
        with pytest.raises(AccessDeniedError):
            await acq.dataset_info("org/disabled")
        with pytest.raises(AccessDeniedError):
            await acq.dataset_card("org/disabled")


async def test_search_returns_matching_datasets(hub_acquirer):
    async with hub_acquirer() as acq:
        found = await acq.search_datasets("alpha")
        limited = await acq.search_datasets("alpha", limit=1)
        none = await acq.search_datasets("zzz-nothing")
    assert [d.id for d in found] == ["org/alpha", "org/alpha-v2"]  # most downloaded first
    assert [d.id for d in limited] == ["org/alpha"]
    assert none == []


async def test_private_repos_never_appear_in_search(hub_acquirer):
    async with hub_acquirer() as acq:
        assert [d.id for d in await acq.search_datasets("private")] == []


def test_stand_in_serves_data_files_to_plain_huggingface_hub(hub, tmp_path):
    api = huggingface_hub.HfApi(endpoint=hub.base_url, token=False)
    files = api.list_repo_files("org/alpha", repo_type="dataset")
    assert sorted(files) == ["README.md", "data/sub/test.jsonl", "data/train.jsonl"]
    path = api.hf_hub_download("org/alpha", "data/sub/test.jsonl", repo_type="dataset", cache_dir=tmp_path)
    assert json.loads(Path(path).read_text()) == {"q": "2+2", "a": "4"}
    infos = api.get_paths_info("org/alpha", ["data/train.jsonl", "data"], repo_type="dataset")
    assert {type(i).__name__ for i in infos} == {"RepoFile", "RepoFolder"}
    tree = list(api.list_repo_tree("org/alpha", repo_type="dataset", path_in_repo="data"))
    assert sorted(t.path for t in tree) == ["data/sub", "data/train.jsonl"]
    with pytest.raises(hf_errors.EntryNotFoundError):
        api.hf_hub_download("org/alpha", "data/missing.jsonl", repo_type="dataset", cache_dir=tmp_path)


def test_hf_endpoint_environment_variable_is_honoured(world_dir, tmp_path):
    script = (
        "import asyncio\n"
        "from acquisition import Acquirer, AcquisitionConfig\n"
        "async def main():\n"
        "    async with Acquirer(AcquisitionConfig(per_host_rate=0, hf_token=None)) as acq:\n"
        "        print(acq.hub_endpoint)\n"
        "        print((await acq.dataset_info('org/alpha')).downloads)\n"
        "asyncio.run(main())\n"
    )
    with serve_hub(world_dir) as server:
        env = {**os.environ, "HF_ENDPOINT": server.base_url, "HF_HOME": str(tmp_path / "hf")}
        done = subprocess.run(
            [sys.executable, "-c", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=Path(__file__).parents[2],
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [server.base_url, "1234"]
        assert ("GET", "/api/datasets/org/alpha") in server.requests


def test_hub_client_comes_from_the_library_huggingface_hub_is_built_on(hub_acquirer):
    """huggingface_hub 1.x is built on httpx and 2.x on httpx2: its retries and error mapping only recognise
    its own library's exceptions, so the client installed under it must come from the same library."""
    from huggingface_hub.utils import _http

    from acquisition.transports import hub_http_library, install_hub_transport

    install_hub_transport()
    expected = _http.httpx2 if hasattr(_http, "httpx2") else _http.httpx
    assert hub_http_library() is expected
    session = huggingface_hub.get_session()
    assert isinstance(session, expected.Client)
    assert isinstance(session._transport, expected.BaseTransport)
