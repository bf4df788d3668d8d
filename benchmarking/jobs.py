"""Batch SFT + evaluation jobs: write a run's files, submit batches, refresh their state, collect results.

A *run* is one dataset fine-tuned with one training preset (``PRESET/DATASET``), plus one base run per preset
(the base model evaluated as is, for deltas). Its folder holds::

    data/            the normalized dataset and dataset_info.json
    train.yaml       LLaMA-Factory arguments        train.sh   step script (markers in markers/)
    eval_config.py   OpenCompass config             eval.sh    step script
    job.sh           sbatch-able: train then eval   model/     the checkpoint     eval/   OpenCompass output

``submit`` is idempotent: completed runs and runs in flight are skipped, failed ones are requeued (up to
``max_attempts`` submissions). ``refresh`` reconciles the database with marker files and the scheduler.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarking import render
from benchmarking.db import JobDB, Run
from benchmarking.executors.base import Batch, Executor, SchedulerUnavailable, read_markers
from benchmarking.opencompass_output import find_summary, parse_summary, scores_by_benchmark
from benchmarking.prepare import prepare_dataset
from benchmarking.presets import PresetRegistry, TrainPreset, deepspeed_config_path
from benchmarking.states import (
    ALIVE,
    FAILED_STATES,
    FINAL_MARKERS,
    IN_FLIGHT,
    KILLED_BY_SCHEDULER,
    JobState,
    MarkerStatus,
    StepStatus,
)
from graph_store.models import BenchResult
from oda.errors import AcquisitionError, BenchmarkError, InputError

BASE_RUN = "__base__"


@dataclass(kw_only=True)
class JobSettings:
    """How runs are rendered and executed (everything a user may change besides the preset)."""

    work_dir: Path = Path(".oda/bench")
    train_command: str = render.DEFAULT_TRAIN_COMMAND
    eval_command: str = render.DEFAULT_EVAL_COMMAND
    eval_backend: str = "vllm"  # vllm | openai
    api_base: str | None = None
    api_model: str | None = None
    tokenizer_path: str | None = None
    benchmarks: list[str] | None = None
    train_overrides: dict[str, Any] = field(default_factory=dict)
    sample_limit: int | None = None
    max_attempts: int = 3
    env: dict[str, str] = field(default_factory=dict)

    @property
    def db_path(self) -> Path:
        return self.work_dir / "jobs.db"


@dataclass
class RunFiles:
    """What ``write_run`` produced."""

    run_dir: Path
    train_yaml: Path | None
    eval_config: Path
    job_script: Path | None
    n_samples: int | None = None
    skipped_benchmarks: list[str] = field(default_factory=list)
    data_error: str | None = None
    """Why the dataset's data file could not be written yet (``write_run(..., allow_missing_data=True)``)."""


def run_id_for(preset: TrainPreset, dataset: str) -> str:
    return f"{preset.name}/{dataset if dataset == BASE_RUN else render.dataset_slug(dataset)}"


