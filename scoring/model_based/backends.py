"""Inference backends for the model-based scorers: transformers (CPU or GPU) and vLLM (GPU).

Both offer the three primitives the scorers need:

- ``next_token_logprobs(prompts, candidates)``: log-probabilities of candidate next tokens after each prompt
  (Deita's first-token logits of "1"–"6", thinking probability's ``</think>``);
- ``continuation_nll(prefixes, continuations)``: mean negative log-likelihood of each continuation given its
  prefix (IFD's two perplexities);
- ``sample(prompts, n, ...)``: ``n`` sampled completions per prompt (fail rate).

A model is a local folder (transformers format), a ``.gguf`` file (converted by transformers through ``gguf``),
or a Hub id that is already in the local cache. Nothing is downloaded unless ``allow_download=True``.
torch, transformers and vllm are imported lazily: ``pip install 'oda-lineage[model]'``.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from oda.errors import ConfigError, ScoringError


class Backend(abc.ABC):
    """What a model-based scorer needs from a model."""

    model_id: str

    @abc.abstractmethod
    def apply_chat(self, user: str, *, assistant_prefix: str = "") -> str:
        """The prompt text a chat model sees for one user turn, ready for the assistant's first token."""

    @abc.abstractmethod
    def candidate_ids(self, texts: Sequence[str]) -> list[int]:
        """The single token id of each candidate text (e.g. ``"1"``…``"6"``)."""

    @abc.abstractmethod
    def count_tokens(self, text: str) -> int:
        """How many tokens ``text`` is, without special tokens."""

    @abc.abstractmethod
    def next_token_logprobs(self, prompts: Sequence[str], token_ids: Sequence[int]) -> np.ndarray:
        """``(len(prompts), len(token_ids))`` log-probabilities over the full vocabulary."""

    @abc.abstractmethod
    def continuation_nll(self, prefixes: Sequence[str], continuations: Sequence[str]) -> np.ndarray:
        """Mean per-token negative log-likelihood of each continuation after its prefix (NaN if empty)."""

    @abc.abstractmethod
    def sample(
        self, prompts: Sequence[str], n: int, *, max_new_tokens: int, temperature: float, seed: int
    ) -> list[list[str]]:
        """``n`` sampled completions for each prompt."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free the model."""


