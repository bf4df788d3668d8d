"""The local job database (SQLite): runs, their steps and states, submissions, dataset sizes and results.

It is the source of truth for ``submit``/``status``/``collect``, together with the marker files the step
scripts write; the scheduler is only asked about jobs that are still in flight (Slurm forgets finished jobs
after a few minutes when no accounting database runs). Every write is one transaction, so a killed command
leaves the database consistent and the next command resumes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarking.states import StepStatus
from graph_store.models import BenchResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY,
  dataset TEXT NOT NULL,
  preset TEXT NOT NULL,
  base_model TEXT NOT NULL,
  kind TEXT NOT NULL,             -- sft | base
  run_dir TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS steps (
  run_id TEXT NOT NULL,
  step TEXT NOT NULL,             -- train | eval | collect
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  job_id TEXT,
  batch_id TEXT,
  detail TEXT,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (run_id, step)
);
CREATE TABLE IF NOT EXISTS batches (
  batch_id TEXT PRIMARY KEY,
  executor TEXT NOT NULL,
  preset TEXT NOT NULL,
  manifest TEXT NOT NULL,         -- JSON list of run ids, in array-index order
  jobs TEXT NOT NULL DEFAULT '{}',-- JSON {step: job id}
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS datasets (
  dataset TEXT PRIMARY KEY,
  name TEXT,
  size INTEGER
);
CREATE TABLE IF NOT EXISTS results (
  dataset TEXT NOT NULL,
  base_model TEXT NOT NULL,
  benchmark TEXT NOT NULL,
  domain TEXT,
  metric TEXT NOT NULL,
  score REAL NOT NULL,
  base_score REAL,
  delta REAL,
  run_id TEXT,
  source TEXT NOT NULL,
  PRIMARY KEY (dataset, base_model, benchmark)
);
CREATE TABLE IF NOT EXISTS base_results (
  base_model TEXT NOT NULL,
  benchmark TEXT NOT NULL,
  domain TEXT,
  metric TEXT NOT NULL,
  score REAL NOT NULL,
  source TEXT NOT NULL,
  PRIMARY KEY (base_model, benchmark)
);
"""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Run:
    run_id: str
    dataset: str
    preset: str
    base_model: str
    kind: str
    run_dir: str


@dataclass
class StepState:
    run_id: str
    step: str
    state: StepStatus
    attempts: int
    job_id: str | None
    batch_id: str | None
    detail: str | None
    updated_at: str

    def __post_init__(self) -> None:
        self.state = StepStatus(self.state)


