"""The run book: trace runs, their queue entries, dataset claims and per-dataset attempts, in SQL.

The same statements run on SQLite (the embedded service) and on Postgres (scale-out); only the parameter marker
differs. Times are Unix seconds. Tables:

- ``oda_runs``: one row per run (its options as JSON, whether it was cancelled, the queue lines refused);
- ``oda_entries``: one row per queue entry (``queued``, ``running``, ``traced``, ``finished``, ``failed``,
  ``cancelled``), with the entry's counters and failures once it ends. In the embedded service this table *is*
  the queue. Entries are traced concurrently but finish in queue order: an entry whose tree is done is ``traced``
  until no entry before it is queued or running, then ``finished``. The row keeps ``traced``, and reads show
  ``finished`` (``_entries_shown``): an entry's end is one statement on its own row, so workers ending entries
  of the same run never wait for one another;
- ``oda_claims``: who traces a dataset now, until when (a lease, renewed while the trace runs). A worker that
  dies stops renewing; once the lease expires another worker may take the dataset;
- ``oda_attempts``: one row per attempt at tracing a dataset in a run (worker, start, end, outcome). A finished
  attempt also marks the dataset done for that run, so another entry's tree reuses it instead of tracing again;
  an attempt stopped before its end by a live worker (its entry failed or was cancelled, the worker stopped) is
  finished as ``abandoned``, which marks nothing done. An attempt whose worker died stays unfinished.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, NamedTuple

from oda.errors import ConfigError

ENTRY_STATES = ("queued", "running", "traced", "finished", "failed", "cancelled")
_LAST_POSITION = 2**31 - 1
SCHEMA_LOCK = 0x0DA5C4E3A
POSTGRES_CONNECTIONS = 4
"""Connections of one run book on Postgres."""

ABANDONED = "abandoned"
"""The status of an attempt its live worker stopped before the end: the dataset is still to be traced."""


class DatasetStart(NamedTuple):
    """What ``RunBook.start_dataset`` found: the new attempt when the dataset is this holder's to trace; how an
    earlier attempt of the run finished it; or neither, while another holder's claim on it runs."""

    attempt: str | None = None
    done: str | None = None


SCHEMA = (
    """CREATE TABLE IF NOT EXISTS oda_runs (
        run_id TEXT PRIMARY KEY,
        created DOUBLE PRECISION NOT NULL,
        options TEXT NOT NULL,
        cancelled INTEGER NOT NULL DEFAULT 0,
        queue_failures TEXT NOT NULL DEFAULT '[]')""",
    """CREATE TABLE IF NOT EXISTS oda_entries (
        run_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        dataset TEXT NOT NULL,
        state TEXT NOT NULL,
        worker TEXT,
        job_id BIGINT,
        started DOUBLE PRECISION,
        finished DOUBLE PRECISION,
        counters TEXT NOT NULL DEFAULT '{}',
        failures TEXT NOT NULL DEFAULT '[]',
        error TEXT,
        PRIMARY KEY (run_id, position))""",
    """CREATE TABLE IF NOT EXISTS oda_claims (
        dataset TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        run_id TEXT NOT NULL,
        expires DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS oda_attempts (
        attempt TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        dataset TEXT NOT NULL,
        entry TEXT NOT NULL,
        depth INTEGER NOT NULL,
        worker TEXT NOT NULL,
        started DOUBLE PRECISION NOT NULL,
        finished DOUBLE PRECISION,
        status TEXT,
        edges INTEGER NOT NULL DEFAULT 0,
        note TEXT)""",
    "CREATE INDEX IF NOT EXISTS oda_attempts_run ON oda_attempts (run_id, dataset)",
)


def _entries_shown(columns: str, run_filter: str = "") -> str:
    """SELECT ``columns`` of ``oda_entries e`` with ``shown``, the state a read shows: a ``traced`` entry that no
    queued or running entry of its run comes before is ``finished``. ``run_filter`` (`` AND run_id = ?``) limits
    the open entries looked at to one run. Its parameter, if any, comes first, then ``_LAST_POSITION``."""
    return (
        "WITH open AS (SELECT run_id, MIN(position) AS first_open FROM oda_entries "
        f"WHERE state IN ('queued', 'running'){run_filter} GROUP BY run_id) "
        f"SELECT {columns}, CASE WHEN e.state = 'traced' AND e.position < COALESCE(o.first_open, ?) "
        "THEN 'finished' ELSE e.state END AS shown FROM oda_entries e LEFT JOIN open o ON o.run_id = e.run_id"
    )


