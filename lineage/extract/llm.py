"""The LLM extractor: an OpenAI-compatible model reads one chunk and answers structured JSON.

The request goes through the project's LLM layer (``oda.llm``: the official ``openai`` client against any
OpenAI-compatible server: vLLM, a llama.cpp server, OpenAI itself). The prompt is a versioned file
(``prompts/extract_sources.v2.md`` by default; ``v1`` stays selectable with ``prompt_version="v1"`` or
``ODA_EXTRACT_PROMPT_VERSION=v1``) and its id is recorded on every claim. Prompt v2 gets the chunk's structure: the
section path of each part of the excerpt and the role of that section (sources, schema, evaluation,
decontamination, see also, ...), and names the distractor classes with examples.

Robustness, per chunk (the retries, backoff and JSON-mode fallback are ``oda.llm.complete``'s):

- ``response_format={"type": "json_object"}`` is asked for; a server that rejects it is asked again without it, and
  the first JSON object in the reply is parsed (code fences and chatter around it are tolerated);
- invalid JSON, truncated output (``finish_reason == "length"``), server errors, rate limits and timeouts are
  retried, at most ``LLMConfig.max_retries`` times, server-side failures after a backoff that honours
  ``Retry-After``; after that the chunk's result carries the problem and no claims (the run goes on);
- a refusal ends the chunk at once, with the refusal as its problem;
- the answer is validated with pydantic; a malformed item is skipped, not the whole answer;
- evidence that is not a verbatim span of the chunk is dropped (hallucinated support), and so is a "source" the
  evidence does not name; every drop is counted in ``stats``.

The model's own sense of confidence is never used: it only says whether the evidence is explicit, implied or
hedged, and the edge confidence is computed later (``lineage.confidence``).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from catalog import hf_id_from_text
from graph_store.models import Relationship
from lineage.extract.types import ROLES, ExtractionResult, RawClaim, ResourceChunk
from lineage.extract.verify import is_verbatim, mentions_source
from oda.llm import LLMConfig, LLMFailure, LoopClients, complete_json
from oda.loops import PerLoop

PROMPT_NAME = "extract_sources"
STRENGTH_SUPPORT = {"explicit": 0.9, "implied": 0.6, "hedged": 0.4}
_TEXT_SLOT = "\x00CHUNK-TEXT\x00"


class LLMSource(BaseModel):
    """One mention the model reports."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=300, description="the source as written in the excerpt")
    hf_id: str | None = Field(default=None, description="Hugging Face dataset id when known")
    role: Literal["source", "eval_benchmark", "baseline", "compared", "model", "other"] = Field(
        default="source", description="what the mention is to the target"
    )
    relationship: Relationship | None = Field(default=None, description="how the source contributes")
    evidence: str = Field(min_length=1, max_length=4000, description="verbatim span of the excerpt")
    strength: Literal["explicit", "implied", "hedged"] = Field(default="implied")
    teacher: str | None = Field(default=None, description="teacher model of a distilled source")
    split: str | None = Field(default=None, description="train/test when stated")

    @field_validator("role", mode="before")
    @classmethod
    def _role(cls, v: Any) -> Any:
        text = str(v or "source").strip().lower().replace(" ", "_").replace("-", "_")
        aliases = {
            "benchmark": "eval_benchmark",
            "evaluation": "eval_benchmark",
            "eval": "eval_benchmark",
            "comparison": "compared",
            "teacher": "model",
            "filter_model": "model",
        }
        return aliases.get(text, text if text in ROLES else "other")

    @field_validator("relationship", mode="before")
    @classmethod
    def _relationship(cls, v: Any) -> Any:
        if v in (None, "", "null", "none", "unknown"):
            return None
        try:
            return Relationship.parse(str(v))
        except ValueError:
            return None

    @field_validator("strength", mode="before")
    @classmethod
    def _strength(cls, v: Any) -> Any:
        text = str(v or "implied").strip().lower()
        return text if text in STRENGTH_SUPPORT else "implied"

    @field_validator("hf_id", "teacher", "split", mode="before")
    @classmethod
    def _blank_to_none(cls, v: Any) -> Any:
        if v is None or (isinstance(v, str) and v.strip().lower() in {"", "null", "none", "n/a"}):
            return None
        return str(v)


class LLMAnswer(BaseModel):
    """The whole answer: a list of mentions (items that fail validation are skipped one by one)."""

    sources: list[dict[str, Any]] = Field(default_factory=list)


