"""Prometheus metrics of the service, and the wrappers that time Hub and LLM calls.

Counters and histograms live in one ``CollectorRegistry`` per process (``REGISTRY``); gauges that read shared
state (queue depth, review backlog) are filled when ``/metrics`` is scraped, from the run book and the store.
"""

from __future__ import annotations

import functools
import inspect
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

DATASETS = Counter(
    "oda_datasets_traced",
    "Datasets finished by this process's tracing workers, by outcome (traced, dropped, failed, reused).",
    ["status"],
    registry=REGISTRY,
)
FAILURES = Counter(
    "oda_trace_failures",
    "Per-item failures recorded while tracing (unreadable resources, chunks not extracted, ...), by stage.",
    ["stage"],
    registry=REGISTRY,
)
IN_FLIGHT = Gauge("oda_datasets_in_flight", "Datasets being traced by this process now.", registry=REGISTRY)
HUB_LATENCY = Histogram(
    "oda_hub_call_seconds",
    "Latency of reads through the acquirer (Hub metadata and cards, web pages, arXiv), by call.",
    ["call"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
LLM_LATENCY = Histogram(
    "oda_llm_call_seconds",
    "Latency of one extraction call (one resource chunk), by extractor.",
    ["extractor"],
    registry=REGISTRY,
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
QUEUE_DEPTH = Gauge("oda_queue_entries", "Queue entries by state.", ["state"], registry=REGISTRY)
REVIEW_BACKLOG = Gauge("oda_review_backlog", "Edges waiting for review (status flagged).", registry=REGISTRY)
FINISHED_ATTEMPTS = Gauge(
    "oda_dataset_attempts_finished",
    "Dataset traces finished by all workers of the service (from the run book), by outcome.",
    ["status"],
    registry=REGISTRY,
)

ACQUIRER_CALLS = ("dataset_info", "dataset_card", "search_datasets", "fetch_page", "arxiv_paper")


class _Timed:
    """A proxy that times the named coroutine methods of ``target`` into a histogram and passes the rest on."""

    def __init__(self, target: Any, histogram: Histogram, labels: dict[str, str]) -> None:
        self._target = target
        self._histogram = histogram
        self._labels = labels

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        label = self._labels.get(name)
        if label is None or not inspect.iscoroutinefunction(value):
            return value

        @functools.wraps(value)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await value(*args, **kwargs)
            finally:
                self._histogram.labels(label).observe(time.perf_counter() - started)

        return timed


def instrument(services: Any, extractor_name: str) -> None:
    """Time the acquirer's reads and the extractor's calls of a ``TraceServices`` in place."""
    services.acquirer = _Timed(services.acquirer, HUB_LATENCY, {name: name for name in ACQUIRER_CALLS})
    services.extractor = _Timed(services.extractor, LLM_LATENCY, {"extract": extractor_name})


def render(book: Any = None, store: Any = None) -> bytes:
    """The metrics in Prometheus text format, with the gauges read from ``book`` and ``store`` now."""
    if book is not None:
        for state, count in book.queue_depth().items():
            QUEUE_DEPTH.labels(state).set(count)
        for status, count in book.traced_total().items():
            FINISHED_ATTEMPTS.labels(status).set(count)
    if store is not None:
        REVIEW_BACKLOG.set(len(store.flagged()))
    return generate_latest(REGISTRY)
