"""Executors run the steps of a batch: ``local`` (subprocesses, the default) and ``slurm`` (array jobs)."""

from __future__ import annotations

from benchmarking.executors.base import Batch, Executor, SchedulerState, SchedulerUnavailable, Submitted
from benchmarking.executors.local import LocalExecutor
from benchmarking.executors.slurm import SlurmExecutor

__all__ = [
    "Batch",
    "Executor",
    "LocalExecutor",
    "SchedulerState",
    "SchedulerUnavailable",
    "SlurmExecutor",
    "Submitted",
]
