"""Trace one queue entry's tree with up to N datasets in flight, durably, without tracing a dataset twice at once.

Each queue entry is one LangGraph thread (``thread_id`` = ``RUN_ID#POSITION``) of a small loop graph whose state
is the entry's depth-first frontier, the datasets in flight, the visited set, counters and failures. Its single
node, ``advance``, keeps up to ``concurrency`` datasets running (taken from the top of the frontier, so the tree
is still walked depth first), waits for the first to finish, and pushes that dataset's new parents. The state is
checkpointed after every finished dataset; a worker that takes the entry over after a crash resumes from there
and starts the datasets that were in flight again (store writes are idempotent MERGEs).

One dataset is traced by the tracing graph itself (``lineage.graph.build_graph``): it is started with the
dataset alone on its stack and stopped once its ``write`` step has run, whose update carries the parents to push.

Before tracing a dataset the worker claims it in the run book (a lease it renews while it works). A dataset
claimed by another worker is waited for; a dataset some attempt already finished in this run is not traced again:
its parents are read back from the store with the same selection rule.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypedDict

from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command

from lineage.state import Failure, StackItem, add_counts, append, union_in_order

if TYPE_CHECKING:
    from lineage.context import TraceContext
    from service.runs import RunBook

RECURSION_LIMIT = 2_000_000_000
DEFAULT_LEASE_S = 60.0
DEFAULT_POLL_S = 0.25


class EntryState(TypedDict, total=False):
    """The checkpointed state of one queue entry (one LangGraph thread)."""

    run_id: str
    entry: str
    frontier: list[StackItem]
    """Datasets to trace, depth first (top = end of the list); includes those in flight."""
    in_flight: list[str]
    """Datasets started and not finished at the last checkpoint: started again on resume."""
    visited: Annotated[list[str], union_in_order]
    counters: Annotated[dict[str, int], add_counts]
    failures: Annotated[list[Failure], append]
    cancelled: bool


@dataclass
class DatasetResult:
    """How one dataset of the frontier ended."""

    item: StackItem
    status: str
    """traced, dropped, failed, or reused (finished earlier in this run by another entry or worker)."""
    note: str | None = None
    children: list[StackItem] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0


class DatasetObserver:
    """Hooks called around every dataset (metrics, OpenLineage events). The defaults do nothing."""

    def started(self, run_id: str, item: StackItem) -> None:
        return None

    def finished(self, run_id: str, result: DatasetResult) -> None:
        return None


@dataclass
class EntryJob:
    """What the entry graph's node needs: the trace context (with live services), the run book, who we are."""

    trace: TraceContext
    book: RunBook
    worker: str
    entry: str
    position: int
    concurrency: int = 8
    lease_s: float = DEFAULT_LEASE_S
    poll_s: float = DEFAULT_POLL_S
    observer: DatasetObserver = field(default_factory=DatasetObserver)
    tasks: dict[str, asyncio.Task[DatasetResult]] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.trace.run_id

    @property
    def thread_id(self) -> str:
        return f"{self.run_id}#{self.position}"

    @property
    def holder(self) -> str:
        """Who holds this entry's claims: the worker and the entry (two entries of one process are two holders)."""
        return f"{self.worker}/{self.thread_id}"


# --- one dataset ------------------------------------------------------------------------------------------

_DATASET_GRAPH: Any = None


def _dataset_graph() -> Any:
    global _DATASET_GRAPH
    if _DATASET_GRAPH is None:
        from lineage.graph import build_graph

        _DATASET_GRAPH = build_graph()
    return _DATASET_GRAPH


async def _run_dataset_graph(job: EntryJob, item: StackItem, visited: list[str]) -> DatasetResult:
    """Trace ``item`` with the tracing graph and stop after its ``write`` step."""
    ctx = job.trace
    state_in: dict[str, Any] = {
        "run_id": ctx.run_id,
        "settings": ctx.settings(),
        "queue": [],
        "queue_pos": 0,
        "stack": [item],
        "visited": [v for v in visited if v != item["id"]],  # select_next would skip it otherwise
        "counters": {},
        "failures": [],
        "notes": [],
    }
    result = DatasetResult(item=item, status="failed")
    stream = _dataset_graph().astream(
        state_in, {"recursion_limit": 10_000}, context=ctx, stream_mode="updates"
    )
    async with aclosing(stream):
        async for update in stream:
            if not isinstance(update, dict):
                continue
            for node, delta in update.items():
                if not isinstance(delta, dict) or node == "select_next":
                    continue
                for key, value in (delta.get("counters") or {}).items():
                    result.counters[key] = result.counters.get(key, 0) + int(value)
                result.failures.extend(delta.get("failures") or [])
                if node == "aggregate":
                    result.edges = list((delta.get("aggregation") or {}).get("edges") or [])
                if node == "write":
                    outcome = delta.get("outcome") or {}
                    result.status = str(outcome.get("status") or "traced")
                    result.note = outcome.get("note")
                    result.children = list(delta.get("stack") or [])
                    if result.status != "traced":
                        result.edges = []
                    return result
    return result


