"""Card splitting and content pruning."""

from __future__ import annotations

import pytest

from acquisition.cards import split_card
from acquisition.text import html_to_text, markdown_to_text, prune_paper, split_sections


@pytest.mark.parametrize(
    ("raw", "front", "body_part", "has_error"),
    [
        ("---\na: 1\n---\nbody", {"a": 1}, "body", False),
        ("\ufeff---\na: 1\n---\nbody", {"a": 1}, "body", False),
        ("---\r\na: 1\r\n---\r\nbody", {"a": 1}, "body", False),
        ("---\n---\nempty front", {}, "empty front", False),
        ("no front matter", {}, "no front matter", False),
        ("---\na: [1\n---\nbody", {}, "body", True),
        ("---\n- a\n- b\n---\nbody", {}, "body", True),
        ("---\na: 1\nnever closed", {}, "never closed", True),
        ("---\nd: 2024-01-02\n---\n", {"d": "2024-01-02"}, "", False),
        ("---\na: !!python/object:os.system x\n---\nbody", {}, "body", True),
    ],
)
def test_split_card(raw, front, body_part, has_error):
    got_front, body, error = split_card(raw)
    assert got_front == front
    assert body_part in body
    assert (error is not None) is has_error


def test_html_without_article_uses_body_and_keeps_headings():
    title, text = html_to_text(
        "<html><body><h2>Data</h2><p>one</p><div class='menu'>x</div><p>two</p></body></html>"
    )
    assert title is None
    assert text == "## Data\n\none\n\ntwo"


def test_markdown_drops_fences_of_both_kinds_and_comments():
    _, text = markdown_to_text(
        "Keep\n~~~\ndrop1\n~~~\n<!-- drop2 -->\n````\ndrop3\n```\nstill code\n````\nEnd"
    )
    assert text == "Keep\n\nEnd"


def test_split_sections_recognizes_heading_styles():
    text = "Title\n# 1 Introduction\nA\n3.2 Filtering Rules\nB\nReferences\nC\nThis line is a sentence.\n"
    sections = split_sections(text)
    assert [(s.heading, s.depth) for s in sections] == [
        ("", 0),
        ("1 Introduction", 1),
        ("3.2 Filtering Rules", 2),
        ("References", 1),
    ]


def test_prune_paper_without_data_sections_keeps_non_dropped():
    text = "# 1 Introduction\nI\n# 2 Method\nM\n# 3 Experiments\nE\n# 4 Conclusion\nC"
    pruned = prune_paper(text)
    assert "I" in pruned.split() and "M" in pruned.split()
    assert "E" not in pruned.split() and "C" not in pruned.split()


def test_prune_paper_subsections_follow_their_parent():
    text = "# 2 Dataset\nD\n## 2.1 Sources\nS\n# 5 Evaluation\nV\n## 5.1 Data contamination check\nX"
    pruned = prune_paper(text)
    assert {"D", "S"} <= set(pruned.split())
    assert "V" not in pruned.split()
