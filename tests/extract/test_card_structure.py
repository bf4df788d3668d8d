"""Card structure: section paths and roles, lists, tables, noise; and the rules' classes of non-sources.

The texts here are written for the tests (none is copied from a real card); each one is a class of mistake the
rules made on real cards."""

from __future__ import annotations

import pytest

from graph_store.models import SourceKind
from lineage.cards.parser import mask_noise, parse_blocks, section_role
from lineage.extract.segment import units_of
from lineage.resources import card_chunks, chunk_text

CARD = """# FooMath

<div align="center"><img src="https://huggingface.co/datasets/foo/assets/resolve/main/logo.png"></div>

<!-- a comment naming commit/pr and 2f17/readme.md -->

## Dataset Details

### Source Data

- Problems: [BarMath](https://huggingface.co/datasets/bar/BarMath)
- 1. nested

| Source | # Samples |
|---|---|
| BarMath | 3,000 |
| QuxQA | 1k |
| **Total** | 4,000 |

## Dataset Structure

- **question**: the problem statement
- **answer**: the final answer

```yaml
configs:
- path: data/train-*
```

## Evaluation

We evaluate on MATH-500.

## Citation

@misc{foo}
"""


def test_blocks_carry_their_section_path_and_role():
    blocks = parse_blocks(CARD)
    kinds = {(b.kind, b.path[-1] if b.path else None, b.role) for b in blocks}
    assert ("item", "Source Data", "sources") in kinds
    assert ("row", "Source Data", "sources") in kinds
    assert ("item", "Dataset Structure", "schema") in kinds
    assert ("code", "Dataset Structure", "schema") in kinds
    assert ("paragraph", "Evaluation", "evaluation") in kinds
    assert ("html", "FooMath", "general") in kinds
    rows = [b for b in blocks if b.kind == "row"]
    assert rows[0].header == ("Source", "# Samples")
    assert rows[0].path == ("FooMath", "Dataset Details", "Source Data")
    # an item's span starts after its marker; a field list is marked as one
    first_item = next(b for b in blocks if b.kind == "item")
    assert CARD[first_item.start :].startswith("Problems:")
    fields = [b for b in blocks if b.kind == "item" and b.path[-1] == "Dataset Structure"]
    assert fields and all(b.field_list for b in fields)


@pytest.mark.parametrize(
    ("path", "role"),
    [
        (("Card", "Dataset Sources", "Airoboros 2.2"), "sources"),
        (("Card", "Data Fields"), "schema"),
        (("Card", "Decontamination"), "decontamination"),
        (("Card", "Main Results"), "evaluation"),
        (("Card", "Acknowledgements"), "acknowledgement"),
        (("Card", "Links"), "see_also"),
        (("Card", "**License**"), "license"),
        (("Card", "Intro"), "general"),
    ],
)
def test_section_roles(path, role):
    assert section_role(path) == role


def test_mask_noise_keeps_offsets_and_blanks_images_comments_and_file_urls():
    text = 'See <!-- x/y --> ![logo](https://hf.co/a/b/resolve/main/l.png) and <img src="https://huggingface.co/datasets/o/n/resolve/main/i.png"> here'
    masked = mask_noise(text)
    assert len(masked) == len(text)
    assert "x/y" not in masked and "resolve" not in masked and "img" not in masked
    assert masked.startswith("See ") and masked.endswith(" here")


def test_mixture_table_rows_carry_their_share():
    units = [u for u in units_of(CARD, None) if u.kind == "row"]
    shares = {CARD[u.start : u.end].split("|")[1].strip(): u.share for u in units}
    assert shares["BarMath"] == pytest.approx(0.75)
    assert shares["QuxQA"] == pytest.approx(0.25)
    assert shares["**Total**"] is None


def test_chunks_keep_section_paths_and_pack_small_sections(make_chunk):
    sections = "\n\n".join(
        f"### Part {i}\nBy someone: https://huggingface.co/datasets/org/part-{i}" for i in range(30)
    )
    body = f"# Card\n\n## Dataset Sources\n\n{sections}\n\n## Citation\n\n@misc{{x}}\n"
    chunks = chunk_text("me/x", SourceKind.CARD, "https://huggingface.co/datasets/me/x", body)
    text = "\n".join(c.text for c in chunks)
    assert all(f"org/part-{i}" in text for i in range(30))  # every small section is read
    assert "@misc" not in text  # the citation is dropped
    assert chunks[0].section_path == ["Card"] and chunks[0].section_levels == [1]


def test_card_chunks_split_the_front_matter():
    from types import SimpleNamespace

    raw = "---\nlicense: mit\n---\n# T\n\nA filtered subset of org/abc-data, for tests.\n"
    chunks = card_chunks("me/t", SimpleNamespace(url="u", raw=raw))
    assert [c.kind for c in chunks] == [SourceKind.CARD_YAML, SourceKind.CARD]


def test_a_yaml_comment_is_not_a_section_of_the_front_matter():
    from types import SimpleNamespace

    from lineage.extract.llm import chunk_sections

    raw = "---\n# Sources: written by hand\nlicense: mit\n---\n# T\n\nA filtered subset of org/abc-data.\n"
    yaml_chunk, body_chunk = card_chunks("me/t", SimpleNamespace(url="u", raw=raw))
    assert chunk_sections(yaml_chunk) == [(0, (), "general")]
    assert [path for _, path, _ in chunk_sections(body_chunk)] == [("T",), ("T",)]


