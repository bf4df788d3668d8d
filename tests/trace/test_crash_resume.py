"""Crash and resume: SIGKILL a 200-dataset ``oda trace`` at several points, resume, and compare the graph with
an uninterrupted run's (every edge once, none lost, none duplicated)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from graph_store.factory import open_store
from standins.synthetic_world import write_queue, write_world

ROOT = Path(__file__).resolve().parents[2]
N_DATASETS = 200
RUN_ID_RE = re.compile(r"run (trace-[0-9T]+-[0-9a-f]+)")


def _env(hub_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "HF_ENDPOINT": hub_url,
            "PYTHONPATH": str(ROOT),
            "OMP_NUM_THREADS": "1",
            "COLUMNS": "200",
            "ODA_LLM_BASE_URL": "",
            "ODA_LLM_MODEL": "",
        }
    )
    return env


def _oda(args: list[str]) -> list[str]:
    return [sys.executable, "-c", "from oda.cli import main; main()", *args]


def _graph(store_path: Path) -> tuple[list[tuple], list[tuple]]:
    with open_store(str(store_path)) as store:
        edges = [
            (e.target, e.source, e.relationship.value, round(e.confidence, 6), e.evidence, e.status.value)
            for e in store.edges()
        ]
        nodes = [(n.id, n.on_hub, n.is_benchmark, n.trace_status, n.trace_note) for n in store.nodes()]
    return edges, nodes


def _run_until(
    cmd: list[str], cwd: Path, env: dict[str, str], *, kill_after_datasets: int | None
) -> tuple[str, int]:
    """Run ``cmd``; SIGKILL it once it has reported ``kill_after_datasets`` datasets. Returns (stderr, rc)."""
    lines: list[str] = []
    done = 0
    # stdout (the --json summary) is not read: it goes nowhere, so it can never fill a pipe and stall the command
    with subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if re.match(r"\[\d+/\d+\] depth", line):
                done += 1
                if kill_after_datasets is not None and done >= kill_after_datasets:
                    proc.send_signal(signal.SIGKILL)
                    break
        proc.wait(timeout=300)
        lines.append(proc.stderr.read())
    return "".join(lines), proc.returncode


@pytest.mark.slow
def test_sigkill_at_several_points_then_resume_equals_uninterrupted(tmp_path: Path, hub_server) -> None:
    world = write_world(tmp_path / "world", N_DATASETS, seed=11)
    queue = write_queue(tmp_path / "queue.txt", list(reversed(world.ids)))
    (tmp_path / "oda.toml").write_text("[acquisition]\nper_host_rate = 0\nretries = 2\n", encoding="utf-8")

    with hub_server(world.root) as hub_url:
        env = _env(hub_url)
        common = ["--extractor", "rules", "--max-depth", "2"]

        ref_err, rc = _run_until(
            _oda(
                [
                    "trace",
                    str(queue),
                    "--store",
                    "ref-graph",
                    "--checkpoints",
                    "ref.sqlite",
                    "--json",
                    *common,
                ]
            ),
            tmp_path,
            env,
            kill_after_datasets=None,
        )
        assert rc == 0, ref_err[-3000:]

        # the interrupted run: killed three times at growing points, each time resumed
        first_err, rc = _run_until(
            _oda(["trace", str(queue), "--store", "crash-graph", "--checkpoints", "crash.sqlite", *common]),
            tmp_path,
            env,
            kill_after_datasets=7,
        )
        assert rc == -signal.SIGKILL, first_err[-3000:]
        match = RUN_ID_RE.search(first_err)
        assert match, first_err[:2000]
        run_id = match.group(1)
        resume = _oda(["trace", "--resume", run_id, "--checkpoints", "crash.sqlite"])
        for kill_after in (40, 1, 60):
            err, rc = _run_until(resume, tmp_path, env, kill_after_datasets=kill_after)
            assert rc == -signal.SIGKILL, err[-3000:]
        final_err, rc = _run_until([*resume, "--json"], tmp_path, env, kill_after_datasets=None)
        assert rc == 0, final_err[-3000:]

    ref_edges, ref_nodes = _graph(tmp_path / "ref-graph")
    crash_edges, crash_nodes = _graph(tmp_path / "crash-graph")
    assert len(ref_edges) > N_DATASETS  # a real graph, not an empty one
    assert len(crash_edges) == len(set(crash_edges)), "duplicated edges"
    assert sorted(crash_edges) == sorted(ref_edges)
    assert sorted(crash_nodes) == sorted(ref_nodes)
    # every true parent edge of a traced dataset was found (the synthetic cards name them unambiguously)
    found = {(t, s) for t, s, *_ in crash_edges}
    assert world.edges() <= found
    summary_ref = json.loads(
        subprocess.run(  # the summaries agree on the totals
            _oda(["trace", "--resume", run_id, "--checkpoints", "crash.sqlite", "--json"]),
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert summary_ref["finished"] is True
    assert summary_ref["datasets_traced"] == N_DATASETS
    assert summary_ref["edges"] >= len(world.edges())
    time.sleep(0)
