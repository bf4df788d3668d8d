"""The run book on SQLite (embedded) and on Postgres (scale-out): claims with leases, attempts, entries."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.runs import ABANDONED, DatasetStart, RunBook


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def book(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunBook]:
    url = (
        str(tmp_path / "book.sqlite")
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    runs = RunBook(url)
    try:
        yield runs
    finally:
        runs.close()


def test_a_claim_is_exclusive_until_its_lease_expires(book: RunBook) -> None:
    assert book.claim("org/a", "w1", "run", lease_s=0.5)
    assert not book.claim("org/a", "w2", "run", lease_s=0.5)
    assert book.claim("org/a", "w1", "run", lease_s=0.5)  # the holder renews
    time.sleep(0.6)
    assert book.claim("org/a", "w2", "run", lease_s=30)  # expired: another worker takes it over
    assert not book.claim("org/a", "w1", "run", lease_s=30)
    book.release("org/a", "w1")  # not the holder: nothing happens
    assert not book.claim("org/a", "w1", "run", lease_s=30)
    book.release("org/a", "w2")
    assert book.claim("org/a", "w1", "run", lease_s=30)


def test_many_threads_racing_for_a_claim_get_one_winner(book: RunBook) -> None:
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def race(name: str) -> None:
        barrier.wait()
        if book.claim("org/contended", name, "run", lease_s=30):
            winners.append(name)

    threads = [threading.Thread(target=race, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1


def test_attempts_mark_datasets_done_for_their_run_only(book: RunBook) -> None:
    abandoned = book.start_attempt("run-1", "org/a", "org/root", 1, "w0")
    book.finish_attempt(abandoned, ABANDONED, 0, "stopped before its end")
    assert book.done_status("run-1", "org/a") is None  # an abandoned attempt marks nothing done
    attempt = book.start_attempt("run-1", "org/a", "org/root", 1, "w1")
    assert book.done_status("run-1", "org/a") is None  # started is not done
    book.finish_attempt(attempt, "traced", 3, None)
    assert book.done_status("run-1", "org/a") == "traced"
    assert book.done_status("run-2", "org/a") is None
    [first, row] = book.attempts("run-1")
    assert first["status"] == ABANDONED
    assert row["edges"] == 3 and row["worker"] == "w1" and row["finished"] >= row["started"]


def test_starting_a_dataset_claims_it_and_starts_an_attempt_unless_held_or_done(book: RunBook) -> None:
    first = book.start_dataset("run-1", "org/a", "w1/e0", 30, "org/root", 1, "w1")
    assert first.attempt is not None and first.done is None
    assert book.start_dataset("run-1", "org/a", "w2/e0", 30, "org/root", 1, "w2") == DatasetStart()  # held
    book.end_dataset(first.attempt, "traced", 2, None, "org/a", "w1/e0")
    # released and done: the next holder is told how it ended, and holds no claim after
    assert book.start_dataset("run-1", "org/a", "w2/e0", 30, "org/root", 1, "w2") == DatasetStart(
        done="traced"
    )
    assert book.claim("org/a", "w3", "run-1", lease_s=30)
    book.release("org/a", "w3")
    other_run = book.start_dataset("run-2", "org/a", "w2/e0", 30, "org/root", 0, "w2")  # done in run-1 only
    assert other_run.attempt is not None
    [row] = [a for a in book.attempts("run-1")]
    assert (row["status"], row["edges"], row["worker"]) == ("traced", 2, "w1")


def test_entries_queue_in_order_and_cancel(book: RunBook) -> None:
    book.create_run("run-1", {"extractor": "rules"}, ["org/a", "org/b"])
    book.create_run("run-2", {}, ["org/c"])
    assert book.next_entry("w") == ("run-1", 0, "org/a")
    assert book.start_entry("run-1", 1, "w") == "org/b"
    assert book.cancel("run-2") == []
    assert book.next_entry("w") is None  # run-2's entry is cancelled, run-1's are running
    assert book.start_entry("run-2", 0, "w") is None
    book.finish_entry("run-1", 0, "finished", counters={"traced": 2, "edges": 3})
    book.finish_entry("run-1", 1, "failed", error="boom")
    view = book.run_view("run-1")
    assert view is not None
    assert view["state"] == "finished" and view["totals"] == {"traced": 2, "edges": 3}
    assert view["failures"] == [{"dataset": "org/b", "stage": "worker", "reason": "boom"}]
    assert book.run_view("run-2")["state"] == "cancelled"  # type: ignore[index]
    assert book.cancel("nope") is None
    assert book.queue_depth()["cancelled"] == 1


def test_a_large_run_is_recorded_with_every_entry_and_its_job(book: RunBook) -> None:
    datasets = [f"org/d{i:04d}" for i in range(1500)]
    book.create_run("big", {}, datasets)
    book.set_job_ids("big", [(position, 7000 + position) for position in range(0, 1500, 2)])
    book.set_job_ids("big", [(position, 7000 + position) for position in range(1, 1500, 2)])
    view = book.run_view("big")
    assert view is not None and [e["dataset"] for e in view["entries"]] == datasets
    assert sorted(book.cancel("big") or []) == list(range(7000, 8500))


def test_entries_traced_out_of_order_finish_in_queue_order(book: RunBook) -> None:
    book.create_run("run-1", {}, ["org/a", "org/b", "org/c", "org/d"])
    for position in range(4):
        assert book.start_entry("run-1", position, "w") is not None
    book.finish_entry("run-1", 2, "finished", counters={"traced": 1})
    book.finish_entry("run-1", 1, "finished", counters={"traced": 1})

    def states() -> list[str]:
        view = book.run_view("run-1")
        assert view is not None
        return [e["state"] for e in view["entries"]]

    assert states() == ["running", "traced", "traced", "running"]
    assert book.run_view("run-1")["state"] == "running"  # type: ignore[index]
    depth = book.queue_depth()
    assert (depth["running"], depth["traced"], depth["finished"]) == (2, 2, 0)
    book.finish_entry("run-1", 0, "failed", error="boom")
    assert states() == ["failed", "finished", "finished", "running"]
    book.finish_entry("run-1", 3, "finished")
    assert states() == ["failed", "finished", "finished", "finished"]
    assert book.run_view("run-1")["state"] == "finished"  # type: ignore[index]
    depth = book.queue_depth()
    assert (depth["failed"], depth["traced"], depth["finished"]) == (1, 0, 3)


def test_entries_ended_by_many_threads_at_once_all_finish(book: RunBook) -> None:
    """Workers end the entries of one run side by side, in any order: once none is running, every entry shows
    ``finished`` and so does the run."""
    book.create_run("run-1", {}, [f"org/d{i:02d}" for i in range(48)])
    for position in range(48):
        assert book.start_entry("run-1", position, "w") is not None
    barrier = threading.Barrier(8)

    def end(first: int) -> None:
        barrier.wait()
        for position in range(47 - first, -1, -8):  # from the end of the queue back to its start
            book.finish_entry("run-1", position, "finished", counters={"traced": 1})

    threads = [threading.Thread(target=end, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    view = book.run_view("run-1")
    assert view is not None
    assert {e["state"] for e in view["entries"]} == {"finished"}
    assert view["state"] == "finished" and view["totals"] == {"traced": 48}
    assert book.queue_depth()["finished"] == 48


def test_cancelling_the_entries_before_a_traced_one_finishes_it(book: RunBook) -> None:
    book.create_run("run-1", {}, ["org/a", "org/b", "org/c"])
    assert book.start_entry("run-1", 0, "w") == "org/a"
    assert book.start_entry("run-1", 2, "w") == "org/c"
    book.finish_entry("run-1", 0, "finished")
    book.finish_entry("run-1", 2, "finished")  # org/b is still queued
    assert [e["state"] for e in book.run_view("run-1")["entries"]] == ["finished", "queued", "traced"]  # type: ignore[index]
    book.cancel("run-1")
    assert [e["state"] for e in book.run_view("run-1")["entries"]] == ["finished", "cancelled", "finished"]  # type: ignore[index]
    with pytest.raises(ValueError):
        book.finish_entry("run-1", 1, "traced")