def chat_prompt(tokenizer: Any, user: str, assistant_prefix: str = "") -> str:
    """One user turn through the tokenizer's chat template (plain text where it has none), then the prefix."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True
        )
        return str(text) + assistant_prefix
    return f"{user}\n{assistant_prefix}"


def _resolve_model(path: str) -> tuple[str, str | None]:
    """(folder or id, gguf file name) for a model reference."""
    p = Path(path)
    if p.suffix == ".gguf":
        if not p.is_file():
            raise ConfigError(f"GGUF file not found: {p}")
        return str(p.parent), p.name
    return path, None


class TransformersBackend(Backend):
    """A causal LM through ``transformers`` on CPU or GPU, batched with padding."""

    def __init__(
        self,
        model: str,
        *,
        device: str = "cpu",
        dtype: str | None = None,
        batch_size: int = 8,
        max_length: int = 2048,
        allow_download: bool = False,
    ) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise ConfigError(
                "model-based scorers need torch and transformers: pip install 'oda-lineage[model]'"
            ) from exc
        self.torch = torch
        self.model_id = model
        self.device = device
        self.batch_size = batch_size
        self.max_length = max_length
        source, gguf_file = _resolve_model(model)
        kwargs: dict[str, Any] = {"local_files_only": not allow_download}
        if gguf_file:
            kwargs["gguf_file"] = gguf_file
        torch_dtype = (
            getattr(torch, dtype) if dtype else (torch.float32 if device == "cpu" else torch.bfloat16)
        )
        self.tokenizer: Any
        self.model: Any
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
            self.model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype, **kwargs)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot load model {model!r} (local files only: {not allow_download}): {exc}"
            ) from exc
        self.model.to(device)
        self.model.eval()
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        self._bos = [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []

    # --- text helpers -----------------------------------------------------------------------------------
    def apply_chat(self, user: str, *, assistant_prefix: str = "") -> str:
        return chat_prompt(self.tokenizer, user, assistant_prefix)

    def _encode(self, text: str) -> list[int]:
        ids: list[int] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids

    def count_tokens(self, text: str) -> int:
        return len(self._encode(text))

    def candidate_ids(self, texts: Sequence[str]) -> list[int]:
        out = []
        unk = self.tokenizer.unk_token_id
        for text in texts:
            tid = self.tokenizer.convert_tokens_to_ids(text)
            if tid is None or (unk is not None and tid == unk):
                ids = self._encode(text)
                if len(ids) != 1:
                    raise ConfigError(f"{text!r} is not a single token of {self.model_id}")
                tid = ids[0]
            out.append(int(tid))
        return out

    # --- primitives ---------------------------------------------------------------------------------------
    def _batches(self, n: int) -> range:
        return range(0, n, self.batch_size)

    def _left_padded(self, prompts: Sequence[str]) -> tuple[Any, Any]:
        """Token ids (BOS + prompt, cut from the left to ``max_length``) left-padded to one width, and the mask."""
        torch = self.torch
        seqs = [(self._bos + self._encode(p))[-self.max_length :] for p in prompts]
        width = max(len(s) for s in seqs)
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor([[pad] * (width - len(s)) + s for s in seqs], device=self.device)
        mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in seqs], device=self.device)
        return ids, mask

    def next_token_logprobs(self, prompts: Sequence[str], token_ids: Sequence[int]) -> np.ndarray:
        torch = self.torch
        out = np.empty((len(prompts), len(token_ids)), dtype=np.float64)
        index = torch.tensor(list(token_ids), device=self.device)
        for start in self._batches(len(prompts)):
            ids, mask = self._left_padded(prompts[start : start + self.batch_size])
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            with torch.inference_mode():
                logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions).logits[
                    :, -1, :
                ]
                logprobs = torch.log_softmax(logits.float(), dim=-1)[:, index]
            out[start : start + len(ids)] = logprobs.cpu().numpy()
        return out

    def continuation_nll(self, prefixes: Sequence[str], continuations: Sequence[str]) -> np.ndarray:
        torch = self.torch
        out = np.full(len(prefixes), np.nan)
        pairs = []
        for prefix, cont in zip(prefixes, continuations, strict=True):
            p_ids = self._bos + self._encode(prefix) if prefix else list(self._bos)
            c_ids = self._encode(cont)
            # keep the whole continuation when possible; cut the prefix from the left, then the continuation
            room = self.max_length - len(c_ids)
            p_ids = p_ids[-room:] if room > 0 else p_ids[:0]
            c_ids = c_ids[: self.max_length - len(p_ids)]
            pairs.append((p_ids, c_ids))
        for start in self._batches(len(pairs)):
            chunk = pairs[start : start + self.batch_size]
            seqs = [p + c for p, c in chunk]
            width = max(1, max(len(s) for s in seqs))
            pad = self.tokenizer.pad_token_id
            ids = torch.tensor([s + [pad] * (width - len(s)) for s in seqs], device=self.device)
            mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs], device=self.device)
            labels = torch.full_like(ids, -100)
            for row, (p, c) in enumerate(chunk):
                labels[row, len(p) : len(p) + len(c)] = ids[row, len(p) : len(p) + len(c)]
            with torch.inference_mode():
                logits = self.model(input_ids=ids, attention_mask=mask).logits.float()
                shift_logits, shift_labels = logits[:, :-1, :], labels[:, 1:]
                nll = torch.nn.functional.cross_entropy(
                    shift_logits.transpose(1, 2), shift_labels, ignore_index=-100, reduction="none"
                )
                counts = (shift_labels != -100).sum(-1)
                totals = nll.sum(-1)
            for row in range(len(chunk)):
                n_tok = int(counts[row])
                if n_tok:
                    out[start + row] = float(totals[row]) / n_tok
        return out

    def sample(
        self, prompts: Sequence[str], n: int, *, max_new_tokens: int, temperature: float, seed: int
    ) -> list[list[str]]:
        torch = self.torch
        torch.manual_seed(seed)
        results: list[list[str]] = []
        for start in self._batches(len(prompts)):
            ids, mask = self._left_padded(prompts[start : start + self.batch_size])
            with torch.inference_mode():
                gen = self.model.generate(
                    input_ids=ids,
                    attention_mask=mask,
                    do_sample=temperature > 0,
                    temperature=temperature if temperature > 0 else None,
                    top_p=None,
                    top_k=None,
                    num_return_sequences=n,
                    max_new_tokens=max_new_tokens,
                    pad_token_id=self.tokenizer.pad_token_id,
                )
            texts = self.tokenizer.batch_decode(gen[:, ids.shape[1] :], skip_special_tokens=True)
            for i in range(len(ids)):
                results.append(texts[i * n : (i + 1) * n])
        return results

    def close(self) -> None:
        del self.model


class VLLMBackend(Backend):
    """A model served in-process by vLLM (GPU only); same primitives through vLLM's logprob outputs."""

    def __init__(
        self, model: str, *, max_length: int = 4096, gpu_memory_utilization: float = 0.85, **_: Any
    ) -> None:
        try:
            from vllm import LLM
        except ImportError as exc:
            raise ConfigError("the vLLM backend needs vllm on a GPU machine (pip install vllm)") from exc
        self.model_id = model
        source, gguf_file = _resolve_model(model)
        self.llm = LLM(
            model=str(Path(source) / gguf_file) if gguf_file else source,
            max_model_len=max_length,
            gpu_memory_utilization=gpu_memory_utilization,
        )
        self.tokenizer = self.llm.get_tokenizer()
        self.max_length = max_length

    def apply_chat(self, user: str, *, assistant_prefix: str = "") -> str:
        return chat_prompt(self.tokenizer, user, assistant_prefix)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def candidate_ids(self, texts: Sequence[str]) -> list[int]:
        out = []
        for text in texts:
            ids = self.tokenizer.encode(text, add_special_tokens=False)
            if len(ids) != 1:
                raise ConfigError(f"{text!r} is not a single token of {self.model_id}")
            out.append(int(ids[0]))
        return out

    def next_token_logprobs(self, prompts: Sequence[str], token_ids: Sequence[int]) -> np.ndarray:
        from vllm import SamplingParams

        # ask for the full distribution's top entries plus the candidates via allowed_token_ids-free logprobs
        params = SamplingParams(max_tokens=1, temperature=0.0, logprobs=20, prompt_logprobs=None)
        outs = self.llm.generate(list(prompts), params, use_tqdm=False)
        result = np.full((len(prompts), len(token_ids)), -math.inf)
        for i, o in enumerate(outs):
            top = o.outputs[0].logprobs[0] if o.outputs and o.outputs[0].logprobs else {}
            for j, tid in enumerate(token_ids):
                if tid in top:
                    result[i, j] = top[tid].logprob
        return result

    def continuation_nll(self, prefixes: Sequence[str], continuations: Sequence[str]) -> np.ndarray:
        from vllm import SamplingParams

        params = SamplingParams(max_tokens=1, prompt_logprobs=0)
        out = np.full(len(prefixes), np.nan)
        prompts: list[Any] = []
        spans = []
        token_lists = []
        for prefix, cont in zip(prefixes, continuations, strict=True):
            p_ids = self.tokenizer.encode(prefix) if prefix else self.tokenizer.encode("")
            c_ids = self.tokenizer.encode(cont, add_special_tokens=False)
            ids = (p_ids + c_ids)[: self.max_length - 1]
            prompts.append({"prompt_token_ids": ids})
            token_lists.append(ids)
            spans.append((len(p_ids), len(ids)))
        for i, o in enumerate(self.llm.generate(prompts, params, use_tqdm=False)):
            start, end = spans[i]
            lps = o.prompt_logprobs or []
            ids = token_lists[i]
            vals = [lps[k][ids[k]].logprob for k in range(max(start, 1), end) if lps[k] and ids[k] in lps[k]]
            if vals:
                out[i] = -float(np.mean(vals))
        return out

    def sample(
        self, prompts: Sequence[str], n: int, *, max_new_tokens: int, temperature: float, seed: int
    ) -> list[list[str]]:
        from vllm import SamplingParams

        params = SamplingParams(n=n, temperature=temperature, max_tokens=max_new_tokens, seed=seed)
        return [[c.text for c in o.outputs] for o in self.llm.generate(list(prompts), params, use_tqdm=False)]


def load_backend(kind: str, model: str, **options: Any) -> Backend:
    """A backend by name: ``transformers`` (default) or ``vllm``."""
    if kind == "transformers":
        return TransformersBackend(model, **options)
    if kind == "vllm":
        return VLLMBackend(model, **options)
    raise ScoringError(f"unknown model backend {kind!r}; expected transformers or vllm")
