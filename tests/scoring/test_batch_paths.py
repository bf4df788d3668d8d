"""The batch code paths of the heuristic profile equal their plain definitions on random Unicode text: word hashes
from the shared prefix sums, MTLD of word ranges walked in lockstep, the logical-word table, and zlib sizes taken
with a small window."""

from __future__ import annotations

import random
import string
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.heuristic import SMALL_WINDOW_TEXT, compressed_size
from scoring.lexical import (
    EMPTY_WORD_HASH,
    LOGICAL_WORDS,
    CodePoints,
    WordRule,
    _slot_table,
    count_logical,
    diversity,
    hash_words,
    logical_word_counts,
    logical_words,
    mtld,
    occurrences,
    power_table,
    type_token_ratio,
    words,
    words_for_rule,
)

# letters of several scripts, marks, digits, ASCII and CJK punctuation, Unicode whitespace, surrogate-free
ALPHABET = st.sampled_from(
    list("abcxyzAZéÉßİıΣσςдДж中文数据😀\u0301٣²")
    + list(string.punctuation)
    + list("，。、；：？！“”‘’（）【】《》…—·")
    + [" ", " ", "\n", "\t", "\u00a0", "\u3000", "\u2003", "\x1c", "\x85", "\u200b"]
)
WORDS = st.sampled_from([*sorted(LOGICAL_WORDS), "Therefore,", "so-called", "(but)", "wait…", "it's", "x"])
TEXT = st.lists(st.one_of(ALPHABET, WORDS), max_size=120).map("".join)
# few distinct words, many repeats: MTLD factors end often, and a word often repeats the one before it
REPEATS = st.lists(st.sampled_from(["a", "b", "c", "d", "e", "a,", "B", "ß", "-"]), max_size=300).map(
    " ".join
)


@settings(max_examples=150, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=8), st.sampled_from(list(WordRule)))
def test_word_hashes_are_equal_exactly_when_words_are(texts: list[str], rule: WordRule) -> None:
    cps = CodePoints([t.lower() for t in texts])
    if rule is WordRule.ODA:
        logical_word_counts(cps)  # the logical words' pass first: both passes share the prefix sums
    w = words_for_rule(cps, rule)
    expected = [word for t in texts for word in words(t, rule)]
    assert w.hashes.size == len(expected)
    assert np.diff(w.offsets).tolist() == [len(words(t, rule)) for t in texts]
    # the same hash as the word alone, written without anything to delete
    assert w.hashes.tolist() == [
        EMPTY_WORD_HASH if not x else int(h) for x, h in zip(expected, hash_words(expected), strict=True)
    ]
    by_word: dict[str, int] = {}
    for word, h in zip(expected, w.hashes.tolist(), strict=True):
        assert by_word.setdefault(word, h) == h
    assert len(set(by_word.values())) == len(by_word)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(TEXT, REPEATS), min_size=1, max_size=8),
    st.sampled_from(list(WordRule)),
    st.randoms(use_true_random=False),
)
def test_lockstep_mtld_and_ttr_of_word_ranges_equal_the_definitions(
    texts: list[str], rule: WordRule, rng: random.Random
) -> None:
    cps = CodePoints([t.lower() for t in texts])
    w = words_for_rule(cps, rule)
    occ = occurrences(w.hashes)
    first, lens, expected = [], [], []
    for i, t in enumerate(texts):  # each text whole, and a random range inside it
        ws = words(t, rule)
        a = rng.randint(0, len(ws))
        b = rng.randint(a, len(ws))
        for lo, hi in ((0, len(ws)), (a, b)):
            first.append(int(w.offsets[i]) + lo)
            lens.append(hi - lo)
            expected.append(ws[lo:hi])
    div = diversity(w, occ, np.array(first, dtype=np.int64), np.array(lens, dtype=np.int64))
    for i, ws in enumerate(expected):
        if not ws:
            assert np.isnan(div.mtld[i]) and np.isnan(div.ttr[i])
            continue
        assert div.mtld[i] == mtld(ws)
        assert div.ttr[i] == type_token_ratio(ws)


@settings(max_examples=150, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=8))
def test_logical_word_table_counts_like_the_definition(texts: list[str]) -> None:
    cps = CodePoints([t.lower() for t in texts])
    expected = [logical_words(t) for t in texts]
    assert logical_word_counts(cps).tolist() == expected
    assert count_logical(words_for_rule(cps, WordRule.SPLIT)).tolist() == expected


def test_slot_table_holds_exactly_its_hashes() -> None:
    rng = np.random.default_rng(5)
    members = rng.integers(0, 2**64 - 1, 50, dtype=np.uint64, endpoint=True)
    shift, table = _slot_table(members)
    mask = np.uint64(table.size - 1)
    probe = np.concatenate(
        [members, rng.integers(0, 2**64 - 1, 100_000, dtype=np.uint64, endpoint=True), table]
    )
    found = table[((probe >> np.uint64(shift)) & mask).astype(np.intp)] == probe
    assert found.tolist() == np.isin(probe, members).tolist()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from([b"a", b"ab", b"the ", b"\x00", b"\xff", b"\xe6\x95\xb0", b"zq", b"\n"]),
        max_size=2500,
    ),
    st.binary(max_size=300),
)
def test_small_window_gives_the_default_compressed_size(pieces: list[bytes], noise: bytes) -> None:
    raw = b"".join(pieces) + noise
    for cut in {len(raw), SMALL_WINDOW_TEXT, SMALL_WINDOW_TEXT + 1, len(raw) // 2}:
        assert compressed_size(raw[:cut]) == len(zlib.compress(raw[:cut], 9))


@pytest.mark.parametrize(
    "size", [0, 1, SMALL_WINDOW_TEXT - 1, SMALL_WINDOW_TEXT, SMALL_WINDOW_TEXT + 1, 20_000]
)
def test_small_window_boundary_on_random_and_repetitive_bytes(size: int) -> None:
    rng = np.random.default_rng(size)
    for raw in (
        rng.bytes(size),
        (b"abcde" * size)[:size],
        bytes(rng.integers(97, 100, size, dtype=np.uint8)),
    ):
        assert compressed_size(raw) == len(zlib.compress(raw, 9))


@pytest.mark.parametrize("size", [1, 2, 1023, 1024, 1025, 70_001])
def test_power_table_holds_every_power_modulo_2_64(size: int) -> None:
    base = 0x9E3779B97F4A7C15
    table = power_table(np.uint64(base), size)
    assert table.dtype == np.uint64 and table.size == size
    running, expected = 1, []
    for _ in range(size):
        expected.append(running)
        running = running * base % 2**64
    assert table.tolist() == expected
