"""Heuristic scorers (CPU, exact): lengths, think traces, lexical diversity, compression, token statistics and
duplicates, in one pass.

``HeuristicScorer`` computes the whole heuristic profile of a batch from one tokenization: the prompt (instruction +
input), the response, the think trace and the whole pair are encoded together with the ``o200k_base`` vocabulary
(``quicktok``, which gives tiktoken's ids exactly, several times faster), and every token metric and the MinHash
signature come from those ids. The word metrics run over the batch at once in numpy (``scoring.lexical``). Batches
are computed in worker processes while the main process reads the next ones, and the duplicate flags, which
depend on every earlier sample, are set in the main process in dataset order.

Texts (Q: the instruction with its input; QA: the pair):

- the *prompt* is ``instruction + "\\n\\n" + input`` (the instruction alone without input);
- the *pair* is ``instruction``, ``input`` and ``response`` joined by ``"\\n"``, empty parts left out, which is the
  text OpenDataArena's heuristic scorers read.

Metrics:

- ``instruction_chars``, ``instruction_tokens`` (Q); ``response_chars``, ``response_tokens`` (QA): lengths of the
  prompt and the response in code points and o200k tokens. The response includes its think block.
- ``chars``, ``tokens`` (QA): lengths of the pair (OpenDataArena's StrLength and TokenLength).
- ``has_think`` (QA): 1 if the response carries a think tag or the record a reasoning field (ThinkOrNot);
  ``think_tokens`` (QA): tokens of the trace, as ``scoring.think`` delimits it (0 without one).
- ``pure_think`` (QA): OpenDataArena's PureThink (see ``scoring.think.pure_think``): -2, -1, 0 or 1.
- ``response_ttr``, ``response_mtld`` (QA): TTR and MTLD of the response's words; ``mtld`` (QA): MTLD of the
  pair's words (OpenDataArena's MTLD); ``hdd`` (QA): HD-D of the pair's words, draws of 42 (HD-D). Words follow
  the run's word rule (``scoring.lexical``).
- ``logical_words`` (QA): how many of the pair's words are reasoning connectives (LogicalWordCount).
- ``compress_ratio`` (QA): zlib level-9 compressed size / UTF-8 size of the pair, to 4 decimals (CompressRatio).
- ``token_entropy`` (QA): Shannon entropy in bits of the pair's token-id distribution (TokenEntropy);
  ``unique_2token`` (QA): distinct token bigrams / bigrams of the pair, 0 under two tokens (UniqueNtoken, n=2).
- ``instruction_exact_dup`` (Q), ``exact_dup`` and ``near_dup`` (QA): 1 when an earlier sample of the dataset has
  the same prompt, the same prompt and response, or a MinHash-LSH band of the pair's tokens in common (see
  ``scoring.dedup``). The first occurrence counts 0, so the mean is the duplicate rate.

Where OpenDataArena's scorers return a sentinel, a value is defined or an error recorded instead: a text with no
words has no TTR, MTLD or HD-D (an error, never 0), and an MTLD pass that never falls to the threshold scores the
word count (OpenDataArena returns -1 when every word is distinct).
"""

from __future__ import annotations

import os
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from scoring.base import Axis, Family, Metric, Score, ScoreColumns, Scorer, register
from scoring.dedup import MinHasher, SeenSet, sequence_hashes
from scoring.inputs import parse_jsonl_line
from scoring.lexical import (
    EMPTY_WORD_HASH,
    CodePoints,
    WordRule,
    count_logical,
    diversity,
    hdd_batch,
    logical_word_counts,
    mix64,
    occurrences,
    words_for_rule,
)
from scoring.samples import Sample, SampleError, normalize_record
from scoring.think import pure_think, split_think

#: what a worker needs of one sample: instruction, input, response, think trace (None without one)
Row = tuple[str, str, str, str | None]


@dataclass(frozen=True)
class ProfileSettings:
    """Everything that changes a profile's values (part of the scorer's cache key)."""

    word_rule: WordRule = WordRule.SPLIT
    num_perm: int = 64
    bands: int = 8
    shingle: int = 5