async def _reuse(job: EntryJob, item: StackItem, status: str, visited: list[str]) -> DatasetResult:
    """A dataset finished earlier in this run: push its parents as tracing it again would."""
    from graph_store.models import Node
    from lineage.graph import _parents_to_push

    result = DatasetResult(item=item, status="reused", note=f"already {status} in this run")
    if status != "traced":
        return result
    store = job.trace.svc.store

    def read() -> list[StackItem]:
        edges = store.edges(target=item["id"])
        nodes = {e.source: store.get_node(e.source) or Node(id=e.source) for e in edges}
        return list(reversed(_parents_to_push(item, edges, nodes, job.trace, set(visited))))

    result.children = await asyncio.to_thread(read)
    result.counters = {"reused": 1}
    return result


async def _renew(job: EntryJob, dataset: str) -> None:
    while True:
        await asyncio.sleep(job.lease_s / 3)
        await asyncio.to_thread(job.book.claim, dataset, job.holder, job.run_id, job.lease_s)


async def trace_dataset(job: EntryJob, item: StackItem, visited: list[str]) -> DatasetResult:
    """Claim ``item`` (waiting while another worker holds it), trace it, record the attempt, release it."""
    book, dataset = job.book, item["id"]
    while True:
        done = await asyncio.to_thread(book.done_status, job.run_id, dataset)
        if done is not None:
            return await _reuse(job, item, done, visited)
        if await asyncio.to_thread(book.claim, dataset, job.holder, job.run_id, job.lease_s):
            done = await asyncio.to_thread(book.done_status, job.run_id, dataset)
            if done is None:
                break
            await asyncio.to_thread(book.release, dataset, job.holder)
            return await _reuse(job, item, done, visited)
        await asyncio.sleep(job.poll_s)
    renewer = asyncio.create_task(_renew(job, dataset))
    try:
        started = time.time()
        job.observer.started(job.run_id, item)
        attempt = await asyncio.to_thread(
            book.start_attempt, job.run_id, dataset, job.entry, item["depth"], job.worker
        )
        result = await _run_dataset_graph(job, item, visited)
        result.started, result.finished = started, time.time()
        await asyncio.to_thread(
            book.finish_attempt, attempt, result.status, int(result.counters.get("edges", 0)), result.note
        )
        job.observer.finished(job.run_id, result)
        return result
    finally:
        renewer.cancel()
        with suppress(asyncio.CancelledError):
            await renewer
        await asyncio.to_thread(book.release, dataset, job.holder)


# --- the entry graph --------------------------------------------------------------------------------------


def _launch(job: EntryJob, item: StackItem, visited: list[str]) -> None:
    # A fresh context: the tracing graph must not see this graph's run config (it would become a subgraph
    # and write its steps into this thread's checkpoints).
    task = asyncio.get_running_loop().create_task(
        trace_dataset(job, item, visited), context=contextvars.Context()
    )
    job.tasks[item["id"]] = task


async def _cancel_all(job: EntryJob) -> None:
    tasks = list(job.tasks.values())
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    job.tasks.clear()


