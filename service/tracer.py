"""Trace one queue entry's tree with up to N datasets in flight, durably, without tracing a dataset twice at once.

Each queue entry is one LangGraph thread (``thread_id`` = ``RUN_ID#POSITION``) of a small loop graph whose state
is the entry's depth-first frontier, the datasets in flight, the visited set, counters and failures. Its single
node, ``advance``, keeps up to ``concurrency`` datasets running (taken from the top of the frontier, so the tree
is still walked depth first), waits for the first to finish, and pushes that dataset's new parents. The state is
checkpointed after every finished dataset; a worker that takes the entry over after a crash resumes from there
and starts the datasets that were in flight again, before any new one (store writes are idempotent MERGEs). The
datasets of the entries a worker holds share its slots (``service.slots``), the entry taken first served first. A
new entry whose whole tree the worker already knows finished in this run ends at once, with the state its graph
would give it and no checkpoint (``_known_tree``).

One dataset is traced by the tracing graph itself, in its one-dataset form (``lineage.graph.build_graph``): it
starts at ``validate`` with the dataset selected and ends after its ``write`` step, whose update carries the
parents to push.

Before tracing a dataset the worker claims it in the run book (a lease it renews while it works). A dataset
claimed by another holder is waited for (on the same worker, until that trace ends; elsewhere, by polling the
claim); a dataset some attempt already finished in this run is not traced again: its parents are pushed with the
same selection rule, from the sources the worker kept from its own trace or read back from the store once
(``RunMemo``), and a dataset the worker already knows is reused within the step that reaches it.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, aclosing, asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypedDict

from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command

from lineage.state import Failure, StackItem, add_counts, append, union_in_order
from service.runs import ABANDONED
from service.slots import DatasetSlots

if TYPE_CHECKING:
    from graph_store.models import Edge, Node
    from lineage.context import TraceContext
    from service.runs import RunBook

RECURSION_LIMIT = 2_000_000_000
_RENEWALS = ThreadPoolExecutor(2, thread_name_prefix="oda-lease")
DEFAULT_LEASE_S = 60.0
DEFAULT_POLL_S = 0.25
CANCEL_CHECK_S = 0.5
"""How often the entries of a run on one worker ask the run book whether the run was cancelled (at most)."""


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
    sources: KeptSources | None = None
    """A traced dataset's edges and source nodes as its ``write`` step chose its parents from them (as the
    aggregation holds them: validated only if the dataset is reused)."""
    started: float = 0.0
    finished: float = 0.0


Sources = tuple[list["Edge"], dict[str, "Node"]]
"""A dataset's edges (into it) and their source nodes, from which its parents to push are chosen."""
KeptSources = tuple[list[dict[str, Any]], list[dict[str, Any]]]
"""The same as a trace's aggregation holds them: edge and node dicts."""


class RunMemo:
    """What the entries of one run on one worker learn about finished datasets: a finished dataset stays finished
    for the rest of the run, so its status is asked for once, and the sources of a traced one are kept from its
    trace (or read from the store once, when another worker traced it). A dataset whose status and sources are
    known is reused within the entry's step, with no task, no slot and no checkpoint of its own. It also holds
    whether the run was cancelled, as last asked (``_is_cancelled``)."""

    def __init__(self) -> None:
        self.done: dict[str, str] = {}
        self.sources: dict[str, Sources] = {}
        self._kept: dict[str, KeptSources] = {}
        """Sources kept from this worker's own traces, not yet needed: validated into ``sources`` on first use."""
        self.tracing: dict[str, asyncio.Event] = {}
        """Datasets an entry on this worker is tracing now, each with the event set when it ends: another entry
        that reaches one waits for the event rather than asking the run book for the claim again and again."""
        self.cancelled = False
        self.cancel_checked = -math.inf
        """When the run book was last asked whether the run is cancelled (``time.monotonic``)."""

    def reusable(self, dataset: str) -> str | None:
        """The dataset's status when it can be reused without reading anything, else None."""
        status = self.done.get(dataset)
        if status is None or (
            status == "traced" and dataset not in self.sources and dataset not in self._kept
        ):
            return None
        return status

    def keep(self, dataset: str, kept: KeptSources) -> None:
        """Keep the sources of a dataset this worker traced."""
        self._kept[dataset] = kept

    def sources_of(self, dataset: str) -> Sources | None:
        """A traced dataset's sources, if known here."""
        sources = self.sources.get(dataset)
        if sources is None and dataset in self._kept:
            from graph_store.models import Edge, Node

            edges, nodes = self._kept.pop(dataset)
            sources = self.sources[dataset] = (
                [Edge.model_validate(e) for e in edges],
                {n["id"]: Node.model_validate(n) for n in nodes},
            )
        return sources


