"""Words and lexical diversity (TTR, MTLD, HD-D) for a whole batch of texts at once, in numpy.

Two word rules:

- ``split`` (the default): lower-cased runs of characters between whitespace and punctuation (ASCII, and the
  common CJK and typographic marks ``，。、；：？！“”‘’（）【】《》…—·``), so ``"it's 3.5"`` has the words
  ``it s 3 5`` and ``"结果，因此"`` has two. Punctuation never glues two words into a new one, and a text of
  punctuation alone has no words. These are also the words the logical-word count looks up.
- ``oda``: OpenDataArena's rule, for profiles comparable with its published ones. The lower-cased text is split on
  whitespace and ASCII punctuation is deleted inside each piece, so ``"it's 3.5"`` has ``its 35``, ``"well--known"``
  is one word ``wellknown``, and a piece of punctuation alone (``"-"``, ``"..."``) is an empty word: it counts as a
  word (and as the type ``""`` in TTR and MTLD) and in HD-D's population, but not as an HD-D type.

OpenDataArena's logical-word count (``logical_word_counts``) always splits like ``split``, whatever the rule.

How a batch is processed: the lower-cased texts are joined and read as UTF-32 code points, so splitting is a few
vectorized passes whatever the script. Every word gets a 64-bit hash (a sum of per-position random products of its
code points; equal words get equal hashes and distinct words collide with probability about 2^-64), read off one
prefix sum over the batch's characters that both the rule's words and the logical words use. A stable sort of
the hashes gives each word its previous and next occurrence, and from those:

- TTR: the share of words that are their type's first occurrence in the text;
- MTLD (McCarthy & Jarvis 2010, threshold 0.72, mean of both directions): both directions of every text walk in
  lockstep, one word per step, so a batch costs one numpy step per word of its longest text; a word is new to the
  current factor when its previous occurrence lies before the factor's start (its next one after the factor's end,
  backward);
- HD-D (McCarthy & Jarvis 2010, sample size 42): type counts from the same sort, and the hypergeometric
  probability of drawing none of a type from a table of log-factorials.

The scalar functions ``words``, ``mtld``, ``type_token_ratio`` and ``hdd`` state the definitions plainly; the
tests check the batch code against them and against OpenDataArena's definitions.
"""

from __future__ import annotations

import enum
import math
import string
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MTLD_THRESHOLD = 0.72
HDD_SAMPLE = 42
#: sequences longer than this use the scalar MTLD, so one huge text never stretches a whole batch's lockstep walk
LOCKSTEP_MAX_WORDS = 4000


class WordRule(enum.StrEnum):
    """How a text is cut into words for TTR, MTLD and HD-D."""

    SPLIT = "split"
    ODA = "oda"


_DELETE_PUNCT = str.maketrans("", "", string.punctuation)
#: word separators besides whitespace: ASCII punctuation and common CJK and typographic punctuation (the set
#: OpenDataArena's logical-word count splits on)
LOGICAL_PUNCT = string.punctuation + "，。、；：？！“”‘’（）【】《》…—·"
_PUNCT_TO_SPACE = str.maketrans({c: " " for c in LOGICAL_PUNCT})
#: OpenDataArena's default logical words (reasoning connectives), matched as whole lower-cased words
_LOGICAL_WORD_LIST = """
therefore thus hence consequently since because according accordingly leading lead led leads so
calculate calculates calculated calculating calculation calculations
verify verifies verifing verified verification verifications verifier
recall recalls recalling recalled note notes noted noting think
alternatively alternative perhaps maybe however but unless wait given
"""
LOGICAL_WORDS = frozenset(_LOGICAL_WORD_LIST.split())


def words(text: str, rule: WordRule | str = WordRule.SPLIT) -> list[str]:
    """The words of ``text`` under ``rule`` (reference definition)."""
    if WordRule(rule) is WordRule.ODA:
        return [w.translate(_DELETE_PUNCT) for w in text.lower().split()]
    return text.lower().translate(_PUNCT_TO_SPACE).split()


def logical_words(text: str) -> int:
    """How many words of ``text`` are logical words (reference definition)."""
    return sum(1 for w in text.lower().translate(_PUNCT_TO_SPACE).split() if w in LOGICAL_WORDS)


def type_token_ratio(tokens: Sequence[str]) -> float | None:
    """Distinct words / words; None for a text with no words."""
    return len(set(tokens)) / len(tokens) if tokens else None


def _mtld_pass(tokens: Sequence[object], threshold: float) -> float:
    factors = 0.0
    types: set[object] = set()
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


