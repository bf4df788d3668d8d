"""Canonicalize informal source names to unique node ids.

The order, first match wins:

1. **An explicit Hub id** (``org/name`` or a ``huggingface.co/datasets/...`` URL, in the name or in the hint).
   It is kept as written; the catalog only adds ``is_benchmark``/``domains`` when it knows the repo. With a
   ``hub_exists`` check (``dataset_info`` in a run), an id the Hub does not know is not a Hub node: the mention
   goes on as a name (the catalog, then the Hub search for its repo name), and when nothing matches it does not
   resolve at all (``UnresolvedName``), so a path fragment (``data/train-``) never becomes a node. A catalog
   entry is on the Hub only where the check finds its id (or one of its ``also_ids``).
2. **The curated catalog** (``catalog/catalog.yaml``): names and aliases of well-known datasets and benchmarks.
3. **Hub search** (an injected async callable ``name -> [repo ids]``): a result whose repo name matches the mention
   once normalized is taken; a near match is taken with lower certainty.
4. **The LLM** (when configured): picks one of the Hub candidates, or none. It can never invent an id: an answer
   that is not among the candidates is ignored.
5. **An ``ext:`` id** derived from the name (``"AoPS Wiki"`` -> ``ext:aops-wiki``), with ``on_hub=False``.

Results are memoized for the run, except those made while a Hub read failed: a failed search (or existence check,
or LLM choice) is a problem of that resolution (an offline snapshot that holds no answer is not a failure: it found
nothing), the answer of the moment is returned with a lower certainty (so its edge goes to review) and the next
``resolve`` of that name asks the Hub again. One outage never turns the Hub parents of the rest of the run into
``ext:`` nodes.

``resolve`` returns the ``Resolution`` (and raises ``UnresolvedName`` or ``ValueError`` for a mention that names
nothing); ``resolve_outcome`` returns a ``ResolveOutcome`` value instead, with the problems met on the way, which a
trace run puts in its failure report.

Teacher, judge and filter models (DeepSeek-R1, QwQ-32B, GPT-4o, ...) are recognized by ``is_model_name`` and
never become dataset nodes.
"""

from __future__ import annotations

import contextvars
import difflib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from catalog import Catalog, CatalogEntry, ext_name, hf_id_from_text, normalize_name
from catalog.names import VERSION_SUFFIX
from graph_store.models import ext_id, is_hf_id
from oda.errors import OdaError, SnapshotMissError
from oda.llm import LLMConfig, LLMFailure, LoopClients, complete, first_json_object

if TYPE_CHECKING:
    from lineage.extract.types import RawClaim


HubSearch = Callable[[str], Awaitable[list[str]]]
HubExists = Callable[[str], Awaitable[bool | None]]
"""``repo_id -> True`` (the Hub knows it), ``False`` (it does not), or ``None`` (it cannot tell, e.g. an offline
snapshot with no answer: the id is kept); an exception is a failed read (kept, reported, not memoized)."""
ResolutionMethod = Literal["hf_id", "catalog", "hub_search", "llm", "ext"]

# Certainty of each method, used by the confidence formula (see lineage/confidence.py).
METHOD_CERTAINTY: dict[str, float] = {
    "hf_id": 1.0,
    "catalog": 0.95,
    "hub_search": 0.85,
    "hub_search_fuzzy": 0.65,
    "llm": 0.7,
    "ext": 0.8,
}
DEGRADED_CERTAINTY = 0.5
"""Certainty of a resolution made while a Hub read failed (its edge goes to review)."""


_PROBLEMS: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "canonical_problems", default=None
)


class UnresolvedName(ValueError):
    """A mention that names nothing: a Hub-looking id the Hub does not know, and no dataset of that name."""


class Resolution(BaseModel):
    """Where a source name resolved to."""

    id: str = Field(description="canonical node id: an HF id or an ext: id")
    name: str = Field(description="display name")
    on_hub: bool
    is_benchmark: bool = False
    domains: list[str] = Field(default_factory=list)
    method: ResolutionMethod
    certainty: float = Field(ge=0, le=1, description="how sure the canonicalization is")


