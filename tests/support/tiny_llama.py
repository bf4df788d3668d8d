"""A tiny causal LM built on the spot, for tests that run real model code without downloading weights.

``build_tiny_llama(folder, corpus)`` trains a byte-level BPE tokenizer on ``corpus`` with ``tokenizers``, wraps it
in ``PreTrainedTokenizerFast`` with a chat template, creates a randomly initialised 2-layer Llama sized to that
vocabulary (seeded, so it is the same model every time), and saves both into ``folder`` the way a Hub model is laid
out. The values such a model produces mean nothing; the code paths that load and run it are the real ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

DEFAULT_CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}{{ eos_token }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)


def build_tiny_llama(
    folder: Path,
    corpus: Sequence[str],
    *,
    vocab_size: int = 512,
    extra_special_tokens: Sequence[str] = (),
    chat_template: str = DEFAULT_CHAT_TEMPLATE,
    max_position_embeddings: int = 256,
    seed: int = 0,
) -> Path:
    """Save a tokenizer trained on ``corpus`` and a random tiny Llama into ``folder``; return ``folder``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>", "<pad>", *extra_special_tokens]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(list(corpus), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    if extra_special_tokens:
        fast.add_special_tokens({"additional_special_tokens": list(extra_special_tokens)})
    fast.chat_template = chat_template
    fast.save_pretrained(folder)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=max_position_embeddings,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder
