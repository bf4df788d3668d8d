"""Large imports through the command users run (``oda import``): they finish, and a killed one converges.

Both tests are ``slow`` (minutes on two cores). The convergence test kills ``oda import`` of a 200k-edge file with
SIGKILL five times, at different points of the run (reading, node batches, in the middle of edge batches), each
time on the store the previous kill left; then it runs the same import to the end. The final ``json`` export must
be byte-identical to that of an uninterrupted import of the same file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.store.big_lineage import write_lineage

ROOT = Path(__file__).resolve().parents[2]
N_EDGES = 200_000
# Fractions of an uninterrupted import's wall time after which each run is killed (runs after a kill skip
# whatever earlier runs committed, so the same fraction lands later in the work).
KILL_AT = (0.35, 0.5, 0.6, 0.7, 0.85)


def oda(*args: str) -> list[str]:
    return [sys.executable, "-m", "oda.cli", *args]


def run_oda(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(oda(*args), cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def export(store: Path, out: Path) -> bytes:
    done = run_oda("export", "--format", "json", "-o", str(out), "--store", str(store))
    assert done.returncode == 0, done.stderr
    return out.read_bytes()


@pytest.fixture(scope="module")
def lineage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lineage") / "lineage.json"
    nodes, edges = write_lineage(path, N_EDGES)
    assert edges == N_EDGES and nodes > 80_000
    return path


@pytest.mark.slow
def test_a_200k_edge_import_finishes_and_a_rerun_writes_nothing(lineage: Path, tmp_path: Path) -> None:
    store = tmp_path / "graph"
    first = run_oda("import", str(lineage), "--format", "json", "--store", str(store), "--json")
    assert first.returncode == 0, first.stderr
    assert '"created": 200000' in first.stdout
    again = run_oda("import", str(lineage), "--format", "json", "--store", str(store), "--json")
    assert again.returncode == 0, again.stderr
    assert '"unchanged": 200000' in again.stdout and '"cycles": []' in again.stdout


@pytest.mark.slow
def test_an_import_killed_five_times_converges_to_the_same_export(lineage: Path, tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    start = time.perf_counter()
    done = run_oda("import", str(lineage), "--format", "json", "--store", str(reference))
    wall = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    expected = export(reference, tmp_path / "reference.json")

    store = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed = 0
    states: list[tuple[int, int]] = []  # (nodes, edges) stored after each run
    for fraction in KILL_AT:
        process = subprocess.Popen(
            oda("import", str(lineage), "--format", "json", "--store", str(store)),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            process.wait(timeout=wall * fraction)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            killed += 1
        if store.exists():
            stats = run_oda("stats", "--store", str(store), "--json")
            assert stats.returncode == 0, stats.stderr
            figures = json.loads(stats.stdout)
            states.append((figures["nodes"], figures["edges"]))
    assert killed >= 3, "the runs finished before they could be killed: the kill points are too late"
    # each kill left whole batches: edges are written 50,000 a transaction (all at once into an empty store)
    assert all(edges in (0, N_EDGES) or edges % 50_000 == 0 for _, edges in states), states
    assert any(nodes > 0 and edges < N_EDGES for nodes, edges in states), f"no kill hit the writes: {states}"
    final = run_oda("import", str(lineage), "--format", "json", "--store", str(store))
    assert final.returncode == 0, final.stderr
    assert export(store, tmp_path / "killed.json") == expected