def _token_stats(tokens: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(entropy in bits of each text's token distribution, distinct bigrams / bigrams, 0 under two tokens)."""
    lens = np.diff(offsets)
    n = lens.size
    owner = np.repeat(np.arange(n, dtype=np.uint64), lens)
    tok = tokens.astype(np.uint64)
    if n <= 4096:  # a narrower sort when the text index fits in 12 bits (token ids are below 2^20)
        keys = (owner.astype(np.uint32) << np.uint32(20)) | tokens.astype(np.uint32)
    else:
        keys = (owner << np.uint64(20)) | tok
    keys.sort()
    run = np.ones(keys.size, dtype=bool)
    run[1:] = keys[1:] != keys[:-1]
    starts = np.flatnonzero(run)
    counts = np.diff(np.append(starts, keys.size)).astype(np.float64)
    run_owner = (keys[starts] >> 20).astype(np.int64)
    clogc = np.bincount(run_owner, weights=counts * np.log2(counts), minlength=n)
    safe = np.maximum(lens, 1)
    entropy = np.where(lens > 0, np.log2(safe) - clogc / safe, 0.0)
    unique2 = np.where(lens >= 2, _distinct_bigrams(tok, owner, offsets) / np.maximum(lens - 1, 1), 0.0)
    return entropy, unique2


#: the key of a token pair that straddles two texts: larger than any bigram key, so it sorts after all of them
_NOT_A_BIGRAM = np.uint64(2**64 - 1)


def _distinct_bigrams(tok: np.ndarray, owner: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """How many distinct token bigrams each text ``tok[offsets[i]:offsets[i+1]]`` holds.

    Every adjacent pair of the batch gets the key ``text << 40 | first << 20 | second`` (pairs across two texts
    get ``_NOT_A_BIGRAM``); after one sort, each text's keys are one contiguous stretch, and its distinct bigrams
    are the keys that differ from their predecessor within it.
    """
    n = offsets.size - 1
    if tok.size < 2:
        return np.zeros(n, dtype=np.int64)
    big = (owner[:-1] << np.uint64(40)) | (tok[:-1] << np.uint64(20)) | tok[1:]
    inner = offsets[1:-1]
    big[inner[(inner > 0) & (inner < tok.size)] - 1] = _NOT_A_BIGRAM
    big.sort()
    fresh = np.zeros(big.size + 1, dtype=np.int64)
    np.cumsum(big[1:] != big[:-1], out=fresh[2:])
    fresh[1:] += 1  # the first key is new
    # each text's stretch of sorted keys: from the first key at or above ``text << 40``
    bounds = np.searchsorted(big, np.arange(n + 1, dtype=np.uint64) << np.uint64(40))
    return fresh[bounds[1:]] - fresh[bounds[:-1]]


def _encoder(threads: int) -> Callable[[list[str]], tuple[np.ndarray, np.ndarray]]:
    from scoring.tokens import o200k_fast

    enc = o200k_fast()
    return lambda texts: enc.encode_batch(texts, threads, False)


def profile_rows(rows: Sequence[Row], settings: ProfileSettings, threads: int = 1) -> dict[str, np.ndarray]:
    """Every metric but the duplicate flags for a batch of rows, as float64 columns (NaN: no value), plus
    ``_bands``: the LSH band keys of each pair. A pure function: it runs in worker processes."""
    n = len(rows)
    prompts = [f"{ins}\n\n{inp}" if inp else ins for ins, inp, _, _ in rows]
    pairs = ["\n".join(p for p in (ins, inp, resp) if p) for ins, inp, resp, _ in rows]
    splits = [split_think(resp) for _, _, resp, _ in rows]
    thinks = [t or "" for *_, t in rows]
    encode = _encoder(threads)
    tokens, offsets = encode([*prompts, *pairs, *thinks])
    tok_lens = np.diff(offsets)
    pair_offsets = offsets[n : 2 * n + 1] - offsets[n]
    pair_tokens = tokens[offsets[n] : offsets[2 * n]]
    pair_utf8 = [_utf8(p) for p in pairs]
    resp_tokens, resp_flat, resp_starts = _response_tokens(
        rows, pairs, pair_utf8, pair_tokens, pair_offsets, encode
    )
    cols: dict[str, np.ndarray] = {
        "instruction_chars": np.fromiter(map(len, prompts), dtype=np.float64, count=n),
        "instruction_tokens": tok_lens[:n].astype(np.float64),
        "response_chars": np.fromiter((len(r[2]) for r in rows), dtype=np.float64, count=n),
        "response_tokens": resp_tokens.astype(np.float64),
        "think_tokens": tok_lens[2 * n :].astype(np.float64),
        "has_think": np.fromiter(
            (1.0 if s.tagged or t is not None else 0.0 for s, (*_, t) in zip(splits, rows, strict=True)),
            dtype=np.float64,
            count=n,
        ),
        "pure_think": np.fromiter(map(pure_think, splits), dtype=np.float64, count=n),
        "chars": np.fromiter(map(len, pairs), dtype=np.float64, count=n),
        "tokens": tok_lens[n : 2 * n].astype(np.float64),
    }
    cols["token_entropy"], cols["unique_2token"] = _token_stats(pair_tokens, pair_offsets)
    cols["compress_ratio"] = np.fromiter(
        (_compress_ratio(p, raw) for p, raw in zip(pairs, pair_utf8, strict=True)), dtype=np.float64, count=n
    )

    lowered, response_from = _lowered_pairs(rows)
    cps = CodePoints(lowered)
    w = words_for_rule(cps, settings.word_rule)
    occ = occurrences(w.hashes)
    first, lens = w.offsets[:-1], w.lens
    resp_first = np.searchsorted(w.starts, cps.bounds + response_from)
    resp_lens = w.offsets[1:] - resp_first
    div = diversity(w, occ, np.concatenate([first, resp_first]), np.concatenate([lens, resp_lens]))
    cols["mtld"] = div.mtld[:n]
    cols["response_ttr"] = div.ttr[n:]
    cols["response_mtld"] = div.mtld[n:]
    oda = settings.word_rule is WordRule.ODA
    cols["hdd"] = hdd_batch(w, occ, EMPTY_WORD_HASH if oda else None)
    cols["logical_words"] = logical_word_counts(cps) if oda else count_logical(w)

    hasher = MinHasher(num_perm=settings.num_perm, bands=settings.bands, shingle=settings.shingle)
    cols["_bands"] = hasher.band_keys(hasher.signatures_flat(pair_tokens, pair_offsets))
    # exact-duplicate keys from the token ids (tokenization is injective), the same in every process
    q_keys = sequence_hashes(tokens, offsets[:n], offsets[1 : n + 1])
    r_keys = sequence_hashes(resp_flat, resp_starts, resp_starts + resp_tokens)
    cols["_q_keys"] = q_keys
    with np.errstate(over="ignore"):
        cols["_qa_keys"] = mix64(q_keys * np.uint64(0x9E3779B97F4A7C15) ^ r_keys)
    return cols


def _utf8(text: str) -> bytes | None:
    """The UTF-8 bytes of a text, None for one holding a lone surrogate (no UTF-8 spelling; callers then choose
    how to treat it)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


def _lowered_pairs(rows: Sequence[Row]) -> tuple[list[str], np.ndarray]:
    """The lower-cased pairs, and where each response starts in its lower-cased pair (lower-casing changes the
    length of a few characters).

    Each part is lower-cased on its own and the parts joined with ``"\n"``, which is the lower-cased pair:
    ``str.lower`` maps characters one at a time, except a capital sigma, whose final-form test looks at the
    neighbouring letters but stops at a newline (neither cased nor case-ignorable). So the response is lower-cased
    once, not again to find its length.
    """
    lowered: list[str] = []
    starts: list[int] = []
    for ins, inp, resp, _ in rows:
        resp_low = resp.lower()
        low = "\n".join(p for p in (ins.lower(), inp.lower(), resp_low) if p)
        lowered.append(low)
        starts.append(len(low) - len(resp_low))
    return lowered, np.array(starts, dtype=np.int64)


def _response_tokens(
    rows: Sequence[Row],
    pairs: Sequence[str],
    pair_utf8: Sequence[bytes | None],
    pair_tokens: np.ndarray,
    pair_offsets: np.ndarray,
    encode: Callable[[list[str]], tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The response's own tokens, mostly read off the pair's: ``(count, flat token array, start of each
    response in it)``.

    The pair is ``prefix + "\n" + response``. When the prefix does not end in whitespace and the response starts
    with neither whitespace nor ``/``, o200k's pre-tokenizer ends a piece exactly where the response starts (the
    newline is a piece of its own, or closes the prefix's punctuation piece); its pattern has no look-behind, so
    the pair's tokens from there on are the response's tokens. When such a token boundary is found at the
    response's first byte, those are used; the other responses are encoded on their own.
    """
    from scoring.tokens import o200k_token_bytes

    n = len(rows)
    resp_bytes = np.fromiter(
        (len(r[2]) if r[2].isascii() else len(r[2].encode("utf-8", "surrogatepass")) for r in rows),
        dtype=np.int64,
        count=n,
    )
    pair_bytes = np.fromiter(
        (
            len(raw) if raw is not None else len(p.encode("utf-8", "surrogatepass"))
            for p, raw in zip(pairs, pair_utf8, strict=True)
        ),
        dtype=np.int64,
        count=n,
    )
    clean = np.fromiter(
        (
            not p[len(p) - len(r[2]) - 2].isspace() and not r[2][0].isspace() and r[2][0] != "/"
            for p, r in zip(pairs, rows, strict=True)
        ),
        dtype=bool,
        count=n,
    )
    ends_before = np.zeros(pair_tokens.size + 1, dtype=np.int64)
    np.cumsum(o200k_token_bytes()[pair_tokens], out=ends_before[1:])
    base = ends_before[pair_offsets[:-1]]
    target = base + pair_bytes - resp_bytes  # cumulative bytes before the response's first byte
    at = np.searchsorted(ends_before, target)
    at = np.minimum(at, pair_tokens.size)
    found = clean & (ends_before[at] == target) & (at < pair_offsets[1:])
    count = np.where(found, pair_offsets[1:] - at, 0)
    flat, starts = pair_tokens, np.where(found, at, 0)
    missing = np.flatnonzero(~found)
    if missing.size:
        extra, extra_off = encode([rows[i][2] for i in missing.tolist()])
        count[missing] = np.diff(extra_off)
        starts[missing] = pair_tokens.size + extra_off[:-1]
        flat = np.concatenate([pair_tokens, extra])
    return count, flat, starts


@dataclass
class LineBatch:
    """What a worker makes of a batch of raw JSON Lines: the samples' ids and formats, the records that are not
    samples, and the samples' metric columns (duplicate flags aside) with their duplicate keys."""

    ids: list[str]
    formats: list[str]
    errors: list[SampleError]
    columns: dict[str, np.ndarray]
    failure: str | None = None  # why the batch could not be profiled (every sample then gets this error)


def profile_lines(
    label: str,
    items: Sequence[tuple[int, int, bytes | SampleError]],
    settings: ProfileSettings,
    threads: int = 1,
) -> LineBatch:
    """Parse and normalize raw JSON Lines ``(index, line number, bytes)`` and profile the samples among them."""
    samples: list[Sample] = []
    errors: list[SampleError] = []
    for index, lineno, raw in items:
        record = raw if isinstance(raw, SampleError) else parse_jsonl_line(raw, index, lineno)
        item = record if isinstance(record, SampleError) else normalize_record(record, index)
        if isinstance(item, SampleError):
            item.source = label
            errors.append(item)
        else:
            samples.append(item)
    rows: list[Row] = [(s.instruction, s.input, s.response, s.think) for s in samples]
    ids, formats = [s.id for s in samples], [s.format for s in samples]
    try:
        columns = profile_rows(rows, settings, threads) if rows else {}
    except Exception as exc:  # every sample of the batch gets the error; the run goes on
        return LineBatch(ids, formats, errors, {}, f"batch failed: {type(exc).__name__}: {str(exc)[:300]}")
    return LineBatch(ids, formats, errors, columns)


#: deflate never looks further back than ``2**wbits - 262`` bytes (its window less the lookahead it keeps), so a
#: text no longer than that compresses to the same deflate stream with any window from ``wbits`` up: only the
#: 2-byte header, which names the window, differs, and the size is the same. The small window is much cheaper to
#: set up than the default one, which matters for texts of a few kilobytes.
SMALL_WINDOW_BITS = 12
SMALL_WINDOW_TEXT = (1 << SMALL_WINDOW_BITS) - 262


def compressed_size(raw: bytes) -> int:
    """``len(zlib.compress(raw, 9))``, computed with a 4 KiB window when ``raw`` fits in it."""
    wbits = SMALL_WINDOW_BITS if len(raw) <= SMALL_WINDOW_TEXT else zlib.MAX_WBITS
    return len(zlib.compress(raw, 9, wbits))


def _compress_ratio(text: str, utf8: bytes | None = None) -> float:
    """Compressed / raw size of the text's UTF-8 bytes (lone surrogates left out); ``utf8``: those bytes when
    already at hand."""
    raw = utf8 if utf8 is not None else text.encode("utf-8", errors="ignore")
    return round(compressed_size(raw) / len(raw), 4) if raw else 0.0


def _worker_context() -> Any:
    """Workers are forked from a clean server process that has imported the main module and
    ``scoring.worker_warmup`` once (``forkserver``), so none of them loads the vocabulary again."""
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["__main__", "scoring.worker_warmup"])
    return ctx


def _worker_init() -> None:
    from scoring.tokens import o200k_fast, o200k_token_bytes

    o200k_fast()
    o200k_token_bytes()


def default_workers() -> int:
    """Worker processes for a run: one per core, none on a single core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores if cores > 1 else 0


@register
class HeuristicScorer(Scorer):
    """Lengths, think traces, lexical diversity, compression, token statistics and duplicates in one pass."""

    name = "heuristic_profile"
    family = Family.HEURISTIC
    description = (
        "Lengths (chars, o200k tokens), think traces, PureThink, TTR/MTLD/HD-D, logical words, compression ratio, "
        "token entropy, unique token bigrams, exact and MinHash near-duplicates"
    )
    requires = ("quicktok", "numpy")
    metrics = (
        Metric("instruction_chars", Axis.Q, "instruction (with input) length in characters"),
        Metric("instruction_tokens", Axis.Q, "instruction (with input) length in o200k_base tokens"),
        Metric(
            "instruction_exact_dup", Axis.Q, "1 if an earlier sample has the same instruction", scale=(0, 1)
        ),
        Metric("response_chars", Axis.QA, "response length in characters"),
        Metric("response_tokens", Axis.QA, "response length in o200k_base tokens"),
        Metric("chars", Axis.QA, "instruction, input and response length in characters (StrLength)"),
        Metric(
            "tokens", Axis.QA, "instruction, input and response length in o200k_base tokens (TokenLength)"
        ),
        Metric("think_tokens", Axis.QA, "think-trace length in o200k_base tokens (0 without one)"),
        Metric(
            "has_think", Axis.QA, "1 if the response carries a think trace or tag (ThinkOrNot)", scale=(0, 1)
        ),
        Metric(
            "pure_think",
            Axis.QA,
            "code only outside the think trace: -2 no think, -1 no code, 0 both, 1 pure",
        ),
        Metric("response_ttr", Axis.QA, "type-token ratio of the response words"),
        Metric("response_mtld", Axis.QA, "MTLD lexical diversity of the response words"),
        Metric("mtld", Axis.QA, "MTLD lexical diversity of the instruction and response words (MTLD)"),
        Metric("hdd", Axis.QA, "HD-D lexical diversity of the instruction and response words (HD-D)"),
        Metric("logical_words", Axis.QA, "reasoning connectives in the instruction and response"),
        Metric("compress_ratio", Axis.QA, "zlib-9 compressed / raw UTF-8 size of the pair"),
        Metric("token_entropy", Axis.QA, "entropy in bits of the pair's o200k token distribution"),
        Metric("unique_2token", Axis.QA, "distinct o200k token bigrams / bigrams of the pair"),
        Metric(
            "exact_dup", Axis.QA, "1 if an earlier sample has the same instruction and response", scale=(0, 1)
        ),
        Metric("near_dup", Axis.QA, "1 if an earlier sample is a MinHash-LSH near-duplicate", scale=(0, 1)),
    )
    batch_size = 1000

    def __init__(
        self,
        *,
        word_rule: WordRule | str = WordRule.SPLIT,
        workers: int | None = None,
        threads: int = 2,
        num_perm: int = 64,
        bands: int = 8,
        shingle: int = 5,
    ) -> None:
        self.settings = ProfileSettings(WordRule(word_rule), num_perm, bands, shingle)
        MinHasher(num_perm=num_perm, bands=bands, shingle=shingle)  # validates the parameters
        self.workers = default_workers() if workers is None else workers
        self.threads = threads
        self._exact_q = SeenSet()
        self._exact_qa = SeenSet()
        self._near = SeenSet()
        self._pool: ProcessPoolExecutor | None = None
        self._pending: deque[_Job] = deque()

    def cache_key(self) -> str:
        s = self.settings
        return f"{self.name}:o200k_base:words-{s.word_rule}:oph{s.num_perm}x{s.bands}k{s.shingle}:v2"

    # -- computing a batch, here or in a worker process

    def _run(self, fn: Callable[..., Any], size: int, *args: Any) -> Future[Any]:
        """``fn(*args, settings, threads)`` in a worker process, or here for a lone small batch."""
        if self.workers > 0 and (self._pool is not None or size >= self.batch_size):
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self.workers, mp_context=_worker_context(), initializer=_worker_init
                )
            return self._pool.submit(fn, *args, self.settings, 1)
        done: Future[Any] = Future()
        try:
            done.set_result(fn(*args, self.settings, self.threads))
        except Exception as exc:  # reported when the batch is collected, like a worker's failure
            done.set_exception(exc)
        return done

    def _start(self, samples: Sequence[Sample]) -> Future[dict[str, np.ndarray]]:
        rows: list[Row] = [(s.instruction, s.input, s.response, s.think) for s in samples]
        return self._run(profile_rows, len(rows), rows)

    def submit_lines(
        self, label: str, items: Sequence[tuple[int, int, bytes | SampleError]]
    ) -> Callable[[], LineBatch]:
        """Start parsing and profiling raw JSON Lines in a worker; the returned function gives the ``LineBatch``.
        Its duplicate flags are set by ``dedup_columns``, called in dataset order."""
        return self._run(profile_lines, len(items), label, items).result

    def dedup_columns(self, columns: dict[str, np.ndarray], keep: np.ndarray | None = None) -> ScoreColumns:
        """Set the duplicate flags of a profiled batch against every earlier sample (rows where ``keep`` is
        False are left out entirely), and return the scores."""
        if keep is not None:
            columns = {k: v[keep] for k, v in columns.items()}
        q_dup, qa_dup, near = self._dedup(
            columns.pop("_bands"), columns.pop("_q_keys"), columns.pop("_qa_keys")
        )
        columns["instruction_exact_dup"] = q_dup.astype(np.float64)
        columns["exact_dup"] = qa_dup.astype(np.float64)
        columns["near_dup"] = near.astype(np.float64)
        errors: dict[str, dict[int, str]] = {}
        for name in ("response_ttr", "response_mtld", "mtld", "hdd"):
            missing = np.flatnonzero(np.isnan(columns[name]))
            if missing.size:
                where = "the response has" if name.startswith("response") else "the sample has"
                errors[name] = {int(i): f"{where} no words" for i in missing}
        return ScoreColumns({m.name: columns[m.name] for m in self.metrics}, errors)

    def _collect_until(self, job: _Job) -> None:
        """Finish every job up to ``job`` in submission order: duplicate state follows dataset order."""
        while self._pending:
            head = self._pending.popleft()
            head.finish(self)
            if head is job:
                return

    def _dedup(self, bands: np.ndarray, q_keys: np.ndarray, qa_keys: np.ndarray) -> tuple[np.ndarray, ...]:
        q_dup = self._exact_q.check_and_add(q_keys)
        qa_dup = self._exact_qa.check_and_add(qa_keys)
        near = self._near.check_and_add(bands.ravel()).reshape(bands.shape).any(axis=1)
        return q_dup, qa_dup, near | qa_dup

    def submit(self, samples: Sequence[Sample]) -> Callable[[], ScoreColumns]:
        job = _Job(samples, self._start(samples), observe_only=False)
        self._pending.append(job)

        def result() -> ScoreColumns:
            self._collect_until(job)
            return job.result()

        return result

    def observe(self, samples: Sequence[Sample]) -> None:
        """Record already-scored samples in the duplicate sets (in order), so a resumed run flags the same ones."""
        if samples:
            self._pending.append(_Job(samples, self._start(samples), observe_only=True))

    def score_columns(self, samples: Sequence[Sample]) -> ScoreColumns:
        return self.submit(samples)()

    def score_batch(self, samples: Sequence[Sample]) -> list[dict[str, Score]]:
        return self.score_columns(samples).to_scores() if samples else []

    def close(self) -> None:
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class _Job:
    """One submitted batch: its samples, the computation, and once finished its columns or its error."""

    def __init__(
        self, samples: Sequence[Sample], future: Future[dict[str, np.ndarray]], *, observe_only: bool
    ) -> None:
        self.samples = samples
        self.future = future
        self.observe_only = observe_only
        self._columns: ScoreColumns | None = None
        self._error: BaseException | None = None

    def finish(self, scorer: HeuristicScorer) -> None:
        try:
            cols = self.future.result()
        except Exception as exc:
            self._error = exc
            return
        if self.observe_only:
            scorer._dedup(cols["_bands"], cols["_q_keys"], cols["_qa_keys"])
        else:
            self._columns = scorer.dedup_columns(cols)

    def result(self) -> ScoreColumns:
        if self._error is not None:
            raise self._error
        assert self._columns is not None
        return self._columns
