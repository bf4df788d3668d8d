"""Model-based scorers (extra ``model``): Deita Complexity and Quality, IFD, Thinking Probability, Fail Rate.

- **Deita Complexity (Q) / Deita Quality (QA)**: the scorer model reads Deita's prompt; the next-token logits of
  "1"…"6" are soft-maxed among themselves and the score is the probability-weighted mean, in [1, 6]. Meaningful
  with the Deita scorer models (``hkust-nlp/deita-complexity-scorer``, ``deita-quality-scorer``).
- **IFD (QA)**: ``ppl(response | instruction) / ppl(response)``, perplexities over the response tokens only; the
  instruction goes through the model's chat template when it has one.
- **Thinking Probability (Q)**: ``1 − P("</think>" right after "<think>\\n")`` at the start of the assistant turn,
  for a hybrid thinking model: the chance the model chooses to think about the instruction.
- **Fail Rate (QA)**: ``k`` sampled answers per instruction are compared with the reference answer (the sample's
  ``answer``, else the ``\\boxed{}`` or last number of its response); the value is the share that do not match.

The model is a local path or cached Hub id from ``--model`` or the config (``[scoring.model] path``, per scorer
``[scoring.model.ifd] path``), never downloaded at run time unless ``allow_download = true``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from oda.errors import ConfigError
from scoring.base import Axis, Family, Metric, MetricScores, Score, Scorer, register
from scoring.model_based.backends import Backend, load_backend
from scoring.samples import Sample

DEITA_COMPLEXITY_TEMPLATE = (
    "You are a helpful assistant. Please identify the complexity score of the following user query. \n"
    "##Query: {instruction}  \n##Complexity: "
)
DEITA_QUALITY_TEMPLATE = (
    "You are a helpful assistant. Please identify the quality score of the Response corresponding to the "
    "Question. \n #Question#:\n{instruction}\n#Response#:\n{output} \n##Quality: "
)
DEITA_LABELS = ("1", "2", "3", "4", "5", "6")


class ModelScorer(Scorer):
    """Shared setup: a backend given directly, or built from ``model`` / ``configured`` (``[scoring.model]``
    merged with ``[scoring.model.<scorer>]``: ``path``, ``backend`` and the backend's options)."""

    family = Family.MODEL
    requires = ("torch", "transformers")
    batch_size = 64

    def __init__(
        self,
        backend: Backend | None = None,
        *,
        model: str | None = None,
        backend_kind: str | None = None,
        configured: Mapping[str, Any] | None = None,
        **backend_options: Any,
    ) -> None:
        if backend is None:
            cfg = dict(configured or {})
            path = model or cfg.pop("path", None)
            cfg.pop("path", None)
            if not path:
                raise ConfigError(
                    f"scorer {self.name!r} needs a model: pass --model PATH or set [scoring.model] path in the config"
                )
            kind = backend_kind or cfg.pop("backend", "transformers")
            cfg.pop("backend", None)
            self.check_requirements()
            backend = load_backend(kind, str(path), **{**cfg, **backend_options})
        self.backend = backend

    def cache_key(self) -> str:
        return f"{self.name}:{self.backend.model_id}"


def _weighted_label(logprobs: np.ndarray) -> np.ndarray:
    """Softmax among the label logits, then the probability-weighted label value (1..6)."""
    shifted = logprobs - logprobs.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    return probs @ np.arange(1, logprobs.shape[1] + 1, dtype=np.float64)


class _DeitaScorer(ModelScorer):
    template: str

    def _prompt(self, sample: Sample) -> str:
        raise NotImplementedError

    def score_batch(self, samples: Sequence[Sample]) -> list[MetricScores]:
        ids = self.backend.candidate_ids(DEITA_LABELS)
        logprobs = self.backend.next_token_logprobs([self._prompt(s) for s in samples], ids)
        values = _weighted_label(logprobs)
        metric = self.metrics[0].name
        return [
            {metric: Score(float(v)) if math.isfinite(v) else Score.failed("no finite label logits")}
            for v in values
        ]


@register
class DeitaComplexityScorer(_DeitaScorer):
    name = "deita_complexity"
    description = "Deita complexity scorer: weighted first-token probability of 1-6 (Q)"
    metrics = (Metric("deita_complexity", Axis.Q, "Deita complexity in [1, 6]", scale=(1, 6)),)

    def _prompt(self, sample: Sample) -> str:
        return DEITA_COMPLEXITY_TEMPLATE.format(instruction=sample.prompt)


@register
class DeitaQualityScorer(_DeitaScorer):
    name = "deita_quality"
    description = "Deita quality scorer: weighted first-token probability of 1-6 (QA)"
    metrics = (Metric("deita_quality", Axis.QA, "Deita quality in [1, 6]", scale=(1, 6)),)

    def _prompt(self, sample: Sample) -> str:
        return DEITA_QUALITY_TEMPLATE.format(instruction=sample.prompt, output=sample.final_response)


@register
class IFDScorer(ModelScorer):
    name = "ifd"
    description = "Instruction-Following Difficulty: ppl(response | instruction) / ppl(response) (QA)"
    metrics = (Metric("ifd", Axis.QA, "IFD: conditioned over unconditioned response perplexity"),)

    def score_batch(self, samples: Sequence[Sample]) -> list[MetricScores]:
        responses = [s.response for s in samples]
        cond = self.backend.continuation_nll([self.backend.apply_chat(s.prompt) for s in samples], responses)
        uncond = self.backend.continuation_nll([""] * len(samples), responses)
        out: list[MetricScores] = []
        for c, u in zip(cond, uncond, strict=True):
            if not (math.isfinite(c) and math.isfinite(u)):
                out.append({"ifd": Score.failed("response has no tokens within max_length")})
            else:
                ratio = math.exp(c - u)
                out.append({"ifd": Score(ratio, reason=f"ppl|Q={math.exp(c):.3g}, ppl={math.exp(u):.3g}")})
        return out


@register
class ThinkingProbScorer(ModelScorer):
    name = "thinking_prob"
    description = "Thinking probability: 1 - P('</think>' as the first token of the thought) (Q)"
    metrics = (Metric("thinking_prob", Axis.Q, "probability that a hybrid model chooses to think"),)
    think_open = "<think>\n"
    think_close = "</think>"

    def score_batch(self, samples: Sequence[Sample]) -> list[MetricScores]:
        prompts = [self.backend.apply_chat(s.prompt, assistant_prefix=self.think_open) for s in samples]
        try:
            ids = self.backend.candidate_ids([self.think_close])
            p_close = np.exp(self.backend.next_token_logprobs(prompts, ids)[:, 0])
        except ConfigError:
            # "</think>" spans several tokens: its whole probability, token by token
            n_tok = self.backend.count_tokens(self.think_close)
            nll = self.backend.continuation_nll(prompts, [self.think_close] * len(prompts))
            p_close = np.exp(-nll * n_tok)
        return [
            {"thinking_prob": Score(float(1.0 - p)) if math.isfinite(p) else Score.failed("no probability")}
            for p in p_close
        ]


_BOXED_RE = re.compile(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}")
_NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")


def extract_answer(text: str | None) -> str | None:
    """The final answer of a solution: the last ``\\boxed{}``, else the text after ``####``, else the last number."""
    if not text:
        return None
    boxed = _BOXED_RE.findall(text)
    if boxed:
        return boxed[-1].strip()
    if "####" in text:
        return (
            text.rsplit("####", 1)[1].strip().splitlines()[0].strip()
            if text.rsplit("####", 1)[1].strip()
            else None
        )
    numbers = _NUMBER_RE.findall(text)
    return numbers[-1] if numbers else None


def normalize_answer(answer: str) -> str:
    """Canonical form for comparison: no spaces, ``$``, thousands separators or trailing ``.0``."""
    a = answer.strip().strip("$").replace(" ", "").replace(",", "").rstrip(".").lower()
    a = re.sub(r"^\\text\{(.*)\}$", r"\1", a)
    if re.fullmatch(r"-?\d+\.0+", a):
        a = a.split(".")[0]
    return a


@register
class FailRateScorer(ModelScorer):
    name = "fail_rate"
    description = "Fail rate: share of k sampled answers that miss the reference answer (QA)"
    metrics = (Metric("fail_rate", Axis.QA, "share of sampled answers that do not match the reference"),)

    def __init__(
        self,
        backend: Backend | None = None,
        *,
        samples_per_prompt: int = 4,
        max_new_tokens: int = 512,
        temperature: float = 0.7,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(backend, **kwargs)
        self.k, self.max_new_tokens, self.temperature, self.seed = (
            samples_per_prompt,
            max_new_tokens,
            temperature,
            seed,
        )

    def cache_key(self) -> str:
        return f"{super().cache_key()}:k{self.k}:t{self.temperature}:n{self.max_new_tokens}:s{self.seed}"

    def score_batch(self, samples: Sequence[Sample]) -> list[MetricScores]:
        refs = [extract_answer(s.answer) if s.answer else extract_answer(s.final_response) for s in samples]
        todo = [i for i, r in enumerate(refs) if r]
        out: list[MetricScores] = [
            {
                "fail_rate": Score.failed(
                    "no reference answer (no 'answer' field, no \\boxed{} or number in the response)"
                )
            }
            for _ in samples
        ]
        if not todo:
            return out
        prompts = [self.backend.apply_chat(samples[i].prompt) for i in todo]
        generations = self.backend.sample(
            prompts, self.k, max_new_tokens=self.max_new_tokens, temperature=self.temperature, seed=self.seed
        )
        for i, gens in zip(todo, generations, strict=True):
            ref = normalize_answer(refs[i] or "")
            got = [extract_answer(g) for g in gens]
            wrong = sum(1 for g in got if g is None or normalize_answer(g) != ref)
            out[i] = {
                "fail_rate": Score(
                    wrong / len(gens), reason=f"{len(gens) - wrong}/{len(gens)} matched {ref!r}"
                )
            }
        return out
