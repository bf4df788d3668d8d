"""A worker's dataset slots.

A worker traces up to N datasets at once across all the queue entries it holds. ``DatasetSlots`` hands its N
slots out by priority: the entry taken first wins, and within an entry the deeper dataset, then the one started
first, so the oldest entry's tree is walked depth first and later entries only fill the slots it leaves free.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

Priority = tuple[int, int, int]
"""(entry ticket, -depth, start sequence): the lowest is served first."""


class DatasetSlots:
    """N slots handed out lowest priority first (see the module docstring)."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a worker needs at least one dataset slot")
        self.size = size
        self.busy = 0
        self._waiters: list[tuple[Priority, int, asyncio.Future[None]]] = []
        self._sequence = itertools.count()
        self._change = asyncio.Event()

    def priority(self, ticket: int, depth: int) -> Priority:
        return (ticket, -depth, next(self._sequence))

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @property
    def idle(self) -> bool:
        """Whether a slot is free that no dataset waits for."""
        return self.busy < self.size and not self._waiters

    async def changed(self) -> None:
        """Wait until a slot is taken or given back."""
        await self._change.wait()

    def _notify(self) -> None:
        self._change.set()
        self._change = asyncio.Event()

    @asynccontextmanager
    async def slot(self, priority: Priority) -> AsyncIterator[None]:
        await self._acquire(priority)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, priority: Priority) -> None:
        if self.busy < self.size and not self._waiters:
            self.busy += 1
            self._notify()
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = (priority, id(future), future)
        heapq.heappush(self._waiters, waiter)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # granted just as it was cancelled: hand the slot on
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
                heapq.heapify(self._waiters)
            raise

    def _release(self) -> None:
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)  # the slot passes straight to the waiter: busy is unchanged
                return
        self.busy -= 1
        self._notify()
