"""Fault and latency injection around the Hub stand-in and the world's web pages, at the transport boundary.

- ``serve_hub_with_faults(world, fail_rate=0.2, latency_ms=(10, 100))`` runs the Hub stand-in
  (``standins.hub``) with a backend wrapper that answers a share of requests with a transient
  ``503`` and sleeps a per-request latency;
- ``FaultyTransport(inner, fail_rate=0.2)`` wraps an ``httpx`` async transport (for example the world's
  ``WorldTransport``) the same way for web reads;
- ``always_fail`` names paths or URLs (substrings) that fail on every attempt: permanent failures.

Everything is deterministic: whether attempt *k* of a request fails, and how long it takes, is a hash of
``(seed, method, path, k)``. A transient fault hits the same request (method and path) at most ``max_failures``
times in all, so a client whose retries cover the faults of every request it needs always gets through;
``always_fail`` entries never do.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx


def _unit(*parts: object) -> float:
    digest = hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class FaultPlan:
    """Decides, per request attempt, whether it fails and how long it takes."""

    fail_rate: float = 0.0
    latency_ms: tuple[float, float] = (0.0, 0.0)
    always_fail: Sequence[str] = ()
    seed: int = 0
    max_failures: int = 2
    attempts: dict[tuple[str, str], int] = field(default_factory=dict)
    failures: dict[tuple[str, str], int] = field(default_factory=dict)
    injected: int = 0
    permanent: int = 0
    total: int = 0
    busy_intervals: list[tuple[float, float]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def decide(self, method: str, path: str) -> tuple[bool, bool, float]:
        """``(fail, permanent, latency_s)`` for the next attempt of ``method path``."""
        key = (method, path)
        with self._lock:
            self.total += 1
            k = self.attempts.get(key, 0)
            self.attempts[key] = k + 1
            if any(marker in path for marker in self.always_fail):
                self.permanent += 1
                return True, True, self._latency(method, path, k)
            fail = _unit(self.seed, method, path, k, "fail") < self.fail_rate
            if fail and self.failures.get(key, 0) >= self.max_failures:
                fail = False
            if fail:
                self.failures[key] = self.failures.get(key, 0) + 1
                self.injected += 1
            return fail, False, self._latency(method, path, k)

    def _latency(self, method: str, path: str, k: int) -> float:
        low, high = self.latency_ms
        if high <= 0:
            return 0.0
        return (low + (high - low) * _unit(self.seed, method, path, k, "latency")) / 1000.0

    def record_busy(self, start: float, end: float) -> None:
        """Remember that a request was in flight from ``start`` to ``end`` (times from the caller's clock)."""
        with self._lock:
            self.busy_intervals.append((start, end))


class _FaultyBackend:
    """Wraps the stand-in's backend: sleeps the planned latency, answers planned faults with 503."""

    def __init__(self, inner: Any, plan: FaultPlan, clock: Callable[[], float] = time.perf_counter) -> None:
        self.inner = inner
        self.plan = plan
        self.clock = clock

    def handle(
        self, method: str, raw_path: str, query: dict[str, list[str]], body: bytes, token: str | None
    ) -> Any:
        start = self.clock()
        fail, _permanent, latency = self.plan.decide(method, raw_path)
        if latency:
            time.sleep(latency)
        try:
            if fail:
                message = b'{"error": "injected fault"}'
                return (
                    503,
                    {"Content-Type": "application/json", "X-Error-Message": "injected fault"},
                    message,
                )
            return self.inner.handle(method, raw_path, query, body, token)
        finally:
            self.plan.record_busy(start, self.clock())


@contextmanager
def serve_hub_with_faults(
    path: str | Path,
    *,
    fail_rate: float = 0.0,
    latency_ms: tuple[float, float] = (0.0, 0.0),
    always_fail: Sequence[str] = (),
    seed: int = 0,
    clock: Callable[[], float] = time.perf_counter,
) -> Iterator[tuple[str, FaultPlan]]:
    """Serve a world with planned faults and latency; yields ``(base_url, plan)``. ``clock`` times the busy
    intervals (``time.time`` to compare them across processes)."""
    from standins.hub import serve_hub

    plan = FaultPlan(fail_rate=fail_rate, latency_ms=latency_ms, always_fail=tuple(always_fail), seed=seed)
    with serve_hub(path) as server:
        server.backend = _FaultyBackend(server.backend, plan, clock)  # type: ignore[assignment]
        yield server.base_url, plan


class FaultyTransport(httpx.AsyncBaseTransport):
    """An ``httpx`` transport that injects the plan's faults (as 503 answers) before ``inner`` answers."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, plan: FaultPlan, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.inner = inner
        self.plan = plan
        self.clock = clock

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import asyncio

        start = self.clock()
        fail, _permanent, latency = self.plan.decide(request.method, str(request.url))
        try:
            if latency:
                await asyncio.sleep(latency)
            if fail:
                return httpx.Response(503, text="injected fault", request=request)
            return await self.inner.handle_async_request(request)
        finally:
            self.plan.record_busy(start, self.clock())

    async def aclose(self) -> None:
        await self.inner.aclose()
