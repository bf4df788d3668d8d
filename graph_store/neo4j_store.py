"""The Neo4j store, through the official ``neo4j`` driver (Neo4j 5, or a Bolt server speaking its dialect).

- The driver is injected (``Neo4jStore(driver)``) or built by ``Neo4jStore.connect(uri, auth=…)``; neither does
  network I/O. Constraints and indexes are created on first use.
- Writes are batched ``UNWIND $rows`` statements in managed transactions (``execute_write``), which the driver
  retries on transient errors (deadlocks, leader changes). Reads use ``execute_read``. Inside ``atomically``
  every read and write of the thread runs in that one managed write transaction.
- A decision first takes a write lock on its edge (``SET r.version = r.version``), so concurrent reviewers are
  serialized by the server; audit sequence numbers come from a counter node bumped in the same transaction.
- User Cypher runs in a READ-mode session with a transaction timeout and a row limit; the statement must pass the
  keyword layer first (``graph_store.readonly``), and a result whose summary reports any update is rolled back and
  refused (for servers that don't enforce READ mode). Memory is bounded by the server's own settings.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from graph_store import queries as q
from graph_store.cypher_store import CypherGraphStore, Result, Tx
from graph_store.readonly import QueryLimits, check_read_only, make_query_limits
from graph_store.sandbox import QueryLimitError
from oda.errors import ReadOnlyError, StoreError

T = TypeVar("T")
WRITE_ATTEMPTS = 8
"""Tries of a write transaction that a concurrent one beat to a unique key (see ``Neo4jStore._write``)."""


class Neo4jDialect(q.Dialect):
    """Neo4j 5's Cypher (and that of Bolt servers speaking it): constraints and indexes, ``MERGE`` for every
    create, so that concurrent writers never duplicate a node or an edge."""

    def schema(self) -> list[str]:
        return [
            "CREATE CONSTRAINT dataset_id IF NOT EXISTS FOR (n:Dataset) REQUIRE n.id IS UNIQUE",
            "CREATE CONSTRAINT audit_seq IF NOT EXISTS FOR (a:AuditEntry) REQUIRE a.seq IS UNIQUE",
            "CREATE CONSTRAINT score_key IF NOT EXISTS FOR (s:ScoreProfile) REQUIRE s.key IS UNIQUE",
            "CREATE CONSTRAINT result_key IF NOT EXISTS FOR (b:BenchResult) REQUIRE b.key IS UNIQUE",
            "CREATE CONSTRAINT counter_name IF NOT EXISTS FOR (c:Counter) REQUIRE c.name IS UNIQUE",
            "CREATE INDEX dataset_benchmark IF NOT EXISTS FOR (n:Dataset) ON (n.is_benchmark)",
            "CREATE INDEX derived_status IF NOT EXISTS FOR ()-[r:DERIVED_FROM]-() ON (r.status)",
        ]

    def carry(self, *names: str) -> str:
        return ", ".join([*names, "row"])

    def match_edge(self, target: str, source: str) -> str:
        return f"MATCH (c:Dataset {{id: {target}}}) MATCH (c)-[r:DERIVED_FROM]->(p:Dataset {{id: {source}}})"

    def anchored(self, ids: Sequence[str], var: str, pattern: str, where: str = "") -> str:
        """Neo4j uses the index in every form; ArcadeDB only when the anchor is matched on its own first (35x
        faster there), so the anchor comes first: ``UNWIND $ids AS x MATCH (n {id: x}) MATCH pattern``."""
        clause = f" WHERE {where}" if where else ""
        match = f" MATCH {pattern.format(anchor=f'({var})')}" if pattern != "{anchor}" else ""
        return f"UNWIND $ids AS {var}_id MATCH ({var}:Dataset {{id: {var}_id}}){match}{clause}"


class _Neo4jTx:
    # Neo4j's creates are MERGEs already (``Neo4jDialect.create_verb``)
    merge_creates = False

    def __init__(self, tx: Any) -> None:
        self._tx = tx

    def run(self, query: str, params: dict[str, Any]) -> Result:
        result = self._tx.run(query, params)
        columns = list(result.keys())
        rows = [list(record.values()) for record in result]
        return Result(columns, rows)


def _again_on_unique_race(run: Callable[[], T]) -> T:
    """``run`` (one write transaction), run again when its commit lost a race to a unique key, up to
    ``WRITE_ATTEMPTS`` tries (see ``Neo4jStore._write``)."""
    import neo4j.exceptions

    for attempt in itertools.count(1):
        try:
            return run()
        except neo4j.exceptions.ConstraintError:
            if attempt >= WRITE_ATTEMPTS:
                raise
            time.sleep(0.01 * attempt)
    raise AssertionError("unreachable")


def _lock_edge_query() -> str:
    return "MATCH (c:Dataset {id: $target})-[r:DERIVED_FROM]->(p:Dataset {id: $source}) SET r.version = r.version"


class Neo4jStore(CypherGraphStore):
    """``GraphStore`` on Neo4j through an injected ``neo4j.Driver``."""

    dialect: q.Dialect = Neo4jDialect()

    def __init__(self, driver: Any, *, database: str | None = None, owns_driver: bool = False) -> None:
        self._driver = driver
        self.database = database
        self._owns_driver = owns_driver
        self._schema_ready = False
        self._schema_lock = threading.Lock()
        self._atomic = threading.local()
        """``tx``: the transaction of the thread's ``atomically`` call in progress, if any."""

    @classmethod
    def connect(
        cls,
        uri: str,
        *,
        auth: tuple[str, str] | None = None,
        database: str | None = None,
        **driver_options: Any,
    ) -> Neo4jStore:
        """A store over a new driver for ``uri`` (closed with the store). Connects lazily, on first use."""
        import neo4j

        driver = neo4j.GraphDatabase.driver(uri, auth=auth, **driver_options)
        return cls(driver, database=database, owns_driver=True)

    def __repr__(self) -> str:
        return f"Neo4jStore(database={self.database!r})"

    # --- plumbing ---------------------------------------------------------------------------------------------
    def _session(self, *, read: bool) -> Any:
        import neo4j

        mode = neo4j.READ_ACCESS if read else neo4j.WRITE_ACCESS
        return self._driver.session(database=self.database, default_access_mode=mode)

    def ensure_schema(self) -> None:
        """Create constraints and indexes (idempotent; runs once per store object)."""
        if self._schema_ready:
            return
        import neo4j.exceptions

        with self._schema_lock:
            if self._schema_ready:
                return
            with self._session(read=False) as session:
                for statement in self.dialect.schema():
                    try:
                        session.run(statement).consume()
                    except neo4j.exceptions.ServiceUnavailable as exc:
                        raise StoreError(f"Neo4j is unreachable: {exc}") from exc
                    except neo4j.exceptions.AuthError as exc:
                        raise StoreError(f"Neo4j refused the credentials: {exc}") from exc
                    except neo4j.exceptions.Neo4jError as exc:
                        # Bolt servers other than Neo4j may not know every index form; constraints must work.
                        if "CONSTRAINT" in statement:
                            raise StoreError(f"cannot create {statement!r}: {exc}") from exc
                # Create the audit counter up front, so concurrent first decisions never race to create it.
                # Processes that open the store at once (a service's workers) still race here: the losers'
                # MERGE matches the winner's counter when run again.
                _again_on_unique_race(
                    lambda: session.execute_write(
                        lambda tx: tx.run(*q.init_audit_counter(self.dialect)).consume()
                    )
                )
            self._schema_ready = True

    def _wrap(self, call: Callable[[], T]) -> T:
        import neo4j.exceptions

        try:
            self.ensure_schema()
            return call()
        except neo4j.exceptions.ServiceUnavailable as exc:
            raise StoreError(f"Neo4j is unreachable: {exc}") from exc
        except neo4j.exceptions.Neo4jError as exc:
            raise StoreError(f"Neo4j: {exc.message or exc}") from exc

    def _unit_tx(self) -> _Neo4jTx | None:
        tx: _Neo4jTx | None = getattr(self._atomic, "tx", None)
        return tx

    def atomically(self, work: Callable[[], T]) -> T:
        """Run ``work`` in one managed write transaction: every read and write it makes on this thread runs
        there, and the whole of it runs again on a transient error or a lost race to a unique key (``_write``).
        Errors inside reach the driver as they are, so that it can tell which are transient."""
        if self._unit_tx() is not None:
            return work()  # already inside one

        def in_tx(tx: Tx) -> T:
            assert isinstance(tx, _Neo4jTx)
            self._atomic.tx = tx
            try:
                return work()
            finally:
                self._atomic.tx = None

        return self._write(in_tx)

    def _read(self, query: str, params: dict[str, Any]) -> Result:
        unit = self._unit_tx()
        if unit is not None:
            return unit.run(query, params)

        def call() -> Result:
            with self._session(read=True) as session:
                result: Result = session.execute_read(lambda tx: _Neo4jTx(tx).run(query, params))
                return result

        return self._wrap(call)

    def _write(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` in a managed write transaction, again when a concurrent transaction beat it to a unique key.

        Neo4j takes a lock on a constraint's key, so two MERGEs of the same new node (two workers writing a shared
        source) or two decisions taking the same audit sequence number are serialized there. Bolt servers with
        optimistic concurrency (ArcadeDB) let both run and fail the second commit with a uniqueness violation,
        rolled back: run again, its MERGE matches the node the first created and its counter read is fresh. Writes
        are idempotent, so running a rolled-back one again is safe."""
        unit = self._unit_tx()
        if unit is not None:
            return work(unit)

        def once() -> T:
            with self._session(read=False) as session:
                value: T = session.execute_write(lambda tx: work(_Neo4jTx(tx)))
                return value

        return self._wrap(lambda: _again_on_unique_race(once))

    def _lock_edge(self, tx: Tx, target: str, source: str) -> None:
        tx.run(_lock_edge_query(), {"target": target, "source": source})

    def _next_audit_seq(self, tx: Tx) -> int:
        rows = tx.run(*q.next_audit_seq(self.dialect)).rows
        if not rows:
            raise StoreError(
                "the audit counter is missing; was the database emptied without reopening the store?"
            )
        return int(rows[0][0])

    # --- user Cypher ------------------------------------------------------------------------------------------
    def cypher(
        self, query: str, params: Mapping[str, Any] | None = None, *, limits: QueryLimits | None = None
    ) -> list[dict[str, Any]]:
        """Run user Cypher read-only: the keyword layer, a READ-mode session, a transaction timeout, at most
        ``max_rows`` rows, update counters checked, and always a rollback (Ctrl-C closes the transaction)."""
        checked = check_read_only(query)
        limits = limits or make_query_limits()

        def call() -> list[dict[str, Any]]:
            with self._session(read=True) as session:
                tx = session.begin_transaction(timeout=limits.timeout_s)
                try:
                    result = tx.run(checked, dict(params or {}))
                    rows: list[dict[str, Any]] = []
                    for record in result:
                        if len(rows) >= limits.max_rows:
                            raise QueryLimitError(
                                f"the query returned more than {limits.max_rows} rows (the row limit); "
                                "add LIMIT or raise [store].query_max_rows"
                            )
                        rows.append(record.data())
                    summary = result.consume()
                    if summary.counters.contains_updates or summary.counters.contains_system_updates:
                        raise ReadOnlyError("the query tried to write; it was rolled back")
                    return rows
                finally:
                    tx.rollback()
                    tx.close()

        return self._wrap(call)

    def close(self) -> None:
        """Close the driver if this store created it."""
        if self._owns_driver:
            self._driver.close()
