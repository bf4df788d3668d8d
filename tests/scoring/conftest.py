"""Fixtures for the scoring tests: sample files, a tiny local causal LM, the scripted OpenAI server."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def write_jsonl(path: Path, rows: Iterable[Any]) -> Path:
    """Write rows (dicts, or raw strings written verbatim) as JSON Lines."""
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer Llama and a byte-level BPE tokenizer trained on the fly, saved like a Hub model."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tests.support.tiny_llama import build_tiny_llama

    out = tmp_path_factory.mktemp("tiny-llama")
    corpus = [
        "What is 2 + 3? The answer is 5.",
        "Explain recursion in one sentence. A function that calls itself.",
        "Write a haiku about the sea. Waves fold into foam.",
        "Compute 12 * 4. We multiply and get \\boxed{48}.",
        "You are a helpful assistant. Please identify the complexity score of the following user query.",
        "##Query: ##Complexity: ##Quality: #Question# #Response# 1 2 3 4 5 6 7 8 9 0",
    ] * 20
    return build_tiny_llama(
        out,
        corpus,
        vocab_size=400,
        extra_special_tokens=["<think>", "</think>", "<|user|>", "<|assistant|>", "<|end|>"],
        chat_template=CHAT_TEMPLATE,
        max_position_embeddings=512,
    )