class LLMExtractor:
    """Source extraction by an OpenAI-compatible LLM (see the module docstring)."""

    name = "llm"
    fallback_note: str | None = None

    def __init__(self, config: LLMConfig, *, prompt_version: str | None = None) -> None:
        from prompts import load_prompt

        self.config = config
        self.prompt = load_prompt(PROMPT_NAME, prompt_version)
        self.stats: Counter[str] = Counter()
        self._semaphores = PerLoop(lambda: asyncio.Semaphore(config.max_concurrency))
        self.clients = LoopClients(config)

    @property
    def prompt_id(self) -> str:
        return self.prompt.id

    def render(self, chunk: ResourceChunk, sections: Sections | None = None) -> str:
        """The prompt for one chunk (the chunk text is inserted last, so braces in it are never placeholders)."""
        values = {
            "target": chunk.target,
            "kind": chunk.kind.value,
            "url": chunk.url,
            "title": chunk.title or "-",
            "text": _TEXT_SLOT,
        }
        if "{{structure}}" in self.prompt.text:
            values["structure"] = structure_hint(chunk, sections)
        return self.prompt.render(**values).replace(_TEXT_SLOT, chunk.text)

    async def aclose(self) -> None:
        await self.clients.aclose()

    async def extract(self, chunk: ResourceChunk) -> ExtractionResult:
        """Ask the model about one chunk; a failed request or an unusable answer is the result's problem."""
        sections = chunk_sections(chunk)  # parsed once: for the prompt and for each claim's section
        async with self._semaphores.get():
            reply = await complete_json(self.config, self.render(chunk, sections), client=self.clients.get())
        if isinstance(reply, LLMFailure):
            return ExtractionResult(problems=[reply.message])
        data = reply.value
        try:
            answer = LLMAnswer.model_validate(data if isinstance(data, dict) else {"sources": data})
        except ValidationError as exc:
            return ExtractionResult(
                problems=[f"the LLM answer has no valid 'sources' list: {exc.errors()[0]['msg']}"]
            )
        claims: list[RawClaim] = []
        for raw in answer.sources:
            try:
                item = LLMSource.model_validate(raw)
            except ValidationError:
                self.stats["invalid item"] += 1
                continue
            claim = self._to_claim(chunk, item, sections)
            if claim is not None:
                claims.append(claim)
        return ExtractionResult(claims=claims)

    def _to_claim(self, chunk: ResourceChunk, item: LLMSource, sections: Sections) -> RawClaim | None:
        evidence = item.evidence.strip()
        if not is_verbatim(evidence, chunk.text):
            self.stats["evidence not verbatim"] += 1
            return None
        hint = hf_id_from_text(item.hf_id) if item.hf_id else None
        if hint and not mentions_source(evidence, [hint]):
            hint = hf_id_from_text(item.name)  # an id the text does not show is the model's guess: not a hint
        if not mentions_source(evidence, [item.name, hint]):
            self.stats["evidence does not name the source"] += 1
            return None
        support = STRENGTH_SUPPORT[item.strength]
        section = section_at(sections, chunk.text.find(evidence))
        return RawClaim(
            target=chunk.target,
            source_name=item.name.strip(),
            relationship=item.relationship if item.role == "source" else None,
            evidence=evidence,
            chunk_id=chunk.chunk_id,
            source_kind=chunk.kind,
            url=chunk.url,
            extractor=self.name,
            support=support,
            role=item.role,
            teacher=item.teacher if item.role == "source" else None,
            split=item.split,
            hf_id_hint=hint,
            prompt_id=self.prompt_id,
            section=section,
        )


Sections = list[tuple[int, tuple[str, ...], str]]


def chunk_sections(chunk: ResourceChunk) -> Sections:
    """``(offset, section path, role)`` where each section of the chunk starts (the chunk's own start first): from
    the headings the chunking found in the whole resource, else from a parse of the chunk's text."""
    from lineage.cards.parser import heading_levels, heading_paths, section_role

    base = tuple(chunk.section_path)
    headings = chunk.headings if chunk.headings is not None else heading_levels(chunk.text)
    out: Sections = [(0, base, section_role(base))]
    out.extend(heading_paths(headings, base, tuple(chunk.section_levels)))
    return out


def structure_hint(chunk: ResourceChunk, sections: Sections | None = None) -> str:
    """One line per section of the excerpt: ``- Dataset Sources > Airoboros (role: sources)`` (``sections``:
    the chunk's, when already parsed)."""
    lines = []
    for _, path, role in sections if sections is not None else chunk_sections(chunk):
        line = f"- {' > '.join(path) if path else chunk.title or '(start of the document)'} (role: {role})"
        if line not in lines:
            lines.append(line)
    return "\n".join(lines)


def section_at(sections: Sections, offset: int) -> str | None:
    """The section path (``' > '`` joined) in effect at ``offset`` of the chunk text (``sections``: the chunk's,
    from ``chunk_sections``)."""
    if offset < 0:
        return None
    path: tuple[str, ...] = ()
    for start, sec_path, _ in sections:
        if start <= offset:
            path = sec_path
    return " > ".join(path) if path else None