@dataclass(frozen=True)
class ResolveOutcome:
    """What resolving one mention came to: the resolution (``None`` when the mention names nothing, or no id can
    be derived from it) and the problems met on the way (failed Hub reads, a failed LLM choice), for the run's
    failure report."""

    resolution: Resolution | None
    problems: tuple[str, ...] = ()


class _LLMChoice(BaseModel):
    id: str | None = Field(
        default=None, description="the chosen repo id, or null when none of the candidates fits"
    )


def _parse_choice(text: str) -> _LLMChoice:
    """The LLM's choice in its reply (``ValueError`` for a reply with no usable JSON object)."""
    data = first_json_object(text)
    return _LLMChoice.model_validate(data if isinstance(data, dict) else {})


class Canonicalizer:
    """Resolve raw source names to node ids (see the module docstring for the order). Results are memoized."""

    def __init__(
        self,
        catalog: Catalog | None = None,
        hub_search: HubSearch | None = None,
        llm: LLMConfig | None = None,
        hub_exists: HubExists | None = None,
    ) -> None:
        self.catalog = catalog or Catalog.load()
        self.hub_search = hub_search
        self.hub_exists = hub_exists
        self.llm = llm
        self._llm_clients = LoopClients(llm) if llm is not None else None
        self._cache: dict[tuple[str, str | None], Resolution] = {}
        self._exists: dict[str, bool] = {}
        self.not_on_hub: list[str] = []
        """Hub-looking ids that the Hub does not know (read as names instead)."""

    async def aclose(self) -> None:
        """Close the LLM client the running loop used (if any)."""
        if self._llm_clients is not None:
            await self._llm_clients.aclose()

    def is_model_name(self, name: str) -> bool:
        """Teacher, judge and filter models never become dataset nodes."""
        return self.catalog.is_model_name(name)

    async def resolve(self, name: str, hint: str | None = None) -> Resolution:
        """Resolve one raw source name (``hint``: an explicit Hub id or URL the text gave for it).

        Raises ``UnresolvedName`` (or ``ValueError``) when the mention names nothing; the problems met on the way
        only lower the certainty here (``resolve_outcome`` returns them)."""
        return await self._resolve_collecting(name, hint, [])

    async def resolve_outcome(self, name: str, hint: str | None = None) -> ResolveOutcome:
        """``resolve`` as a value: the resolution (``None`` for a mention that names nothing) and the problems."""
        problems: list[str] = []
        try:
            resolution = await self._resolve_collecting(name, hint, problems)
        except UnresolvedName:  # names nothing: its claims are dropped, which is no failure
            return ResolveOutcome(None, tuple(problems))
        except (OdaError, ValueError) as exc:
            return ResolveOutcome(None, (*problems, f"could not resolve {name!r} ({exc})"))
        return ResolveOutcome(resolution, tuple(problems))

    async def _resolve_collecting(self, name: str, hint: str | None, problems: list[str]) -> Resolution:
        key = (name.strip(), hint)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        token = _PROBLEMS.set(problems)
        try:
            resolution = await self._resolve(name.strip(), hint)
        finally:
            _PROBLEMS.reset(token)
        if problems:
            # made while a Hub read failed: not memoized (the next resolve asks again), and sent to review
            return resolution.model_copy(update={"certainty": min(resolution.certainty, DEGRADED_CERTAINTY)})
        self._cache[key] = resolution
        return resolution

    def _failed(self, message: str) -> None:
        """Record a failed read as a problem of the resolution in progress (which is then not memoized)."""
        current = _PROBLEMS.get()
        if current is not None:
            current.append(message)

    async def exists_on_hub(self, repo_id: str) -> bool | None:
        """Whether the Hub knows ``repo_id`` (memoized); ``None`` without a check or when the check failed."""
        if self.hub_exists is None:
            return None
        known = self._exists.get(repo_id.lower())
        if known is not None:
            return known
        try:
            answer = await self.hub_exists(repo_id)
        except SnapshotMissError:
            return None  # an offline snapshot without this read cannot tell: not an outage
        except Exception as exc:  # a failed check keeps the id (it may exist) and is reported
            self._failed(f"Hub check of {repo_id!r} failed: {exc}")
            return None
        if answer is None:
            return None  # the Hub (an offline snapshot) cannot tell: keep the id, ask again next time
        self._exists[repo_id.lower()] = answer
        return answer

    async def _resolve(self, name: str, hint: str | None) -> Resolution:
        if not name and not hint:
            raise ValueError("cannot resolve an empty name")
        explicit = hf_id_from_text(hint) or hf_id_from_text(name)
        if explicit and await self.exists_on_hub(explicit) is False:
            self.not_on_hub.append(explicit)
            return await self._resolve_missing_id(explicit, name)
        if explicit:
            return self._hub(explicit, "hf_id", METHOD_CERTAINTY["hf_id"])
        entry = self.catalog.lookup(name)
        if entry is not None:
            return await self._checked_entry(entry)
        candidates: list[str] = []
        if self.hub_search is not None:
            try:
                candidates = [c for c in await self.hub_search(name) if is_hf_id(c)]
            except SnapshotMissError:
                candidates = []  # an offline snapshot without this search: nothing found, not an outage
            except Exception as exc:  # a failed search degrades to the next step, and is reported
                self._failed(f"hub search for {name!r} failed: {exc}")
                candidates = []
            picked = self._pick_candidate(name, candidates)
            if picked is not None:
                repo, method_key = picked
                return self._hub(repo, "hub_search", METHOD_CERTAINTY[method_key])
        if self.llm is not None and candidates:
            chosen = await self._ask_llm(name, candidates)
            if chosen is not None:
                return self._hub(chosen, "llm", METHOD_CERTAINTY["llm"])
        try:
            ext = ext_id(ext_name(name))
        except ValueError as exc:
            raise ValueError(f"cannot derive an id from source name {name!r}") from exc
        return Resolution(id=ext, name=name, on_hub=False, method="ext", certainty=METHOD_CERTAINTY["ext"])

    async def _resolve_missing_id(self, repo_id: str, name: str) -> Resolution:
        """A Hub-looking id the Hub does not know: the catalog or an exact Hub match of its name, or nothing."""
        entry = self.catalog.by_hub_id(repo_id)
        if (
            entry is not None
            and entry.on_hub
            and entry.id.lower() != repo_id.lower()
            and await self.exists_on_hub(entry.id) is not False
        ):
            return self._from_entry(entry, "catalog", METHOD_CERTAINTY["catalog"])
        written = name if name and hf_id_from_text(name) is None else repo_id.split("/", 1)[1]
        entry = self.catalog.lookup(written)
        if entry is not None:
            return await self._checked_entry(entry)
        if self.hub_search is not None and len(normalize_name(written)) >= 4:
            try:
                candidates = [c for c in await self.hub_search(written) if is_hf_id(c)]
            except SnapshotMissError:
                candidates = []
            except Exception as exc:
                self._failed(f"hub search for {written!r} failed: {exc}")
                candidates = []
            key = normalize_name(written)
            exact = [c for c in candidates if normalize_name(c.split("/", 1)[1]) == key]
            if exact:
                return self._hub(exact[0], "hub_search", METHOD_CERTAINTY["hub_search_fuzzy"])
        raise UnresolvedName(f"{repo_id} is not on the Hub, and no dataset is named {written!r}")

    async def _checked_entry(self, entry: CatalogEntry) -> Resolution:
        """A catalog entry, on the Hub only where the Hub knows it (its id, else one of its other ids); an entry
        whose repos the Hub does not know is an off-Hub source of that name."""
        resolution = self._from_entry(entry, "catalog", METHOD_CERTAINTY["catalog"])
        if not entry.on_hub or await self.exists_on_hub(entry.id) is not False:
            return resolution
        for other in entry.also_ids:
            if await self.exists_on_hub(other) is True:
                return resolution.model_copy(update={"id": other})
        return resolution.model_copy(update={"id": ext_id(ext_name(entry.name)), "on_hub": False})

    def _from_entry(self, entry: CatalogEntry, method: ResolutionMethod, certainty: float) -> Resolution:
        return Resolution(
            id=entry.id,
            name=entry.name,
            on_hub=entry.on_hub,
            is_benchmark=entry.is_benchmark,
            domains=list(entry.domains),
            method=method,
            certainty=certainty,
        )

    def _hub(self, repo: str, method: ResolutionMethod, certainty: float) -> Resolution:
        entry = self.catalog.by_hub_id(repo)
        return Resolution(
            id=repo,
            name=entry.name if entry else repo.split("/", 1)[1],
            on_hub=True,
            is_benchmark=entry.is_benchmark if entry else False,
            domains=list(entry.domains) if entry else [],
            method=method,
            certainty=certainty,
        )

    @staticmethod
    def _pick_candidate(name: str, candidates: list[str]) -> tuple[str, str] | None:
        """An exact normalized match of the repo name wins (first in search order); else one near match."""
        key = normalize_name(name)
        if not key:
            return None
        exact = [c for c in candidates if normalize_name(c.split("/", 1)[1]) == key]
        if exact:
            return exact[0], "hub_search"
        # the name plus a version or packaging suffix ("Airoboros" -> jondurbin/airoboros-3.2)
        versioned = [
            c
            for c in candidates
            if (repo := normalize_name(c.split("/", 1)[1])).startswith(key)
            and len(key) >= 4
            and VERSION_SUFFIX.match(repo[len(key) :])
        ]
        if versioned:
            return sorted(versioned, key=lambda c: len(c))[0], "hub_search_fuzzy"
        scored = sorted(
            (
                (difflib.SequenceMatcher(None, key, normalize_name(c.split("/", 1)[1])).ratio(), c)
                for c in candidates
            ),
            reverse=True,
        )
        if scored and scored[0][0] >= 0.88 and (len(scored) == 1 or scored[1][0] < scored[0][0] - 0.05):
            return scored[0][1], "hub_search_fuzzy"
        return None

    async def _ask_llm(self, name: str, candidates: list[str]) -> str | None:
        """Let the LLM pick among Hub candidates; any answer outside the candidates is ignored."""
        from prompts import load_prompt

        assert self.llm is not None and self._llm_clients is not None
        prompt = load_prompt("canonicalize_source")
        text = prompt.render(name=name, candidates="\n".join(f"- {c}" for c in candidates[:20]))
        reply = await complete(self.llm, text, _parse_choice, client=self._llm_clients.get())
        if isinstance(reply, LLMFailure):
            self._failed(f"llm canonicalization of {name!r} failed: {reply.message}")
            return None
        chosen = reply.value.id
        return chosen if chosen and chosen in candidates else None


def dump_resolutions(resolutions: dict[str, Resolution]) -> str:
    """A JSON rendering of resolutions (diagnostics and the bench scripts)."""
    return json.dumps({k: v.model_dump() for k, v in resolutions.items()}, indent=2, sort_keys=True)


async def resolve_claims(canonicalizer: Canonicalizer, claims: list[RawClaim]) -> dict[str, Resolution]:
    """Resolve every claim's name (and Hub-id hint) once; names the canonicalizer refuses are left out."""
    resolutions: dict[str, Resolution] = {}
    for claim in claims:
        try:
            res = await canonicalizer.resolve(claim.source_name, claim.hf_id_hint)
        except ValueError:
            continue
        resolutions.setdefault(claim.source_name, res)
        if claim.hf_id_hint:
            resolutions.setdefault(claim.hf_id_hint, res)
    return resolutions
