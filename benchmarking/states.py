"""The states a benchmark step goes through, the scheduler's job states the refresh acts on, and the exit code
that a step script and the marker reader agree on.

Values are the strings stored in the job database and shown by ``oda bench status``; being ``StrEnum`` members
they compare equal to those strings.
"""

from __future__ import annotations

from enum import StrEnum

#: A step script exits with this code (and writes it to ``STEP.failed``) when the step it requires has not
#: completed; the marker reader turns it into ``StepStatus.BLOCKED``.
BLOCKED_EXIT_CODE = 3


class StepStatus(StrEnum):
    """State of one step (train, eval, collect) of one run, as recorded in the job database."""

    SUBMITTED = "submitted"
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    KILLED = "killed"
    LOST = "lost"
    BLOCKED = "blocked"


#: In flight: the scheduler (or a local process) still owns the step.
IN_FLIGHT = frozenset({StepStatus.SUBMITTED, StepStatus.PENDING, StepStatus.RUNNING})
#: Final failures, until the run is submitted again.
FAILED_STATES = frozenset({StepStatus.FAILED, StepStatus.KILLED, StepStatus.LOST, StepStatus.BLOCKED})


class MarkerStatus(StrEnum):
    """What a step's marker files say (``NONE``: the step left no marker yet)."""

    COMPLETED = "completed"
    FAILED = "failed"
    KILLED = "killed"
    BLOCKED = "blocked"
    RUNNING = "running"
    NONE = "none"


#: Marker states that end a step; the refresh takes them over as the step's state.
FINAL_MARKERS = frozenset(
    {MarkerStatus.COMPLETED, MarkerStatus.FAILED, MarkerStatus.KILLED, MarkerStatus.BLOCKED}
)


class JobState(StrEnum):
    """The scheduler's job states (Slurm names; the local executor reports ``RUNNING`` only) the refresh acts
    on. A scheduler may report others; those count as ended without a completion marker."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    CONFIGURING = "CONFIGURING"
    COMPLETING = "COMPLETING"
    SUSPENDED = "SUSPENDED"
    REQUEUED = "REQUEUED"
    RESIZING = "RESIZING"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    NODE_FAIL = "NODE_FAIL"
    PREEMPTED = "PREEMPTED"
    DEADLINE = "DEADLINE"
    BOOT_FAIL = "BOOT_FAIL"


#: The job is alive (queued steps are ``PENDING``).
ALIVE = frozenset(
    {
        JobState.RUNNING,
        JobState.CONFIGURING,
        JobState.COMPLETING,
        JobState.SUSPENDED,
        JobState.REQUEUED,
        JobState.RESIZING,
    }
)
#: The scheduler ended the job (cancel, limits, node trouble).
KILLED_BY_SCHEDULER = frozenset(
    {
        JobState.CANCELLED,
        JobState.TIMEOUT,
        JobState.OUT_OF_MEMORY,
        JobState.NODE_FAIL,
        JobState.PREEMPTED,
        JobState.DEADLINE,
        JobState.BOOT_FAIL,
    }
)
