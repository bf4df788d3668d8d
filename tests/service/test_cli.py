"""``oda serve`` and ``oda trace --server`` as users type them: a real service process and a real client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.service.conftest import DEMO_QUEUE, DEMO_SNAPSHOT, REPO, edge_set
from tests.support.server_output import ServerOutput

ODA = [sys.executable, "-m", "oda.cli"]


@contextmanager
def oda_serve(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run ``oda serve`` on a port the system picks until the block ends; yields the base URL it reports."""
    process = subprocess.Popen(
        [*ODA, "serve", "--port", "0", *extra],
        cwd=tmp_path,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output = ServerOutput(process.stdout)
    try:
        url = output.url()
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200, output.text()
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        output.close()


@pytest.mark.slow
def test_trace_with_server_follows_a_run_of_oda_serve(tmp_path: Path, traced_demo: Path) -> None:
    store = tmp_path / "graph"
    serve_args = ["--store", str(store), "--snapshot", str(DEMO_SNAPSHOT), "--offline", "--concurrency", "4"]
    with oda_serve(tmp_path, *serve_args, env={"ODA_REVIEW_TOKENS": "alice:tok-alice-0001"}) as url:
        client_env = {**os.environ, "ODA_SERVICE_TOKEN": "tok-alice-0001"}
        no_token = subprocess.run(
            [*ODA, "trace", str(DEMO_QUEUE), "--server", url],
            cwd=REPO,
            env={k: v for k, v in client_env.items() if k != "ODA_SERVICE_TOKEN"},
            capture_output=True,
            text=True,
        )
        assert no_token.returncode == 2 and "ODA_SERVICE_TOKEN" in no_token.stdout + no_token.stderr
        clash = subprocess.run(
            [*ODA, "trace", str(DEMO_QUEUE), "--server", url, "--store", "x"],
            cwd=REPO,
            env=client_env,
            capture_output=True,
            text=True,
        )
        assert clash.returncode == 2 and "drop --store" in clash.stdout + clash.stderr
        done = subprocess.run(
            [*ODA, "trace", str(DEMO_QUEUE), "--server", url, "--extractor", "rules", "--json"],
            cwd=REPO,
            env=client_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        view = json.loads(done.stdout)
        assert view["state"] == "finished"
        assert view["totals"]["traced"] > 0
        stats = httpx.get(f"{url}/api/stats").json()
        assert stats["edges"] == len(edge_set(str(traced_demo)))
    assert edge_set(str(store)) == edge_set(str(traced_demo))


def test_worker_needs_a_postgres_queue(tmp_path: Path) -> None:
    result = subprocess.run(
        [*ODA, "worker", "--queue", str(tmp_path / "q.sqlite")], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "postgresql://" in result.stdout + result.stderr
