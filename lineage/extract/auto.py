"""The ``auto`` extractor: the rules first, then the LLM to adjudicate and classify what the rules cannot.

The LLM is asked about a chunk only when the rules leave something open there:

- a source claim with weak support (below ``ADJUDICATE_BELOW``) or no relationship,
- a mention the rules could not place ("other"),
- or no claim at all although the chunk uses derivation language ("derived", "collected from", "distilled"...).

Both sets of claims are returned; aggregation scores claims from the same chunk as one resource (the strongest
wins) and weighs a claim that the data is *not* a source against one that it is, so the LLM can confirm, classify
or contradict what the rules found; the LLM's relationship fills in where the rules named none. Card YAML is never sent to the LLM: ``source_datasets`` needs no judgement.

Without an LLM, ``auto`` is the rules extractor alone, and ``fallback_note`` says so (the CLI prints it once).
When the LLM fails on a chunk, the rules' claims for it are still returned, and the result's problem says so.
"""

from __future__ import annotations

import re

from graph_store.models import SourceKind
from lineage.extract.llm import LLMExtractor
from lineage.extract.rules import RulesExtractor
from lineage.extract.types import ExtractionResult, RawClaim, ResourceChunk

ADJUDICATE_BELOW = 0.8
_DERIVATION_WORDS = re.compile(
    r"deriv|distill|collect|sourced|subset|filter|mixture|combin|merg|evol|rewrit|synthe|generated|seed|"
    r"includ|built (?:from|on)|based on|taken from|sampled|curated",
    re.IGNORECASE,
)


class AutoExtractor:
    """Rules first; the LLM adjudicates the chunks the rules are unsure about (see the module docstring)."""

    name = "auto"

    def __init__(self, rules: RulesExtractor, llm: LLMExtractor | None) -> None:
        self.rules = rules
        self.llm = llm
        self.llm_calls = 0
        self.fallback_note: str | None = (
            None if llm is not None else "no LLM is configured: the auto extractor uses the rules only"
        )

    def needs_llm(self, chunk: ResourceChunk, claims: list[RawClaim]) -> bool:
        """Whether the rules leave something in ``chunk`` for the LLM to decide."""
        if chunk.kind == SourceKind.CARD_YAML:
            return False
        if not claims:
            return bool(_DERIVATION_WORDS.search(chunk.text))
        for claim in claims:
            if claim.role == "source" and (claim.support < ADJUDICATE_BELOW or claim.relationship is None):
                return True
            if claim.role == "other":
                return True
        return False

    async def aclose(self) -> None:
        if self.llm is not None:
            await self.llm.aclose()

    async def extract(self, chunk: ResourceChunk) -> ExtractionResult:
        """The rules' claims, plus the LLM's when the rules are unsure (LLM failures keep the rules' claims)."""
        rules = await self.rules.extract(chunk)
        if self.llm is None or not self.needs_llm(chunk, rules.claims):
            return rules
        self.llm_calls += 1
        llm = await self.llm.extract(chunk)
        return ExtractionResult(
            claims=rules.claims + llm.claims,
            problems=rules.problems + [f"LLM failed, rules kept: {problem}" for problem in llm.problems],
        )
