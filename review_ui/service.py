"""The review service: what the web app does, independent of HTTP.

It reads the queue, validates a decision and applies it through ``GraphStore.decide``, finds a reviewer's last
decision to undo it, and counts progress. Store calls are serialized by one lock, so the app can run its
handlers in a thread pool over a store that is not thread-safe; concurrent decisions on the same edge are still
told apart by ``expected_version`` (the store raises ``ConflictError``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from graph_store.base import GraphStore
from graph_store.models import (
    DECISION_ACTIONS,
    Action,
    AuditEntry,
    Edge,
    EdgeStatus,
    Relationship,
    validate_node_id,
)
from oda.errors import ConflictError, InputError, OdaError, UnknownEdgeError
from review_ui.evidence import ContextSource, EvidenceView, evidence_view
from review_ui.lineage_svg import LineagePicture, local_lineage
from review_ui.queue import Queue, QueueData, QueueFilter, load_queue, select

MAX_TEXT_CHARS = 2000
QUEUE_TTL_S = 5.0

# Is an id known outside the store (the curated catalog)? Injected so the app never loads it at import time.
CatalogCheck = Callable[[str], bool]


def catalog_check_from_lineage() -> CatalogCheck | None:
    """A check against the curated catalog (``catalog.Catalog``), or None when it cannot be loaded."""
    try:
        from catalog import Catalog

        catalog = Catalog.load()
    except (ImportError, OdaError):
        return None
    return lambda node_id: catalog.by_hub_id(node_id) is not None


@dataclass(frozen=True)
class Decision:
    """A reviewer's request, as it arrives from a form or the JSON API."""

    action: str
    target: str | None = None
    source: str | None = None
    reason: str | None = None
    relationship: str | None = None
    new_source: str | None = None
    note: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True)
class Outcome:
    """What a decision did: the audit entry written and the edge as it now is (None when it went away)."""

    entry: AuditEntry
    edge: Edge | None


