"""``oda review serve`` and ``oda review export``."""

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

from graph_store.factory import open_store
from oda.cli import app
from tests.review.conftest import seed
from tests.support.server_output import ServerOutput

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def decided_store(tmp_path: Path) -> str:
    """A closed store on disk holding two decisions."""
    uri = str(tmp_path / "graph")
    with open_store(uri) as store:
        seed(store)
        store.decide("org/derived-a", "org/base-math", "approve", reviewer="alice", expected_version=0)
        store.decide(
            "org/derived-b", "org/base-math", "reject", reviewer="bob", reason="teacher <b>model</b>"
        )
    return uri


def test_review_commands_have_help_with_examples() -> None:
    runner = CliRunner()
    group = runner.invoke(app, ["review", "--help"])
    assert group.exit_code == 0 and "serve" in group.output and "export" in group.output
    for command in ("serve", "export"):
        result = runner.invoke(app, ["review", command, "--help"])
        assert result.exit_code == 0 and "Example" in result.output


def test_export_writes_the_audit_log_as_jsonl(decided_store: str, tmp_path: Path) -> None:
    out = tmp_path / "decisions.jsonl"
    result = CliRunner().invoke(app, ["review", "export", "--store", decided_store, "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["reviewer"], r["action"], r["previous"]["status"]) for r in rows] == [
        ("alice", "approve", "flagged"),
        ("bob", "reject", "flagged"),
    ]
    assert rows[1]["reason"] == "teacher <b>model</b>"
    assert rows[0]["seq"] < rows[1]["seq"]


def test_export_to_stdout(decided_store: str) -> None:
    result = CliRunner().invoke(app, ["review", "export", "--store", decided_store])
    assert result.exit_code == 0
    assert len([line for line in result.stdout.splitlines() if line.startswith("{")]) == 2


def test_serve_rejects_a_malformed_tokens_file(decided_store: str, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("alice-without-token\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["review", "serve", "--store", decided_store, "--tokens-file", str(tokens)]
    )
    assert result.exit_code != 0
    assert "expected 'reviewer:token'" in str(result.exception) + result.output


def test_serve_answers_on_loopback(decided_store: str) -> None:
    env = {**os.environ, "ODA_REVIEW_TOKENS": "alice:tok-alice-0001"}
    process = subprocess.Popen(
        [sys.executable, "-m", "oda.cli", "review", "serve", "--store", decided_store, "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output = ServerOutput(process.stdout)
    try:
        base = output.url()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base) and not base.endswith(":0"), base
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        flagged = httpx.get(f"{base}/api/edges", params={"status": "flagged"}).json()
        assert flagged["total"] == 1
        me = httpx.get(f"{base}/api/me", headers={"Authorization": "Bearer tok-alice-0001"}).json()
        assert me["reviewer"] == "alice"
    finally:
        process.terminate()
        process.wait(timeout=20)
        output.close()