class JobDB:
    """A small SQLite database; safe to open from several processes (WAL, short transactions)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            str(self.path), timeout=30, check_same_thread=False, isolation_level=None
        )
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> JobDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # --- runs and steps -------------------------------------------------------------------------------------
    def upsert_run(self, run: Run) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO runs VALUES (?,?,?,?,?,?,?) ON CONFLICT(run_id) DO UPDATE SET run_dir=excluded.run_dir",
                (run.run_id, run.dataset, run.preset, run.base_model, run.kind, run.run_dir, now()),
            )

    def get_run(self, run_id: str) -> Run | None:
        row = self._conn.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return (
            Run(*[row[k] for k in ("run_id", "dataset", "preset", "base_model", "kind", "run_dir")])
            if row
            else None
        )

    def runs(self, preset: str | None = None) -> list[Run]:
        q = "SELECT * FROM runs" + (" WHERE preset=?" if preset else "") + " ORDER BY run_id"
        rows = self._conn.execute(q, (preset,) if preset else ()).fetchall()
        return [
            Run(*[r[k] for k in ("run_id", "dataset", "preset", "base_model", "kind", "run_dir")])
            for r in rows
        ]

    def set_step(
        self,
        run_id: str,
        step: str,
        state: StepStatus,
        *,
        detail: str | None = None,
        job_id: str | None = None,
        batch_id: str | None = None,
        new_attempt: bool = False,
    ) -> None:
        """Set a step's state (creating the row); ``new_attempt`` counts one more submission."""
        with self.tx() as c:
            c.execute(
                "INSERT INTO steps (run_id, step, state, attempts, job_id, batch_id, detail, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(run_id, step) DO UPDATE SET state=excluded.state, "
                "attempts=steps.attempts + ?, job_id=COALESCE(excluded.job_id, steps.job_id), "
                "batch_id=COALESCE(excluded.batch_id, steps.batch_id), detail=excluded.detail, "
                "updated_at=excluded.updated_at",
                (run_id, step, state, int(new_attempt), job_id, batch_id, detail, now(), int(new_attempt)),
            )

    def step(self, run_id: str, step: str) -> StepState | None:
        row = self._conn.execute("SELECT * FROM steps WHERE run_id=? AND step=?", (run_id, step)).fetchone()
        return StepState(**dict(row)) if row else None

    def steps(self, run_id: str | None = None) -> list[StepState]:
        q = "SELECT * FROM steps" + (" WHERE run_id=?" if run_id else "") + " ORDER BY run_id, step"
        return [StepState(**dict(r)) for r in self._conn.execute(q, (run_id,) if run_id else ()).fetchall()]

    # --- batches --------------------------------------------------------------------------------------------
    def add_batch(self, batch_id: str, executor: str, preset: str, manifest: list[str]) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT OR IGNORE INTO batches (batch_id, executor, preset, manifest, created_at) VALUES (?,?,?,?,?)",
                (batch_id, executor, preset, json.dumps(manifest), now()),
            )

    def set_batch_job(self, batch_id: str, step: str, job_id: str) -> None:
        with self.tx() as c:
            row = c.execute("SELECT jobs FROM batches WHERE batch_id=?", (batch_id,)).fetchone()
            jobs = json.loads(row["jobs"]) if row else {}
            jobs[step] = job_id
            c.execute("UPDATE batches SET jobs=? WHERE batch_id=?", (json.dumps(jobs), batch_id))

    def batches(self) -> list[dict[str, Any]]:
        rows = self._conn.execute("SELECT * FROM batches ORDER BY created_at, batch_id").fetchall()
        return [
            {**dict(r), "manifest": json.loads(r["manifest"]), "jobs": json.loads(r["jobs"])} for r in rows
        ]

    # --- datasets and results -------------------------------------------------------------------------------
    def set_dataset(self, dataset: str, *, name: str | None = None, size: int | None = None) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO datasets VALUES (?,?,?) ON CONFLICT(dataset) DO UPDATE SET "
                "name=COALESCE(excluded.name, datasets.name), size=COALESCE(excluded.size, datasets.size)",
                (dataset, name, size),
            )

    def dataset_sizes(self) -> dict[str, int]:
        rows = self._conn.execute("SELECT dataset, size FROM datasets WHERE size IS NOT NULL").fetchall()
        return {r["dataset"]: int(r["size"]) for r in rows}

    def dataset_names(self) -> dict[str, str]:
        rows = self._conn.execute("SELECT dataset, name FROM datasets WHERE name IS NOT NULL").fetchall()
        return {r["dataset"]: r["name"] for r in rows}

    def put_results(self, results: Iterable[BenchResult]) -> int:
        """Insert or replace results by (dataset, base_model, benchmark)."""
        rows = [
            (
                r.dataset,
                r.base_model,
                r.benchmark,
                r.domain,
                r.metric,
                r.score,
                r.base_score,
                r.delta,
                r.run_id,
                r.source,
            )
            for r in results
        ]
        with self.tx() as c:
            c.executemany("INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        return len(rows)

    def results(self, base_model: str | None = None) -> list[BenchResult]:
        q = (
            "SELECT * FROM results"
            + (" WHERE base_model=?" if base_model else "")
            + " ORDER BY dataset, benchmark"
        )
        return [BenchResult(**dict(r)) for r in self._conn.execute(q, (base_model,) if base_model else ())]

    def put_base_results(
        self, base_model: str, rows: Iterable[tuple[str, str | None, str, float]], source: str
    ) -> int:
        """Scores of the base model itself: (benchmark, domain, metric, score) rows."""
        data = [(base_model, b, d, m, s, source) for b, d, m, s in rows]
        with self.tx() as c:
            c.executemany("INSERT OR REPLACE INTO base_results VALUES (?,?,?,?,?,?)", data)
        return len(data)

    def base_results(self) -> dict[str, dict[str, float]]:
        """{base_model: {benchmark: score}}."""
        out: dict[str, dict[str, float]] = {}
        for r in self._conn.execute("SELECT * FROM base_results"):
            out.setdefault(r["base_model"], {})[r["benchmark"]] = float(r["score"])
        return out
