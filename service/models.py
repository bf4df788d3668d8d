"""The JSON bodies of the service API (they make its OpenAPI schema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from graph_store.models import Node, Subgraph


class ErrorOut(BaseModel):
    detail: str = Field(description="what went wrong, for people")


class TraceRequest(BaseModel):
    """Datasets to trace and the trace options (omitted options take the service's ``[trace]`` defaults)."""

    model_config = ConfigDict(extra="forbid")

    datasets: list[str] = Field(
        min_length=1, max_length=10_000, description="Hub dataset ids (or dataset URLs)"
    )
    extractor: Literal["rules", "llm", "auto"] | None = None
    max_depth: int | None = Field(default=None, ge=0, le=50)
    max_branching: int | None = Field(default=None, ge=1, le=1000)
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    min_year: int | None = Field(default=None, ge=1900, le=2200)


class Refused(BaseModel):
    dataset: str
    stage: str
    reason: str


class TraceAccepted(BaseModel):
    run_id: str
    queued: int = Field(description="queue entries accepted")
    refused: list[Refused] = Field(description="ids that are not valid Hub ids (not queued)")


class EntryView(BaseModel):
    position: int
    dataset: str
    state: Literal["queued", "running", "traced", "finished", "failed", "cancelled"]
    worker: str | None = None
    started: float | None = None
    finished: float | None = None
    counters: dict[str, int] = Field(default_factory=dict)


class DatasetProgress(BaseModel):
    dataset: str
    entry: str = Field(description="the queue entry whose tree reached it")
    depth: int
    status: str = Field(description="tracing, traced, dropped or failed")
    worker: str
    started: float
    finished: float | None = None
    edges: int = 0
    note: str | None = None


class FailureView(BaseModel):
    model_config = ConfigDict(extra="allow")

    dataset: str
    stage: str
    reason: str
    url: str | None = None


class RunView(BaseModel):
    run_id: str
    state: Literal["queued", "running", "finished", "cancelling", "cancelled"]
    created: float
    options: dict[str, Any]
    entries: list[EntryView]
    datasets: list[DatasetProgress] = Field(description="every attempt at a dataset, in start order")
    totals: dict[str, int]
    failures: list[FailureView]


class DatasetView(BaseModel):
    node: Node
    upstream: Subgraph
    downstream: Subgraph


class CypherIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=100_000, description="one read-only Cypher statement")
    params: dict[str, Any] = Field(default_factory=dict)


class Health(BaseModel):
    status: Literal["ok"]
    mode: Literal["embedded", "scale-out"]
    store: str
