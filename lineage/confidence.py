"""The confidence of a lineage edge, computed from its evidence (never copied from an LLM's say-so).

For one edge ``target -> source``, let the claims that support it come from resources ``r = 1..n`` (a resource is
one fetched document of one kind: the card's YAML, the card body, a paper, a GitHub README, a blog post). Claims from
the same resource are not independent, so each resource contributes its strongest claim only:

    e_r = support_r ** alpha * credibility(kind_r)

``support`` (0..1) is the strength of the textual evidence the extractor found: a YAML ``source_datasets`` entry is
1.0, an explicit derivation phrase ("a filtered subset of X") 0.9, a row of a sources table 0.85, a weak phrase
("based on X") 0.55, and hedged statements ("may include X") are scaled down. ``credibility`` ranks where the
evidence was found: card YAML > card body > paper > GitHub > blog.

The resources are combined by a noisy-OR, so independent agreement raises confidence:

    best      = max_r e_r
    agreement = 1 - prod_{r != best} (1 - e_r)          (0 when only one resource supports the edge)
    evidence  = 1 - (1 - best) * (1 - agreement)

Two factors then discount it:

    consistency = 0.5 + 0.5 * share of the claims' weight that agrees on the chosen relationship
    resolution  = certainty of the name's canonicalization ** gamma   (an exact Hub id is 1.0; a fuzzy Hub search
                  match is lower)
    confidence  = evidence * consistency * resolution

An edge whose confidence is below the threshold (default 0.7) is flagged for human review. The credibilities,
``alpha`` and ``gamma`` below were fitted by ``bench/calibrate_confidence.py`` on cards synthesized from the Data
Provenance Initiative records in ``../shared/data/dpi`` (see docs/extraction.md for the figures).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from graph_store.models import ConfidenceComponents, SourceKind

# Fitted by bench/calibrate_confidence.py on DPI-synthesized cards (see docs/extraction.md): the order of the kinds
# is a constraint of the fit; the synthesized cards separate right from wrong edges mostly by the strength of the
# wording, so the fitted credibilities are close together.
DEFAULT_CREDIBILITY: dict[str, float] = {
    SourceKind.CARD_YAML.value: 1.0,
    SourceKind.CARD.value: 1.0,
    SourceKind.PAPER.value: 0.98,
    SourceKind.GITHUB.value: 0.98,
    SourceKind.BLOG.value: 0.98,
    SourceKind.IMPORT.value: 0.9,
    SourceKind.HUMAN.value: 1.0,
}


@dataclass(frozen=True)
class ConfidenceWeights:
    """The parameters of the formula (see the module docstring)."""

    credibility: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_CREDIBILITY))
    alpha: float = 1.0
    gamma: float = 0.5

    def credibility_of(self, kind: SourceKind | str | None) -> float:
        """Credibility of a source kind (an unknown kind gets the lowest listed credibility)."""
        if kind is None:
            return min(self.credibility.values())
        key = kind.value if isinstance(kind, SourceKind) else str(kind)
        return float(self.credibility.get(key, min(self.credibility.values())))


DEFAULT_WEIGHTS = ConfidenceWeights()


@dataclass(frozen=True)
class Evidence:
    """One resource's best support for an edge."""

    resource: str
    kind: SourceKind | str | None
    support: float


def strength(item: Evidence, weights: ConfidenceWeights = DEFAULT_WEIGHTS) -> float:
    """``e_r = support ** alpha * credibility(kind)``, clamped to [0, 1]."""
    support = min(1.0, max(0.0, item.support))
    return min(1.0, max(0.0, (support**weights.alpha) * weights.credibility_of(item.kind)))


def best_per_resource(items: Iterable[Evidence], weights: ConfidenceWeights = DEFAULT_WEIGHTS) -> list[float]:
    """The strongest ``e_r`` of each resource, strongest first."""
    best: dict[str, float] = {}
    for item in items:
        value = strength(item, weights)
        best[item.resource] = max(best.get(item.resource, 0.0), value)
    return sorted(best.values(), reverse=True)


def noisy_or(values: Iterable[float]) -> float:
    """``1 - prod(1 - v)``."""
    return 1.0 - math.prod(1.0 - min(1.0, max(0.0, v)) for v in values)


def edge_confidence(
    items: Iterable[Evidence],
    *,
    relationship_share: float = 1.0,
    resolution_certainty: float = 1.0,
    weights: ConfidenceWeights = DEFAULT_WEIGHTS,
) -> tuple[float, ConfidenceComponents]:
    """The confidence of one edge and the components it was computed from."""
    items = list(items)
    strengths = best_per_resource(items, weights)
    if not strengths:
        return 0.0, ConfidenceComponents(support=0.0, credibility=0.0, agreement=0.0)
    best = strengths[0]
    agreement = noisy_or(strengths[1:])
    evidence = 1.0 - (1.0 - best) * (1.0 - agreement)
    consistency = 0.5 + 0.5 * min(1.0, max(0.0, relationship_share))
    resolution = min(1.0, max(0.0, resolution_certainty)) ** weights.gamma
    confidence = min(1.0, max(0.0, evidence * consistency * resolution))
    top = max(items, key=lambda i: strength(i, weights))
    components = ConfidenceComponents.model_validate(
        {
            "support": round(min(1.0, max(0.0, top.support)), 4),
            "credibility": round(weights.credibility_of(top.kind), 4),
            "agreement": round(agreement, 4),
            # extra fields (the model allows them): the other factors of the formula
            "consistency": round(consistency, 4),
            "resolution": round(resolution, 4),
            "resources": len(strengths),
        }
    )
    return round(confidence, 4), components
