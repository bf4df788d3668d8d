"""The command line: ``oda fetch``, ``oda hub serve`` and ``oda hub build-snapshot``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from oda.cli import app
from standins.snapshot_builder import build_snapshot

runner = CliRunner()


@pytest.mark.parametrize("command", [["hub", "serve"], ["hub", "build-snapshot"], ["fetch"]])
def test_every_command_has_help_with_examples(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output


def test_fetch_dataset_json(hub):
    result = runner.invoke(app, ["fetch", "org/alpha", "--hf-endpoint", hub.base_url, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["kind"] == "dataset" and data["info"]["downloads"] == 1234
    assert [link["ref"] for link in data["links"]][:2] == ["org/beta", "2401.01234"]
    assert data["card"]["front_matter"]["license"] == "mit"


def test_fetch_records_then_replays_offline(hub, tmp_path):
    snap = tmp_path / "snap"
    live = runner.invoke(
        app, ["fetch", "search:alpha", "--hf-endpoint", hub.base_url, "--record", str(snap), "--json"]
    )
    assert live.exit_code == 0, live.output
    offline = runner.invoke(app, ["fetch", "search:alpha", "--snapshot", str(snap), "--offline", "--json"])
    assert offline.exit_code == 0, offline.output
    assert json.loads(offline.stdout)["results"] == json.loads(live.stdout)["results"]


def test_fetch_failure_exits_nonzero_with_the_reason(tmp_path):
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "manifest.json").write_text('{"format": "oda-snapshot/1", "entries": {}}')
    result = runner.invoke(
        app, ["fetch", "org/x", "--snapshot", str(tmp_path / "snap"), "--offline", "--json"]
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"].startswith("SnapshotMissError")


def test_fetch_malformed_id(tmp_path):
    result = runner.invoke(app, ["fetch", "a/b/c", "--json"])
    assert result.exit_code == 1
    assert "InputError" in json.loads(result.stdout)["error"]


def test_hub_serve_runs_as_a_process(world_dir, tmp_path):
    snap = tmp_path / "snap"
    build_snapshot(world_dir, snap)
    proc = subprocess.Popen(
        [sys.executable, "-m", "oda.cli", "hub", "serve", str(snap), "--port", "0"],
        cwd=Path(__file__).parents[2],
        env={**os.environ, "COLUMNS": "400"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The server listens before it prints its address (on stderr, like every status line).
        assert proc.stderr is not None
        announced = re.search(r"http://127\.0\.0\.1:(\d+)", proc.stderr.readline())
        assert announced, "the server did not print its address"
        port = int(announced.group(1))
        response = httpx.get(f"http://127.0.0.1:{port}/api/datasets/org/alpha", timeout=10)
        assert response.status_code == 200 and response.json()["downloads"] == 1234
        missing = httpx.get(f"http://127.0.0.1:{port}/api/datasets/org/nope", timeout=2)
        assert missing.status_code == 404 and missing.headers["X-Error-Code"] == "RepoNotFound"
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
