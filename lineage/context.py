"""The run configuration of a trace, passed to every graph node through LangGraph's ``context_schema``.

``TraceContext`` holds plain options (what the user chose) and, in ``services``, the live objects the nodes use
(the store, the acquirer, the extractor, the canonicalizer). Nothing here is checkpointed: the options are also
copied into the state's ``settings`` (see ``TraceContext.settings``) so that ``--resume`` can rebuild the same
context in a new process.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from oda.errors import ConfigError
from oda.settings import (
    DEFAULT_EXTRACTOR,
    DEFAULT_MAX_BRANCHING,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MIN_YEAR,
    DEFAULT_THRESHOLD,
    AcquisitionSettings,
    LLMSettings,
)

if TYPE_CHECKING:
    from acquisition import Acquirer, AcquisitionConfig
    from graph_store.base import GraphStore
    from lineage.canonical import Canonicalizer
    from lineage.extract.types import Extractor
    from oda.llm import LLMConfig

__all__ = [
    "DEFAULT_EXTRACTOR",
    "DEFAULT_MAX_BRANCHING",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MIN_YEAR",
    "DEFAULT_RESOURCE_CONCURRENCY",
    "DEFAULT_THRESHOLD",
    "TraceContext",
    "TraceServices",
]

DEFAULT_RESOURCE_CONCURRENCY = 8


@dataclass
class TraceServices:
    """Live objects shared by the nodes of one run. Built by ``lineage.runner`` (or injected by tests)."""

    store: GraphStore
    acquirer: Acquirer
    extractor: Extractor
    canonicalizer: Canonicalizer
    extract_limit: asyncio.Semaphore
    """Bounds the source-tracing agents running at once (the LLM's concurrency)."""
    info_cache: dict[str, Any] = field(default_factory=dict)
    """Hub metadata (``DatasetInfo``) already read in this process: the time-order check reads a source's
    metadata, and validating that source later reuses it."""


@dataclass(kw_only=True)
class TraceContext:
    """Options of one trace run.

    ``max_depth`` counts levels below the queue's datasets: 0 extracts the queue entries' own sources only.
    ``max_branching`` caps the parents pushed per dataset (the most confident first). Candidates created before
    ``min_year`` are dropped with a reason. Edges whose confidence is below ``threshold`` are flagged for review.
    """

    run_id: str
    store_uri: str
    extractor: str = DEFAULT_EXTRACTOR
    max_depth: int = DEFAULT_MAX_DEPTH
    max_branching: int = DEFAULT_MAX_BRANCHING
    threshold: float = DEFAULT_THRESHOLD
    min_year: int = DEFAULT_MIN_YEAR
    resource_concurrency: int = DEFAULT_RESOURCE_CONCURRENCY
    acquisition: AcquisitionConfig | None = None
    llm: LLMConfig | None = None
    services: TraceServices | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.extractor not in ("rules", "llm", "auto"):
            raise ConfigError(f"unknown extractor {self.extractor!r}; expected rules, llm or auto")
        if self.max_depth < 0:
            raise ConfigError("--max-depth must be >= 0")
        if self.max_branching < 1:
            raise ConfigError("--max-branching must be >= 1")
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError("--threshold must be within [0, 1]")
        if self.resource_concurrency < 1:
            raise ConfigError("resource concurrency must be >= 1")

    @property
    def svc(self) -> TraceServices:
        """The live services; a clear error when a caller forgot to build them."""
        if self.services is None:
            raise ConfigError("TraceContext.services is not set: build it with lineage.runner.build_services")
        return self.services

    def settings(self) -> dict[str, Any]:
        """The effective options as JSON, stored in the run's state so a resume rebuilds this very context:
        the trace options, every ``[acquisition]`` value and every ``[llm]`` value (``None``: no LLM). Secrets
        (the Hub token, the LLM key) are not among them; a resume reads them from the environment again."""
        acquisition: dict[str, Any] = {}
        if self.acquisition is not None:
            for key in AcquisitionSettings.model_fields:
                value = getattr(self.acquisition, key, None)
                acquisition[key] = str(value) if isinstance(value, PurePath) else value
        llm: dict[str, Any] | None = None
        if self.llm is not None:
            llm = {key: getattr(self.llm, key) for key in LLMSettings.model_fields}
        return {
            "store_uri": self.store_uri,
            "extractor": self.extractor,
            "max_depth": self.max_depth,
            "max_branching": self.max_branching,
            "threshold": self.threshold,
            "min_year": self.min_year,
            "resource_concurrency": self.resource_concurrency,
            "acquisition": acquisition,
            "llm": llm,
        }
