"""A real small model behind an OpenAI-compatible chat endpoint, in-process, for ``slow`` tests of LLM paths.

``serve_hf_chat(model_dir, gguf_file)`` loads a causal LM with ``transformers`` (a GGUF file is converted on load by
``gguf``) and serves it through the same loopback server as the scripted replies (``standins.openai_compat``),
so the official ``openai`` client talks to it exactly as to vLLM or a llama.cpp server. Generation is greedy and
capped by the request's ``max_tokens``; ``finish_reason`` is ``length`` when the cap was hit. Requests are generated
one at a time (one model, one CPU thread pool). ``response_format`` is accepted and ignored, as several servers do.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from standins.openai_compat import Reply, Responder, ScriptedOpenAIServer, serve_openai


def hf_generation_responder(model_dir: str, gguf_file: str | None = None) -> Responder:
    """Load the model once and return a responder that answers each chat request by greedy generation."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = {"gguf_file": gguf_file} if gguf_file else {}
    tokenizer = AutoTokenizer.from_pretrained(model_dir, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(model_dir, **kwargs)
    model.eval()
    lock = threading.Lock()

    def respond(body: dict[str, Any]) -> Reply:
        messages = [
            {"role": m["role"], "content": str(m.get("content") or "")} for m in body.get("messages", [])
        ]
        max_tokens = int(body.get("max_tokens") or 256)
        prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        inputs = tokenizer(prompt, return_tensors="pt", truncation=True, max_length=1536)
        with lock, torch.no_grad():
            output = model.generate(
                **inputs, max_new_tokens=max_tokens, do_sample=False, pad_token_id=tokenizer.eos_token_id
            )
        new = output[0][inputs["input_ids"].shape[1] :]
        return Reply(
            content=tokenizer.decode(new, skip_special_tokens=True),
            finish_reason="length" if len(new) >= max_tokens else "stop",
            prompt_tokens=int(inputs["input_ids"].shape[1]),
            completion_tokens=len(new),
        )

    return respond


@contextmanager
def serve_hf_chat(
    model_dir: str, gguf_file: str | None = None, *, model_name: str = "local-model"
) -> Iterator[ScriptedOpenAIServer]:
    """Load the model and serve it for the duration of the ``with`` block."""
    with serve_openai(hf_generation_responder(model_dir, gguf_file), model=model_name) as server:
        yield server
