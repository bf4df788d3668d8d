"""The Slurm executor: one array job for the training steps of a batch, one for the evaluation steps (task ``i``
of the eval array waits for task ``i`` of the train array: ``--dependency=aftercorr``), and a single job for the
base model's evaluation.

Rendering the sbatch scripts is pure (``benchmarking.render``); ``run_slurm`` is the one function that calls
Slurm's commands. A requeue is a new, smaller array over the failed indices of the same manifest; step scripts
skip work whose completion marker exists, so nothing runs twice.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from benchmarking.executors.base import Batch, Executor, SchedulerState, SchedulerUnavailable, Submitted
from benchmarking.render import SlurmResources, sbatch_array_script, sbatch_single_script
from oda.errors import BenchmarkError


def run_slurm(args: list[str], *, timeout_s: float = 60) -> str:
    """Run one Slurm command (``sbatch``, ``squeue``, ``scancel``...) and return its stdout.

    Raises ``BenchmarkError`` when the command is not on PATH, and ``SchedulerUnavailable`` when it fails (the
    message carries Slurm's own error).
    """
    exe = shutil.which(args[0])
    if exe is None:
        raise BenchmarkError(
            f"{args[0]} not found on PATH: Slurm's client tools are not installed here "
            "(install slurm-client, or use --executor local)"
        )
    try:
        proc = subprocess.run(
            [exe, *args[1:]], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise SchedulerUnavailable(f"{args[0]} timed out after {timeout_s:.0f} s") from exc
    if proc.returncode != 0:
        raise SchedulerUnavailable(f"{' '.join(args[:2])} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def array_spec(indices: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2,5"``."""
    parts: list[str] = []
    start = prev = None
    for i in sorted(set(indices)):
        if start is None:
            start = prev = i
        elif prev is not None and i == prev + 1:
            prev = i
        else:
            parts.append(f"{start}-{prev}" if start != prev else f"{start}")
            start = prev = i
    if start is not None:
        parts.append(f"{start}-{prev}" if start != prev else f"{start}")
    return ",".join(parts)


class SlurmExecutor(Executor):
    """Submits batches with ``sbatch``; asks ``squeue`` about jobs in flight."""

    name = "slurm"

    def __init__(
        self, resources: SlurmResources | None = None, *, eval_resources: SlurmResources | None = None
    ):
        self.resources = resources or SlurmResources()
        self.eval_resources = eval_resources or self.resources

    def render(self, batch: Batch) -> dict[str, str]:
        """The batch's scripts by file name (pure: nothing is written or submitted)."""
        log_dir = str(batch.batch_dir / "slurm")
        manifest = str(batch.batch_dir / "manifest.txt")
        scripts: dict[str, str] = {}
        if batch.runs:
            indices = array_spec(list(range(len(batch.runs))))
            scripts["sbatch_train.sh"] = sbatch_array_script(
                job_name=f"oda-train-{batch.batch_id}",
                step="train",
                manifest=manifest,
                log_dir=log_dir,
                resources=self.resources,
                array=indices,
            )
            scripts["sbatch_eval.sh"] = sbatch_array_script(
                job_name=f"oda-eval-{batch.batch_id}",
                step="eval",
                manifest=manifest,
                log_dir=log_dir,
                resources=self.eval_resources,
                array=indices,
                dependency="aftercorr:{train_job}",
            )
        if batch.base_run:
            scripts["sbatch_base_eval.sh"] = sbatch_single_script(
                job_name=f"oda-base-eval-{batch.batch_id}",
                script=str(Path(batch.base_run.run_dir) / "eval.sh"),
                log_dir=log_dir,
                resources=self.eval_resources,
            )
        return scripts

    def submit(self, batch: Batch) -> Submitted:
        scripts = self.render(batch)
        sub = Submitted(scripts=dict(scripts))
        batch.batch_dir.mkdir(parents=True, exist_ok=True)
        (batch.batch_dir / "slurm").mkdir(exist_ok=True)
        (batch.batch_dir / "manifest.txt").write_text("".join(f"{r.run_dir}\n" for r in batch.runs))
        for name, text in scripts.items():
            if name != "sbatch_eval.sh":
                (batch.batch_dir / name).write_text(text)
        if batch.dry_run:
            if batch.runs:
                sub.commands.append(["sbatch", "--parsable", str(batch.batch_dir / "sbatch_train.sh")])
                sub.commands.append(["sbatch", "--parsable", str(batch.batch_dir / "sbatch_eval.sh")])
                (batch.batch_dir / "sbatch_eval.sh").write_text(scripts["sbatch_eval.sh"])
            if batch.base_run:
                sub.commands.append(["sbatch", "--parsable", str(batch.batch_dir / "sbatch_base_eval.sh")])
            return sub
        try:
            if batch.runs:
                train_job = self._sbatch(batch.batch_dir / "sbatch_train.sh")
                eval_text = scripts["sbatch_eval.sh"].replace("{train_job}", train_job)
                (batch.batch_dir / "sbatch_eval.sh").write_text(eval_text)
                sub.scripts["sbatch_eval.sh"] = eval_text
                eval_job = self._sbatch(batch.batch_dir / "sbatch_eval.sh")
                for i, run in enumerate(batch.runs):
                    sub.job_ids[(run.run_id, "train")] = f"{train_job}_{i}"
                    sub.job_ids[(run.run_id, "eval")] = f"{eval_job}_{i}"
            if batch.base_run:
                base_job = self._sbatch(batch.batch_dir / "sbatch_base_eval.sh")
                sub.job_ids[(batch.base_run.run_id, "eval")] = base_job
        except SchedulerUnavailable as exc:
            raise BenchmarkError(f"submitting batch {batch.batch_id} failed: {exc}") from exc
        return sub

    @staticmethod
    def _sbatch(script: Path) -> str:
        out = run_slurm(["sbatch", "--parsable", str(script)])
        job_id = out.strip().split(";")[0]
        if not job_id.isdigit():
            raise BenchmarkError(f"sbatch returned an unexpected job id: {out.strip()!r}")
        return job_id

    def query(self, job_ids: list[str]) -> dict[str, SchedulerState]:
        """States of the jobs (``123`` or ``123_4``) that ``squeue`` still lists (finished ones for ~5 min)."""
        if not job_ids:
            return {}
        out = run_slurm(["squeue", "--noheader", "--array", "--states=all", "--format=%i|%T|%r"])
        wanted = set(job_ids)
        states: dict[str, SchedulerState] = {}
        for line in out.splitlines():
            parts = line.strip().split("|")
            if len(parts) < 2:
                continue
            job, state = parts[0], parts[1]
            reason = parts[2] if len(parts) > 2 else ""
            if job in wanted:
                states[job] = SchedulerState(state, "" if reason == "None" else reason)
        return states

    @staticmethod
    def cancel(job_id: str) -> None:
        """Cancel one job or array task."""
        run_slurm(["scancel", job_id])
