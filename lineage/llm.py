"""Connection settings for the OpenAI-compatible LLM used by the ``llm`` and ``auto`` extractors.

Any server that speaks the OpenAI chat API works: vLLM, a llama.cpp server, OpenAI itself. The base URL, model and
limits come from the ``[llm]`` settings (``oda.settings.LLMSettings``: the config file, ``ODA_LLM_BASE_URL`` /
``ODA_LLM_MODEL``), handed to ``LLMConfig.from_mapping``; the API key only from the environment
(``ODA_LLM_API_KEY``, else ``OPENAI_API_KEY``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from oda.errors import ConfigError

if TYPE_CHECKING:
    import openai


def _api_key_from_env() -> str | None:
    return os.environ.get("ODA_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY")


@dataclass(kw_only=True)
class LLMConfig:
    """How to reach the LLM.

    ``max_retries`` bounds the attempts after an invalid, truncated or failed answer; ``max_concurrency`` bounds
    the requests in flight from one process; ``json_mode`` asks the server for ``response_format=json_object``
    (servers that reject it are retried without it).
    """

    base_url: str
    model: str
    api_key: str | None = field(default_factory=_api_key_from_env, repr=False)
    timeout_s: float = 60.0
    max_retries: int = 2
    temperature: float = 0.0
    max_concurrency: int = 8
    max_tokens: int = 1024
    json_mode: bool = True

    def __post_init__(self) -> None:
        if not self.base_url:
            raise ConfigError("llm.base_url must not be empty")
        if not self.model:
            raise ConfigError("llm.model must not be empty")
        if self.timeout_s <= 0:
            raise ConfigError("llm.timeout_s must be positive")
        if self.max_retries < 0:
            raise ConfigError("llm.max_retries must be >= 0")
        if self.max_concurrency < 1:
            raise ConfigError("llm.max_concurrency must be >= 1")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> LLMConfig | None:
        """The LLM ``values`` (the ``[llm]`` keys) describe, or ``None`` when they name no base URL or model.
        Keys set to ``None`` keep the defaults; the API key is never among them (it comes from the
        environment)."""
        values = {k: v for k, v in values.items() if v is not None}
        if not values.get("base_url") or not values.get("model"):
            return None
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(f"[llm]: {exc}") from exc

    def client(self) -> openai.AsyncOpenAI:
        """A fresh async client (the openai SDK's own retries are off: callers bound retries themselves)."""
        import openai

        return openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=self.api_key or "not-needed",
            timeout=self.timeout_s,
            max_retries=0,
        )
