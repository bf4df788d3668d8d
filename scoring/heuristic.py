"""Heuristic scorers (CPU, exact): lengths, think traces, lexical diversity and duplicates, in one pass.

``HeuristicScorer`` computes the whole heuristic profile of a batch from one tokenization: the prompt
(instruction + input), the response and the think trace are encoded together with tiktoken ``o200k_base``
(``encode_ordinary_batch`` on ``threads`` threads, in the background while the text-only metrics are computed
on the main thread), and every token metric and the MinHash signature come from the same token ids.

Metrics (Q: the instruction with its input; QA: the pair):

- ``instruction_chars``, ``instruction_tokens`` (Q); ``response_chars``, ``response_tokens`` (QA): lengths in
  Unicode code points and in o200k tokens. The response includes its ``<think>`` block.
- ``think_tokens`` (QA): tokens of the think trace (0 without one); ``has_think`` (QA): 1 or 0.
- ``response_ttr`` and ``response_mtld`` (QA): type–token ratio and MTLD (McCarthy & Jarvis 2010, threshold
  0.72, mean of the forward and backward passes) over the lower-cased words of the response
  (runs of characters between whitespace and ASCII punctuation).
- ``instruction_exact_dup`` (Q), ``exact_dup`` and ``near_dup`` (QA): 1 when an earlier sample of the dataset has
  the same instruction, the same pair, or a MinHash-LSH band in common (see ``scoring.dedup``). The first
  occurrence counts 0, so the mean is the duplicate rate.
"""

from __future__ import annotations

import array
import string
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from scoring.base import Axis, Family, Metric, MetricScores, Score, Scorer, register
from scoring.dedup import MinHasher, SeenSet, hash_keys
from scoring.samples import Sample

MTLD_THRESHOLD = 0.72
#: longer texts take the scalar MTLD path, so one huge sample never stretches a whole batch's lockstep loop
LOCKSTEP_MAX_WORDS = 4000
_PUNCT_TO_SPACE = str.maketrans({c: " " for c in string.punctuation})


def words(text: str) -> list[str]:
    """Lower-cased words: runs of characters between whitespace and ASCII punctuation."""
    return text.lower().translate(_PUNCT_TO_SPACE).split()


def type_token_ratio(tokens: Sequence[str]) -> float | None:
    """Distinct words / words; None for a text with no words."""
    return len(set(tokens)) / len(tokens) if tokens else None


def _mtld_pass(tokens: Sequence[str], threshold: float) -> float:
    factors = 0.0
    types: set[str] = set()
    count = 0
    for tok in tokens:
        count += 1
        types.add(tok)
        if len(types) / count <= threshold:
            factors += 1.0
            types = set()
            count = 0
    if count:
        factors += (1.0 - len(types) / count) / (1.0 - threshold)
    # a text that never falls to the threshold is as diverse as it is long
    return len(tokens) / factors if factors > 0 else float(len(tokens))


def mtld(tokens: Sequence[str], threshold: float = MTLD_THRESHOLD) -> float | None:
    """Measure of Textual Lexical Diversity: mean of the forward and backward passes; None with no words.

    This is the reference implementation; ``lexical_diversity`` computes the same values for a whole batch.
    """
    if not tokens:
        return None
    return (_mtld_pass(tokens, threshold) + _mtld_pass(tokens[::-1], threshold)) / 2.0


