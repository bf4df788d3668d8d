"""Source extractors: read one resource chunk, return the raw source claims it supports and the problems met.

- ``rules``: offline and deterministic (YAML ``source_datasets``, HF ids and links, subset tables, derivation phrases).
- ``llm``: an OpenAI-compatible model with structured JSON output, validated and verified against the chunk text.
- ``auto``: rules first, then the LLM to adjudicate and classify what the rules cannot (rules only when no LLM).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lineage.extract.types import ExtractionResult, Extractor, RawClaim, ResourceChunk, make_chunk_id
from oda.errors import ConfigError

if TYPE_CHECKING:
    from oda.llm import LLMConfig

EXTRACTOR_NAMES = ("rules", "llm", "auto")

__all__ = [
    "EXTRACTOR_NAMES",
    "ExtractionResult",
    "Extractor",
    "RawClaim",
    "ResourceChunk",
    "make_chunk_id",
    "make_extractor",
]


PROMPT_VERSION_ENV = "ODA_EXTRACT_PROMPT_VERSION"


def prompt_version() -> str | None:
    """The extraction prompt version chosen with ``ODA_EXTRACT_PROMPT_VERSION`` (``v1``, ``v2``; newest when unset).

    An unknown version is a ``ConfigError`` naming the known ones."""
    from prompts import available

    chosen = os.environ.get(PROMPT_VERSION_ENV, "").strip() or None
    known = available().get("extract_sources", [])
    if chosen is not None and chosen not in known:
        raise ConfigError(
            f"{PROMPT_VERSION_ENV}={chosen!r}: unknown prompt version; known: {', '.join(known)}"
        )
    return chosen


def make_extractor(name: str, llm_config: LLMConfig | None) -> Extractor:
    """Build the extractor called ``name`` ("rules", "llm" or "auto").

    ``llm`` needs an ``llm_config`` (a ``ConfigError`` otherwise); ``auto`` without one is the rules extractor
    alone, and says so once through its ``fallback_note``.
    """
    from lineage.extract.auto import AutoExtractor
    from lineage.extract.llm import LLMExtractor
    from lineage.extract.rules import RulesExtractor

    if name == "rules":
        return RulesExtractor()
    version = prompt_version()
    if name == "llm":
        if llm_config is None:
            raise ConfigError(
                "the llm extractor needs an LLM: set [llm] base_url and model, or ODA_LLM_BASE_URL and ODA_LLM_MODEL"
            )
        return LLMExtractor(llm_config, prompt_version=version)
    if name == "auto":
        return AutoExtractor(
            RulesExtractor(), LLMExtractor(llm_config, prompt_version=version) if llm_config else None
        )
    raise ConfigError(f"unknown extractor {name!r}; expected one of: {', '.join(EXTRACTOR_NAMES)}")
