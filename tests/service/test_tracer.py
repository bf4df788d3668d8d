"""Which datasets an entry's step starts: depth first, up to its concurrency, and never losing one that was in
flight when the entry's last checkpoint was written."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from lineage.context import TraceContext
from lineage.state import StackItem
from service.runs import RunBook
from service.tracer import EntryJob, EntryState, _cancel_all, _fill


def item(dataset: str, depth: int = 1) -> StackItem:
    return {"id": f"org/{dataset}", "depth": depth, "root": "org/root", "via": "org/root"}


@pytest.fixture
def book(tmp_path: Path) -> Iterator[RunBook]:
    runs = RunBook(str(tmp_path / "book.sqlite"))
    try:
        yield runs
    finally:
        runs.close()


def fill(book: RunBook, tmp_path: Path, state: EntryState, concurrency: int) -> tuple[list[str], set[str], list[str], list[str]]:
    """One step's start of datasets: (frontier ids, in flight, newly visited, started). The started datasets'
    tasks are cancelled before they run."""

    async def go() -> tuple[list[str], set[str], list[str], list[str]]:
        ctx = TraceContext(run_id="run", store_uri=str(tmp_path / "graph"), extractor="rules")
        job = EntryJob(trace=ctx, book=book, worker="w", entry="org/root", position=0, concurrency=concurrency)
        frontier, in_flight, new_visited = _fill(job, state)
        started = sorted(job.tasks)
        await _cancel_all(job)
        return [i["id"] for i in frontier], in_flight, new_visited, started

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
