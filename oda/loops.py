"""Values bound to the running event loop.

An asyncio primitive or a client with a connection pool belongs to the loop that made it; code that may run on
several loops (a worker thread's own loop beside the main one, successive ``asyncio.run`` calls) keeps one per loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerLoop(Generic[T]):
    """One value per running event loop, made by ``make`` on first use there and reused after. The values of
    loops that have been closed are dropped when a new loop makes its own, so a process that runs many loops in
    turn (``asyncio.run`` after ``asyncio.run``) holds no more than the loops still open."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._values: dict[int, tuple[asyncio.AbstractEventLoop, T]] = {}

    def get(self) -> T:
        """The running loop's value (made on first use)."""
        loop = asyncio.get_running_loop()
        held = self._values.get(id(loop))
        if held is None or held[0] is not loop:  # a loop id can be reused once its loop is gone
            self._forget_closed_loops()
            held = self._values[id(loop)] = (loop, self._make())
        return held[1]

    def _forget_closed_loops(self) -> None:
        for key, (loop, _) in list(self._values.items()):
            if loop.is_closed():
                del self._values[key]

    def pop(self) -> T | None:
        """The running loop's value, forgotten here (the next ``get`` makes a new one); None if it has none."""
        loop = asyncio.get_running_loop()
        held = self._values.pop(id(loop), None)
        return held[1] if held is not None and held[0] is loop else None
