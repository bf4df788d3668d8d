"""The records that flow between resource fetching, extraction and aggregation.

A :class:`ResourceChunk` is one piece of fetched text (a card's YAML front matter, a section of its body, a paper
abstract, a GitHub README, a blog post), with its provenance. An extractor reads one chunk and returns an
:class:`ExtractionResult`: the :class:`RawClaim` records it found ("the target was built from ``source_name``", each
with a claimed verbatim evidence span) and the problems it met on the way (an LLM that failed or refused), which the
run reports. Aggregation later canonicalizes the names, verifies the evidence and computes the edge confidence.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from graph_store.models import Relationship, SourceKind

ClaimRole = Literal["source", "eval_benchmark", "baseline", "compared", "model", "other"]
"""What a mention is to the target: only ``source`` becomes an edge; the rest are kept for diagnostics."""

ROLES: tuple[str, ...] = ("source", "eval_benchmark", "baseline", "compared", "model", "other")


def make_chunk_id(url: str, index: int) -> str:
    """A stable chunk id: a short hash of the url and the chunk's position in that resource."""
    digest = hashlib.sha256(f"{url}\x00{index}".encode()).hexdigest()
    return digest[:16]


class ResourceChunk(BaseModel):
    """One piece of fetched text with its provenance."""

    model_config = ConfigDict(extra="forbid")

    target: str = Field(description="the dataset id being traced")
    chunk_id: str = Field(description="stable id: hash of url + index (see make_chunk_id)")
    kind: SourceKind = Field(description="card_yaml, card, paper, github or blog")
    url: str = Field(description="where the text was fetched from")
    title: str | None = Field(default=None, description="title of the page, paper or section")
    text: str = Field(description="the text itself; evidence must be a verbatim span of it")
    section_path: list[str] = Field(
        default_factory=list,
        description="the headings above the chunk's first line, outermost first (headings inside the text add to it)",
    )
    section_levels: list[int] = Field(
        default_factory=list, description="the markdown level of each heading of section_path"
    )
    headings: list[tuple[int, int, str]] | None = Field(
        default=None,
        description="(offset in text, level, title) of each heading inside the text, as the parse of the whole "
        "resource found them; None when not known (the text is then parsed on its own when needed)",
    )

    @property
    def section_role(self) -> str:
        """The role of the section the chunk starts in (sources, schema, evaluation, ...; see lineage.cards)."""
        from lineage.cards.parser import section_role

        return section_role(self.section_path)


class RawClaim(BaseModel):
    """One mention an extractor found in one chunk, before canonicalization and verification."""

    model_config = ConfigDict(extra="forbid")

    target: str = Field(description="the dataset id being traced")
    source_name: str = Field(description="the mention as written (an HF id, a name, an alias)")
    relationship: Relationship | None = Field(
        default=None, description="how the source contributes, when known"
    )
    evidence: str = Field(description="claimed verbatim span of the chunk text")
    chunk_id: str
    source_kind: SourceKind
    url: str
    extractor: str = Field(description="rules or llm")
    support: float = Field(ge=0.0, le=1.0, description="strength of the textual support, 0..1")
    role: ClaimRole = Field(default="source", description="only 'source' becomes an edge")
    teacher: str | None = Field(default=None, description="teacher model named by a distillation claim")
    split: str | None = Field(default=None, description="train/test when the text says which split was used")
    hf_id_hint: str | None = Field(
        default=None, description="explicit HF id when the text gave one (id or URL)"
    )
    prompt_id: str | None = Field(default=None, description="prompt name.version for LLM claims")
    share: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="the source's share of a mixture table, when the card gives counts",
    )
    section: str | None = Field(default=None, description="the section path of the evidence (' > ' joined)")


@dataclass(frozen=True)
class ExtractionResult:
    """What an extractor made of one chunk: its claims, and the problems it met (one line each, for people).

    A problem does not stop the run: the claims found despite it are still used (the ``auto`` extractor keeps the
    rules' claims when the LLM fails), and the run's failure report lists the problem with the chunk's URL.
    """

    claims: list[RawClaim] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@runtime_checkable
class Extractor(Protocol):
    """Reads one chunk and returns an ``ExtractionResult``.

    What goes wrong with the chunk (an LLM that fails, refuses or answers nonsense) is a problem in the result,
    never an exception. ``fallback_note`` says once per run that the extractor works with less than was asked
    for (``auto`` without an LLM), or is ``None``.
    """

    name: str
    fallback_note: str | None

    async def extract(self, chunk: ResourceChunk) -> ExtractionResult: ...

    async def aclose(self) -> None:
        """Release what the extractor holds on the running loop (its LLM client); nothing for the rules."""