def write_run(
    registry: PresetRegistry,
    preset: TrainPreset,
    dataset: str,
    run_dir: Path,
    settings: JobSettings,
    *,
    resources: render.SlurmResources | None = None,
    allow_missing_data: bool = False,
) -> RunFiles:
    """Normalize ``dataset`` and write every file of its run into ``run_dir`` (``dataset == "__base__"``: only
    the base model's evaluation). Raises ``InputError`` for a dataset with no samples. With
    ``allow_missing_data``, a dataset that cannot be fetched now (``AcquisitionError``) still gets every config
    file; ``RunFiles.data_error`` says why its data file is missing."""
    run_dir = run_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    run_id = run_id_for(preset, dataset)
    suite = registry.suite(preset.suite)
    inference = registry.inference(preset.inference)
    is_base = dataset == BASE_RUN
    model_dir = preset.model_name_or_path if is_base else str(run_dir / "model")
    abbr = f"{preset.base_model}-base" if is_base else f"{preset.name}--{render.dataset_slug(dataset)}"[:120]
    target = render.EvalTarget(
        backend="openai" if settings.eval_backend == "openai" else "vllm",
        abbr=abbr,
        path=model_dir,
        num_gpus=max(1, min(preset.gpus, 8)),
        api_base=settings.api_base,
        api_model=settings.api_model,
        tokenizer_path=settings.tokenizer_path or model_dir,
    )
    rendered_eval = render.opencompass_config(
        suite,
        inference,
        target,
        work_dir=str(run_dir / "eval"),
        benchmarks=settings.benchmarks,
        title=f"Run {run_id}.",
    )
    eval_config = run_dir / "eval_config.py"
    eval_config.write_text(rendered_eval.text, encoding="utf-8")
    values = {
        "run_dir": str(run_dir),
        "train_yaml": str(run_dir / "train.yaml"),
        "eval_config": str(eval_config),
        "eval_dir": str(run_dir / "eval"),
        "model_dir": model_dir,
        "dataset": dataset,
    }
    env = {"ODA_RUN_ID": run_id, "ODA_DATASET": dataset, **settings.env}

    def write_step(step: str, command: str, requires: str | None = None) -> None:
        script = render.step_script(
            run_id=run_id,
            run_dir=str(run_dir),
            step=step,
            command=render.fill_command(command, values),
            requires=requires,
            env=env,
        )
        (run_dir / f"{step}.sh").write_text(script)

    write_step("eval", settings.eval_command, requires=None if is_base else "train")
    files = RunFiles(run_dir, None, eval_config, None, skipped_benchmarks=rendered_eval.skipped)
    if is_base:
        return files
    data_dir = run_dir / "data"
    dataset_name = render.dataset_slug(dataset)
    try:
        prepared = prepare_dataset(dataset, data_dir, name=dataset_name, limit=settings.sample_limit)
        files.n_samples = prepared.n_samples
    except AcquisitionError as exc:
        if not allow_missing_data:
            raise
        files.data_error = str(exc)
    config = render.train_config(
        preset,
        dataset_name=dataset_name,
        dataset_dir=str(data_dir),
        output_dir=str(run_dir / "model"),
        deepspeed_path=str(deepspeed_config_path(preset.hparams.deepspeed)),
        overrides=settings.train_overrides,
    )
    files.train_yaml = run_dir / "train.yaml"
    files.train_yaml.write_text(render.to_yaml(config), encoding="utf-8")
    write_step("train", settings.train_command)
    files.job_script = run_dir / "job.sh"
    files.job_script.write_text(
        render.job_script(
            job_name=f"oda-{render.dataset_slug(dataset)}"[:60],
            run_dir=str(run_dir),
            resources=resources or render.SlurmResources(gpus_per_node=preset.gpus),
        )
    )
    return files


@dataclass
class SubmitReport:
    batch_id: str | None = None
    submitted: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    commands: list[list[str]] = field(default_factory=list)
    scripts: dict[str, str] = field(default_factory=dict)


