"""Properties of the edge-confidence formula."""

from __future__ import annotations

from graph_store.models import SourceKind
from lineage.confidence import DEFAULT_WEIGHTS, ConfidenceWeights, Evidence, edge_confidence


def conf(*items: Evidence, **kw) -> float:
    return edge_confidence(list(items), **kw)[0]


def test_stronger_support_and_more_credible_kinds_score_higher():
    weights = ConfidenceWeights(
        credibility={"card_yaml": 1.0, "card": 0.9, "paper": 0.85, "github": 0.8, "blog": 0.7}
    )
    yaml = conf(Evidence("r", SourceKind.CARD_YAML, 0.9), weights=weights)
    card = conf(Evidence("r", SourceKind.CARD, 0.9), weights=weights)
    blog = conf(Evidence("r", SourceKind.BLOG, 0.9), weights=weights)
    weak = conf(Evidence("r", SourceKind.CARD, 0.5), weights=weights)
    assert yaml > card > blog
    assert card > weak


def test_independent_agreement_raises_confidence_but_one_resource_counts_once():
    single = conf(Evidence("blog", SourceKind.BLOG, 0.6))
    same_resource_twice = conf(Evidence("blog", SourceKind.BLOG, 0.6), Evidence("blog", SourceKind.BLOG, 0.6))
    two_resources = conf(Evidence("blog", SourceKind.BLOG, 0.6), Evidence("paper", SourceKind.PAPER, 0.6))
    assert same_resource_twice == single
    assert two_resources > single
    value, components = edge_confidence(
        [Evidence("blog", SourceKind.BLOG, 0.6), Evidence("paper", SourceKind.PAPER, 0.6)]
    )
    assert components.agreement > 0 and components.resources == 2  # type: ignore[attr-defined]
    assert 0 <= value <= 1


def test_disagreement_and_uncertain_names_lower_confidence():
    base = conf(Evidence("r", SourceKind.CARD, 0.9))
    assert conf(Evidence("r", SourceKind.CARD, 0.9), relationship_share=0.5) < base
    assert conf(Evidence("r", SourceKind.CARD, 0.9), resolution_certainty=0.6) < base


def test_bounds_and_empty():
    assert conf() == 0.0
    assert conf(Evidence("r", SourceKind.CARD_YAML, 1.0), Evidence("s", SourceKind.CARD, 1.0)) <= 1.0
    assert DEFAULT_WEIGHTS.credibility_of(None) == min(DEFAULT_WEIGHTS.credibility.values())


def test_default_credibilities_keep_the_documented_order():
    c = DEFAULT_WEIGHTS.credibility
    assert c["card_yaml"] >= c["card"] >= c["paper"] >= c["github"] >= c["blog"]
