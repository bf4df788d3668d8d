"""Pure parts of the pipeline: queue parsing, chunking with provenance, state reducers."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from graph_store.models import SourceKind
from lineage.resources import (
    MAX_CHUNK_CHARS,
    card_chunks,
    chunk_text,
    front_matter_text,
    page_chunks,
    paper_chunks,
)
from lineage.runner import parse_queue, parse_queue_text
from lineage.state import RESET, add_counts, extend_or_reset, union_in_order
from oda.errors import InputError

CARD = """---
license: mit
source_datasets:
- openai/gsm8k
---

# Tiny math

Problems were collected from openai/gsm8k and rewritten.

```python
from datasets import load_dataset
ds = load_dataset("x/y")
a = 1
b = 2
c = 3
d = 4
e = 5
```

## Citation

@article{x, title={Tiny}}

## Sources

A filtered subset of [AI-MO/NuminaMath-CoT](https://huggingface.co/datasets/AI-MO/NuminaMath-CoT).
"""


def test_queue_parsing_reports_bad_lines_and_keeps_order() -> None:
    text = "\n".join(
        [
            "# a comment",
            "org/first",
            "",
            "https://huggingface.co/datasets/org/second  # via URL",
            "not-an-id",
            "org/first",
            "a/b/c",
            "org/third # trailing comment",
        ]
    )
    queue = parse_queue_text(text, origin="q.txt")
    assert queue.entries == ["org/first", "org/second", "org/third"]
    reasons = [f["reason"] for f in queue.failures]
    assert len(reasons) == 2
    assert reasons[0].startswith("q.txt:5:") and "organization" in reasons[0]
    assert reasons[1].startswith("q.txt:7:")
    assert all(f["stage"] == "queue" for f in queue.failures)


def test_missing_queue_file_is_an_input_error(tmp_path) -> None:
    with pytest.raises(InputError, match="not found"):
        parse_queue(tmp_path / "nope.txt")


def test_card_yaml_is_its_own_verbatim_chunk() -> None:
    card = SimpleNamespace(url="https://hf.co/datasets/me/tiny", raw=CARD, body=CARD.split("---", 2)[2])
    chunks = card_chunks("me/tiny", card)
    assert chunks[0].kind == SourceKind.CARD_YAML
    assert chunks[0].text == front_matter_text(CARD)
    assert "source_datasets:\n- openai/gsm8k" in chunks[0].text
    body_text = "\n".join(c.text for c in chunks[1:])
    assert all(c.kind == SourceKind.CARD for c in chunks[1:])
    assert "collected from openai/gsm8k" in body_text
    assert "AI-MO/NuminaMath-CoT" in body_text
    # pruned: the citation section and the long code block
    assert "@article" not in body_text
    assert "load_dataset" not in body_text
    # every chunk is verbatim text of the card
    for chunk in chunks:
        for para in chunk.text.split("\n\n"):
            assert para in CARD
    # ids are stable and unique
    again = card_chunks("me/tiny", card)
    assert [c.chunk_id for c in chunks] == [c.chunk_id for c in again]
    assert len({c.chunk_id for c in chunks}) == len(chunks)


def test_long_text_is_split_under_the_limit() -> None:
    para = "This dataset was distilled from a larger corpus of problems. " * 40
    text = "\n\n".join([para] * 10)
    chunks = chunk_text("me/x", SourceKind.BLOG, "https://blog.example/post", text, max_chunks=100)
    assert len(chunks) > 1
    assert all(len(c.text) <= MAX_CHUNK_CHARS for c in chunks)
    assert all(c.url == "https://blog.example/post" and c.kind == SourceKind.BLOG for c in chunks)


def test_page_and_paper_provenance() -> None:
    page = SimpleNamespace(
        url="https://github.com/o/r",
        final_url="https://raw.githubusercontent.com/o/r/main/README.md",
        kind="github",
        title="o/r",
        text="# Data\n\nWe distill responses from QwQ-32B on prompts from org/a.",
    )
    [chunk] = page_chunks("me/x", page, "github")
    assert chunk.kind == SourceKind.GITHUB
    assert chunk.url == page.final_url
    paper = SimpleNamespace(
        arxiv_id="2401.00001",
        url="https://arxiv.org/abs/2401.00001",
        title="T",
        abstract="We build a dataset from MATH.",
        text=None,
    )
    [pchunk] = paper_chunks("me/x", paper)
    assert pchunk.kind == SourceKind.PAPER and pchunk.text == "We build a dataset from MATH."


def test_reducers() -> None:
    assert extend_or_reset([1], [2, 3]) == [1, 2, 3]
    assert extend_or_reset([1, 2], RESET) == []
    assert union_in_order(["a", "b"], ["b", "c", "a"]) == ["a", "b", "c"]
    assert add_counts({"edges": 2}, {"edges": 3, "flagged": 1}) == {"edges": 5, "flagged": 1}
