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
    transformers = pytest.importorskip("transformers")
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny-llama")
    corpus = [
        "What is 2 + 3? The answer is 5.",
        "Explain recursion in one sentence. A function that calls itself.",
        "Write a haiku about the sea. Waves fold into foam.",
        "Compute 12 * 4. We multiply and get \\boxed{48}.",
        "You are a helpful assistant. Please identify the complexity score of the following user query.",
        "##Query: ##Complexity: ##Quality: #Question# #Response# 1 2 3 4 5 6 7 8 9 0",
    ] * 20
    specials = [
        "<unk>",
        "<s>",
        "</s>",
        "<pad>",
        "<think>",
        "</think>",
        "<|user|>",
        "<|assistant|>",
        "<|end|>",
    ]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(corpus, trainer)
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    fast.add_special_tokens({"additional_special_tokens": specials[4:]})
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)
    config = transformers.LlamaConfig(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    transformers.LlamaForCausalLM(config).save_pretrained(out)
    return out
