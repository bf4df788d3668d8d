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

_NETWORK_ERRORS = {
    # the transport failures of the HTTP clients the project uses (huggingface_hub 1.x: httpx, 2.x: httpx2)
    "httpx": ("TransportError",),
    "httpx2": ("TransportError",),
    "httpcore": ("NetworkError", "TimeoutException"),
    "httpcore2": ("NetworkError", "TimeoutException"),
    "requests": ("ConnectionError", "Timeout"),
    "urllib3": ("NewConnectionError", "MaxRetryError", "TimeoutError"),
}


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


def network_error(exc: BaseException, what: str) -> AcquisitionError | None:
    """``exc`` as an ``AcquisitionError`` when it is a network failure (refused, unreachable, timed out) of one of
    the HTTP clients the project uses; ``None`` for anything else. ``what`` names what was being read."""
    for cls in type(exc).__mro__:
        names = _NETWORK_ERRORS.get(cls.__module__.split(".", 1)[0], ())
        if cls.__name__ in names or isinstance(exc, ConnectionError | TimeoutError):
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            url = _request_url(exc)
            where = f" at {url}" if url else ""
            return AcquisitionError(
                f"{what}{where} could not be reached ({type(exc).__name__}: {detail})", url=url
            )
    return None


def _request_url(exc: BaseException) -> str | None:
    """The scheme, host and port the failed request went to, when the exception knows it."""
    try:
        request = getattr(exc, "request", None)
    except RuntimeError:  # httpx raises when no request is attached
        return None
    url = getattr(request, "url", None)
    if url is None:
        return None
    text = str(url)
    parts = text.split("/", 3)
    return "/".join(parts[:3]) if len(parts) >= 3 and parts[0].endswith(":") else text
