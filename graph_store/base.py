"""The store contract: every part of the service writes and reads the lineage graph through ``GraphStore``.

Two implementations exist: the embedded default (no server, durable on disk) and Neo4j through the official
driver. ``graph_store.factory.open_store(uri)`` picks one from a URI:

- ``None``, a path, or ``embedded:PATH`` → the embedded store at PATH (default ``.oda/graph``);
- ``bolt://…``, ``neo4j://…`` (and ``+s``/``+ssc`` variants) → Neo4j; credentials from ``ODA_NEO4J_USER``
  and ``ODA_NEO4J_PASSWORD`` (or ``NEO4J_AUTH=user/password``), never from the URI or a config file.

Rules every implementation keeps:

- Writes are batched and idempotent (MERGE on node id and on the edge's ``(target, source)`` pair).
- A machine write never overwrites an edge whose status is approved, rejected or edited; it is counted in
  ``UpsertReport.protected`` instead.
- Every status change bumps ``Edge.version`` and appends an ``AuditEntry``; passing ``expected_version`` to
  ``decide`` detects a concurrent decision (``ConflictError``).
- A failed batch leaves the store as it was (one transaction per batch).
- ``atomically(work)`` runs a unit of reads and writes (a traced dataset's nodes and edges) as one transaction
  where the backend can: on Neo4j, one managed write transaction for all of it, instead of one per call.
- ``cypher`` runs user queries read-only (``ReadOnlyError`` on a write) under time, row and memory limits.
- The lineage stays a DAG: an edge that would close a cycle is written ``flagged`` with a ``cycle:`` note and
  is left out of the DAG until a reviewer decides it (``graph_store.dag``).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from graph_store.models import (
    Action,
    AuditEntry,
    BenchResult,
    ContaminationHit,
    Edge,
    EdgeStatus,
    Node,
    Relationship,
    ScoreProfile,
    Subgraph,
    UpsertReport,
)
from graph_store.readonly import QueryLimits

T = TypeVar("T")


class GraphStore(abc.ABC):
    """Abstract lineage store. See the module docstring for the rules."""

    # --- writes -----------------------------------------------------------------------------------------
    @abc.abstractmethod
    def upsert_nodes(self, nodes: Iterable[Node]) -> UpsertReport:
        """MERGE nodes by id. Non-null incoming fields overwrite stored ones; nulls keep stored values."""

    @abc.abstractmethod
    def upsert_edges(self, edges: Iterable[Edge]) -> UpsertReport:
        """MERGE edges by (target, source), creating missing endpoint nodes. Human-decided edges are kept."""

    @abc.abstractmethod
    def decide(
        self,
        target: str,
        source: str,
        action: Action | str,
        *,
        reviewer: str,
        reason: str | None = None,
        relationship: Relationship | None = None,
        new_source: str | None = None,
        note: str | None = None,
        expected_version: int | None = None,
    ) -> AuditEntry:
        """Apply a human decision to one edge and append it to the audit log.

        ``action`` (an ``Action`` or its value) is ``approve``, ``reject``, ``edit`` (relationship and/or note)
        or ``repoint`` (``new_source``: the old edge becomes ``rejected`` with the reason, and a new ``edited``
        edge to ``new_source`` carries the old evidence), or ``undo`` (restore the fields the reviewer's previous
        decision on this edge replaced). Raises ``InputError`` (any other action), ``UnknownEdgeError`` or
        ``ConflictError``.
        """

    @abc.abstractmethod
    def attach_scores(self, profiles: Iterable[ScoreProfile]) -> int:
        """Store score profiles, replacing any earlier profile for the same (dataset, scorer, axis)."""

    @abc.abstractmethod
    def attach_results(self, results: Iterable[BenchResult]) -> int:
        """Store benchmark results, replacing any earlier one for the same (dataset, base_model, benchmark)."""

    def atomically(self, work: Callable[[], T]) -> T:
        """Run ``work``, calls to this store's methods, as one transaction where the backend can: its reads
        see its own writes, and it commits whole or not at all. A backend may run ``work`` again from the start
        after a transient error (a deadlock, a lost leader, a concurrent create of the same key), so ``work``
        must be safe to run again. The default runs it as it comes, each call its own transaction."""
        return work()

    # --- reads ------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def get_node(self, node_id: str) -> Node | None: ...

    @abc.abstractmethod
    def get_nodes(self, ids: Sequence[str]) -> list[Node]:
        """The stored nodes among ``ids``, read together (ids not stored are left out)."""

    @abc.abstractmethod
    def get_edge(self, target: str, source: str) -> Edge | None: ...

    @abc.abstractmethod
    def nodes(self) -> list[Node]: ...

    @abc.abstractmethod
    def edges(
        self,
        *,
        status: EdgeStatus | Sequence[EdgeStatus] | None = None,
        target: str | None = None,
        source: str | None = None,
    ) -> list[Edge]: ...

    @abc.abstractmethod
    def contamination(
        self,
        benchmark: str,
        *,
        min_confidence: float = 0.0,
        statuses: Sequence[EdgeStatus] | None = None,
        split: str | None = None,
    ) -> list[ContaminationHit]:
        """Every dataset from which ``benchmark`` is reachable upstream, with one shortest witness path.

        Rejected edges never count. ``statuses`` restricts the edges walked; ``split`` keeps edges whose split
        is that value or unknown.
        """

    @abc.abstractmethod
    def upstream(self, dataset: str, depth: int = 6) -> Subgraph: ...

    @abc.abstractmethod
    def downstream(self, dataset: str, depth: int = 6) -> Subgraph: ...

    @abc.abstractmethod
    def flagged(self) -> list[Edge]:
        """Edges with status ``flagged``, lowest confidence first."""

    @abc.abstractmethod
    def stats(self) -> dict[str, Any]:
        """Landscape figures (paper §3.2.2): see ``graph_store.stats`` for the keys."""

    @abc.abstractmethod
    def audit_log(self, *, target: str | None = None, source: str | None = None) -> list[AuditEntry]: ...

    @abc.abstractmethod
    def scores(self, dataset: str | None = None) -> list[ScoreProfile]: ...

    @abc.abstractmethod
    def results(self, dataset: str | None = None) -> list[BenchResult]: ...

    @abc.abstractmethod
    def cypher(
        self, query: str, params: Mapping[str, Any] | None = None, *, limits: QueryLimits | None = None
    ) -> list[dict[str, Any]]:
        """Run user Cypher read-only under ``limits`` (default: config). ``ReadOnlyError`` on any write,
        ``QueryLimitError`` past a limit."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
