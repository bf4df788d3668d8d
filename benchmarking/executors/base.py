"""What every executor shares: the batch it runs, the state of a step read from its marker files, and the
contract (``submit`` a batch, ``query`` the scheduler about jobs in flight).

Executors differ only in how a step script gets run: ``local`` runs it in a subprocess, ``slurm`` submits array
jobs. Completion is always decided by the marker files the step scripts write (see ``render.step_script``), so
the scheduler's memory is never needed for finished work.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path

from benchmarking.db import Run
from benchmarking.states import BLOCKED_EXIT_CODE, MarkerStatus

STEPS = ("train", "eval")


@dataclass
class Batch:
    """Runs submitted together: SFT runs (train then eval, one array index each) and an optional base-model run
    (eval only)."""

    batch_id: str
    batch_dir: Path
    runs: list[Run]
    base_run: Run | None = None
    dry_run: bool = False

    @property
    def manifest(self) -> list[str]:
        return [r.run_id for r in self.runs]


@dataclass
class Submitted:
    """Job ids per (run id, step), and the scripts an executor wrote (for ``--dry-run`` output)."""

    job_ids: dict[tuple[str, str], str] = field(default_factory=dict)
    scripts: dict[str, str] = field(default_factory=dict)
    commands: list[list[str]] = field(default_factory=list)


@dataclass(frozen=True)
class SchedulerState:
    """What the scheduler says about one job or array task."""

    state: str  # PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, ...
    reason: str = ""


class SchedulerUnavailable(Exception):
    """The scheduler could not be asked (controller down, command missing); states stay as last recorded."""


@dataclass(frozen=True)
class MarkerState:
    """A step's state according to its marker files."""

    state: MarkerStatus
    detail: str = ""
    attempts: int = 0


def read_markers(run_dir: str | Path, step: str) -> MarkerState:
    """Read ``markers/STEP.{done,failed,killed,running,attempts}`` of a run folder."""
    markers = Path(run_dir) / "markers"
    attempts_file = markers / f"{step}.attempts"
    attempts = len(attempts_file.read_text().splitlines()) if attempts_file.exists() else 0
    if (markers / f"{step}.done").exists():
        return MarkerState(MarkerStatus.COMPLETED, "", attempts)
    killed = markers / f"{step}.killed"
    if killed.exists():
        return MarkerState(
            MarkerStatus.KILLED,
            f"terminated by the scheduler or a signal ({killed.read_text().strip()})",
            attempts,
        )
    failed = markers / f"{step}.failed"
    if failed.exists():
        code = failed.read_text().strip()
        if code == str(BLOCKED_EXIT_CODE):
            return MarkerState(MarkerStatus.BLOCKED, "its training step did not complete", attempts)
        if code in ("137", "143"):
            signal = "SIGKILL" if code == "137" else "SIGTERM"
            return MarkerState(MarkerStatus.KILLED, f"killed by {signal} (exit code {code})", attempts)
        return MarkerState(
            MarkerStatus.FAILED, f"exit code {code}; see {Path(run_dir) / 'logs' / (step + '.log')}", attempts
        )
    if (markers / f"{step}.running").exists():
        return MarkerState(MarkerStatus.RUNNING, "", attempts)
    return MarkerState(MarkerStatus.NONE, "", attempts)


class Executor(abc.ABC):
    """Runs the steps of a batch."""

    name: str = "base"

    @abc.abstractmethod
    def submit(self, batch: Batch) -> Submitted:
        """Start (or, for ``dry_run``, only render) every step of the batch; return the job ids."""

    @abc.abstractmethod
    def query(self, job_ids: list[str]) -> dict[str, SchedulerState]:
        """States of the given jobs that the scheduler still knows. Raises ``SchedulerUnavailable``."""
