"""A run keeps its effective settings (without secrets) and a resume uses them, whatever the environment and the
config file say by then."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from acquisition import AcquisitionConfig
from lineage.context import TraceContext
from lineage.runner import (
    ProgressEvent,
    build_services,
    context_from_settings,
    parse_queue,
    run_trace,
    saved_settings,
)
from oda.llm import LLMConfig
from oda.settings import load_settings
from standins.world import World, WorldTransport


class Stop(Exception):
    pass


def _started_context(tmp_path: Path, hub_url: str) -> TraceContext:
    return TraceContext(
        run_id="run-saved",
        store_uri=str(tmp_path / "graph"),
        extractor="rules",
        max_depth=3,
        acquisition=AcquisitionConfig(
            hf_endpoint=hub_url, per_host_rate=0, retries=1, backoff_base_s=0.01, timeout_s=10
        ),
        llm=LLMConfig(
            base_url="http://127.0.0.1:9/v1", model="saved-model", max_tokens=333, api_key="started-with-key"
        ),
    )


async def _interrupted_run(ctx: TraceContext, world: Path, queue: Path, checkpoints: Path) -> None:
    def stop_after_two(event: ProgressEvent) -> None:
        if event.kind == "dataset" and event.totals.get("traced", 0) >= 2:
            raise Stop

    async with build_services(ctx, web_transport=WorldTransport(World(world))) as services:
        with pytest.raises(Stop):
            await run_trace(
                ctx, parse_queue(queue), checkpoints=checkpoints, progress=stop_after_two, services=services
            )


def test_a_resume_uses_the_saved_settings_not_the_changed_environment_and_file(
    tmp_path: Path, small_world: Path, small_queue: Path, hub_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoints = tmp_path / "runs.sqlite"
    with hub_server(small_world) as hub_url:
        started = _started_context(tmp_path, hub_url)
        asyncio.run(_interrupted_run(started, small_world, small_queue, checkpoints))

        saved = asyncio.run(saved_settings(started.run_id, checkpoints))
        assert "started-with-key" not in json.dumps(saved)  # secrets are not saved
        assert saved["llm"]["model"] == "saved-model" and saved["acquisition"]["hf_endpoint"] == hub_url

        # by the time of the resume, the environment and the config file name another LLM and other limits
        changed = tmp_path / "oda.toml"
        changed.write_text(
            '[llm]\nmodel = "file-model"\nmax_tokens = 50\n[acquisition]\nretries = 7\nper_host_rate = 2.5\n'
            "[trace]\nmax_depth = 0\n",
            encoding="utf-8",
        )
        monkeypatch.setenv("ODA_LLM_BASE_URL", "http://127.0.0.1:8/v1")
        monkeypatch.setenv("ODA_LLM_MODEL", "env-model")
        monkeypatch.setenv("ODA_LLM_API_KEY", "key-of-today")
        current = load_settings(changed)
        assert current.llm.model == "env-model" and current.acquisition.retries == 7

        resumed = context_from_settings(started.run_id, saved, current)
        assert resumed.llm is not None
        assert (resumed.llm.base_url, resumed.llm.model, resumed.llm.max_tokens) == (
            "http://127.0.0.1:9/v1",
            "saved-model",
            333,
        )
        assert resumed.llm.api_key == "key-of-today"  # the secret is read from the environment again
        assert resumed.acquisition is not None
        assert (resumed.acquisition.retries, resumed.acquisition.per_host_rate) == (1, 0)
        assert resumed.acquisition.hf_endpoint == hub_url
        assert resumed.max_depth == 3

        async def finish() -> object:
            async with build_services(resumed, web_transport=WorldTransport(World(small_world))) as services:
                return await run_trace(resumed, None, checkpoints=checkpoints, services=services)

        summary = asyncio.run(finish())
    assert summary.finished and summary.datasets_traced == 4  # type: ignore[attr-defined]


def test_a_run_saved_without_llm_settings_takes_them_from_the_current_settings(tmp_path: Path) -> None:
    """Runs saved before the LLM settings were kept with them resume with the settings of today."""
    config = tmp_path / "oda.toml"
    config.write_text(
        '[llm]\nbase_url = "http://127.0.0.1:7/v1"\nmodel = "today"\n[acquisition]\nretries = 6\n'
    )
    older = {"store_uri": str(tmp_path / "graph"), "extractor": "rules", "acquisition": {"offline": False}}
    ctx = context_from_settings("run-old", older, load_settings(config, env={}))
    assert ctx.llm is not None and ctx.llm.model == "today"
    assert ctx.acquisition is not None and ctx.acquisition.retries == 6


def test_a_run_started_without_an_llm_resumes_without_one(tmp_path: Path) -> None:
    saved = {"store_uri": str(tmp_path / "graph"), "extractor": "rules", "acquisition": {}, "llm": None}
    with_llm = load_settings(env={"ODA_LLM_BASE_URL": "http://127.0.0.1:7/v1", "ODA_LLM_MODEL": "m"})
    assert context_from_settings("run-none", saved, with_llm).llm is None
