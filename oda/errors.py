"""The project's exceptions. Every error the library raises on purpose derives from ``OdaError``:

OdaError
├── ConfigError            bad configuration file or option
├── InputError             malformed user input (ids, files, queue lines)
├── AcquisitionError       a read from the Hub, the web or arXiv failed (per item, never fatal to a run)
│   ├── NotFoundError      the repo, page or paper does not exist
│   ├── AccessDeniedError  gated or private repo
│   ├── FetchTimeoutError  the server was too slow
│   ├── RateLimitedError   429 after all retries
│   ├── ContentError       too large, binary, undecodable, wrong content type, redirect loop
│   └── SnapshotMissError  an offline read that the snapshot does not hold
├── ExtractionError        an extractor (rules or LLM) could not produce valid output
├── StoreError             the graph store refused or failed an operation
│   ├── ConflictError      a concurrent decision on the same edge
│   ├── UnknownEdgeError   no such edge
│   └── ReadOnlyError      a write attempted through read-only Cypher
├── ScoringError           a scorer failed on a batch
└── BenchmarkError         rendering, submitting or collecting a training/evaluation job failed
"""

from __future__ import annotations


class OdaError(Exception):
    """Base class of every error raised on purpose by this project."""


class ConfigError(OdaError):
    pass


class InputError(OdaError):
    pass


class AcquisitionError(OdaError):
    """A read from the outside world failed. ``url`` names what was read."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class NotFoundError(AcquisitionError):
    pass


class AccessDeniedError(AcquisitionError):
    pass


class FetchTimeoutError(AcquisitionError):
    pass


class RateLimitedError(AcquisitionError):
    pass


class ContentError(AcquisitionError):
    pass


class SnapshotMissError(AcquisitionError):
    pass


class ExtractionError(OdaError):
    pass


class StoreError(OdaError):
    pass


class ConflictError(StoreError):
    pass


class UnknownEdgeError(StoreError):
    pass


class ReadOnlyError(StoreError):
    pass


class ScoringError(OdaError):
    pass


class BenchmarkError(OdaError):
    pass