async def advance(state: EntryState, runtime: Runtime[EntryJob]) -> Command[Literal["advance", "__end__"]]:
    """Keep up to ``concurrency`` datasets in flight; return when the first of them finishes."""
    job = runtime.context
    if await asyncio.to_thread(job.book.is_cancelled, job.run_id):
        await _cancel_all(job)
        return Command(goto="__end__", update={"cancelled": True, "frontier": [], "in_flight": []})
    visited = list(state.get("visited") or [])
    seen_visited = set(visited)
    in_flight = set(state.get("in_flight") or [])
    new_visited: list[str] = []
    kept: list[StackItem] = []
    walked: set[str] = set()
    for item in reversed(list(state.get("frontier") or [])):  # top of the stack first
        dataset = item["id"]
        if dataset in walked:
            continue
        walked.add(dataset)
        if dataset in job.tasks:
            kept.append(item)
        elif dataset in in_flight:  # in flight when the last checkpoint was written: start it again
            kept.append(item)
            if len(job.tasks) < job.concurrency:
                _launch(job, item, visited)
        elif dataset in seen_visited:
            continue  # reached again through another parent: traced (or being traced) already
        elif len(job.tasks) < job.concurrency:
            seen_visited.add(dataset)
            new_visited.append(dataset)
            in_flight.add(dataset)
            _launch(job, item, visited + new_visited)
            kept.append(item)
        else:
            kept.append(item)
    frontier = list(reversed(kept))
    if not job.tasks:
        return Command(goto="__end__", update={"frontier": [], "in_flight": [], "visited": new_visited})
    finished, _ = await asyncio.wait(set(job.tasks.values()), return_when=asyncio.FIRST_COMPLETED)
    counters: dict[str, int] = {}
    failures: list[Failure] = []
    for task in finished:
        result = task.result()  # an unexpected error ends the entry (the queue job fails and is retried)
        dataset = result.item["id"]
        job.tasks.pop(dataset, None)
        in_flight.discard(dataset)
        frontier = [i for i in frontier if i["id"] != dataset]
        frontier.extend(result.children)
        for key, value in result.counters.items():
            counters[key] = counters.get(key, 0) + value
        failures.extend(result.failures)
    in_flight &= set(job.tasks)
    return Command(
        goto="advance",
        update={
            "frontier": frontier,
            "in_flight": sorted(in_flight),
            "visited": new_visited,
            "counters": counters,
            "failures": failures,
        },
    )


def build_entry_graph(checkpointer: Any = None) -> Any:
    """Compile the loop graph of one queue entry (see the module docstring)."""
    builder = StateGraph(EntryState, context_schema=EntryJob)
    builder.add_node("advance", advance)
    builder.add_edge(START, "advance")
    return builder.compile(checkpointer=checkpointer, name="lineage-entry")


async def run_entry(
    job: EntryJob, checkpointer: Any, *, on_step: Callable[[], None] | None = None
) -> EntryState:
    """Trace ``job.entry``'s tree to the end, resuming its thread when a checkpoint exists. Returns the final
    state (``cancelled`` is set when the run was cancelled)."""
    async with _entry_claim(job):
        return await _run_entry(job, checkpointer, on_step)


ENTRY_CLAIM_PREFIX = "entry:"


@asynccontextmanager
async def _entry_claim(job: EntryJob) -> AsyncIterator[None]:
    """Hold the entry itself while working on it: a worker whose heartbeat only lagged (its job was handed to
    another worker while it still ran) keeps the entry, and the other waits instead of running the same thread."""
    key = ENTRY_CLAIM_PREFIX + job.thread_id
    while not await asyncio.to_thread(job.book.claim, key, job.holder, job.run_id, job.lease_s):
        await asyncio.sleep(job.poll_s)
    renewer = asyncio.create_task(_renew(job, key))
    try:
        yield
    finally:
        renewer.cancel()
        with suppress(asyncio.CancelledError):
            await renewer
        await asyncio.to_thread(job.book.release, key, job.holder)


async def _run_entry(job: EntryJob, checkpointer: Any, on_step: Callable[[], None] | None) -> EntryState:
    graph = build_entry_graph(checkpointer)
    config: Any = {"configurable": {"thread_id": job.thread_id}, "recursion_limit": RECURSION_LIMIT}
    snapshot = await graph.aget_state(config)
    if snapshot.values and not snapshot.next and not snapshot.tasks:
        return dict(snapshot.values)  # type: ignore[return-value]
    graph_input: EntryState | None = None
    if not snapshot.values:
        graph_input = EntryState(
            run_id=job.run_id,
            entry=job.entry,
            frontier=[{"id": job.entry, "depth": 0, "root": job.entry, "via": None}],
            in_flight=[],
            visited=[],
            counters={},
            failures=[],
            cancelled=False,
        )
    stream = graph.astream(graph_input, config, context=job, stream_mode="updates")
    try:
        async with aclosing(stream):
            async for _ in stream:
                if on_step is not None:
                    on_step()
    finally:
        await _cancel_all(job)
    final = await graph.aget_state(config)
    return dict(final.values)  # type: ignore[return-value]
