"""Quality on the hand-labelled real cards of ``../shared/data/real-cards`` (read from there, never copied).

The figures themselves are printed by ``bench/extraction_quality.py --set real-cards``; these tests hold the
extraction to the project's targets on that set, and check that no Hub node is written for an id the Hub does not
know."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from catalog import Catalog
from evaluation.dpi import make_hub_search
from evaluation.real_cards import (
    GoldRow,
    RealCard,
    evaluate_real_cards,
    known_hub_ids,
    leaderboard_ids,
    load_real_cards,
    make_hub_exists,
)
from graph_store.models import SourceKind
from lineage.canonical import Canonicalizer
from lineage.cards.parser import parse_blocks, section_role
from lineage.extract.llm import chunk_sections
from lineage.extract.rules import RulesExtractor
from lineage.resources import card_chunks

REAL_CARDS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real-cards"


@pytest.fixture(scope="module")
def cards() -> list[RealCard]:
    if not (REAL_CARDS / "gold_edges.csv").is_file():
        pytest.skip("the real-card set ../shared/data/real-cards is not available")
    return load_real_cards(REAL_CARDS)


async def _report(cards: list[RealCard]):
    catalog = Catalog.load()
    ids = known_hub_ids(cards, catalog, leaderboard_ids())
    canon = Canonicalizer(hub_search=make_hub_search(ids), hub_exists=make_hub_exists(ids), catalog=catalog)
    return await evaluate_real_cards(cards, RulesExtractor(), canon), {i.lower() for i in ids}


def test_each_card_chunk_knows_the_sections_a_parse_of_its_text_finds(cards):
    """The chunking records where each heading of a chunk is, from its parse of the whole card, so the extractor
    need not parse the chunk again: what it records is what a parse of the chunk's own text finds."""
    headed = 0
    for card in cards:
        for chunk in card_chunks(card.id, SimpleNamespace(url=f"hf://datasets/{card.id}", raw=card.text)):
            if chunk.kind != SourceKind.CARD:
                continue
            assert chunk.headings is not None
            headed += bool(chunk.headings)
            parsed = [
                (b.start, b.path, b.role)
                for b in parse_blocks(chunk.text, tuple(chunk.section_path), tuple(chunk.section_levels))
                if b.kind == "heading"
            ]
            base = tuple(chunk.section_path)
            assert chunk_sections(chunk) == [(0, base, section_role(base)), *parsed], (
                card.id,
                chunk.chunk_id,
            )
    assert headed >= len(cards) // 2


def test_the_set_loads_with_its_labels(cards):
    assert len(cards) >= 18
    assert sum(len(c.gold) for c in cards) >= 145
    for card in cards:
        for row in card.gold:
            assert row.label in {"source", "not_source"}
            assert row.evidence in card.text  # every evidence is verbatim card text


async def test_rules_meet_the_targets_on_real_cards(cards):
    report, _ = await _report(cards)
    assert report.errors == 0
    precision, recall, f1 = report.hub_prf()
    assert f1 >= 0.80 and precision >= 0.90, (precision, recall, f1)
    real, total = report.off_hub()
    assert total and real / total >= 0.85, (real, total)
    right, auto = report.auto_precision(0.7)
    assert auto and right / auto >= 0.9, (right, auto)
    got, distractors = report.distractors_as_sources()
    assert got <= distractors // 5


async def test_no_hub_node_the_hub_does_not_know(cards):
    report, known = await _report(cards)
    assert report.edges
    unknown = [e.edge.source for e in report.edges if e.on_hub and e.edge.source.lower() not in known]
    assert unknown == []


def test_judging_counts_distractors_and_unlabelled_ids():
    from graph_store.models import Edge, Relationship

    card = RealCard(
        "me/target",
        Path("x"),
        "",
        [
            GoldRow("me/target", "BarMath", "bar/BarMath", "source", "", ""),
            GoldRow("me/target", "MATH", "", "source", "", ""),
            GoldRow("me/target", "MATH-500", "HuggingFaceH4/MATH-500", "not_source", "", "we evaluate on it"),
        ],
    )
    from evaluation.real_cards import _judge

    def edge(source: str) -> Edge:
        return Edge(
            target="me/target", source=source, relationship=Relationship.DIRECT_INCLUSION, confidence=0.8
        )

    catalog = Catalog.load()
    assert _judge(card, edge("bar/BarMath"), True, ["BarMath"], catalog).correct
    unlabelled = _judge(card, edge("EleutherAI/hendrycks_math"), True, ["MATH"], catalog)
    assert unlabelled.correct and unlabelled.id_unlabelled
    wrong = _judge(card, edge("HuggingFaceH4/MATH-500"), True, ["MATH-500"], catalog)
    assert not wrong.correct and wrong.failure_class == "benchmark / decontamination"
    noise = _judge(card, edge("ext:answer"), False, ["answer"], catalog)
    assert not noise.correct and noise.failure_class == "field / header word"
