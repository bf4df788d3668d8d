"""The service's LLM and Hub budgets are split among its live workers."""

from __future__ import annotations

import asyncio

from acquisition import AcquisitionConfig
from lineage.context import TraceContext
from oda.llm import LLMConfig
from service.runtime import ServiceRuntime


def _context() -> TraceContext:
    return TraceContext(
        run_id="r",
        store_uri="unused",
        extractor="llm",
        acquisition=AcquisitionConfig(per_host_rate=5.0),
        llm=LLMConfig(base_url="http://127.0.0.1:1/v1", model="m", max_concurrency=8),
    )


def test_each_worker_takes_its_share(api_only: ServiceRuntime) -> None:
    api_only.config.workers = 3
    api_only.config.llm_concurrency = 32
    api_only.config.hub_rate = 12.0
    ctx = _context()
    asyncio.run(api_only.take_share(ctx))
    assert ctx.llm is not None and ctx.llm.max_concurrency == 10
    assert ctx.acquisition is not None and ctx.acquisition.per_host_rate == 4.0


def test_no_budget_keeps_the_configured_limits(api_only: ServiceRuntime) -> None:
    api_only.config.workers = 4
    ctx = _context()
    asyncio.run(api_only.take_share(ctx))
    assert ctx.llm is not None and ctx.llm.max_concurrency == 8
    assert ctx.acquisition is not None and ctx.acquisition.per_host_rate == 5.0
