"""Heuristic scorers are exact: hand-checked lengths, tokens, MTLD/TTR/HD-D, duplicate flags, and batch code that
equals the plain definitions."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.dedup import MinHasher, SeenSet, sequence_hashes
from scoring.heuristic import HeuristicScorer, ProfileSettings, profile_rows
from scoring.lexical import (
    EMPTY_WORD_HASH,
    CodePoints,
    WordRule,
    diversity,
    hdd,
    hdd_batch,
    logical_word_counts,
    logical_words,
    mtld,
    occurrences,
    type_token_ratio,
    words,
    words_for_rule,
)
from scoring.samples import Sample
from scoring.tokens import O200K_SHA256, ensure_o200k_cached, o200k_encoding, o200k_fast


@pytest.fixture()
def scorer() -> HeuristicScorer:
    s = HeuristicScorer(workers=0)
    yield s
    s.close()


def values(out: list[dict]) -> list[dict[str, float | None]]:
    return [{k: v.value for k, v in r.items()} for r in out]


def test_o200k_is_the_real_vocabulary_built_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    path = ensure_o200k_cached()
    assert path.parent == tmp_path
    assert hashlib.sha256(path.read_bytes()).hexdigest() == O200K_SHA256
    # "Hello world" is [13225, 2375] in o200k_base
    assert o200k_encoding().encode_ordinary("Hello world") == [13225, 2375]


PIECES = [
    "a", "Bc", " ", "\n", "\r\n", "/", ".", " .", "...", "'s", "'LL", "é", "\u0301", "12", "3456", "中文", "😀",
    "👍🏽", "\t", "  ", "-", "\u00a0", "\u200b", "//", "?\n", "<think>", "<|endoftext|>", "ـ", "ǅ", "Ⅷ", "²",
]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(PIECES), max_size=30).map("".join), min_size=1, max_size=20))
def test_fast_encoder_gives_tiktoken_ids_exactly(texts: list[str]) -> None:
    flat, offsets = o200k_fast().encode_batch(texts, 1, False)
    enc = o200k_encoding()
    for i, text in enumerate(texts):
        assert flat[offsets[i] : offsets[i + 1]].tolist() == enc.encode_ordinary(text)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(PIECES), min_size=1, max_size=12).map("".join),
            st.lists(st.sampled_from(PIECES), max_size=6).map("".join),
            st.lists(st.sampled_from(PIECES), min_size=1, max_size=15).map("".join),
        ),
        min_size=1,
        max_size=15,
    )
)
def test_response_tokens_read_off_the_pair_equal_encoding_the_response(
    rows: list[tuple[str, str, str]],
) -> None:
    cols = profile_rows([(i, inp, r, None) for i, inp, r in rows], ProfileSettings(), 1)
    enc = o200k_encoding()
    for k, (ins, inp, resp) in enumerate(rows):
        assert cols["response_tokens"][k] == len(enc.encode_ordinary(resp))
        pair = "\n".join(p for p in (ins, inp, resp) if p)
        assert cols["tokens"][k] == len(enc.encode_ordinary(pair))


@pytest.mark.parametrize(
    ("text", "expected_mtld", "expected_ttr"),
    [
        ("a b a b a b", 3.0, 2 / 6),  # a factor closes at every third word, both directions
        ("a a a a", 2.0, 1 / 4),
        ("a b a b c", 5.0, 3 / 5),  # one full factor each way, no partial remainder
        ("x y z x", 4 / ((1 - 0.75) / 0.28), 3 / 4),  # only a partial factor: TTR 0.75 -> 0.25/0.28
        ("one two three four", 4.0, 1.0),  # never reaches the threshold: as diverse as it is long
    ],
)
def test_mtld_and_ttr_hand_checked(text: str, expected_mtld: float, expected_ttr: float) -> None:
    ws = words(text)
    assert mtld(ws) == pytest.approx(expected_mtld)
    assert type_token_ratio(ws) == pytest.approx(expected_ttr)
    cps = CodePoints([text])
    w = words_for_rule(cps, WordRule.SPLIT)
    div = diversity(w, occurrences(w.hashes), w.offsets[:-1], w.lens)
    assert div.mtld[0] == pytest.approx(expected_mtld) and div.ttr[0] == pytest.approx(expected_ttr)


def test_hdd_hand_checked() -> None:
    # 4 words, draws of 4 (all of them): every type is surely drawn, so HD-D = types / 4
    assert hdd(["a", "b", "a", "c"]) == pytest.approx(3 / 4)
    # 50 words, one type 49 times and one once: P(no "b" in 42 of 50) = C(49,42)/C(50,42) = 8/50
    tokens = ["a"] * 49 + ["b"]
    assert hdd(tokens) == pytest.approx((1 - 0.0) / 42 + (1 - 8 / 50) / 42)


def test_word_rules() -> None:
    assert words("Hello, WORLD! it's 3.5 结果，因此 well—known") == [
        "hello", "world", "it", "s", "3", "5", "结果", "因此", "well", "known",
    ]  # fmt: skip
    assert words("Hello, WORLD! it's 3.5 - ...", "oda") == ["hello", "world", "its", "35", "", ""]
    assert mtld(words("...")) is None
    assert logical_words("Therefore, wait—so 因此，however however-ish") == 5


TEXT_PIECES = ["a", "b", "c", "It's", "3.5", "...", "-", "Größe", "x—y", "数据", "，", "therefore", "Thus,", "wait",
               "İ", "\u00a0", "\u3000", "\x1c", "naïve", "(b)", "a.b.c"]  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(TEXT_PIECES), max_size=90).map(" ".join), min_size=1, max_size=12),
    st.sampled_from(list(WordRule)),
)
def test_batch_lexical_diversity_equals_the_definitions(texts: list[str], rule: WordRule) -> None:
    cps = CodePoints([t.lower() for t in texts])
    w = words_for_rule(cps, rule)
    occ = occurrences(w.hashes)
    div = diversity(w, occ, w.offsets[:-1], w.lens)
    hd = hdd_batch(w, occ, EMPTY_WORD_HASH if rule is WordRule.ODA else None)
    logical = logical_word_counts(cps)
    for i, text in enumerate(texts):
        ws = words(text, rule)
        assert w.lens[i] == len(ws)
        assert logical[i] == logical_words(text)
        if not ws:
            assert np.isnan(div.ttr[i]) and np.isnan(div.mtld[i]) and np.isnan(hd[i])
            continue
        assert div.ttr[i] == pytest.approx(type_token_ratio(ws), abs=1e-12)
        assert div.mtld[i] == pytest.approx(mtld(ws), rel=1e-12)
        assert hd[i] == pytest.approx(hdd(ws), rel=1e-9, abs=1e-12)


def test_long_texts_take_the_scalar_mtld_path_with_the_same_result() -> None:
    rng = random.Random(1)
    long_text = " ".join(rng.choice([f"w{i}" for i in range(300)]) for _ in range(5000))
    cps = CodePoints([long_text, "a b a b a b"])
    w = words_for_rule(cps, WordRule.SPLIT)
    div = diversity(w, occurrences(w.hashes), w.offsets[:-1], w.lens)
    assert div.mtld[0] == pytest.approx(mtld(words(long_text)))
    assert div.mtld[1] == pytest.approx(3.0)


def test_profile_values_hand_checked(scorer: HeuristicScorer) -> None:
    samples = [
        Sample(id="1", instruction="Hello world", response="a b a b a b"),
        Sample(id="2", instruction="Hi", input="there", response="<think>Hello world</think>x y z x"),
    ]
    first, second = values(scorer.score_batch(samples))
    assert first["instruction_chars"] == 11 and first["instruction_tokens"] == 2
    assert first["response_chars"] == 11 and first["has_think"] == 0 and first["think_tokens"] == 0
    assert first["response_mtld"] == pytest.approx(3.0) and first["response_ttr"] == pytest.approx(1 / 3)
    assert first["chars"] == len("Hello world\na b a b a b") and first["pure_think"] == -2
    assert second["instruction_chars"] == len("Hi\n\nthere")
    assert second["has_think"] == 1 and second["think_tokens"] == 2  # "Hello world"
    assert second["response_chars"] == len("<think>Hello world</think>x y z x")
    assert second["pure_think"] == -1  # a trace, and no code in the answer
    enc = o200k_encoding()
    assert second["response_tokens"] == len(enc.encode_ordinary("<think>Hello world</think>x y z x"))
    assert second["tokens"] == len(enc.encode_ordinary("Hi\nthere\n<think>Hello world</think>x y z x"))


def test_no_words_is_an_error_not_a_zero(scorer: HeuristicScorer) -> None:
    cols = scorer.score_columns([Sample(id="1", instruction="!!!", response="...")])
    assert np.isnan(cols.values["response_mtld"][0]) and np.isnan(cols.values["hdd"][0])
    assert "no words" in cols.errors["response_mtld"][0]


def test_duplicates_exact_and_near_across_batches() -> None:
    scorer = HeuristicScorer(workers=0)
    rng = random.Random(0)
    vocab = [f"word{i}" for i in range(500)]
    base = " ".join(rng.choice(vocab) for _ in range(300))
    near = base.replace(base.split()[150], "changed", 1)
    unrelated = " ".join(rng.choice(vocab) for _ in range(300))
    b1 = [
        Sample(id="a", instruction="Summarize.", response=base),
        Sample(id="b", instruction="Summarize.", response=base),  # exact duplicate in the same batch
    ]
    b2 = [
        Sample(id="c", instruction="Summarize.", response=near),  # one word changed: near duplicate
        Sample(id="d", instruction="Other task.", response=unrelated),
        Sample(id="e", instruction="Summarize.", response=base),  # exact duplicate from an earlier batch
    ]
    r = values(scorer.score_batch(b1) + scorer.score_batch(b2))
    assert [x["exact_dup"] for x in r] == [0, 1, 0, 0, 1]
    assert [x["near_dup"] for x in r] == [0, 1, 1, 0, 1]
    assert [x["instruction_exact_dup"] for x in r] == [0, 1, 1, 0, 1]


def test_observe_keeps_duplicate_state_for_resumed_runs() -> None:
    scorer = HeuristicScorer(workers=0)
    scorer.observe([Sample(id="a", instruction="Q", response="the same answer " * 20)])
    again = scorer.score_batch([Sample(id="b", instruction="Q", response="the same answer " * 20)])[0]
    assert again["exact_dup"].value == 1 and again["near_dup"].value == 1


@pytest.mark.slow
def test_worker_processes_give_the_same_profile_as_inline() -> None:
    rng = random.Random(3)
    vocab = ["alpha", "beta", "gamma", "数据", "naïve", "wait,", "so", "<think>", "</think>", "```"]
    samples = [
        Sample(
            id=str(i),
            instruction=" ".join(rng.choices(vocab, k=8)),
            response=" ".join(rng.choices(vocab, k=60)),
        )
        for i in range(2500)
    ]
    inline, pooled = HeuristicScorer(workers=0), HeuristicScorer(workers=2)
    try:
        a = [inline.score_columns(samples[i : i + 1000]) for i in range(0, 2500, 1000)]
        handles = [pooled.submit(samples[i : i + 1000]) for i in range(0, 2500, 1000)]
        b = [h() for h in handles]
    finally:
        inline.close()
        pooled.close()
    for x, y in zip(a, b, strict=True):
        for name, col in x.values.items():
            np.testing.assert_array_equal(col, y.values[name])


def test_sequence_hashes_are_equal_for_equal_sequences() -> None:
    flat = np.array([5, 6, 7, 5, 6, 7, 5, 6, 8, 1], dtype=np.uint32)
    h = sequence_hashes(flat, np.array([0, 3, 6, 9, 9]), np.array([3, 6, 9, 10, 9]))
    assert h[0] == h[1] and h[0] != h[2] and h[3] != h[4]


def test_seen_set_is_exact_across_many_merges() -> None:
    seen = SeenSet()
    rng = np.random.default_rng(0)
    reference: set[int] = set()
    for _ in range(40):
        keys = rng.integers(0, 5000, 300, dtype=np.uint64)
        got = seen.check_and_add(keys)
        expected = []
        for k in keys.tolist():
            expected.append(k in reference)
            reference.add(k)
        assert got.tolist() == expected
    assert len(seen) == len(reference)


def test_minhash_estimates_jaccard_and_handles_short_texts() -> None:
    mh = MinHasher(num_perm=64, bands=8, shingle=5)
    a = list(range(400))
    b = list(range(400))
    b[200] = 99999
    sig = mh.signatures([a, b, list(range(1000, 1400)), [], [1, 2], [1, 2, 0, 0, 0]])
    assert mh.jaccard_estimate(sig[0], sig[1]) > 0.85
    assert mh.jaccard_estimate(sig[0], sig[2]) < 0.1
    assert (sig[3] == 0xFFFFFFFF).all()
    assert (sig[4] == sig[5]).all()  # a short text is one shingle, padded with zeros


def test_minhash_is_unbiased_against_true_jaccard() -> None:
    mh = MinHasher(num_perm=64, bands=8, shingle=5)
    rng = np.random.default_rng(0)
    errors = []
    for _ in range(150):
        base = rng.integers(0, 1000, 300).tolist()
        other = list(base)
        for i in rng.choice(300, int(rng.integers(0, 80)), replace=False):
            other[i] = int(rng.integers(10**6))

        def shingles(x: list[int]) -> set[tuple[int, ...]]:
            return {tuple(x[i : i + 5]) for i in range(len(x) - 4)}

        truth = len(shingles(base) & shingles(other)) / len(shingles(base) | shingles(other))
        sig = mh.signatures([base, other])
        errors.append(mh.jaccard_estimate(sig[0], sig[1]) - truth)
    assert abs(float(np.mean(errors))) < 0.02 and float(np.std(errors)) < 0.08
