"""The embedded executor: runs each step script in a subprocess on this machine.

Runs of a batch are processed by ``workers`` threads (default 1); within a run, eval starts only after train
completed. ``submit`` returns when the batch is finished. If the command itself is killed, the next ``submit``
resumes: completed steps are skipped by their markers, and a step whose process vanished is requeued.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarking.db import Run
from benchmarking.executors.base import Batch, Executor, SchedulerState, Submitted, read_markers
from benchmarking.states import JobState, MarkerStatus

StartHook = Callable[[str, str, str], None]  # (run_id, step, job_id)


class LocalExecutor(Executor):
    """Subprocesses on this machine. ``on_start`` is told each step's job id (``local:PID``) as it starts."""

    name = "local"

    def __init__(
        self, *, workers: int = 1, on_start: StartHook | None = None, timeout_s: float | None = None
    ):
        self.workers = max(1, workers)
        self.on_start = on_start
        self.timeout_s = timeout_s

    def _run_step(self, run: Run, step: str, sub: Submitted) -> bool:
        script = Path(run.run_dir) / f"{step}.sh"
        if read_markers(run.run_dir, step).state == MarkerStatus.COMPLETED:
            return True
        proc = subprocess.Popen(
            ["bash", str(script)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        job_id = f"local:{proc.pid}"
        sub.job_ids[(run.run_id, step)] = job_id
        if self.on_start:
            self.on_start(run.run_id, step, job_id)
        try:
            rc = proc.wait(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 15)
            rc = proc.wait()
        return rc == 0

    def _run(self, run: Run, sub: Submitted) -> None:
        if run.kind == "base":
            self._run_step(run, "eval", sub)
            return
        if self._run_step(run, "train", sub):
            self._run_step(run, "eval", sub)

    def submit(self, batch: Batch) -> Submitted:
        sub = Submitted()
        runs = list(batch.runs) + ([batch.base_run] if batch.base_run else [])
        if batch.dry_run:
            for run in runs:
                steps = ("eval",) if run.kind == "base" else ("train", "eval")
                sub.commands.extend(["bash", str(Path(run.run_dir) / f"{s}.sh")] for s in steps)
            return sub
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            list(pool.map(lambda r: self._run(r, sub), runs))
        return sub

    def query(self, job_ids: list[str]) -> dict[str, SchedulerState]:
        """A local job is RUNNING while its process exists; otherwise it is unknown (finished or gone)."""
        states: dict[str, SchedulerState] = {}
        for job_id in job_ids:
            if not job_id.startswith("local:"):
                continue
            pid = int(job_id.split(":", 1)[1])
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            except PermissionError:
                pass
            states[job_id] = SchedulerState(JobState.RUNNING)
        return states