def _rows(cursor: Any) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in cursor.fetchall()] if cursor.description else []


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and str(url).split("://", 1)[0] in ("postgresql", "postgres")


class RunBook:
    """Runs, entries, claims and attempts in SQL (see the module docstring).

    Thread-safe, so the API's threads and the workers' tasks share it: on SQLite one lock serializes statements
    over one connection; on Postgres statements run side by side over a small pool, a transaction on one of its
    connections."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.RLock()
        self._in_transaction = threading.local()
        self._renewals: Any = None
        self._renewals_lock = threading.Lock()
        self.postgres = is_postgres_url(url)
        if self.postgres:
            try:
                import psycopg
            except ImportError as exc:  # pragma: no cover - psycopg is a dependency
                raise ConfigError(
                    "a postgresql:// queue needs psycopg (pip install 'psycopg[binary]')"
                ) from exc
            from psycopg_pool import ConnectionPool

            try:
                psycopg.connect(url, autocommit=True).close()
            except psycopg.OperationalError as exc:
                raise ConfigError(f"cannot connect to the queue database: {exc}".strip()) from exc
            # A few connections, so the statements of the entries a worker holds do not queue behind one another
            # (each commit waits for the disk).
            self._pool: Any = ConnectionPool(
                url, min_size=1, max_size=POSTGRES_CONNECTIONS, kwargs={"autocommit": True}, open=True
            )
        else:
            path = Path(url.removeprefix("sqlite:"))
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        with self._transaction():
            if self.postgres:  # workers starting together on a fresh database create the tables one at a time
                self._execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))
            for statement in SCHEMA:
                self._execute(statement, ())

    # --- plumbing -----------------------------------------------------------------------------------------
    def _postgres_connection(self) -> AbstractContextManager[Any]:
        """The connection of the transaction this thread is in, else one from the pool for one statement."""
        conn = getattr(self._in_transaction, "conn", None)
        return nullcontext(conn) if conn is not None else self._pool.connection()

    def _execute(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        if self.postgres:
            with self._postgres_connection() as conn:
                return _rows(conn.execute(sql.replace("?", "%s"), tuple(params)))
        with self._lock:
            return _rows(self._conn.execute(sql, tuple(params)))

    def _execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement over many parameter rows (pipelined on Postgres: one round trip, not one per row)."""
        if not rows:
            return
        if self.postgres:
            with self._postgres_connection() as conn, conn.cursor() as cursor:
                cursor.executemany(sql.replace("?", "%s"), [tuple(r) for r in rows])
            return
        with self._lock:
            self._conn.executemany(sql, [tuple(r) for r in rows])

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        if self.postgres:
            with self._pool.connection() as conn, conn.transaction():
                self._in_transaction.conn = conn
                try:
                    yield
                finally:
                    self._in_transaction.conn = None
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        if self.postgres:
            with self._renewals_lock:
                if self._renewals is not None:
                    self._renewals.close()
            self._pool.close()
            return
        with self._lock:
            self._conn.close()

    # --- runs and entries ---------------------------------------------------------------------------------
    def create_run(
        self,
        run_id: str,
        options: dict[str, Any],
        datasets: Sequence[str],
        queue_failures: Sequence[dict[str, str]] = (),
    ) -> None:
        with self._transaction():
            self._execute(
                "INSERT INTO oda_runs (run_id, created, options, queue_failures) VALUES (?, ?, ?, ?)",
                (run_id, time.time(), json.dumps(options), json.dumps(list(queue_failures))),
            )
            self._execute_many(
                "INSERT INTO oda_entries (run_id, position, dataset, state) VALUES (?, ?, ?, 'queued')",
                [(run_id, position, dataset) for position, dataset in enumerate(datasets)],
            )

    def set_job_ids(self, run_id: str, job_ids: Sequence[tuple[int, int]]) -> None:
        """Record the queue job of each entry: ``(position, job_id)`` pairs."""
        self._execute_many(
            "UPDATE oda_entries SET job_id = ? WHERE run_id = ? AND position = ?",
            [(job_id, run_id, position) for position, job_id in job_ids],
        )

    def run_options(self, run_id: str) -> dict[str, Any] | None:
        rows = self._execute("SELECT options FROM oda_runs WHERE run_id = ?", (run_id,))
        return json.loads(rows[0][0]) if rows else None

    def is_cancelled(self, run_id: str) -> bool:
        rows = self._execute("SELECT cancelled FROM oda_runs WHERE run_id = ?", (run_id,))
        return bool(rows and rows[0][0])

    def cancel(self, run_id: str) -> list[int] | None:
        """Cancel a run: queued entries become ``cancelled`` at once, running ones stop after the datasets they
        are tracing. Returns the queue job ids of the entries cancelled here (None for an unknown run)."""
        with self._transaction():
            if not self._execute("SELECT 1 FROM oda_runs WHERE run_id = ?", (run_id,)):
                return None
            self._execute("UPDATE oda_runs SET cancelled = 1 WHERE run_id = ?", (run_id,))
            rows = self._execute(
                "UPDATE oda_entries SET state = 'cancelled', finished = ? WHERE run_id = ? AND state = 'queued' "
                "RETURNING job_id",
                (time.time(), run_id),
            )
        return [int(r[0]) for r in rows if r[0] is not None]

    def next_entry(self, worker: str) -> tuple[str, int, str] | None:
        """Take the oldest queued entry (embedded queue): ``(run_id, position, dataset)`` or None."""
        with self._transaction():
            rows = self._execute(
                "SELECT e.run_id, e.position, e.dataset FROM oda_entries e JOIN oda_runs r ON r.run_id = e.run_id "
                "WHERE e.state = 'queued' ORDER BY r.created, e.run_id, e.position LIMIT 1",
                (),
            )
            if not rows:
                return None
            run_id, position, dataset = rows[0]
            self._execute(
                "UPDATE oda_entries SET state = 'running', worker = ?, started = ? "
                "WHERE run_id = ? AND position = ?",
                (worker, time.time(), run_id, position),
            )
        return str(run_id), int(position), str(dataset)

    def start_entry(self, run_id: str, position: int, worker: str) -> str | None:
        """Mark an entry running for a queue job; returns its dataset, or None when it must not run (unknown,
        cancelled or already ended)."""
        with self._transaction():
            rows = self._execute(
                "SELECT e.dataset, e.state, r.cancelled FROM oda_entries e JOIN oda_runs r ON r.run_id = e.run_id "
                "WHERE e.run_id = ? AND e.position = ?",
                (run_id, position),
            )
            if not rows:
                return None
            dataset, state, cancelled = rows[0]
            if cancelled or state in ("traced", "finished", "failed", "cancelled"):
                return None
            self._execute(
                "UPDATE oda_entries SET state = 'running', worker = ?, started = COALESCE(started, ?) "
                "WHERE run_id = ? AND position = ?",
                (worker, time.time(), run_id, position),
            )
        return str(dataset)

    def finish_entry(
        self,
        run_id: str,
        position: int,
        state: str,
        *,
        counters: dict[str, int] | None = None,
        failures: list[dict[str, Any]] | None = None,
        error: str | None = None,
    ) -> None:
        """End an entry: ``finished`` (stored as ``traced``, and shown ``finished`` once every entry before it
        has ended), ``failed`` or ``cancelled``."""
        if state not in ("finished", "failed", "cancelled"):
            raise ValueError(f"an entry cannot end as {state!r}")
        self._execute(
            "UPDATE oda_entries SET state = ?, finished = ?, counters = ?, failures = ?, error = ? "
            "WHERE run_id = ? AND position = ?",
            (
                "traced" if state == "finished" else state,
                time.time(),
                json.dumps(counters or {}),
                json.dumps(failures or []),
                error,
                run_id,
                position,
            ),
        )

    def requeue_running(self) -> int:
        """Put entries left ``running`` by a stopped process back in the queue (embedded service start-up)."""
        rows = self._execute(
            "UPDATE oda_entries SET state = 'queued', worker = NULL WHERE state = 'running' RETURNING run_id",
            (),
        )
        return len(rows)

    def queue_depth(self) -> dict[str, int]:
        """Entries by state, over every run (``traced`` ones that no earlier entry holds back count as
        ``finished``)."""
        rows = self._execute(
            f"SELECT shown, COUNT(*) FROM ({_entries_shown('e.position')}) AS shown_entries GROUP BY shown",
            (_LAST_POSITION,),
        )
        counts = {state: 0 for state in ENTRY_STATES}
        counts.update({str(state): int(n) for state, n in rows})
        return counts

    def run_view(self, run_id: str) -> dict[str, Any] | None:
        """Everything the API shows about a run (``None`` when unknown)."""
        runs = self._execute(
            "SELECT created, options, cancelled, queue_failures FROM oda_runs WHERE run_id = ?", (run_id,)
        )
        if not runs:
            return None
        created, options, cancelled, queue_failures = runs[0]
        entries = []
        failures: list[dict[str, Any]] = list(json.loads(queue_failures))
        totals: dict[str, int] = {}
        columns = "e.position, e.dataset, e.worker, e.started, e.finished, e.counters, e.failures, e.error"
        for row in self._execute(
            f"{_entries_shown(columns, ' AND run_id = ?')} WHERE e.run_id = ? ORDER BY e.position",
            (run_id, _LAST_POSITION, run_id),
        ):
            position, dataset, worker, started, finished, counters, entry_failures, error, state = row
            counts = json.loads(counters)
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + int(value)
            failures.extend(json.loads(entry_failures))
            if error:
                failures.append({"dataset": dataset, "stage": "worker", "reason": error})
            entries.append(
                {
                    "position": position,
                    "dataset": dataset,
                    "state": state,
                    "worker": worker,
                    "started": started,
                    "finished": finished,
                    "counters": counts,
                }
            )
        datasets = [
            {
                "dataset": dataset,
                "entry": entry,
                "depth": depth,
                "status": status or "tracing",
                "worker": worker,
                "started": started,
                "finished": finished,
                "edges": edges,
                "note": note,
            }
            for dataset, entry, depth, status, worker, started, finished, edges, note in self._execute(
                "SELECT dataset, entry, depth, status, worker, started, finished, edges, note "
                "FROM oda_attempts WHERE run_id = ? ORDER BY started",
                (run_id,),
            )
        ]
        states = {e["state"] for e in entries}
        if cancelled:
            state = "cancelling" if states & {"running", "traced"} else "cancelled"
        elif not entries or states <= {"finished", "failed"}:
            state = "finished"
        elif states & {"running", "traced", "finished", "failed"}:
            state = "running"
        else:
            state = "queued"
        return {
            "run_id": run_id,
            "state": state,
            "created": created,
            "options": json.loads(options),
            "entries": entries,
            "datasets": datasets,
            "totals": totals,
            "failures": failures,
        }

    # --- claims -------------------------------------------------------------------------------------------
    def claim(self, dataset: str, holder: str, run_id: str, lease_s: float) -> bool:
        """Take (or renew) the claim on ``dataset`` unless another holder's lease is still running."""
        now = time.time()
        rows = self._execute(*self._claim_statement(dataset, holder, run_id, lease_s, now))
        return bool(rows)

    def renew(self, dataset: str, holder: str, run_id: str, lease_s: float) -> bool:
        """``claim`` for a holder that renews its lease: on Postgres over a connection of its own, so renewals
        never wait behind the other statements of a busy worker."""
        if not self.postgres:
            return self.claim(dataset, holder, run_id, lease_s)
        sql, params = self._claim_statement(dataset, holder, run_id, lease_s, time.time())
        with self._renewals_lock:
            if self._renewals is None or self._renewals.closed:
                import psycopg

                self._renewals = psycopg.connect(self.url, autocommit=True)
            return bool(_rows(self._renewals.execute(sql.replace("?", "%s"), params)))

    @staticmethod
    def _claim_statement(
        dataset: str, holder: str, run_id: str, lease_s: float, now: float
    ) -> tuple[str, tuple[Any, ...]]:
        return (
            "INSERT INTO oda_claims (dataset, holder, run_id, expires) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (dataset) DO UPDATE SET holder = excluded.holder, run_id = excluded.run_id, "
            "expires = excluded.expires WHERE oda_claims.expires < ? OR oda_claims.holder = excluded.holder "
            "RETURNING holder",
            (dataset, holder, run_id, now + lease_s, now),
        )

    def release(self, dataset: str, holder: str) -> None:
        self._execute("DELETE FROM oda_claims WHERE dataset = ? AND holder = ?", (dataset, holder))

    # --- attempts -----------------------------------------------------------------------------------------
    def start_attempt(self, run_id: str, dataset: str, entry: str, depth: int, worker: str) -> str:
        attempt = secrets.token_hex(8)
        self._execute(
            "INSERT INTO oda_attempts (attempt, run_id, dataset, entry, depth, worker, started) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (attempt, run_id, dataset, entry, depth, worker, time.time()),
        )
        return attempt

    def finish_attempt(self, attempt: str, status: str, edges: int, note: str | None) -> None:
        self._execute(
            "UPDATE oda_attempts SET finished = ?, status = ?, edges = ?, note = ? WHERE attempt = ?",
            (time.time(), status, edges, note, attempt),
        )

    def start_dataset(
        self, run_id: str, dataset: str, holder: str, lease_s: float, entry: str, depth: int, worker: str
    ) -> DatasetStart:
        """``claim``, ``done_status`` and ``start_attempt`` in one transaction: the attempt starts only when the
        claim was taken and no attempt of the run finished the dataset (then the claim is given back)."""
        with self._transaction():
            if not self.claim(dataset, holder, run_id, lease_s):
                return DatasetStart()
            done = self.done_status(run_id, dataset)
            if done is not None:
                self.release(dataset, holder)
                return DatasetStart(done=done)
            return DatasetStart(attempt=self.start_attempt(run_id, dataset, entry, depth, worker))

    def end_dataset(
        self, attempt: str, status: str, edges: int, note: str | None, dataset: str, holder: str
    ) -> None:
        """``finish_attempt`` and ``release`` in one transaction."""
        with self._transaction():
            self.finish_attempt(attempt, status, edges, note)
            self.release(dataset, holder)

    def done_status(self, run_id: str, dataset: str) -> str | None:
        """How ``dataset`` ended in this run when some attempt finished it, else None."""
        rows = self._execute(
            "SELECT status FROM oda_attempts WHERE run_id = ? AND dataset = ? AND finished IS NOT NULL "
            "AND status <> ? LIMIT 1",
            (run_id, dataset, ABANDONED),
        )
        return str(rows[0][0]) if rows else None

    def attempts(self, run_id: str) -> list[dict[str, Any]]:
        """Every attempt of a run (for checks and the API)."""
        keys = ("attempt", "dataset", "entry", "depth", "worker", "started", "finished", "status", "edges")
        rows = self._execute(
            "SELECT attempt, dataset, entry, depth, worker, started, finished, status, edges FROM oda_attempts "
            "WHERE run_id = ? ORDER BY started",
            (run_id,),
        )
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def live_queue_workers(self, within_s: float) -> int:
        """procrastinate workers whose heartbeat is at most ``within_s`` old (scale-out only)."""
        if not self.postgres:
            return 0
        rows = self._execute(
            "SELECT COUNT(*) FROM procrastinate_workers WHERE last_heartbeat > now() - make_interval(secs => ?)",
            (within_s,),
        )
        return int(rows[0][0]) if rows else 0

    def traced_total(self) -> dict[str, int]:
        rows = self._execute(
            "SELECT status, COUNT(*) FROM oda_attempts WHERE finished IS NOT NULL GROUP BY status", ()
        )
        return {str(status): int(n) for status, n in rows}