def _read_sources(store: Any, dataset: str) -> Sources:
    from graph_store.models import Node

    edges = store.edges(target=dataset)
    ids = sorted({e.source for e in edges})
    by_id = {n.id: n for n in store.get_nodes(ids)}
    return edges, {i: by_id.get(i) or Node(id=i) for i in ids}


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
    slots: DatasetSlots | None = None
    """The worker's dataset slots, shared by the entries it holds (None: this entry's own ``concurrency``)."""
    ticket: int = 0
    """The entry's place in the worker's order: a lower ticket is served first."""
    memo: RunMemo = field(default_factory=RunMemo)
    """Shared by the entries of this run on this worker."""
    execution: str = field(default_factory=lambda: secrets.token_hex(4))
    """This run of the entry: a queue job handed out again while it still runs is another holder, even in the
    same worker process, and waits for the entry instead of running its thread twice."""
    tasks: dict[str, asyncio.Task[DatasetResult]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.slots is None:
            self.slots = DatasetSlots(self.concurrency)

    def slot(self, item: StackItem) -> AbstractAsyncContextManager[None]:
        """One of the worker's slots for tracing ``item``, by this entry's priority."""
        assert self.slots is not None
        return self.slots.slot(self.slots.priority(self.ticket, int(item.get("depth") or 0)))

    @property
    def run_id(self) -> str:
        return self.trace.run_id

    @property
    def thread_id(self) -> str:
        return f"{self.run_id}#{self.position}"

    @property
    def holder(self) -> str:
        """Who holds this entry's claims: the worker, the entry and this run of it."""
        return f"{self.worker}/{self.thread_id}/{self.execution}"


# --- one dataset ------------------------------------------------------------------------------------------

TRACING_MODULES = (
    # the tracing code, which the command line imports only when a command needs it
    "lineage.graph",
    "lineage.runner",
    "lineage.extract.auto",
    "lineage.extract.llm",
    "lineage.extract.rules",
    "lineage.aggregate",
    "acquisition.acquirer",
    "acquisition.links",
    "acquisition.ratelimit",
    "acquisition.transports",
    "catalog",
    "prompts",
    # the clients and parsers it imports inside the functions that use them
    "openai",
    "openai.types.chat",
    "huggingface_hub.hf_api",
    "huggingface_hub.file_download",
    "bs4",
    "markdown_it",
)


def warm_up() -> None:
    """Load what tracing loads on first use (``TRACING_MODULES``, the LLM client's transport and its API
    resources) and build the tracing graph. A worker calls it before it takes work: otherwise its first datasets
    wait, on the event loop every dataset shares, for a second or so of imports."""
    import importlib

    from oda.llm import LLMConfig

    for name in TRACING_MODULES:
        importlib.import_module(name)
    client = LLMConfig(base_url="http://127.0.0.1:9/v1", model="warm-up").client()
    client.chat.completions  # noqa: B018  # the resource and its request types load on first access
    asyncio.run(client.close())
    _dataset_graph()


_DATASET_GRAPH: Any = None


def _dataset_graph() -> Any:
    global _DATASET_GRAPH
    if _DATASET_GRAPH is None:
        from lineage.graph import build_graph

        _DATASET_GRAPH = build_graph(one_dataset=True)
    return _DATASET_GRAPH


async def _run_dataset_graph(job: EntryJob, item: StackItem, visited: list[str]) -> DatasetResult:
    """Trace ``item`` with the one-dataset tracing graph, which ends after its ``write`` step."""
    from lineage.graph import one_dataset_input

    ctx = job.trace
    state_in = one_dataset_input(ctx.run_id, ctx.settings(), item, visited)
    result = DatasetResult(item=item, status="failed")
    nodes: list[dict[str, Any]] = []
    stream = _dataset_graph().astream(
        state_in, {"recursion_limit": 10_000}, context=ctx, stream_mode="updates"
    )
    async with aclosing(stream):
        async for update in stream:
            if not isinstance(update, dict):
                continue
            for node, delta in update.items():
                if not isinstance(delta, dict):
                    continue
                for key, value in (delta.get("counters") or {}).items():
                    result.counters[key] = result.counters.get(key, 0) + int(value)
                result.failures.extend(delta.get("failures") or [])
                if node == "aggregate":
                    aggregation = delta.get("aggregation") or {}
                    result.edges = list(aggregation.get("edges") or [])
                    nodes = list(aggregation.get("nodes") or [])
                if node == "write":
                    outcome = delta.get("outcome") or {}
                    result.status = str(outcome.get("status") or "traced")
                    result.note = outcome.get("note")
                    result.children = list(delta.get("stack") or [])
                    if result.status == "traced":
                        result.sources = (result.edges, nodes)
                    else:
                        result.edges = []
    return result


async def _reuse(job: EntryJob, item: StackItem, status: str, visited: list[str]) -> DatasetResult:
    """A dataset finished earlier in this run: push its parents as tracing it again would."""
    from lineage.graph import _parents_to_push

    result = DatasetResult(item=item, status="reused", note=f"already {status} in this run")
    if status != "traced":
        return result
    sources = job.memo.sources_of(item["id"])
    if sources is None:
        sources = await asyncio.to_thread(_read_sources, job.trace.svc.store, item["id"])
        job.memo.sources[item["id"]] = sources
    edges, nodes = sources
    result.children = list(reversed(_parents_to_push(item, edges, nodes, job.trace, set(visited))))
    result.counters = {"reused": 1}
    return result


async def _done_status(job: EntryJob, dataset: str) -> str | None:
    done = job.memo.done.get(dataset)
    if done is None:
        done = await asyncio.to_thread(job.book.done_status, job.run_id, dataset)
        if done is not None:
            job.memo.done[dataset] = done
    return done


async def _renew(job: EntryJob, dataset: str) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(job.lease_s / 3)
        # a thread of its own: renewals must not queue behind the worker's other blocking calls
        await loop.run_in_executor(_RENEWALS, job.book.renew, dataset, job.holder, job.run_id, job.lease_s)


async def trace_dataset(job: EntryJob, item: StackItem, visited: list[str]) -> DatasetResult:
    """Take one of the worker's slots, claim ``item`` (waiting, slot given back, while another holder has it),
    trace it, record the attempt, release it. A dataset finished earlier in this run is reused, without a slot.
    While another entry on this worker traces it, the wait is for that entry's end, not a poll of the run book."""
    book, dataset = job.book, item["id"]
    while True:
        tracing = job.memo.tracing.get(dataset)
        if tracing is not None:  # another entry here is tracing it: wait for that, no slot and no query held
            await tracing.wait()
        done = await _done_status(job, dataset)
        if done is not None:
            return await _reuse(job, item, done, visited)
        if dataset in job.memo.tracing:
            continue  # another entry here took it up while the run book was asked
        async with job.slot(item):
            start = await asyncio.to_thread(
                book.start_dataset,
                run_id=job.run_id,
                dataset=dataset,
                holder=job.holder,
                lease_s=job.lease_s,
                entry=job.entry,
                depth=item["depth"],
                worker=job.worker,
            )
            if start.attempt is not None:
                return await _trace_claimed(job, item, visited, start.attempt)
            if start.done is not None:
                job.memo.done[dataset] = start.done
                return await _reuse(job, item, start.done, visited)
        await asyncio.sleep(job.poll_s)


async def _trace_claimed(job: EntryJob, item: StackItem, visited: list[str], attempt: str) -> DatasetResult:
    """Trace a dataset this holder has claimed, under ``attempt``; record how it ended and release it."""
    book, dataset = job.book, item["id"]
    ended = job.memo.tracing[dataset] = asyncio.Event()
    renewer = asyncio.create_task(_renew(job, dataset))
    # what the attempt records when it is stopped before its end (the entry failed or was cancelled, the
    # worker stops)
    status, edges = ABANDONED, 0
    note: str | None = "stopped before its end"
    try:
        started = time.time()
        job.observer.started(job.run_id, item)
        result = await _run_dataset_graph(job, item, visited)
        result.started, result.finished = started, time.time()
        status, edges, note = result.status, int(result.counters.get("edges", 0)), result.note
    finally:
        renewer.cancel()
        with suppress(asyncio.CancelledError):
            await renewer
        try:
            await asyncio.to_thread(book.end_dataset, attempt, status, edges, note, dataset, job.holder)
        finally:
            if job.memo.tracing.get(dataset) is ended:
                del job.memo.tracing[dataset]
            ended.set()
    job.memo.done[dataset] = status
    if result.sources is not None:
        job.memo.keep(dataset, result.sources)
    job.observer.finished(job.run_id, result)
    return result


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


def _top_first(frontier: list[StackItem]) -> list[StackItem]:
    """The frontier from the top of the stack down, each dataset once (its topmost place)."""
    seen: set[str] = set()
    items: list[StackItem] = []
    for item in reversed(frontier):
        if item["id"] not in seen:
            seen.add(item["id"])
            items.append(item)
    return items


@dataclass
class Fill:
    """What one step of an entry starts and leaves (see ``_fill``)."""

    frontier: list[StackItem]
    """What is left of the frontier: duplicates, datasets reached again and reused ones dropped."""
    in_flight: set[str]
    new_visited: list[str]
    counters: dict[str, int]


Launch = Callable[["EntryJob", StackItem, list[str]], None]


def _fill(job: EntryJob, state: EntryState, launch: Launch | None = None) -> Fill:
    """Start datasets until ``concurrency`` are in flight, walking the frontier from the top of the stack
    (``launch``, by default ``_launch``, starts one).

    Datasets that were in flight at the last checkpoint and are not running here (the entry is being resumed)
    start again first, before any new dataset takes a slot. Any that find no slot stay marked in flight, so a
    later step starts them: they are already visited, and nothing else would trace them.

    A dataset that the run's memo knows to be finished is reused on the spot: marked visited, and its parents
    walked next in its place, as tracing it again would push them."""
    from lineage.graph import _parents_to_push

    visited = list(state.get("visited") or [])
    seen_visited = set(visited)
    in_flight = set(state.get("in_flight") or []) | set(job.tasks)
    walk = _top_first(list(state.get("frontier") or []))
    for item in walk:
        if item["id"] in in_flight and item["id"] not in job.tasks and len(job.tasks) < job.concurrency:
            (launch or _launch)(job, item, visited)
    new_visited: list[str] = []
    kept: list[StackItem] = []
    reused = 0
    pending = deque(walk)
    while pending:
        item = pending.popleft()
        dataset = item["id"]
        if dataset in in_flight:
            kept.append(item)
            continue
        if dataset in seen_visited:
            continue  # reached again through another parent: traced (or being traced) already
        status = job.memo.reusable(dataset)
        if status is not None:
            seen_visited.add(dataset)
            new_visited.append(dataset)
            if status == "traced":
                edges, nodes = job.memo.sources_of(dataset) or ([], {})
                pending.extendleft(reversed(_parents_to_push(item, edges, nodes, job.trace, seen_visited)))
                reused += 1
        elif len(job.tasks) < job.concurrency:
            seen_visited.add(dataset)
            new_visited.append(dataset)
            in_flight.add(dataset)
            (launch or _launch)(job, item, visited + new_visited)
            kept.append(item)
        else:
            kept.append(item)
    return Fill(list(reversed(kept)), in_flight, new_visited, {"reused": reused} if reused else {})


class _MustTrace(Exception):
    """A dataset of the tree has to be traced (see ``_known_tree``)."""


def _refuse(job: EntryJob, item: StackItem, visited: list[str]) -> None:
    raise _MustTrace(item["id"])


def _known_tree(job: EntryJob, start: EntryState) -> EntryState | None:
    """The final state of a new entry whose whole tree this worker already knows finished in this run
    (``RunMemo``), else None. The entry graph's first step would start no dataset and end the entry with this
    state; such an entry ends here instead, without a thread, so it writes no checkpoint. A queue whose datasets
    are each other's ancestors has many: the tail of a run is mostly such entries."""
    try:
        fill = _fill(job, start, launch=_refuse)
    except _MustTrace:
        return None
    final = EntryState(**start)
    final["frontier"], final["in_flight"] = [], []
    final["visited"] = list(start.get("visited") or []) + fill.new_visited
    final["counters"] = add_counts(dict(start.get("counters") or {}), fill.counters)
    return final


async def _is_cancelled(job: EntryJob) -> bool:
    """Whether the run was cancelled, asked of the run book at most every ``CANCEL_CHECK_S`` per run and worker
    (a cancelled run stays cancelled)."""
    memo, now = job.memo, time.monotonic()
    if not memo.cancelled and now - memo.cancel_checked >= CANCEL_CHECK_S:
        memo.cancel_checked = now
        memo.cancelled = await asyncio.to_thread(job.book.is_cancelled, job.run_id)
    return memo.cancelled


async def advance(state: EntryState, runtime: Runtime[EntryJob]) -> Command[Literal["advance", "__end__"]]:
    """Keep up to ``concurrency`` datasets in flight; return when the first of them finishes, with the datasets
    it opened up already started (or the entry ended, when nothing is left)."""
    job = runtime.context
    if await _is_cancelled(job):
        await _cancel_all(job)
        return Command(goto="__end__", update={"cancelled": True, "frontier": [], "in_flight": []})
    fill = _fill(job, state)
    if not job.tasks:
        return Command(goto="__end__", update=_changes(state, [], set(), fill.new_visited, fill.counters, []))
    visited = list(state.get("visited") or []) + fill.new_visited
    frontier, in_flight, counters = fill.frontier, fill.in_flight, fill.counters
    finished, _ = await asyncio.wait(set(job.tasks.values()), return_when=asyncio.FIRST_COMPLETED)
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
    # Start what the finished datasets opened up before this step's checkpoint (which records them in flight),
    # so an entry whose tree is done ends in this step rather than in one more step and checkpoint of its own.
    refill = _fill(job, EntryState(frontier=frontier, in_flight=sorted(in_flight), visited=visited))
    new_visited = fill.new_visited + refill.new_visited
    for key, value in refill.counters.items():
        counters[key] = counters.get(key, 0) + value
    if not job.tasks:  # nothing in flight and nothing left to start: the entry's last step
        return Command(goto="__end__", update=_changes(state, [], set(), new_visited, counters, failures))
    update = _changes(state, refill.frontier, refill.in_flight, new_visited, counters, failures)
    return Command(goto="advance", update=update)


def _changes(
    state: EntryState,
    frontier: list[StackItem],
    in_flight: set[str],
    new_visited: list[str],
    counters: dict[str, int],
    failures: list[Failure],
) -> dict[str, Any]:
    """A step's update, with only the fields it changes: each field written is one more row, and one more
    stored version, in the checkpointer's tables."""
    update: dict[str, Any] = {}
    if frontier != state.get("frontier"):
        update["frontier"] = frontier
    if sorted(in_flight) != state.get("in_flight"):
        update["in_flight"] = sorted(in_flight)
    if new_visited:
        update["visited"] = new_visited
    if counters:
        update["counters"] = counters
    if failures:
        update["failures"] = failures
    return update


def build_entry_graph(checkpointer: Any = None) -> Any:
    """Compile the loop graph of one queue entry (see the module docstring)."""
    builder = StateGraph(EntryState, context_schema=EntryJob)
    builder.add_node("advance", advance)
    builder.add_edge(START, "advance")
    return builder.compile(checkpointer=checkpointer, name="lineage-entry")


async def run_entry(job: EntryJob, graph: Any, *, on_step: Callable[[], None] | None = None) -> EntryState:
    """Trace ``job.entry``'s tree to the end, resuming its thread when a checkpoint exists. Returns the final
    state (``cancelled`` is set when the run was cancelled)."""
    async with _entry_claim(job):
        return await _run_entry(job, graph, on_step)


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


async def _run_entry(job: EntryJob, graph: Any, on_step: Callable[[], None] | None) -> EntryState:
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
        if not await _is_cancelled(job):
            known = _known_tree(job, graph_input)
            if known is not None:
                return known
    final: dict[str, Any] = dict(snapshot.values)
    stream = graph.astream(graph_input, config, context=job, stream_mode="values")
    try:
        async with aclosing(stream):
            async for values in stream:
                final = values
                if on_step is not None:
                    on_step()
    finally:
        await _cancel_all(job)
    return final  # type: ignore[return-value]