def read_queue(path: str | Path) -> list[str]:
    """Dataset ids or paths, one per line; blank lines and ``#`` comments ignored; duplicates dropped."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"queue file not found: {p}")
    items = [line.split("#", 1)[0].strip() for line in p.read_text(encoding="utf-8").splitlines()]
    return list(dict.fromkeys(i for i in items if i))


def _needs_work(db: JobDB, run_id: str, *, kind: str, max_attempts: int) -> tuple[bool, str]:
    """Whether a run must be (re)submitted, and why not when it must not."""
    final_step = db.step(run_id, "eval")
    if final_step and final_step.state == StepStatus.COMPLETED:
        return False, "already completed"
    steps = [s for s in (db.step(run_id, "train"), final_step) if s is not None]
    if any(s.state in IN_FLIGHT for s in steps):
        return False, "in flight"
    attempts = max((s.attempts for s in steps), default=0)
    if attempts >= max_attempts and any(s.state in FAILED_STATES for s in steps):
        return False, f"gave up after {attempts} attempts"
    return True, ""


def submit(
    db: JobDB,
    executor: Executor,
    registry: PresetRegistry,
    preset: TrainPreset,
    datasets: list[str],
    settings: JobSettings,
    *,
    dry_run: bool = False,
    include_base: bool = True,
    resources: render.SlurmResources | None = None,
) -> SubmitReport:
    """Submit one SFT + eval run per dataset (and the base model's eval) as one batch; see the module doc."""
    report = SubmitReport()
    if not dry_run:
        refresh(db, executor)
    runs: list[Run] = []
    base: Run | None = None
    wanted = list(datasets) + ([BASE_RUN] if include_base else [])
    for dataset in wanted:
        run_id = run_id_for(preset, dataset)
        kind = "base" if dataset == BASE_RUN else "sft"
        needed, why = _needs_work(db, run_id, kind=kind, max_attempts=settings.max_attempts)
        if not needed:
            report.skipped[run_id] = why
            continue
        existing = db.get_run(run_id)
        run_dir = (
            settings.work_dir.resolve()
            / "runs"
            / preset.name
            / (BASE_RUN if kind == "base" else render.dataset_slug(dataset))
        )
        try:
            files = write_run(registry, preset, dataset, run_dir, settings, resources=resources)
        except (InputError, BenchmarkError) as exc:
            report.failed[run_id] = str(exc)
            if not dry_run:
                db.upsert_run(Run(run_id, dataset, preset.name, preset.base_model, kind, str(run_dir)))
                db.set_step(run_id, "train", StepStatus.FAILED, detail=f"prepare: {exc}")
            continue
        run = Run(run_id, dataset, preset.name, preset.base_model, kind, str(run_dir))
        if kind == "base":
            base = run
        else:
            runs.append(run)
            if files.n_samples is not None and not dry_run:
                db.set_dataset(dataset, size=files.n_samples)
        (report.requeued if existing else report.submitted).append(run_id)
        if not dry_run:
            db.upsert_run(run)
    if not runs and base is None:
        return report
    batch_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    batch = Batch(batch_id, settings.work_dir.resolve() / "batches" / batch_id, runs, base, dry_run=dry_run)
    report.batch_id = batch_id
    if not dry_run:
        db.add_batch(batch_id, executor.name, preset.name, batch.manifest)
        for run in [*runs, *([base] if base else [])]:
            for step in ("eval",) if run.kind == "base" else ("train", "eval"):
                clear_stale_markers(run.run_dir, step)
                db.set_step(run.run_id, step, StepStatus.SUBMITTED, batch_id=batch_id, new_attempt=True)
    _hook_local(executor, db)
    sub = executor.submit(batch)
    report.commands, report.scripts = sub.commands, sub.scripts
    if dry_run:
        return report
    for (run_id, step), job_id in sub.job_ids.items():
        db.set_step(run_id, step, StepStatus.PENDING, job_id=job_id)
    for step_name, prefix in (("train", 0), ("eval", 1)):
        ids = {j.split("_")[0] for (_, s), j in sub.job_ids.items() if s == step_name}
        for j in ids:
            db.set_batch_job(batch_id, f"{step_name}:{prefix}", j)
    refresh(db, executor)
    return report


def clear_stale_markers(run_dir: str | Path, step: str) -> None:
    """Before a step is submitted again, drop the end markers of its previous attempt (``.done`` and the attempt
    log stay), so that the old outcome is not mistaken for the new one."""
    markers = Path(run_dir) / "markers"
    for suffix in ("failed", "killed", "running"):
        (markers / f"{step}.{suffix}").unlink(missing_ok=True)


def _hook_local(executor: Executor, db: JobDB) -> None:
    from benchmarking.executors.local import LocalExecutor

    if isinstance(executor, LocalExecutor) and executor.on_start is None:
        executor.on_start = lambda run_id, step, job_id: db.set_step(
            run_id, step, StepStatus.RUNNING, job_id=job_id
        )


def query_jobs(executor: Executor, job_ids: list[str]) -> dict[str, Any]:
    """Ask the right executor about each job: ``local:PID`` ids locally, the others with ``executor`` (or Slurm
    when ``executor`` is the local one)."""
    from benchmarking.executors.local import LocalExecutor
    from benchmarking.executors.slurm import SlurmExecutor

    local_ids = [j for j in job_ids if j.startswith("local:")]
    other_ids = [j for j in job_ids if not j.startswith("local:")]
    known: dict[str, Any] = {}
    if local_ids:
        local = executor if isinstance(executor, LocalExecutor) else LocalExecutor()
        known.update(local.query(local_ids))
    if other_ids:
        remote = SlurmExecutor() if isinstance(executor, LocalExecutor) else executor
        try:
            known.update(remote.query(other_ids))
        except BenchmarkError as exc:  # e.g. squeue not on PATH
            raise SchedulerUnavailable(str(exc)) from exc
    return known


@dataclass
class RefreshReport:
    changed: dict[str, str] = field(default_factory=dict)
    scheduler_error: str | None = None


def refresh(db: JobDB, executor: Executor) -> RefreshReport:
    """Reconcile in-flight steps with the scheduler (asked first) and the marker files (which win)."""
    report = RefreshReport()
    active = sorted(
        (s for s in db.steps() if s.state in IN_FLIGHT), key=lambda s: (s.step != "train", s.run_id)
    )
    if not active:
        return report
    known: dict[str, Any] | None
    try:
        known = query_jobs(executor, [s.job_id for s in active if s.job_id])
    except SchedulerUnavailable as exc:
        known, report.scheduler_error = None, str(exc)
    for s in active:
        run = db.get_run(s.run_id)
        if run is None:
            continue
        marker = read_markers(run.run_dir, s.step)
        new_state, detail = s.state, s.detail
        train = db.step(s.run_id, "train") if s.step == "eval" else None
        train_failed = train is not None and train.state in FAILED_STATES
        if marker.state in FINAL_MARKERS:
            new_state, detail = StepStatus(marker.state), marker.detail or None
        elif (
            train_failed
            and marker.state == MarkerStatus.NONE
            and (not s.job_id or (known is not None and s.job_id not in known))
        ):
            new_state, detail = StepStatus.BLOCKED, "its training step did not complete"
        elif known is None:
            continue  # the scheduler cannot be asked: keep what we know
        elif s.job_id and s.job_id in known:
            sched = known[s.job_id]
            if sched.state == JobState.PENDING:
                new_state, detail = StepStatus.PENDING, sched.reason or None
                if "DependencyNeverSatisfied" in sched.reason:
                    new_state, detail = StepStatus.BLOCKED, "its training step did not complete"
            elif sched.state in ALIVE:
                new_state, detail = StepStatus.RUNNING, None
            elif sched.state in KILLED_BY_SCHEDULER:
                if train_failed:
                    new_state, detail = StepStatus.BLOCKED, "its training step did not complete"
                else:
                    new_state, detail = StepStatus.KILLED, f"killed by the scheduler ({sched.state})"
            else:
                new_state, detail = (
                    StepStatus.FAILED,
                    f"the job ended ({sched.state}) without a completion marker",
                )
        elif s.job_id:
            new_state = StepStatus.LOST
            detail = (
                "the job is gone from the scheduler and left no completion marker (killed without notice)"
            )
        if new_state != s.state or detail != s.detail:
            db.set_step(s.run_id, s.step, new_state, detail=detail)
            report.changed[f"{s.run_id}:{s.step}"] = new_state
    return report


def status(db: JobDB, executor: Executor | None = None) -> dict[str, Any]:
    """Every run with the state of each step, plus counts by state (refreshing first when an executor is given)."""
    info: dict[str, Any] = {}
    if executor is not None:
        rep = refresh(db, executor)
        if rep.scheduler_error:
            info["scheduler_error"] = rep.scheduler_error
    runs = []
    counts: dict[str, int] = {}
    for run in db.runs():
        steps = {s.step: s for s in db.steps(run.run_id)}
        entry: dict[str, Any] = {"run_id": run.run_id, "dataset": run.dataset, "base_model": run.base_model}
        for name, s in steps.items():
            entry[name] = {"state": s.state, "attempts": s.attempts, "job_id": s.job_id, "detail": s.detail}
            counts[f"{name}:{s.state}"] = counts.get(f"{name}:{s.state}", 0) + 1
        runs.append(entry)
    info.update({"runs": runs, "counts": counts})
    return info


@dataclass
class CollectReport:
    results: list[BenchResult] = field(default_factory=list)
    collected: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    waiting: list[str] = field(default_factory=list)
    missing_benchmarks: dict[str, list[str]] = field(default_factory=dict)


def collect(db: JobDB, registry: PresetRegistry, *, executor: Executor | None = None) -> CollectReport:
    """Parse the OpenCompass summary of every evaluated run into results (base runs first, for the deltas).

    A run whose evaluation has not completed is listed in ``waiting``; a missing or half-written summary is
    recorded as a failed ``collect`` step with the reason. Idempotent: results are replaced, never duplicated.
    """
    if executor is not None:
        refresh(db, executor)
    report = CollectReport()
    runs = sorted(db.runs(), key=lambda r: (r.kind != "base", r.run_id))
    for run in runs:
        eval_step = db.step(run.run_id, "eval")
        if eval_step is None or eval_step.state != StepStatus.COMPLETED:
            states = [s for s in (db.step(run.run_id, "train"), eval_step) if s is not None]
            failed = [s for s in states if s.state in FAILED_STATES]
            if failed and not any(s.state in IN_FLIGHT for s in states):
                report.failed[run.run_id] = (
                    f"{failed[0].step} {failed[0].state}: {failed[0].detail or ''}".strip()
                )
            else:
                report.waiting.append(run.run_id)
            continue
        preset = registry.train(run.preset)
        suite = registry.suite(preset.suite)
        try:
            summary = parse_summary(find_summary(Path(run.run_dir) / "eval"))
            mapped = scores_by_benchmark(summary, suite)
        except BenchmarkError as exc:
            db.set_step(run.run_id, "collect", StepStatus.FAILED, detail=str(exc))
            report.failed[run.run_id] = str(exc)
            continue
        if mapped.missing:
            report.missing_benchmarks[run.run_id] = mapped.missing
        rows = [(spec.node_id, spec.domain, metric, score) for spec, metric, score in mapped.scores.values()]
        if run.kind == "base":
            db.put_base_results(run.base_model, rows, source="collect")
        else:
            base = db.base_results().get(run.base_model, {})
            results = []
            for bench, domain, metric, score in rows:
                base_score = base.get(bench)
                results.append(
                    BenchResult(
                        dataset=run.dataset,
                        base_model=run.base_model,
                        benchmark=bench,
                        domain=domain,
                        metric=metric,
                        score=score,
                        base_score=base_score,
                        delta=None if base_score is None else round(score - base_score, 6),
                        run_id=run.run_id,
                        source="collect",
                    )
                )
            db.put_results(results)
            report.results.extend(results)
        detail = json.dumps({"benchmarks": len(rows), "missing": mapped.missing}) if mapped.missing else None
        db.set_step(run.run_id, "collect", StepStatus.COMPLETED, detail=detail)
        report.collected.append(run.run_id)
    return report
