"""Run configuration of the acquisition layer: one keyword-only dataclass, read from ``[acquisition]``.

Explicit arguments win over the config file, which wins over the defaults here. Secrets (``HF_TOKEN``) come from
the environment only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oda import __version__
from oda.errors import ConfigError

if TYPE_CHECKING:
    from oda.settings import AcquisitionSettings


def _token_from_env() -> str | None:
    return os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") or None


@dataclass(kw_only=True)
class AcquisitionConfig:
    """How the acquisition layer reaches the Hub, the web and arXiv, and whether it records or replays."""

    hf_endpoint: str | None = None
    """Hub base URL. ``None`` keeps ``huggingface_hub``'s own resolution (``$HF_ENDPOINT``, else huggingface.co)."""
    hf_token: str | None = field(default_factory=_token_from_env, repr=False)
    """Hub token, from ``$HF_TOKEN`` only (never from the config file)."""
    arxiv_endpoint: str | None = None
    """arXiv API query URL (default ``https://export.arxiv.org/api/query``)."""
    arxiv_html_base: str | None = None
    """Where a paper's HTML full text lives, ``{base}{arxiv_id}``. Default: ``/html/`` beside a custom
    ``arxiv_endpoint``'s origin, else ``https://arxiv.org/html/``."""
    snapshot_dir: Path | None = None
    """Replay reads from this snapshot. With ``offline`` a read it does not hold is a ``SnapshotMissError``."""
    offline: bool = False
    """Never touch the network: every read must come from ``snapshot_dir``."""
    record_dir: Path | None = None
    """Record every read (Hub, web, arXiv) into this snapshot directory."""
    concurrency: int = 8
    """At most this many reads in flight at once."""
    per_host_rate: float = 5.0
    """Requests per second per host (token bucket; ``0`` disables the limit)."""
    timeout_s: float = 20.0
    """Per-request timeout (connect, read, write and pool)."""
    max_bytes: int = 5_000_000
    """Largest body accepted from the web or for a card; a larger one is a ``ContentError``."""
    retries: int = 4
    """Retries after the first attempt on 429, 5xx, timeouts and connection errors."""
    backoff_base_s: float = 0.5
    """First backoff delay; doubled on each retry, with a ``Retry-After`` header taking precedence."""
    max_backoff_s: float = 30.0
    """Longest single wait between retries (a longer ``Retry-After`` gives up with ``RateLimitedError``)."""
    user_agent: str = f"oda-lineage/{__version__}"
    """User-Agent sent to web servers and arXiv."""

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ConfigError("acquisition.concurrency must be at least 1")
        if self.per_host_rate < 0:
            raise ConfigError("acquisition.per_host_rate must be >= 0")
        if self.timeout_s <= 0:
            raise ConfigError("acquisition.timeout_s must be > 0")
        if self.max_bytes < 1:
            raise ConfigError("acquisition.max_bytes must be >= 1")
        if self.retries < 0:
            raise ConfigError("acquisition.retries must be >= 0")
        if self.offline and self.snapshot_dir is None:
            raise ConfigError("offline mode needs a snapshot directory (--snapshot DIR)")
        for name in ("snapshot_dir", "record_dir"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                setattr(self, name, Path(value))

    @classmethod
    def from_settings(cls, table: AcquisitionSettings | None = None, **overrides: Any) -> AcquisitionConfig:
        """Build from the ``[acquisition]`` settings (``None``: the defaults); keyword ``overrides`` (not
        ``None``) win."""
        values: dict[str, Any] = table.values() if table is not None else {}
        values.update({k: v for k, v in overrides.items() if v is not None})
        for name in ("snapshot_dir", "record_dir"):
            if values.get(name) is not None:
                values[name] = Path(values[name])
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(f"[acquisition]: {exc}") from exc