def mtld(tokens: Sequence[object], threshold: float = MTLD_THRESHOLD) -> float | None:
    """Measure of Textual Lexical Diversity: mean of the forward and backward passes; None with no words.

    A pass that never falls to the threshold scores the word count (the usual formula divides by zero there).
    """
    if not tokens:
        return None
    return (_mtld_pass(tokens, threshold) + _mtld_pass(tokens[::-1], threshold)) / 2.0


def hdd(tokens: Sequence[str], sample: int = HDD_SAMPLE, *, ignore_empty: bool = True) -> float | None:
    """HD-D: for each type, the chance that a random draw of ``min(sample, len(tokens))`` words contains it, summed
    and divided by the draw size; None with no words. Empty words count in the population, not as types."""
    if not tokens:
        return None
    n = len(tokens)
    s = min(sample, n)
    counts: dict[str, int] = {}
    for tok in tokens:
        if tok or not ignore_empty:
            counts[tok] = counts.get(tok, 0) + 1
    total = 0.0
    for k in counts.values():
        p_none = math.comb(n - k, s) / math.comb(n, s)
        total += (1.0 - p_none) / s
    return total


# ---------------------------------------------------------------- batch machinery

_N_CODEPOINTS = 0x110000
_WS_TABLE = np.zeros(_N_CODEPOINTS, dtype=bool)
_WS_TABLE[[c for c in range(0x3001) if chr(c).isspace()]] = True
_ASCII_PUNCT = np.zeros(_N_CODEPOINTS, dtype=bool)
_ASCII_PUNCT[[ord(c) for c in string.punctuation]] = True
_LOGICAL_SEP = _WS_TABLE.copy()
_LOGICAL_SEP[[ord(c) for c in LOGICAL_PUNCT]] = True
_SPLIT_SEP = _LOGICAL_SEP

_RNG = np.random.default_rng(20240601)
_CHAR_KEYS = _RNG.integers(0, 2**64 - 1, _N_CODEPOINTS, dtype=np.uint64, endpoint=True)
_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd, so invertible modulo 2^64
_BASE_INV = np.uint64(pow(0x9E3779B97F4A7C15, -1, 2**64))
_LEN_KEY = np.uint64(0xD6E8FEB86659FD93)
_POWERS: np.ndarray = np.ones(1, dtype=np.uint64)
_INV_POWERS: np.ndarray = np.ones(1, dtype=np.uint64)


def powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``BASE**i`` and ``BASE**-i`` modulo 2^64 for ``i < n``."""
    global _POWERS, _INV_POWERS
    if n > _POWERS.size:
        size = n + n // 4 + 1024
        _POWERS = power_table(_BASE, size)
        _INV_POWERS = power_table(_BASE_INV, size)
    return _POWERS, _INV_POWERS


_POWER_BLOCK = 1024


def power_table(base: np.uint64, size: int) -> np.ndarray:
    """``base**i`` modulo 2^64 for ``i < size``.

    One running product over the whole table is a chain of dependent multiplications, about 40 ns each (a
    tenth of a second for a batch of two million characters). Here a short running product gives the first
    block of powers and another the leading power of every block; each block is then the first one times its
    leading power, in one vectorized product. Multiplication modulo 2^64 is exact, so the values are the same.
    """
    blocks = -(-size // _POWER_BLOCK)
    with np.errstate(over="ignore"):
        first = np.ones(_POWER_BLOCK, dtype=np.uint64)
        first[1:] = np.cumprod(np.full(_POWER_BLOCK - 1, base, dtype=np.uint64))
        leads = np.ones(blocks, dtype=np.uint64)
        leads[1:] = np.cumprod(np.full(blocks - 1, first[-1] * base, dtype=np.uint64))
        return (leads[:, None] * first[None, :]).ravel()[:size]


def mix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


@dataclass
class Words:
    """The words of a batch of texts: ``hashes[offsets[i]:offsets[i+1]]`` are text ``i``'s, in order, and
    ``starts`` the code-point position of each word in the joined batch."""

    hashes: np.ndarray
    starts: np.ndarray
    offsets: np.ndarray

    @property
    def lens(self) -> np.ndarray:
        return np.diff(self.offsets)


class CodePoints:
    """Lower-cased texts of a batch as one code-point array; text ``i`` starts at ``bounds[i]``."""

    def __init__(self, lowered: Sequence[str]) -> None:
        self.lens = np.fromiter(map(len, lowered), dtype=np.int64, count=len(lowered))
        self.bounds = np.zeros(len(lowered), dtype=np.int64)
        np.cumsum(self.lens[:-1] + 1, out=self.bounds[1:])
        raw = "\n".join(lowered).encode("utf-32-le", errors="surrogatepass")
        self.ci = np.frombuffer(raw, dtype="<u4").astype(np.intp)
        self._prefix: dict[int, tuple[np.ndarray | None, np.ndarray]] = {}

    def prefix_sums(self, drop_table: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray]:
        """``(kept_at, sums)``: for each position, how many characters before it are not in ``drop_table`` (None
        when none is), and the prefix sums of ``key(c) * BASE**j`` over those kept characters, ``j`` counting only
        them. Computed once per table."""
        cached = self._prefix.get(id(drop_table))
        if cached is not None:
            return cached
        ci = self.ci
        kept_at = None
        kept = ci
        if drop_table is not None:
            drop = drop_table.take(ci)
            if drop.any():
                kept = ci[~drop]
                kept_at = np.zeros(ci.size + 1, dtype=np.int64)
                np.cumsum(~drop, out=kept_at[1:])
        m = kept.size
        pw, _ = powers(m + 1)
        sums = np.zeros(m + 1, dtype=np.uint64)
        with np.errstate(over="ignore"):
            np.cumsum(_CHAR_KEYS.take(kept) * pw[:m], out=sums[1:])
        self._prefix[id(drop_table)] = (kept_at, sums)
        return kept_at, sums

    def words(self, sep_table: np.ndarray, drop_table: np.ndarray | None = None) -> Words:
        """Words between separators; characters of ``drop_table`` are deleted from inside them.

        A word's hash is a polynomial in ``BASE`` over the random keys of its kept code points, shifted to start at
        power 0, plus its length: one prefix sum over the batch's kept characters gives every word's hash, and the
        words of every separator table share it. Deleted characters are left out of that sum, so ``it's`` hashes
        as ``its``.
        """
        ci = self.ci
        n = ci.size
        inside = np.zeros(n + 2, dtype=bool)
        np.logical_not(sep_table.take(ci), out=inside[1:-1])
        edges = np.flatnonzero(inside[1:] != inside[:-1])
        starts, ends = edges[0::2], edges[1::2]
        kept_at, sums = self.prefix_sums(drop_table)
        if kept_at is not None:  # positions among the kept characters
            kept_start, kept_end = kept_at[starts], kept_at[ends]
        else:
            kept_start, kept_end = starts, ends
        _, inv_powers = powers(sums.size)
        with np.errstate(over="ignore"):
            hashes = mix64(
                (sums[kept_end] - sums[kept_start]) * inv_powers[kept_start]
                + (kept_end - kept_start).astype(np.uint64) * _LEN_KEY
            )
        offsets = np.searchsorted(starts, np.append(self.bounds, n + 1))
        return Words(hashes, starts, offsets)


def hash_words(items: Sequence[str]) -> np.ndarray:
    """The hashes ``CodePoints.words`` gives to these words (each lower-cased, without whitespace; 0 for "")."""
    cps = CodePoints(list(items))
    got = cps.words(_WS_TABLE)
    out = np.zeros(len(items), dtype=np.uint64)
    nonempty = cps.lens > 0
    out[nonempty] = got.hashes[got.offsets[:-1][nonempty]]
    return out


@dataclass
class Occurrences:
    """Where each word of a batch occurs again: ``prev``/``next`` index of the same word (-1 / n when none), and
    the words grouped by type (``by_type``: word indices, types contiguous, positions ascending within a type)."""

    prev: np.ndarray
    next: np.ndarray
    by_type: np.ndarray
    type_start: np.ndarray  # True where a new type begins in ``by_type``


def occurrences(hashes: np.ndarray) -> Occurrences:
    """Group equal hashes with one sort of ``(hash high bits, position)`` keys; exact (falls back to a stable
    argsort in the astronomically rare batch where two distinct hashes share their high bits)."""
    n = hashes.size
    shift = max(1, int(n).bit_length())
    pos_mask = np.uint64((1 << shift) - 1)
    keys = (hashes & ~pos_mask) | np.arange(n, dtype=np.uint64)
    keys.sort()
    by_type = (keys & pos_mask).astype(np.int64)
    full = hashes[by_type]
    same_high = (keys[1:] & ~pos_mask) == (keys[:-1] & ~pos_mask)
    same = full[1:] == full[:-1]
    if not np.array_equal(same, same_high):
        by_type = np.argsort(hashes, kind="stable")
        full = hashes[by_type]
        same = full[1:] == full[:-1]
    prev = np.full(n, -1, dtype=np.int64)
    nxt = np.full(n, n, dtype=np.int64)
    prev[by_type[1:][same]] = by_type[:-1][same]
    nxt[by_type[:-1][same]] = by_type[1:][same]
    type_start = np.ones(n, dtype=bool)
    type_start[1:] = ~same
    return Occurrences(prev, nxt, by_type, type_start)


def _lockstep_mtld(
    first: np.ndarray, lens: np.ndarray, prev: np.ndarray, nxt: np.ndarray, threshold: float
) -> np.ndarray:
    """MTLD of many word ranges at once: both directions of every range walk in lockstep, one word per step.

    A word is new to the current factor when its previous occurrence (forward) lies before the factor's start,
    or its next occurrence (backward) after the factor's end. Backward lanes read ``-next`` and compare with
    ``-end``, so every lane asks the same question, ``link[k] < bound``, of one array. Lanes run longest first,
    so the active lanes are always a prefix.
    """
    n = lens.size
    total = prev.size
    link = np.concatenate([prev, -nxt])
    lane_lens = np.concatenate([lens, lens])
    order = np.argsort(-lane_lens, kind="stable")
    plens = lane_lens[order]
    forward = order < n
    r = np.where(forward, order, order - n)
    step = np.where(forward, 1, -1)
    at = np.where(forward, first[r], first[r] + lens[r] - 1)  # the first word each lane reads
    cur = at + np.where(forward, 0, total) - step  # index into ``link``, one step before the first word
    bound = np.where(forward, at, -at)
    reset = np.where(forward, 1, total + 1)  # after a factor ending at index k: bound = step * k + reset
    types = np.zeros(2 * n, dtype=np.float64)
    count = np.zeros(2 * n, dtype=np.float64)
    factors = np.zeros(2 * n, dtype=np.float64)
    active_at = np.searchsorted(-plens, -np.arange(int(plens.max(initial=0))), side="left")
    for m in active_at.tolist():
        c = cur[:m]
        c += step[:m]
        t = types[:m]
        t += link[c] < bound[:m]
        k = count[:m]
        k += 1.0
        hit = t / k <= threshold  # the same comparison as the scalar definition
        if hit.any():
            idx = np.flatnonzero(hit)
            factors[idx] += 1.0
            t[idx] = 0.0
            k[idx] = 0.0
            bound[idx] = step[idx] * c[idx] + reset[idx]
    partial = count > 0
    factors[partial] += (1.0 - types[partial] / count[partial]) / (1.0 - threshold)
    flens = plens.astype(np.float64)
    lane = np.where(factors > 0, flens / np.where(factors > 0, factors, 1.0), flens)
    out = np.empty(2 * n, dtype=np.float64)
    out[order] = lane
    return (out[:n] + out[n:]) / 2.0


@dataclass
class Diversity:
    """Per-range lexical diversity; NaN where a range has no words."""

    ttr: np.ndarray
    mtld: np.ndarray


def diversity(
    w: Words, occ: Occurrences, first: np.ndarray, lens: np.ndarray, threshold: float = MTLD_THRESHOLD
) -> Diversity:
    """TTR and MTLD of word ranges ``[first[i], first[i] + lens[i])`` of ``w`` (each range inside one text)."""
    n = lens.size
    ttr = np.full(n, np.nan)
    lex = np.full(n, np.nan)
    has = lens > 0
    if not has.any():
        return Diversity(ttr, lex)
    owner = np.repeat(np.arange(n), lens)
    pos = np.arange(owner.size) - np.repeat(np.cumsum(lens) - lens - first, lens)
    distinct = np.bincount(owner, weights=(occ.prev[pos] < first[owner]), minlength=n)
    ttr[has] = distinct[has] / lens[has]
    short = has & (lens <= LOCKSTEP_MAX_WORDS)
    if short.any():
        lex[short] = _lockstep_mtld(first[short], lens[short], occ.prev, occ.next, threshold)
    for i in np.flatnonzero(has & ~short).tolist():
        seq = w.hashes[first[i] : first[i] + lens[i]].tolist()
        lex[i] = mtld(seq, threshold)
    return Diversity(ttr, lex)


_LOG_FACT = np.zeros(1, dtype=np.float64)


def _log_factorials(n: int) -> np.ndarray:
    """``log(k!)`` for ``k <= n`` (a table that grows as needed)."""
    global _LOG_FACT
    if n >= _LOG_FACT.size:
        size = max(n + 1, 2 * _LOG_FACT.size, 1024)
        _LOG_FACT = np.array([math.lgamma(k + 1.0) for k in range(size)], dtype=np.float64)
    return _LOG_FACT


def hdd_batch(w: Words, occ: Occurrences, empty_hash: int | None, sample: int = HDD_SAMPLE) -> np.ndarray:
    """HD-D of each text of ``w``; NaN for a text with no words. Words whose hash is ``empty_hash`` (the empty
    word) count in the population but are not types."""
    lens = w.lens
    n_texts = lens.size
    out = np.full(n_texts, np.nan)
    if w.hashes.size == 0:
        return out
    owner = np.repeat(np.arange(n_texts), lens)[occ.by_type]
    new_group = occ.type_start.copy()
    new_group[1:] |= owner[1:] != owner[:-1]
    group_start = np.flatnonzero(new_group)
    counts = np.diff(np.append(group_start, owner.size))
    g_owner = owner[group_start]
    big_n = lens[g_owner]
    s = np.minimum(sample, big_n)
    lf = _log_factorials(int(lens.max()))
    rest = big_n - counts
    possible = rest >= s
    log_p = lf[np.maximum(rest, 0)] - lf[np.maximum(rest - s, 0)] - lf[big_n] + lf[big_n - s]
    p_none = np.where(possible, np.exp(np.where(possible, log_p, 0.0)), 0.0)
    contrib = (1.0 - p_none) / s
    if empty_hash is not None:
        contrib[w.hashes[occ.by_type[group_start]] == np.uint64(empty_hash)] = 0.0
    total = np.bincount(g_owner, weights=contrib, minlength=n_texts)
    has = lens > 0
    out[has] = total[has]
    return out


_LOGICAL_HASHES = np.sort(hash_words(sorted(LOGICAL_WORDS)))


def _slot_table(hashes: np.ndarray, bits: int = 12) -> tuple[int, np.ndarray]:
    """``(shift, table)``: a direct-mapped table of ``2**bits`` slots holding each hash at slot
    ``(hash >> shift) & mask``, for the first shift that puts no two in one slot. Every other slot holds a hash
    that belongs elsewhere, so ``table[slot(h)] == h`` exactly when ``h`` is one of ``hashes``."""
    mask = (1 << bits) - 1
    for shift in range(64 - bits + 1):
        slots = (hashes >> np.uint64(shift)) & np.uint64(mask)
        if np.unique(slots).size == hashes.size:
            table = np.full(mask + 1, hashes[0], dtype=np.uint64)  # overwritten at its own slot below
            table[slots.astype(np.int64)] = hashes
            return shift, table
    raise ValueError("no collision-free slot table")


_LOGICAL_SHIFT, _LOGICAL_TABLE = _slot_table(_LOGICAL_HASHES)


def logical_word_counts(cps: CodePoints, rule_words: Words | None = None) -> np.ndarray:
    """How many words of each text are logical words (whitespace, ASCII and CJK punctuation separate words).
    ``rule_words`` are the batch's words under the ``split`` rule, which separates words the same way.

    ASCII punctuation separates these words, so none is inside one: the words hash the same with it deleted, and
    they share the prefix sums of the ``oda`` rule's words when those were computed first."""
    return count_logical(rule_words if rule_words is not None else cps.words(_LOGICAL_SEP, _ASCII_PUNCT))


def count_logical(w: Words) -> np.ndarray:
    """How many of each text's words are logical words."""
    slots = (w.hashes >> np.uint64(_LOGICAL_SHIFT)) & np.uint64(_LOGICAL_TABLE.size - 1)
    hit = _LOGICAL_TABLE.take(slots.astype(np.intp)) == w.hashes
    running = np.zeros(hit.size + 1, dtype=np.int64)
    np.cumsum(hit, out=running[1:])
    return np.diff(running[w.offsets]).astype(np.float64)


def words_for_rule(cps: CodePoints, rule: WordRule) -> Words:
    """The words of every text of ``cps`` under ``rule``."""
    if rule is WordRule.ODA:
        return cps.words(_WS_TABLE, _ASCII_PUNCT)
    return cps.words(_SPLIT_SEP)


def _empty_word_hash() -> int:
    """The hash of the empty word (a piece of punctuation alone under the ``oda`` rule)."""
    return int(CodePoints(["-"]).words(_WS_TABLE, _ASCII_PUNCT).hashes[0])


EMPTY_WORD_HASH = _empty_word_hash()
