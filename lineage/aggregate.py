"""The aggregation agent: turn the raw claims about one target into verified, scored edges.

``aggregate`` is pure and synchronous: the (async) canonicalization of every mention happens before, and its
results come in as ``resolutions`` (keyed by the claim's ``hf_id_hint`` or, failing that, its ``source_name``).

For every claim, in order, the first failing check drops it with a reason:

1. the claim belongs to this target, and its chunk is known;
2. its evidence is not an instruction aimed at a model ("prompt injection in evidence");
3. its evidence is a verbatim span of the chunk ("unsupported evidence");
4. its name resolved to a node id ("unresolved name");
5. it is not a model ("model, not data": teachers and filters never become nodes);
6. the evidence names the source ("evidence does not name the source");
7. the source is not the target itself ("self reference").

The surviving claims are grouped by canonical source id (deduplication). A group becomes an edge when:

- at least one claim gives it the ``source`` role (mentions as evaluation benchmark, baseline or comparison are
  kept only as diagnostics: "not a source: eval benchmark", ...);
- the evidence that it is *not* a source (decontamination against it, "does not include", or being only
  evaluated on) does not outweigh the evidence that it is ("contradicted"); both sides are scored with the same
  noisy-OR as the confidence, so a benchmark that a card both includes and evaluates on stays a source;
- the source is not newer than the target, when both dates are known ("newer than target").

The edge takes the relationship that most of the evidence weight supports (Direct Inclusion/Subset when no claim
names one), the strongest claim's evidence, the teacher model and split when claims name them, the source's share of
a mixture table when the card gives counts (``components.mixture_share``), and the confidence of
``lineage.confidence.edge_confidence``. Below ``threshold`` it is ``flagged``, otherwise ``auto``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from catalog import Catalog, normalize_name
from graph_store.models import Edge, EdgeStatus, Node, Relationship
from lineage.canonical import Resolution
from lineage.confidence import (
    DEFAULT_WEIGHTS,
    ConfidenceWeights,
    Evidence,
    best_per_resource,
    edge_confidence,
    noisy_or,
    strength,
)
from lineage.extract.types import RawClaim, ResourceChunk
from lineage.extract.verify import is_verbatim, looks_like_injection, mentions_source

MAX_EDGE_EVIDENCE_CHARS = 2000

ROLE_REASONS = {
    "eval_benchmark": "not a source: eval benchmark",
    "baseline": "not a source: baseline",
    "compared": "not a source: compared dataset",
    "other": "not a source: incidental mention",
    "model": "model, not data",
}


class DroppedClaim(BaseModel):
    """A claim that did not become (part of) an edge, and why."""

    claim: RawClaim
    reason: str
    source_id: str | None = Field(default=None, description="the canonical id, when the name resolved")


class AggregationResult(BaseModel):
    """What aggregation produced for one target."""

    edges: list[Edge] = Field(default_factory=list)
    nodes: list[Node] = Field(default_factory=list)
    dropped: list[DroppedClaim] = Field(default_factory=list)

    def drop_reasons(self) -> Counter[str]:
        """How many claims were dropped for each reason."""
        return Counter(d.reason for d in self.dropped)


def resolution_for(claim: RawClaim, resolutions: dict[str, Resolution]) -> Resolution | None:
    """The resolution of a claim's mention: by its Hub id hint first, then by its raw name."""
    if claim.hf_id_hint and claim.hf_id_hint in resolutions:
        return resolutions[claim.hf_id_hint]
    return resolutions.get(claim.source_name)


def _resource(claim: RawClaim) -> str:
    return f"{claim.source_kind.value}|{claim.url}"


def _evidence_of(claims: list[RawClaim]) -> list[Evidence]:
    return [Evidence(resource=_resource(c), kind=c.source_kind, support=c.support) for c in claims]


