"""A real single-node Slurm cluster (scripts/start_slurm.sh): a batch of tiny jobs with a task that fails on
purpose, a controller restart in the middle, a requeue, a scheduler kill, and collect. Nothing is lost and
nothing runs twice."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from benchmarking.db import JobDB
from benchmarking.executors import SlurmExecutor
from benchmarking.jobs import collect, status, submit
from benchmarking.presets import PresetRegistry
from benchmarking.render import SlurmResources, dataset_slug

from .conftest import ran, tiny_settings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
FINAL = {"completed", "failed", "killed", "lost", "blocked"}


def _slurm_ready() -> str | None:
    if shutil.which("sbatch") is None or shutil.which("squeue") is None:
        return "Slurm client tools are not installed"
    probe = subprocess.run(["squeue", "--noheader"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"no running Slurm controller ({probe.stderr.strip()})"
    return None


@pytest.fixture
def executor() -> SlurmExecutor:
    reason = _slurm_ready()
    if reason:
        pytest.skip(reason)
    return SlurmExecutor(SlurmResources(gpus_per_node=0, cpus_per_task=1, time="10"))


def _wait_final(db: JobDB, executor: SlurmExecutor, timeout_s: float = 180) -> dict:
    deadline = time.time() + timeout_s
    while True:
        info = status(db, executor)
        states = [run[s]["state"] for run in info["runs"] for s in ("train", "eval") if s in run]
        if states and all(s in FINAL for s in states):
            return info
        if time.time() > deadline:
            raise AssertionError(f"jobs did not finish in {timeout_s} s: {info}")
        time.sleep(1)


def _controller_running() -> bool:
    return subprocess.run(["pgrep", "-x", "slurmctld"], capture_output=True).returncode == 0


def test_batch_with_failure_restart_requeue_and_collect(
    executor: SlurmExecutor,
    registry: PresetRegistry,
    datasets: dict[str, Path],
    control: Path,
    tmp_path: Path,
) -> None:
    if os.geteuid() != 0:
        pytest.skip("restarting the controller needs root")
    preset = registry.for_base_model("qwen2.5-7b")
    settings = tiny_settings(tmp_path / "work", control)
    queue = [str(datasets[n]) for n in ("alpha", "beta", "gamma")]
    key = {ds: dataset_slug(ds) for ds in queue}
    import re

    ctl = {ds: re.sub(r"[^A-Za-z0-9]+", "-", ds).strip("-") for ds in queue}
    (control / f"fail_once.{ctl[queue[1]]}.train").write_text("")
    (control / f"sleep.{ctl[queue[2]]}.train").write_text("6")
    (control / f"fail_once.{ctl[queue[2]]}.eval").write_text("")
    with JobDB(settings.db_path) as db:
        rep = submit(db, executor, registry, preset, queue, settings)
        assert len(rep.submitted) == 4
        job_ids = {s.job_id for s in db.steps()}
        assert all(j and (j.isdigit() or "_" in j) for j in job_ids)

        # restart the controller while the batch is in flight
        subprocess.run(["scontrol", "shutdown", "slurmctld"], check=True, capture_output=True, timeout=30)
        deadline = time.time() + 30
        while _controller_running() and time.time() < deadline:
            time.sleep(0.2)
        assert not _controller_running()
        down = status(db, executor)
        assert "scheduler_error" in down
        assert not any(
            run.get(s, {}).get("state") == "lost" for run in down["runs"] for s in ("train", "eval")
        )
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "start_slurm.sh")], check=True, capture_output=True, timeout=120
        )

        info = _wait_final(db, executor)
        by_run = {r["run_id"]: r for r in info["runs"]}
        beta = f"{preset.name}/{key[queue[1]]}"
        assert by_run[beta]["train"]["state"] == "failed"
        assert by_run[beta]["eval"]["state"] == "blocked"
        gamma = f"{preset.name}/{key[queue[2]]}"
        assert by_run[gamma]["train"]["state"] == "completed"
        assert by_run[gamma]["eval"]["state"] == "failed"
        assert by_run[f"{preset.name}/{key[queue[0]]}"]["eval"]["state"] == "completed"
        assert by_run[f"{preset.name}/__base__"]["eval"]["state"] == "completed"

        rep2 = submit(db, executor, registry, preset, queue, settings)
        assert sorted(rep2.requeued) == sorted([beta, gamma])
        assert set(rep2.skipped) == {f"{preset.name}/{key[queue[0]]}", f"{preset.name}/__base__"}
        # right after the requeue, the old eval failure must not be taken for the new attempt's outcome
        assert db.step(gamma, "eval").state in ("pending", "running", "completed")  # type: ignore[union-attr]
        info = _wait_final(db, executor)
        assert {r["eval"]["state"] for r in info["runs"]} == {"completed"}

        report = collect(db, registry, executor=executor)
        assert sorted(report.collected) == sorted(by_run)
        assert not report.failed
        results = db.results()
    assert {r.dataset for r in results} == set(queue)
    assert len(results) == 3 * 4
    assert ran(control, queue[0], "train") == 1 and ran(control, queue[0], "eval") == 1
    assert ran(control, queue[1], "train") == 2 and ran(control, queue[1], "eval") == 1
    assert ran(control, queue[2], "train") == 1 and ran(control, queue[2], "eval") == 2
    assert ran(control, "__base__", "eval") == 1


def test_a_job_killed_by_the_scheduler_is_recorded(
    executor: SlurmExecutor,
    registry: PresetRegistry,
    datasets: dict[str, Path],
    control: Path,
    tmp_path: Path,
) -> None:
    import re

    preset = registry.for_base_model("llama3.1-8b")
    settings = tiny_settings(tmp_path / "work", control)
    ds = str(datasets["alpha"])
    (control / f"sleep.{re.sub(r'[^A-Za-z0-9]+', '-', ds).strip('-')}.train").write_text("120")
    with JobDB(settings.db_path) as db:
        submit(db, executor, registry, preset, [ds], settings, include_base=False)
        run_id = f"{preset.name}/{dataset_slug(ds)}"
        run_dir = Path(db.get_run(run_id).run_dir)  # type: ignore[union-attr]
        deadline = time.time() + 60
        while not (run_dir / "markers" / "train.running").exists():
            assert time.time() < deadline, "the training task never started"
            time.sleep(0.3)
        train_job = db.step(run_id, "train").job_id  # type: ignore[union-attr]
        executor.cancel(train_job)  # type: ignore[arg-type]
        info = _wait_final(db, executor)
        run = info["runs"][0]
        assert run["train"]["state"] == "killed"
        assert run["eval"]["state"] == "blocked"
    assert ran(control, ds, "eval") == 0