def _clean(text: str | None, what: str) -> str | None:
    if text is None:
        return None
    text = text.strip()
    if len(text) > MAX_TEXT_CHARS:
        raise InputError(f"{what} is {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
    return text or None


class ReviewService:
    """Everything the review app needs from the store, behind one lock."""

    def __init__(
        self,
        store: GraphStore,
        *,
        catalog_check: CatalogCheck | None = None,
        context_source: ContextSource | None = None,
    ) -> None:
        self.store = store
        self.catalog_check = catalog_check
        self.context_source = context_source
        self._lock = threading.RLock()
        self._generation = 0
        self._queue_cache: tuple[int, float, QueueData] | None = None
        self._progress_cache: tuple[int, float, int, list[AuditEntry]] | None = None

    # --- reads ----------------------------------------------------------------------------------------------
    def queue(self, view: QueueFilter) -> Queue:
        """The flagged edges, filtered and ordered (cached until the next decision or for a few seconds)."""
        with self._lock:
            cached = self._queue_cache
            now = time.monotonic()
            if cached is None or cached[0] != self._generation or now - cached[1] > QUEUE_TTL_S:
                cached = (self._generation, now, load_queue(self.store))
                self._queue_cache = cached
            return select(cached[2], view)

    def edge(self, target: str, source: str) -> Edge:
        """One edge, or ``UnknownEdgeError``."""
        with self._lock:
            edge = self.store.get_edge(target, source)
        if edge is None:
            raise UnknownEdgeError(f"no edge {target} -> {source}")
        return edge

    def edges(self, status: EdgeStatus | None) -> list[Edge]:
        with self._lock:
            return self.store.edges(status=status)

    def siblings(self, edge: Edge) -> list[Edge]:
        """The other edges proposed for the same target."""
        with self._lock:
            return [e for e in self.store.edges(target=edge.target) if e.key != edge.key]

    def evidence(self, edge: Edge) -> EvidenceView:
        with self._lock:
            return evidence_view(self.store, edge, self.context_source)

    def picture(self, edge: Edge) -> LineagePicture:
        with self._lock:
            return local_lineage(self.store, edge)

    def history(self, edge: Edge) -> list[AuditEntry]:
        with self._lock:
            return self.store.audit_log(target=edge.target, source=edge.source)

    def audit_log(self) -> list[AuditEntry]:
        with self._lock:
            return self.store.audit_log()

    def node_on_hub(self, node_id: str) -> bool:
        with self._lock:
            node = self.store.get_node(node_id)
        return node.on_hub if node is not None else not node_id.startswith("ext:")

    def progress(self, reviewer: str | None = None) -> dict[str, Any]:
        """Flagged edges left, and decisions made today (UTC) in all and by ``reviewer``."""
        with self._lock:
            cached = self._progress_cache
            now = time.monotonic()
            if cached is None or cached[0] != self._generation or now - cached[1] > QUEUE_TTL_S:
                cached = (self._generation, now, len(self.store.flagged()), self.store.audit_log())
                self._progress_cache = cached
        _, _, flagged, log = cached
        today = datetime.now(UTC).date()
        decided = mine = 0
        for entry in log:
            if entry.at.astimezone(UTC).date() != today:
                continue
            step = 1 if entry.action in DECISION_ACTIONS else -1 if entry.action == Action.UNDO else 0
            decided += step
            if entry.reviewer == reviewer:
                mine += step
        return {"flagged": flagged, "decided_today": max(0, decided), "mine_today": max(0, mine)}

    # --- writes ---------------------------------------------------------------------------------------------
    def known_id(self, node_id: str) -> bool:
        """True when ``node_id`` is a node in the store or an entry of the curated catalog."""
        with self._lock:
            if self.store.get_node(node_id) is not None:
                return True
        return bool(self.catalog_check and self.catalog_check(node_id))

    def _validate(self, action: Action, decision: Decision, edge: Edge) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "reason": _clean(decision.reason, "the reason"),
            "note": _clean(decision.note, "the note"),
        }
        if action is Action.REJECT and not fields["reason"]:
            raise InputError("a rejection needs a reason")
        if action is Action.EDIT:
            if decision.relationship:
                try:
                    fields["relationship"] = Relationship.parse(decision.relationship)
                except ValueError as exc:
                    raise InputError(str(exc)) from exc
            if fields.get("relationship") in (None, edge.relationship) and not fields["note"]:
                raise InputError("an edit needs a new relationship or a note")
        if action is Action.REPOINT:
            new_source = (decision.new_source or "").strip()
            if not new_source:
                raise InputError("a re-point needs the id of the new source")
            try:
                validate_node_id(new_source)
            except ValueError as exc:
                raise InputError(str(exc)) from exc
            if new_source in (edge.target, edge.source):
                raise InputError(f"cannot re-point {edge.target} -> {edge.source} to {new_source}")
            if not self.known_id(new_source):
                raise InputError(f"{new_source} is neither in the store nor in the catalog")
            fields["new_source"] = new_source
            if decision.relationship:
                try:
                    fields["relationship"] = Relationship.parse(decision.relationship)
                except ValueError as exc:
                    raise InputError(str(exc)) from exc
        return {k: v for k, v in fields.items() if v is not None}

    def decide(self, reviewer: str, decision: Decision) -> Outcome:
        """Validate and apply one decision. Raises ``InputError``, ``UnknownEdgeError`` or ``ConflictError``."""
        try:
            action = Action.parse(decision.action)
        except ValueError as exc:
            raise InputError(str(exc)) from exc
        if action is Action.UNDO and not decision.target:
            return self.undo_last(reviewer, decision.expected_version)
        if not decision.target or not decision.source:
            raise InputError("a decision names the edge: target and source")
        with self._lock:
            edge = self.edge(decision.target, decision.source)
            fields = self._validate(action, decision, edge) if action.is_decision else {}
            expected = decision.expected_version
            if expected is None and action.is_decision:
                # Without the version the reviewer saw, only an undecided edge may be decided: a human decision
                # already on the edge is never overwritten silently.
                if edge.status.is_human:
                    raise ConflictError(
                        f"edge {edge.target} <- {edge.source} was already {edge.status.value}; "
                        f"send expected_version={edge.version} to change it"
                    )
                expected = edge.version
            entry = self.store.decide(
                edge.target,
                edge.source,
                action,
                reviewer=reviewer,
                expected_version=expected,
                **fields,
            )
            self._generation += 1
            after = self.store.get_edge(edge.target, edge.source)
        return Outcome(entry, after)

    def last_decision(self, reviewer: str) -> AuditEntry | None:
        """The reviewer's most recent decision that no undo has reverted yet."""
        with self._lock:
            log = self.store.audit_log()
        undone = {entry.new.get("undone_seq") for entry in log if entry.action == Action.UNDO}
        for entry in reversed(log):
            if entry.reviewer == reviewer and entry.action in DECISION_ACTIONS and entry.seq not in undone:
                return entry
        return None

    def undo_last(self, reviewer: str, expected_version: int | None = None) -> Outcome:
        """Undo the reviewer's last decision. Raises ``InputError`` when there is none."""
        with self._lock:
            last = self.last_decision(reviewer)
            if last is None:
                raise InputError("nothing to undo: you have made no decision yet")
            entry = self.store.decide(
                last.target, last.source, Action.UNDO, reviewer=reviewer, expected_version=expected_version
            )
            self._generation += 1
            after = self.store.get_edge(last.target, last.source)
        return Outcome(entry, after)
