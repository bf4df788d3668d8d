"""Jobs with the local executor: submit, failure states, requeue without double runs, collect, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmarking.db import JobDB
from benchmarking.executors import LocalExecutor, SlurmExecutor
from benchmarking.executors.base import Batch
from benchmarking.jobs import collect, status, submit
from benchmarking.presets import PresetRegistry
from benchmarking.states import StepStatus
from oda.errors import BenchmarkError

from .conftest import ran, tiny_settings


def _states(db: JobDB) -> dict[str, str]:
    return {f"{s.run_id}:{s.step}": s.state for s in db.steps()}


def test_batch_runs_fail_requeue_and_collect(
    registry: PresetRegistry, datasets: dict[str, Path], control: Path, tmp_path: Path
) -> None:
    preset = registry.for_base_model("qwen2.5-7b")
    settings = tiny_settings(tmp_path / "work", control)
    queue = [str(datasets[n]) for n in ("alpha", "beta", "gamma", "empty")]
    (control / f"fail_once.{_key(queue[1])}.train").write_text("")
    with JobDB(settings.db_path) as db:
        rep = submit(db, LocalExecutor(), registry, preset, queue, settings)
        assert len(rep.submitted) == 4  # three datasets + the base model
        assert "has no samples" in rep.failed[f"qwen2.5-7b/{_slug(queue[3])}"]
        states = _states(db)
        beta = f"qwen2.5-7b/{_slug(queue[1])}"
        assert states[f"{beta}:train"] == "failed"
        assert states[f"{beta}:eval"] == "blocked"
        assert states[f"qwen2.5-7b/{_slug(queue[0])}:eval"] == "completed"
        assert states["qwen2.5-7b/__base__:eval"] == "completed"

        first = collect(db, registry)
        assert beta in first.failed and "train failed" in first.failed[beta]
        assert len(first.collected) == 3  # base + alpha + gamma

        rep2 = submit(db, LocalExecutor(), registry, preset, queue, settings)
        assert rep2.requeued == [beta]
        assert rep2.skipped[f"qwen2.5-7b/{_slug(queue[0])}"] == "already completed"
        assert _states(db)[f"{beta}:eval"] == "completed"
        assert db.step(beta, "train").attempts == 2  # type: ignore[union-attr]

        second = collect(db, registry)
        assert beta in second.collected
        results = db.results()
    # every dataset's job ran exactly once, except the one that failed on purpose
    for ds in (queue[0], queue[2]):
        assert ran(control, ds, "train") == 1 and ran(control, ds, "eval") == 1
    assert ran(control, queue[1], "train") == 2 and ran(control, queue[1], "eval") == 1
    assert ran(control, "__base__", "eval") == 1
    by_ds: dict[str, int] = {}
    for r in results:
        by_ds[r.dataset] = by_ds.get(r.dataset, 0) + 1
        assert r.base_score == 30.0 and r.delta == pytest.approx(r.score - 30.0)
    assert by_ds == {queue[0]: 4, queue[1]: 4, queue[2]: 4}  # no duplicates after two collects


def test_a_killed_job_is_recorded_and_requeued(
    registry: PresetRegistry, datasets: dict[str, Path], control: Path, tmp_path: Path
) -> None:
    preset = registry.for_base_model("llama3.1-8b")
    settings = tiny_settings(tmp_path / "work", control)
    settings.train_command = "kill -9 $BASHPID"
    with JobDB(settings.db_path) as db:
        submit(db, LocalExecutor(), registry, preset, [str(datasets["alpha"])], settings, include_base=False)
        step = db.steps()[0]
        assert (step.step, step.state) == ("eval", "blocked")
        train = db.step(step.run_id, "train")
        assert train is not None and train.state == "killed" and "SIGKILL" in (train.detail or "")


def test_a_vanished_job_becomes_lost(
    registry: PresetRegistry, datasets: dict[str, Path], control: Path, tmp_path: Path
) -> None:
    """A step recorded as running whose process is gone and that left no marker (e.g. a machine crash)."""
    settings = tiny_settings(tmp_path / "work", control)
    preset = registry.for_base_model("llama3.1-8b")
    with JobDB(settings.db_path) as db:
        submit(db, LocalExecutor(), registry, preset, [str(datasets["alpha"])], settings, dry_run=True)
        from benchmarking.db import Run

        run_dir = settings.work_dir.resolve() / "runs" / preset.name / _slug(str(datasets["alpha"]))
        db.upsert_run(
            Run("llama3.1-8b/x", str(datasets["alpha"]), preset.name, "llama3.1-8b", "sft", str(run_dir))
        )
        db.set_step("llama3.1-8b/x", "train", StepStatus.RUNNING, job_id="local:999999999")
        info = status(db, LocalExecutor())
        train = info["runs"][0]["train"]
        assert train["state"] == "lost" and "no completion marker" in train["detail"]


def test_missing_and_half_written_output_are_recorded_failures(
    registry: PresetRegistry, datasets: dict[str, Path], control: Path, tmp_path: Path
) -> None:
    preset = registry.for_base_model("qwen2.5-7b")
    settings = tiny_settings(tmp_path / "work", control)
    queue = [str(datasets["alpha"]), str(datasets["beta"])]
    with JobDB(settings.db_path) as db:
        submit(db, LocalExecutor(), registry, preset, queue, settings)
        alpha_dir = Path(db.get_run(f"qwen2.5-7b/{_slug(queue[0])}").run_dir)  # type: ignore[union-attr]
        beta_dir = Path(db.get_run(f"qwen2.5-7b/{_slug(queue[1])}").run_dir)  # type: ignore[union-attr]
        shutil.rmtree(alpha_dir / "eval")
        csv = next((beta_dir / "eval").glob("*/summary/*.csv"))
        csv.write_text(csv.read_text()[:-9])
        rep = collect(db, registry)
        assert "no OpenCompass output" in rep.failed[f"qwen2.5-7b/{_slug(queue[0])}"]
        assert "truncated" in rep.failed[f"qwen2.5-7b/{_slug(queue[1])}"]
        assert db.step(f"qwen2.5-7b/{_slug(queue[0])}", "collect").state == "failed"  # type: ignore[union-attr]
        assert db.results() == []


def test_dry_run_renders_without_running(
    registry: PresetRegistry, datasets: dict[str, Path], control: Path, tmp_path: Path
) -> None:
    settings = tiny_settings(tmp_path / "work", control)
    preset = registry.for_base_model("qwen2.5-7b", long_cot=True)
    with JobDB(settings.db_path) as db:
        rep = submit(db, SlurmExecutor(), registry, preset, [str(datasets["alpha"])], settings, dry_run=True)
        assert db.steps() == [] and db.runs() == []
    assert [c[0] for c in rep.commands] == ["sbatch", "sbatch", "sbatch"]
    assert "aftercorr:{train_job}" in rep.scripts["sbatch_eval.sh"]
    run_dir = settings.work_dir.resolve() / "runs" / preset.name / _slug(str(datasets["alpha"]))
    assert (run_dir / "train.yaml").exists() and (run_dir / "eval_config.py").exists()
    assert json.loads((run_dir / "data" / "dataset_info.json").read_text())
    assert ran(control, str(datasets["alpha"]), "train") == 0


def test_sbatch_not_on_path_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
    registry: PresetRegistry,
    datasets: dict[str, Path],
    control: Path,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    settings = tiny_settings(tmp_path / "work", control)
    preset = registry.for_base_model("qwen2.5-7b")
    with JobDB(settings.db_path) as db, pytest.raises(BenchmarkError, match="sbatch not found on PATH"):
        submit(db, SlurmExecutor(), registry, preset, [str(datasets["alpha"])], settings)
    with pytest.raises(BenchmarkError, match="sbatch not found"):
        SlurmExecutor().submit(Batch("b", tmp_path / "b", [], _base_run(tmp_path)))


def _base_run(tmp_path: Path):  # type: ignore[no-untyped-def]
    from benchmarking.db import Run

    return Run("p/__base__", "__base__", "p", "m", "base", str(tmp_path / "base"))


def _slug(value: str) -> str:
    from benchmarking.render import dataset_slug

    return dataset_slug(value)


def _key(value: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9]+", "-", value).strip("-")


def test_requeue_does_not_mistake_the_old_failure_for_the_new_attempt(
    registry: PresetRegistry, datasets: dict[str, Path], control: Path, tmp_path: Path
) -> None:
    """An eval that failed leaves eval.failed; the requeued eval must be judged by its own outcome."""
    preset = registry.for_base_model("qwen2.5-7b")
    settings = tiny_settings(tmp_path / "work", control)
    ds = str(datasets["gamma"])
    (control / f"fail_once.{_key(ds)}.eval").write_text("")
    run_id = f"qwen2.5-7b/{_slug(ds)}"
    with JobDB(settings.db_path) as db:
        submit(db, LocalExecutor(), registry, preset, [ds], settings, include_base=False)
        assert db.step(run_id, "eval").state == "failed"  # type: ignore[union-attr]
        assert db.step(run_id, "train").state == "completed"  # type: ignore[union-attr]
        rep = submit(db, LocalExecutor(), registry, preset, [ds], settings, include_base=False)
        assert rep.requeued == [run_id]
        assert db.step(run_id, "eval").state == "completed"  # type: ignore[union-attr]
        assert db.step(run_id, "eval").attempts == 2  # type: ignore[union-attr]
    assert ran(control, ds, "train") == 1  # the completed training was not run again
    assert ran(control, ds, "eval") == 2


def test_gives_up_after_max_attempts(
    registry: PresetRegistry, datasets: dict[str, Path], control: Path, tmp_path: Path
) -> None:
    preset = registry.for_base_model("qwen2.5-7b")
    settings = tiny_settings(tmp_path / "work", control, max_attempts=2)
    settings.train_command = "exit 5"
    ds = str(datasets["alpha"])
    with JobDB(settings.db_path) as db:
        for _ in range(2):
            submit(db, LocalExecutor(), registry, preset, [ds], settings, include_base=False)
        rep = submit(db, LocalExecutor(), registry, preset, [ds], settings, include_base=False)
        assert rep.skipped == {f"qwen2.5-7b/{_slug(ds)}": "gave up after 2 attempts"}
        train = db.step(f"qwen2.5-7b/{_slug(ds)}", "train")
        assert train is not None and train.state == "failed" and "exit code 5" in (train.detail or "")


def test_job_script_runs_train_then_eval(
    registry: PresetRegistry, datasets: dict[str, Path], control: Path, tmp_path: Path
) -> None:
    """``job.sh`` (what ``oda bench config`` writes) is one sbatch-able script: train, then eval."""
    import subprocess

    from benchmarking.executors.base import read_markers
    from benchmarking.jobs import write_run

    settings = tiny_settings(tmp_path / "work", control)
    files = write_run(
        registry, registry.for_base_model("llama3.1-8b"), str(datasets["beta"]), tmp_path / "run", settings
    )
    assert files.job_script is not None
    proc = subprocess.run(["bash", str(files.job_script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert read_markers(files.run_dir, "train").state == "completed"
    assert read_markers(files.run_dir, "eval").state == "completed"
    assert next((files.run_dir / "eval").glob("*/summary/summary_*.csv"))
