"""Per-host request pacing for asyncio: a token bucket per host name."""

from __future__ import annotations

import asyncio
import time


class HostRateLimiter:
    """At most ``rate`` requests per second per host, with bursts of up to ``burst`` requests.

    ``rate <= 0`` disables pacing. Waiting callers are served in arrival order per host.
    """

    def __init__(self, rate: float, burst: int = 1) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._tokens: dict[str, float] = {}
        self._stamp: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def wait(self, host: str) -> None:
        """Return when a request to ``host`` may be sent."""
        if self.rate <= 0:
            return
        lock = self._locks.setdefault(host, asyncio.Lock())
        async with lock:
            now = time.monotonic()
            tokens = self._tokens.get(host, float(self.burst))
            tokens = min(float(self.burst), tokens + (now - self._stamp.get(host, now)) * self.rate)
            if tokens < 1.0:
                delay = (1.0 - tokens) / self.rate
                await asyncio.sleep(delay)
                now = time.monotonic()
                tokens = 1.0
            self._tokens[host] = tokens - 1.0
            self._stamp[host] = now
