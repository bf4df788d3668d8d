"""Which datasets an entry's step starts: depth first, up to its concurrency, never losing one that was in flight
when the entry's last checkpoint was written, and reusing on the spot the ones the run's memo knows finished."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from acquisition import AcquisitionConfig
from graph_store.models import Edge, Node, Relationship
from lineage.context import TraceContext
from lineage.runner import build_services
from lineage.state import StackItem
from service.runs import ABANDONED, RunBook
from service.tracer import EntryJob, EntryState, RunMemo, _cancel_all, _fill, trace_dataset
from standins.faults import serve_hub_with_faults
from standins.synthetic_world import write_world


def item(dataset: str, depth: int = 1) -> StackItem:
    return {"id": f"org/{dataset}", "depth": depth, "root": "org/root", "via": "org/root"}


@pytest.fixture
def book(tmp_path: Path) -> Iterator[RunBook]:
    runs = RunBook(str(tmp_path / "book.sqlite"))
    try:
        yield runs
    finally:
        runs.close()


Step = tuple[list[str], set[str], list[str], list[str]]


@asynccontextmanager
async def rules_trace(tmp_path: Path, hub_url: str) -> AsyncIterator[TraceContext]:
    """A trace context over the Hub stand-in at ``hub_url`` (rules extractor), with its services running."""
    acquisition = AcquisitionConfig(hf_endpoint=hub_url, per_host_rate=0, retries=0, timeout_s=30)
    ctx = TraceContext(
        run_id="run", store_uri=str(tmp_path / "graph"), extractor="rules", acquisition=acquisition
    )
    async with build_services(ctx) as services:
        ctx.services = services
        yield ctx


def fill(
    book: RunBook, tmp_path: Path, state: EntryState, concurrency: int, memo: RunMemo | None = None
) -> Step:
    """One step's start of datasets: (frontier ids, in flight, newly visited, started). The started datasets'
    tasks are cancelled before they run."""
    return fill_counting(book, tmp_path, state, concurrency, memo)[0]


def fill_counting(
    book: RunBook, tmp_path: Path, state: EntryState, concurrency: int, memo: RunMemo | None = None
) -> tuple[Step, dict[str, int]]:
    async def go() -> tuple[Step, dict[str, int]]:
        ctx = TraceContext(run_id="run", store_uri=str(tmp_path / "graph"), extractor="rules", max_depth=3)
        job = EntryJob(
            trace=ctx,
            book=book,
            worker="w",
            entry="org/root",
            position=0,
            concurrency=concurrency,
            memo=memo or RunMemo(),
        )
        step = _fill(job, state)
        started = sorted(job.tasks)
        await _cancel_all(job)
        return ([i["id"] for i in step.frontier], step.in_flight, step.new_visited, started), step.counters

    return asyncio.run(go())


def test_a_resumed_entry_starts_its_in_flight_datasets_before_new_ones(book: RunBook, tmp_path: Path) -> None:
    # the last checkpoint: the root traced, a in flight, b and c pushed above it since (the top is the end)
    state = EntryState(
        frontier=[item("a"), item("b"), item("c")],
        in_flight=["org/a"],
        visited=["org/root", "org/a"],
    )
    frontier, in_flight, new_visited, started = fill(book, tmp_path, state, concurrency=1)
    assert started == ["org/a"]
    assert in_flight == {"org/a"}
    assert new_visited == []
    assert frontier == ["org/a", "org/b", "org/c"]

    frontier, in_flight, new_visited, started = fill(book, tmp_path, state, concurrency=2)
    assert started == ["org/a", "org/c"]  # then the top of the stack
    assert new_visited == ["org/c"]
    assert in_flight == {"org/a", "org/c"}


def test_in_flight_datasets_without_a_slot_stay_in_flight(book: RunBook, tmp_path: Path) -> None:
    # resumed by a worker with fewer slots than the one that wrote the checkpoint
    state = EntryState(
        frontier=[item("a"), item("b"), item("c"), item("d")],
        in_flight=["org/a", "org/b", "org/d"],
        visited=["org/root", "org/a", "org/b", "org/d"],
    )
    frontier, in_flight, new_visited, started = fill(book, tmp_path, state, concurrency=1)
    assert started == ["org/d"]
    assert in_flight == {"org/a", "org/b", "org/d"}  # a and b wait for a slot, still marked in flight
    assert frontier == ["org/a", "org/b", "org/c", "org/d"]
    assert new_visited == []


def test_a_dataset_reached_again_is_dropped_and_duplicates_keep_their_top_place(
    book: RunBook, tmp_path: Path
) -> None:
    state = EntryState(
        frontier=[item("a"), item("b"), item("a", depth=2), item("x")],
        in_flight=[],
        visited=["org/root", "org/x"],  # x was traced through another parent already
    )
    frontier, in_flight, new_visited, started = fill(book, tmp_path, state, concurrency=1)
    assert started == ["org/a"]
    assert frontier == ["org/b", "org/a"]
    assert new_visited == ["org/a"]
    assert in_flight == {"org/a"}


def sources(target: str, *parents: tuple[str, float]) -> tuple[list[Edge], dict[str, Node]]:
    edges = [
        Edge(
            source=f"org/{p}",
            target=f"org/{target}",
            relationship=Relationship.DIRECT_INCLUSION,
            confidence=c,
        )
        for p, c in parents
    ]
    return edges, {e.source: Node(id=e.source) for e in edges}


def test_datasets_the_memo_knows_are_reused_in_the_step_and_their_parents_walked_in_their_place(
    book: RunBook, tmp_path: Path
) -> None:
    memo = RunMemo()
    memo.done.update({"org/a": "traced", "org/p": "traced", "org/f": "failed", "org/n": "traced"})
    memo.sources["org/a"] = sources("a", ("p", 0.9), ("q", 0.8), ("f", 0.7))
    memo.sources["org/p"] = sources("p", ("g", 0.9))
    # org/n is finished but its sources are unknown here: a task reads them
    state = EntryState(frontier=[item("b"), item("n"), item("a")], in_flight=[], visited=["org/root"])
    (frontier, in_flight, new_visited, started), counters = fill_counting(book, tmp_path, state, 2, memo)
    # a reused: its parents p (reused: its parent g), q, f (failed: no parents) walked before n and b
    assert new_visited == ["org/a", "org/p", "org/g", "org/q", "org/f"]
    assert started == ["org/g", "org/q"]
    assert counters == {"reused": 2}
    assert frontier == ["org/b", "org/n", "org/q", "org/g"]  # g (deeper) on top, then q; n and b wait
    assert in_flight == {"org/g", "org/q"}

    # parents beyond the maximum depth are not pushed, as tracing would not push them
    deep = EntryState(frontier=[item("a", depth=3)], in_flight=[], visited=["org/root"])
    (frontier, _, new_visited, started), counters = fill_counting(book, tmp_path, deep, 2, memo)
    assert (frontier, new_visited, started, counters) == ([], ["org/a"], [], {"reused": 1})


def test_a_dataset_its_live_worker_stops_is_abandoned_and_released(book: RunBook, tmp_path: Path) -> None:
    """Stopped mid-trace (its entry cancelled or failed, the worker shutting down): the attempt is finished as
    abandoned, which marks nothing done, and the claim is given back at once for the next holder."""
    world = write_world(tmp_path / "world", 2, seed=1)
    dataset = world.ids[-1]
    with serve_hub_with_faults(world.root, latency_ms=(3000, 3000)) as (url, _plan):  # validation waits

        async def stop_mid_trace() -> None:
            async with rules_trace(tmp_path, url) as ctx:
                job = EntryJob(trace=ctx, book=book, worker="w", entry=dataset, position=0)
                task = asyncio.create_task(trace_dataset(job, {**item("x", 0), "id": dataset}, []))
                while not book.attempts("run"):
                    await asyncio.sleep(0.02)
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task

        asyncio.run(stop_mid_trace())
    [attempt] = book.attempts("run")
    assert attempt["status"] == ABANDONED and attempt["finished"] is not None
    assert book.done_status("run", dataset) is None
    assert book.claim(dataset, "another-holder", "run", lease_s=30)  # released, not left to expire


def test_an_entry_checkpoints_once_per_finished_dataset_and_ends_with_its_last(
    book: RunBook, tmp_path: Path
) -> None:
    """Each step of an entry waits for one dataset to finish and starts what it opened up before its checkpoint,
    so the step that finishes the tree's last dataset also ends the entry: one step and checkpoint per traced
    dataset, none more."""
    from langgraph.checkpoint.memory import InMemorySaver

    from service.tracer import build_entry_graph, run_entry
    from standins.hub import serve_hub

    world = write_world(tmp_path / "world", 8, seed=3)
    entry = world.ids[-1]
    with serve_hub(world.root) as hub:

        async def trace_entry() -> tuple[EntryState, list[Any]]:
            graph = build_entry_graph(InMemorySaver())
            async with rules_trace(tmp_path, hub.base_url) as ctx:
                job = EntryJob(trace=ctx, book=book, worker="w", entry=entry, position=0, concurrency=2)
                final = await run_entry(job, graph)
            config = {"configurable": {"thread_id": job.thread_id}}
            return final, [c async for c in graph.aget_state_history(config)]

        final, history = asyncio.run(trace_entry())
    traced = final["counters"].get("traced", 0)
    assert traced >= 2  # the entry and at least one ancestor
    assert set(final["visited"]) >= {entry, *world.parents[entry]}
    assert final["frontier"] == [] and final["in_flight"] == []
    # LangGraph writes the input, then a checkpoint before the first step, then one after each step
    loop_steps = [c for c in history if c.metadata.get("source") == "loop"]
    assert len(loop_steps) == 1 + traced
    assert not history[0].next  # the newest checkpoint is the end


def test_an_entry_whose_tree_the_worker_knows_finished_ends_as_its_graph_would_without_a_checkpoint(
    book: RunBook, tmp_path: Path
) -> None:
    """A second entry of a tree the worker traced in this run (the tail of a run is mostly such entries) gets
    no thread and writes no checkpoint, and ends with the very state its graph would have given it."""
    from langgraph.checkpoint.memory import InMemorySaver

    from service.tracer import _known_tree, build_entry_graph, run_entry
    from standins.hub import serve_hub

    world = write_world(tmp_path / "world", 8, seed=3)
    entry = world.ids[-1]
    with serve_hub(world.root) as hub:

        async def trace_then_queue_again() -> tuple[EntryState, EntryState, list[Any], EntryState | None]:
            saver = InMemorySaver()
            graph = build_entry_graph(saver)
            memo = RunMemo()
            async with rules_trace(tmp_path, hub.base_url) as ctx:
                first = EntryJob(trace=ctx, book=book, worker="w", entry=entry, position=0, memo=memo)
                await run_entry(first, graph)
                again = EntryJob(trace=ctx, book=book, worker="w", entry=entry, position=1, memo=memo)
                known = await run_entry(again, graph)
                # the same entry through its graph, on a thread of its own
                via_graph = EntryJob(trace=ctx, book=book, worker="w", entry=entry, position=2, memo=memo)
                start = EntryState(
                    run_id="run",
                    entry=entry,
                    frontier=[{"id": entry, "depth": 0, "root": entry, "via": None}],
                    in_flight=[],
                    visited=[],
                    counters={},
                    failures=[],
                    cancelled=False,
                )
                config: Any = {"configurable": {"thread_id": via_graph.thread_id}}
                graph_final = await graph.ainvoke(start, config, context=via_graph)
                unknown = EntryJob(trace=ctx, book=book, worker="w", entry="org/never-traced", position=3)
                not_known = _known_tree(
                    unknown, EntryState(**{**start, "frontier": [item("never-traced", 0)]})
                )
            history = [
                c async for c in graph.aget_state_history({"configurable": {"thread_id": again.thread_id}})
            ]
            return known, graph_final, history, not_known

        known, graph_final, history, not_known = asyncio.run(trace_then_queue_again())
    assert known["counters"].get("reused", 0) >= 2 and "traced" not in known["counters"]
    assert known == graph_final
    assert history == []  # no checkpoint
    assert not_known is None  # a dataset the memo does not know has to be traced: the entry runs its graph


def test_a_traced_dataset_is_reused_from_its_own_trace_without_reading_the_store(
    book: RunBook, tmp_path: Path
) -> None:
    """The worker keeps the edges and source nodes its trace chose the parents from: another entry that reaches
    the dataset later in the run walks the same parents in its step, with no task and no store read."""
    from lineage.graph import _parents_to_push
    from standins.hub import serve_hub

    world = write_world(tmp_path / "world", 8, seed=3)
    dataset = world.ids[-1]
    with serve_hub(world.root) as hub:

        async def trace_then_reach_again() -> tuple[list[StackItem], RunMemo, Step]:
            memo = RunMemo()
            async with rules_trace(tmp_path, hub.base_url) as ctx:
                job = EntryJob(trace=ctx, book=book, worker="w", entry=dataset, position=0, memo=memo)
                result = await trace_dataset(job, {**item("x", 0), "id": dataset}, [])
                assert result.status == "traced"
                other = EntryJob(trace=ctx, book=book, worker="w", entry="org/y", position=1, memo=memo)
                reached: StackItem = {**item("x", 1), "id": dataset}
                step = _fill(other, EntryState(frontier=[reached], visited=["org/y"]))
                started = sorted(other.tasks)
                await _cancel_all(other)
            return (
                result.children,
                memo,
                ([i["id"] for i in step.frontier], step.in_flight, step.new_visited, started),
            )

        children, memo, (_, _, new_visited, started) = asyncio.run(trace_then_reach_again())
    assert {c["id"] for c in children} == set(world.parents[dataset])  # the rules extractor finds them all
    kept = memo.sources_of(dataset)
    assert kept is not None
    edges, nodes = kept
    ctx = TraceContext(run_id="run", store_uri=str(tmp_path / "unused"), extractor="rules")
    traced: StackItem = {**item("x", 0), "id": dataset}
    assert list(reversed(_parents_to_push(traced, edges, nodes, ctx, {dataset}))) == children
    # reached again: reused in the step, and its parents started in its place
    assert started == sorted(world.parents[dataset])
    assert new_visited[0] == dataset and set(new_visited) == {dataset, *world.parents[dataset]}


def test_an_entry_waits_for_another_entry_of_its_worker_to_finish_a_dataset_then_reuses_it(
    book: RunBook, tmp_path: Path
) -> None:
    """Two entries of one worker reach the same dataset: one traces it, the other waits for that trace to end
    (not for its next poll of the run book, set here far beyond the test's time limit) and reuses it."""
    from standins.hub import serve_hub

    world = write_world(tmp_path / "world", 8, seed=3)
    dataset = world.ids[-1]
    with serve_hub(world.root, latency_s=0.2) as hub:

        async def two_entries() -> tuple[str, str]:
            memo = RunMemo()
            async with rules_trace(tmp_path, hub.base_url) as ctx:
                first = EntryJob(trace=ctx, book=book, worker="w", entry=dataset, position=0, memo=memo)
                second = EntryJob(
                    trace=ctx, book=book, worker="w", entry="org/y", position=1, memo=memo, poll_s=600
                )
                tracing = asyncio.create_task(trace_dataset(first, {**item("x", 0), "id": dataset}, []))
                while not book.attempts("run"):
                    await asyncio.sleep(0.02)
                waiting = trace_dataset(second, {**item("y", 1), "id": dataset}, ["org/y"])
                reached = await asyncio.wait_for(waiting, timeout=60)
                return (await tracing).status, reached.status

        traced, reached = asyncio.run(two_entries())
    assert (traced, reached) == ("traced", "reused")
    assert len(book.attempts("run")) == 1


FIRST_TRACE = """
import asyncio, json, sys
from pathlib import Path

import service.cli  # what `oda worker` has loaded when it starts

from service.tracer import warm_up

warm_up()

from acquisition import AcquisitionConfig
from lineage.context import TraceContext
from lineage.runner import build_services
from oda.llm import LLMConfig
from service.runs import RunBook
from service.tracer import EntryJob, trace_dataset
from standins.hub import serve_in_thread
from standins.llm_emulator import reading_responder
from standins.openai_compat import serve_openai
from standins.synthetic_world import write_world

tmp = Path(sys.argv[1])
world = write_world(tmp / "world", 5, seed=1)
dataset = world.ids[-1]


async def trace(hub: str, llm: str) -> tuple[str, list[str]]:
    ctx = TraceContext(
        run_id="r",
        store_uri=str(tmp / "graph"),
        extractor="llm",
        acquisition=AcquisitionConfig(hf_endpoint=hub, per_host_rate=0, retries=0, timeout_s=30),
        llm=LLMConfig(base_url=llm, model="scripted-model", api_key="x"),
    )
    async with build_services(ctx) as services:  # a worker's run is opened, its store too
        ctx.services = services
        book = RunBook(str(tmp / "book.sqlite"))
        job = EntryJob(trace=ctx, book=book, worker="w", entry=dataset, position=0)
        before = set(sys.modules)
        result = await trace_dataset(job, {"id": dataset, "depth": 0, "root": dataset, "via": None}, [])
        book.close()
        return result.status, sorted(set(sys.modules) - before)


with serve_in_thread(world.root) as hub, serve_openai(reading_responder) as llm:
    status, loaded = asyncio.run(trace(hub, llm.base_url))
print(json.dumps({"status": status, "loaded": loaded}))
"""


def test_after_warm_up_a_workers_first_dataset_loads_no_tracing_code(tmp_path: Path) -> None:
    """A worker warms up before it takes work: its first dataset then loads none of the tracing code, the LLM
    and Hub clients or the parsers on the event loop all its datasets share."""
    import json
    import os
    import subprocess
    import sys

    from tests.service.conftest import REPO

    script = tmp_path / "first_trace.py"
    script.write_text(FIRST_TRACE, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == "traced"
    heavy = {
        "openai",
        "huggingface_hub",
        "aiohttp",
        "bs4",
        "markdown_it",
        "lineage",
        "acquisition",
        "catalog",
    }
    assert [m for m in report["loaded"] if m.split(".")[0] in heavy | {"prompts", "langgraph"}] == []
