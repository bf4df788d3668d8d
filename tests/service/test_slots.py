"""A worker's dataset slots: never more than N held, handed out oldest entry first, deeper dataset first."""

from __future__ import annotations

import asyncio

import pytest

from service.slots import DatasetSlots


async def test_slots_go_to_the_oldest_entry_then_the_deepest_dataset() -> None:
    slots = DatasetSlots(2)
    held = 0
    peak = 0
    served: list[str] = []
    release = asyncio.Event()

    async def trace(name: str, ticket: int, depth: int) -> None:
        nonlocal held, peak
        async with slots.slot(slots.priority(ticket, depth)):
            held += 1
            peak = max(peak, held)
            served.append(name)
            await release.wait()
            held -= 1

    first = [asyncio.create_task(trace(n, 0, 0)) for n in ("e0-root", "e0-sibling")]
    await asyncio.sleep(0)
    assert not slots.idle and slots.busy == 2
    waiting = [
        asyncio.create_task(trace("e2-shallow", 2, 0)),
        asyncio.create_task(trace("e1-shallow", 1, 1)),
        asyncio.create_task(trace("e1-deep", 1, 3)),
        asyncio.create_task(trace("e2-deep", 2, 2)),
    ]
    await asyncio.sleep(0)
    assert slots.waiting == 4
    release.set()
    await asyncio.gather(*first, *waiting)
    assert served == ["e0-root", "e0-sibling", "e1-deep", "e1-shallow", "e2-deep", "e2-shallow"]
    assert peak == 2
    assert slots.busy == 0 and slots.idle


async def test_a_cancelled_waiter_leaves_no_slot_behind() -> None:
    slots = DatasetSlots(1)
    gate = asyncio.Event()

    async def hold() -> None:
        async with slots.slot(slots.priority(0, 0)):
            await gate.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert slots.waiting == 0
    gate.set()
    await holder
    assert slots.busy == 0 and slots.idle
    async with slots.slot(slots.priority(5, 0)):  # the pool still hands its slot out
        assert slots.busy == 1


def test_a_worker_needs_a_slot() -> None:
    with pytest.raises(ValueError):
        DatasetSlots(0)
