"""Heuristic scorers are exact: hand-checked lengths, tokens, MTLD/TTR and duplicate flags."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.dedup import MinHasher, SeenSet
from scoring.heuristic import HeuristicScorer, lexical_diversity, mtld, type_token_ratio, words
from scoring.samples import Sample
from scoring.tokens import O200K_SHA256, ensure_o200k_cached, o200k_encoding


@pytest.fixture(scope="module")
def scorer() -> HeuristicScorer:
    return HeuristicScorer()


def test_o200k_is_the_real_vocabulary_built_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    path = ensure_o200k_cached()
    assert path.parent == tmp_path
    assert hashlib.sha256(path.read_bytes()).hexdigest() == O200K_SHA256
    # "Hello world" is [13225, 2375] in o200k_base
    assert o200k_encoding().encode_ordinary("Hello world") == [13225, 2375]


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
    lens, ttr, lex = lexical_diversity([text])
    assert lens[0] == len(ws)
    assert lex[0] == pytest.approx(expected_mtld) and ttr[0] == pytest.approx(expected_ttr)


def test_words_fold_case_and_split_ascii_punctuation() -> None:
    assert words("Hello, WORLD! it's 3.5") == ["hello", "world", "it", "s", "3", "5"]
    assert mtld(words("...")) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from("abcdefgh"), max_size=120), min_size=1, max_size=12))
def test_batch_lexical_diversity_equals_the_reference(texts: list[list[str]]) -> None:
    joined = [" ".join(t) for t in texts]
    _, ttr, lex = lexical_diversity(joined)
    for i, t in enumerate(joined):
        ws = words(t)
        if not ws:
            assert np.isnan(ttr[i]) and np.isnan(lex[i])
        else:
            assert ttr[i] == pytest.approx(type_token_ratio(ws), abs=1e-12)
            assert lex[i] == pytest.approx(mtld(ws), abs=1e-9)


def test_long_texts_take_the_scalar_path_with_the_same_result() -> None:
    rng = random.Random(1)
    long_text = " ".join(rng.choice([f"w{i}" for i in range(300)]) for _ in range(5000))
    _, _, lex = lexical_diversity([long_text, "a b a b a b"])
    assert lex[0] == pytest.approx(mtld(words(long_text)))
    assert lex[1] == pytest.approx(3.0)


def test_profile_values_hand_checked(scorer: HeuristicScorer) -> None:
    samples = [
        Sample(id="1", instruction="Hello world", response="a b a b a b"),
        Sample(id="2", instruction="Hi", input="there", response="<think>Hello world</think>x y z x"),
    ]
    out = scorer.score_batch(samples)
    first, second = ({k: v.value for k, v in r.items()} for r in out)
    assert first["instruction_chars"] == 11 and first["instruction_tokens"] == 2
    assert first["response_chars"] == 11 and first["has_think"] == 0 and first["think_tokens"] == 0
    assert first["response_mtld"] == pytest.approx(3.0) and first["response_ttr"] == pytest.approx(1 / 3)
    assert second["instruction_chars"] == len("Hi\n\nthere")
    assert second["has_think"] == 1 and second["think_tokens"] == 2  # "Hello world"
    assert second["response_chars"] == len("<think>Hello world</think>x y z x")
    enc = o200k_encoding()
    assert second["response_tokens"] == len(enc.encode_ordinary("<think>Hello world</think>x y z x"))


def test_duplicates_exact_and_near_across_batches() -> None:
    scorer = HeuristicScorer()
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
    r = [{k: v.value for k, v in x.items()} for x in scorer.score_batch(b1) + scorer.score_batch(b2)]
    assert [x["exact_dup"] for x in r] == [0, 1, 0, 0, 1]
    assert [x["near_dup"] for x in r] == [0, 1, 1, 0, 1]
    assert [x["instruction_exact_dup"] for x in r] == [0, 1, 1, 0, 1]


def test_observe_keeps_duplicate_state_for_resumed_runs() -> None:
    scorer = HeuristicScorer()
    s = Sample(id="a", instruction="Q", response="the same answer " * 20)
    scorer.observe([s])
    again = scorer.score_batch([Sample(id="b", instruction="Q", response="the same answer " * 20)])[0]
    assert again["exact_dup"].value == 1 and again["near_dup"].value == 1


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
    sig = mh.signatures([a, b, list(range(1000, 1400)), [], [1, 2]])
    assert mh.jaccard_estimate(sig[0], sig[1]) > 0.85
    assert mh.jaccard_estimate(sig[0], sig[2]) < 0.1
    assert (sig[3] == 0xFFFFFFFF).all()
    assert mh.band_keys(sig).shape == (5, 8)