def _lockstep_mtld(
    lens: np.ndarray,
    first_pos: np.ndarray,
    word_ids: np.ndarray,
    n_ids: int,
    *,
    forward: bool,
    threshold: float,
) -> np.ndarray:
    """One MTLD direction for many texts at once, one word position per step.

    ``word_ids`` numbers the distinct words of each text (ids never shared between texts). ``last[id]`` is where
    the walk last saw that word: it is new to the current segment when that position lies outside the segment.
    """
    n = lens.size
    order = np.argsort(-lens, kind="stable")
    plens = lens[order]
    base = first_pos[order] if forward else first_pos[order] + plens - 1
    seg = base.copy()  # where the current segment starts (forward) or ends (backward)
    last = np.full(n_ids, -1 if forward else word_ids.size, dtype=np.int64)
    types = np.zeros(n, dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    factors = np.zeros(n, dtype=np.float64)
    active_at = np.searchsorted(-plens, -np.arange(int(plens.max(initial=0))), side="left")
    step = 1 if forward else -1
    for i, m in enumerate(active_at):
        k = base[:m] + i * step
        ids = word_ids[k]
        new = last[ids] < seg[:m] if forward else last[ids] > seg[:m]
        last[ids] = k
        t = types[:m]
        c = count[:m]
        t += new
        c += 1
        hit = t / c <= threshold
        if hit.any():
            idx = np.flatnonzero(hit)
            factors[idx] += 1.0
            t[idx] = 0
            c[idx] = 0
            seg[idx] = k[idx] + step
    partial = count > 0
    factors[partial] += (1.0 - types[partial] / count[partial]) / (1.0 - threshold)
    out = np.empty(n, dtype=np.float64)
    out[order] = np.where(factors > 0, plens / np.where(factors > 0, factors, 1.0), plens.astype(np.float64))
    return out


def lexical_diversity(
    texts: Sequence[str], threshold: float = MTLD_THRESHOLD
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(word counts, TTR, MTLD)`` for a batch of texts; NaN where a text has no words.

    Vectorized over the batch: each text's distinct words get ids (one dict per text, which also gives the
    TTR), and both MTLD passes walk all texts in lockstep with a last-seen table. Texts over
    ``LOCKSTEP_MAX_WORDS`` words use ``mtld``. The values equal ``type_token_ratio`` and ``mtld`` (tests check).
    """
    n = len(texts)
    lens = np.zeros(n, dtype=np.int64)
    ttr = np.full(n, np.nan)
    lex = np.full(n, np.nan)
    buf = array.array("q")
    short: list[int] = []
    distinct: list[int] = []
    next_id = 0
    for i, text in enumerate(texts):
        ws = words(text)
        lens[i] = len(ws)
        if not ws:
            continue
        if len(ws) > LOCKSTEP_MAX_WORDS:
            ttr[i] = type_token_ratio(ws)
            lex[i] = mtld(ws, threshold)
            continue
        seen: dict[str, int] = {}
        buf.extend([seen.setdefault(w, next_id + len(seen)) for w in ws])
        short.append(i)
        distinct.append(len(seen))
        next_id += len(seen)
    if not short:
        return lens, ttr, lex
    idx = np.array(short, dtype=np.int64)
    word_ids = np.frombuffer(buf, dtype=np.int64)
    slens = lens[idx]
    first = np.zeros(idx.size, dtype=np.int64)
    np.cumsum(slens[:-1], out=first[1:])
    ttr[idx] = np.array(distinct, dtype=np.float64) / slens
    fwd = _lockstep_mtld(slens, first, word_ids, next_id, forward=True, threshold=threshold)
    bwd = _lockstep_mtld(slens, first, word_ids, next_id, forward=False, threshold=threshold)
    lex[idx] = (fwd + bwd) / 2.0
    return lens, ttr, lex


@register
class HeuristicScorer(Scorer):
    """Lengths, think traces, lexical diversity and duplicate rates from one tokenization per sample."""

    name = "heuristic_profile"
    family = Family.HEURISTIC
    description = "Lengths (chars, o200k tokens), think traces, TTR/MTLD, exact and MinHash near-duplicates"
    requires = ("tiktoken", "numpy")
    metrics = (
        Metric("instruction_chars", Axis.Q, "instruction (with input) length in characters"),
        Metric("instruction_tokens", Axis.Q, "instruction (with input) length in o200k_base tokens"),
        Metric(
            "instruction_exact_dup", Axis.Q, "1 if an earlier sample has the same instruction", scale=(0, 1)
        ),
        Metric("response_chars", Axis.QA, "response length in characters"),
        Metric("response_tokens", Axis.QA, "response length in o200k_base tokens"),
        Metric("think_tokens", Axis.QA, "think-trace length in o200k_base tokens (0 without one)"),
        Metric("has_think", Axis.QA, "1 if the response carries a think trace", scale=(0, 1)),
        Metric("response_ttr", Axis.QA, "type-token ratio of the response words"),
        Metric("response_mtld", Axis.QA, "MTLD lexical diversity of the response words"),
        Metric(
            "exact_dup", Axis.QA, "1 if an earlier sample has the same instruction and response", scale=(0, 1)
        ),
        Metric("near_dup", Axis.QA, "1 if an earlier sample is a MinHash-LSH near-duplicate", scale=(0, 1)),
    )
    batch_size = 1000

    def __init__(self, *, threads: int = 2, num_perm: int = 64, bands: int = 8, shingle: int = 5) -> None:
        from scoring.tokens import o200k_encoding

        self.encoding = o200k_encoding()
        self.threads = threads
        self.minhash = MinHasher(num_perm=num_perm, bands=bands, shingle=shingle)
        self._exact_q = SeenSet()
        self._exact_qa = SeenSet()
        self._near = SeenSet()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="o200k")

    def cache_key(self) -> str:
        return f"{self.name}:o200k_base:mh{self.minhash.num_perm}x{self.minhash.bands}k{self.minhash.shingle}"

    def _tokenize(self, samples: Sequence[Sample]) -> Any:
        texts = [s.prompt for s in samples]
        texts += [s.response for s in samples]
        texts += [s.think for s in samples if s.think]
        return self._pool.submit(self.encoding.encode_ordinary_batch, texts, num_threads=self.threads)

    def _dedup(self, samples: Sequence[Sample], tokens: list[list[int]]) -> tuple[np.ndarray, ...]:
        n = len(samples)
        q_keys = hash_keys(s.prompt for s in samples)
        qa_keys = hash_keys((s.prompt, s.response) for s in samples)
        pair_tokens = [tokens[i] + tokens[n + i] for i in range(n)]
        bands = self.minhash.band_keys(self.minhash.signatures(pair_tokens))
        q_dup = self._exact_q.check_and_add(q_keys)
        qa_dup = self._exact_qa.check_and_add(qa_keys)
        near = self._near.check_and_add(bands.ravel()).reshape(bands.shape).any(axis=1)
        return q_dup, qa_dup, near | qa_dup

    def observe(self, samples: Sequence[Sample]) -> None:
        """Record already-scored samples in the duplicate sets, so a resumed run flags the same duplicates."""
        if samples:
            self._dedup(samples, self._tokenize(samples).result())

    def score_batch(self, samples: Sequence[Sample]) -> list[MetricScores]:
        if not samples:
            return []
        pending = self._tokenize(samples)
        _, ttrs, mtlds = lexical_diversity([s.response for s in samples])
        tokens = pending.result()
        n = len(samples)
        q_dup, qa_dup, near = self._dedup(samples, tokens)
        out: list[MetricScores] = []
        think_at = 2 * n
        for i, s in enumerate(samples):
            ttr, lex = float(ttrs[i]), float(mtlds[i])
            if s.think:
                think_tokens = len(tokens[think_at])
                think_at += 1
            else:
                think_tokens = 0
            no_words = "response has no words"
            out.append(
                {
                    "instruction_chars": Score(float(len(s.prompt))),
                    "instruction_tokens": Score(float(len(tokens[i]))),
                    "instruction_exact_dup": Score(float(q_dup[i])),
                    "response_chars": Score(float(len(s.response))),
                    "response_tokens": Score(float(len(tokens[n + i]))),
                    "think_tokens": Score(float(think_tokens)),
                    "has_think": Score(1.0 if s.think else 0.0),
                    "response_ttr": Score(ttr) if ttr == ttr else Score.failed(no_words),
                    "response_mtld": Score(lex) if lex == lex else Score.failed(no_words),
                    "exact_dup": Score(float(qa_dup[i])),
                    "near_dup": Score(float(near[i])),
                }
            )
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=False)