def _claims(rules, make_chunk, text: str, path: list[str] | None = None):
    chunk = make_chunk(text).model_copy(update={"section_path": path or ["Card"], "section_levels": [1]})
    return {c.source_name: c for c in rules.extract_sync(chunk)}


def test_paths_images_and_comments_are_not_hub_ids(rules, make_chunk):
    text = (
        "<!-- derived from commit/pr and 2f17/readme.md -->\n\n"
        '<img src="https://huggingface.co/datasets/ghost/banner/resolve/main/b.png">\n\n'
        "The files are derived from `data/train-*` shards and from assets/chart.png.\n\n"
        "It is a filtered subset of [Zeta Puzzles](https://huggingface.co/datasets/zeta-lab/Zeta-Puzzles)."
    )
    claims = _claims(rules, make_chunk, text)
    assert set(claims) == {"zeta-lab/Zeta-Puzzles"}


def test_fields_headers_topics_and_descriptions_are_not_sources(rules, make_chunk):
    text = (
        "## Data Fields\n\n- **problem**: the problem, taken from the source dataset\n- **domain**: its domain\n\n"
        "## Overview\n\nThe problems span many subjects, including Algebra, Topology and Statistics.\n\n"
        "It covers these topics:\n- Biology (40%)\n- Law (12%)\n\n"
        "Prompts were collected from five annotators and assistant turns of high-quality chats.\n\n"
        "We apply perplexity filtering using a strong 32B LLM and n-gram repetition filtering.\n\n"
        "| Source | Count |\n|---|---|\n| **Total** | 100 |\n| Ours | 40 |\n| GSM8K | 60 |"
    )
    claims = _claims(rules, make_chunk, text)
    sources = {n for n, c in claims.items() if c.role == "source"}
    assert sources == {"GSM8K"}


def test_evaluation_decontamination_siblings_formats_and_organizations(rules, make_chunk):
    text = (
        "Test set decontamination (using MATH-500 and Omni-MATH test sets) was applied.\n\n"
        "For the FooChat-Distilled dataset, see: https://huggingface.co/datasets/foo/FooChat-Distilled\n\n"
        "FooChat-2 is a follow-up to the popular [FooChat](https://huggingface.co/datasets/foo/FooChat) dataset.\n\n"
        "This is a version of [BarFeedback](https://huggingface.co/datasets/bar/BarFeedback) but with TruthfulQA "
        "prompts removed.\n\n"
        "The data follows a ShareGPT structure and was annotated with help from Acme AI.\n\n"
        "FooMix is a reasoning dataset obtained from QuxBench problems."
    )
    claims = _claims(rules, make_chunk, text)
    sources = {n for n, c in claims.items() if c.role == "source"}
    # the subject of a definition ("FooMix is a ... dataset") is the dataset itself, its object is a source
    assert sources == {"bar/BarFeedback", "QuxBench problems"}
    assert claims["MATH-500"].role == "eval_benchmark"
    assert claims["TruthfulQA"].role != "source"


def test_sources_sections_acknowledgements_and_see_also(rules, make_chunk):
    linked = "By a team: https://huggingface.co/datasets/acme/part-one"
    sources = _claims(rules, make_chunk, linked, ["Card", "Dataset Sources", "Part One"])
    assert sources["acme/part-one"].role == "source" and sources["acme/part-one"].support >= 0.7
    thanks = _claims(rules, make_chunk, f"- {linked}", ["Card", "Acknowledgements"])
    assert thanks["acme/part-one"].role == "source" and thanks["acme/part-one"].support < 0.7
    links = _claims(rules, make_chunk, f"- {linked}", ["Card", "Links"])
    assert links["acme/part-one"].role != "source"


def test_comparison_tables_parts_of_a_source_and_plain_words(rules, make_chunk):
    chunk = make_chunk(
        "## Statistics\n\n| Dataset | # Samples |\n|---|---|\n"
        "| [BarMath](https://huggingface.co/datasets/bar/BarMath) | 1,000 |\n| target (ours) | 50,000 |\n\n"
        "- 10k problems from the AIME, MATH and Olympiads subsets of the NuminaMath-CoT dataset\n"
        "- 5k math problems from competitions\n",
        target="org/target",
    ).model_copy(update={"section_path": ["Card"], "section_levels": [1]})
    claims = {c.source_name: c for c in rules.extract_sync(chunk)}
    # a table with a row for the target compares datasets: its rows are not sources
    assert claims["bar/BarMath"].role == "compared"
    # the named subsets of a source are parts of it; the source is the source
    assert claims["NuminaMath-CoT"].role == "source"
    assert claims["MATH"].role != "source" and claims["AIME"].role != "source"
    # "math problems" is not the MATH benchmark
    assert "math problems" not in claims


def test_thanks_for_code_is_not_a_source(rules, make_chunk):
    text = "We thank the authors of [BarMath](https://huggingface.co/datasets/bar/BarMath) for their code."
    chunk = make_chunk(text).model_copy(
        update={"section_path": ["Card", "Acknowledgements"], "section_levels": [1, 2]}
    )
    claims = {c.source_name: c for c in rules.extract_sync(chunk)}
    assert claims["bar/BarMath"].role != "source"