def aggregate(
    target: str,
    target_created_at: datetime | None,
    claims: list[RawClaim],
    chunks: dict[str, ResourceChunk],
    resolutions: dict[str, Resolution],
    source_created_at: dict[str, datetime | None],
    *,
    threshold: float,
    run_id: str,
    weights: ConfidenceWeights = DEFAULT_WEIGHTS,
    catalog: Catalog | None = None,
) -> AggregationResult:
    """Deduplicate, verify, score and flag the claims about ``target`` (see the module docstring)."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be within [0, 1], got {threshold}")
    catalog = catalog or Catalog.load()
    result = AggregationResult()
    groups: dict[str, list[tuple[RawClaim, Resolution]]] = defaultdict(list)

    resolutions = _merge_unknown_names_into_known_ids(claims, resolutions)
    for claim in claims:
        reason, res = _check_claim(target, claim, chunks, resolutions, catalog)
        if reason is not None:
            result.dropped.append(DroppedClaim(claim=claim, reason=reason, source_id=res.id if res else None))
            continue
        assert res is not None
        groups[res.id].append((claim, res))

    for source_id in sorted(groups):
        group = groups[source_id]
        positives = [c for c, _ in group if c.role == "source" and c.support > 0]
        negatives = [c for c, _ in group if c.role != "source"]
        if not positives:
            for claim in (c for c, _ in group):
                reason = ROLE_REASONS.get(claim.role, "not a source: incidental mention")
                result.dropped.append(DroppedClaim(claim=claim, reason=reason, source_id=source_id))
            continue
        pos = noisy_or(best_per_resource(_evidence_of(positives), weights))
        neg = noisy_or(best_per_resource(_evidence_of(negatives), weights)) if negatives else 0.0
        if neg > pos:
            roles = ", ".join(sorted({c.role for c in negatives}))
            for claim in positives:
                result.dropped.append(
                    DroppedClaim(
                        claim=claim,
                        reason=f"contradicted: {roles} evidence outweighs it",
                        source_id=source_id,
                    )
                )
            continue
        created = source_created_at.get(source_id)
        if created is not None and target_created_at is not None and _newer(created, target_created_at):
            for claim in positives:
                result.dropped.append(
                    DroppedClaim(claim=claim, reason="newer than target", source_id=source_id)
                )
            continue
        resolution = group[0][1]
        edge = _edge(target, source_id, positives, resolution, threshold, run_id, weights, catalog)
        result.edges.append(edge)
        result.nodes.append(
            Node(
                id=source_id,
                name=resolution.name,
                on_hub=resolution.on_hub,
                is_benchmark=resolution.is_benchmark,
                domains=list(resolution.domains),
                created_at=created,
            )
        )
    return result


def _merge_unknown_names_into_known_ids(
    claims: list[RawClaim], resolutions: dict[str, Resolution]
) -> dict[str, Resolution]:
    """A name that resolved to nothing better than an ``ext:`` id, but spells the repo part of a Hub id found for
    the same target ("LumenMath-Seed" beside ``lumen-lab/LumenMath-Seed``), is that Hub id."""
    known: dict[str, Resolution] = {}
    for claim in claims:
        res = resolution_for(claim, resolutions)
        if res is not None and res.on_hub:
            known.setdefault(normalize_name(res.id.split("/", 1)[1]), res)
            known.setdefault(normalize_name(res.name), res)
    if not known:
        return resolutions
    merged = dict(resolutions)
    for key, res in resolutions.items():
        if res.method == "ext":
            match = known.get(normalize_name(key))
            if match is not None:
                merged[key] = match.model_copy(update={"certainty": min(match.certainty, 0.9)})
    return merged


def _check_claim(
    target: str,
    claim: RawClaim,
    chunks: dict[str, ResourceChunk],
    resolutions: dict[str, Resolution],
    catalog: Catalog,
) -> tuple[str | None, Resolution | None]:
    if claim.target != target:
        return f"claim for another target ({claim.target})", None
    chunk = chunks.get(claim.chunk_id)
    if chunk is None:
        return "unknown chunk", None
    if looks_like_injection(claim.evidence):
        return "prompt injection in evidence", None
    if not is_verbatim(claim.evidence, chunk.text):
        return "unsupported evidence", None
    res = resolution_for(claim, resolutions)
    if res is None:
        return "unresolved name", None
    if (
        claim.role == "model"
        or (res.method not in ("catalog",) and catalog.is_model_name(res.id))
        or (res.method != "catalog" and catalog.is_model_name(claim.source_name))
    ):
        return "model, not data", res
    if not mentions_source(claim.evidence, [claim.source_name, claim.hf_id_hint, res.id, res.name]):
        return "evidence does not name the source", res
    if res.id == target or (
        not res.on_hub
        and normalize_name(res.id.split(":", 1)[-1]) == normalize_name(target.split("/", 1)[-1])
    ):
        return (
            "self reference",
            res,
        )  # the target itself, also when named ("FooMix-50K (ours)" -> ext:foomix-50k)
    return None, res


def _newer(source: datetime, target: datetime) -> bool:
    if (source.tzinfo is None) != (target.tzinfo is None):
        source, target = source.replace(tzinfo=None), target.replace(tzinfo=None)
    return source.date() > target.date()


def _edge(
    target: str,
    source_id: str,
    positives: list[RawClaim],
    resolution: Resolution,
    threshold: float,
    run_id: str,
    weights: ConfidenceWeights,
    catalog: Catalog,
) -> Edge:
    votes: dict[Relationship, float] = defaultdict(float)
    for claim in positives:
        if claim.relationship is not None:
            votes[claim.relationship] += strength(
                Evidence(resource=_resource(claim), kind=claim.source_kind, support=claim.support), weights
            )
    if votes:
        relationship, top = max(votes.items(), key=lambda kv: (kv[1], kv[0].value))
        share = top / sum(votes.values())
    else:
        relationship, share = Relationship.DIRECT_INCLUSION, 1.0
    confidence, components = edge_confidence(
        _evidence_of(positives),
        relationship_share=share,
        resolution_certainty=resolution.certainty,
        weights=weights,
    )
    best = max(
        positives,
        key=lambda c: (
            strength(Evidence(resource=_resource(c), kind=c.source_kind, support=c.support), weights),
            c.relationship == relationship,
            -len(c.evidence),
        ),
    )
    teachers = Counter(c.teacher for c in positives if c.teacher and catalog.is_model_name(c.teacher))
    splits = Counter(c.split for c in positives if c.split)
    extractors = sorted({c.extractor for c in positives})
    prompts = sorted({c.prompt_id for c in positives if c.prompt_id})
    notes: list[str] = [f"resolved by {resolution.method}"]
    if len(votes) > 1:
        notes.append(
            "relationships disagree: " + ", ".join(f"{r.value} {w:.2f}" for r, w in sorted(votes.items()))
        )
    if prompts:
        notes.append("prompt " + ", ".join(prompts))
    extra: dict[str, Any] = {}
    if prompts:
        extra["prompt_id"] = prompts[0]
    shares = [c.share for c in positives if c.share is not None]
    if shares:
        # a row of a mixture table with counts: the source's share of the mixture
        extra["mixture_share"] = max(shares)
        notes.append(f"{max(shares):.1%} of the mixture")
    components_dump = components.model_dump()
    components_dump.update(extra)
    return Edge(
        target=target,
        source=source_id,
        relationship=relationship,
        confidence=confidence,
        evidence=best.evidence.strip()[:MAX_EDGE_EVIDENCE_CHARS],
        evidence_url=best.url,
        source_kind=best.source_kind,
        extractor="+".join(extractors),
        status=EdgeStatus.AUTO if confidence >= threshold else EdgeStatus.FLAGGED,
        split=splits.most_common(1)[0][0] if splits else None,
        teacher=teachers.most_common(1)[0][0] if teachers else None,
        components=type(components).model_validate(components_dump),
        run_id=run_id,
        note="; ".join(notes),
    )
