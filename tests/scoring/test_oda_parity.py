"""Under ``--word-rule oda`` the ten timed heuristics agree with OpenDataArena's definitions.

Each ``oda_*`` function below is a plain restatement of how OpenDataArena's heuristic scorers define the metric
(its data-scorer toolkit, default settings): the text of a record is its ``instruction``, ``input`` and
``output`` joined by newlines (empty fields left out), words are whitespace-separated pieces with ASCII
punctuation deleted and lower-cased, tokens are ``o200k_base`` ids. The profile must give the same numbers,
except where the definition returns a sentinel (MTLD's -1 when every word is distinct), which the profile
replaces by a value it documents.
"""

from __future__ import annotations

import math
import re
import string
import zlib
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring.heuristic import HeuristicScorer
from scoring.samples import Sample, normalize_record
from scoring.tokens import o200k_encoding

DELETE_PUNCT = str.maketrans("", "", string.punctuation)
LOGICAL_SEPARATORS = str.maketrans({c: " " for c in string.punctuation + "，。、；：？！“”‘’（）【】《》…—·"})
LOGICAL_LIST = """Therefore Thus Hence Consequently Since Because According Accordingly Leading Lead Led Leads So
Calculate Calculates Calculated Calculating Calculation Calculations Verify Verifies Verifing Verified Verification
Verifications Verifier Recall Recalls Recalling Recalled Note Notes Noted Noting Think Alternatively Alternative
Perhaps Maybe However But Unless Wait Given"""
LOGICAL = {w.lower() for w in LOGICAL_LIST.split()}
TAGS = [
    re.compile(p, re.IGNORECASE)
    for p in (r"<think\s*>", r"</think\s*>", r"<redacted_reasoning\s*>", r"</redacted_reasoning\s*>")
]
CODE = re.compile(r"```[a-zA-Z0-9+\-#.]*\s*\n?.*?```", re.DOTALL)


# ------------------------------------------------------------------ OpenDataArena's definitions, restated


def oda_text(record: dict[str, Any]) -> str:
    return "\n".join(str(record[f]) for f in ("instruction", "input", "output") if record.get(f))


def oda_mtld(text: str, threshold: float = 0.72) -> float:
    words = text.split()
    if not words:
        return 0.0

    def one_pass(seq: list[str]) -> float:
        ttr, count, types, factors = 1.0, 0, set(), 0.0
        for raw in seq:
            token = raw.translate(DELETE_PUNCT).lower()
            count += 1
            types.add(token)
            ttr = len(types) / count
            if ttr <= threshold:
                factors += 1
                count, types, ttr = 0, set(), 1.0
        factors += (1.0 - ttr) / (1.0 - threshold)
        return len(seq) / factors if factors != 0 else -1

    return (one_pass(words) + one_pass(words[::-1])) / 2


def oda_hdd(text: str, sample_size: float = 42.0) -> float:
    words = text.split()
    if not words:
        return 0.0
    draw = min(int(sample_size), len(words))
    counts: Counter[str] = Counter()
    for raw in words:
        token = raw.translate(DELETE_PUNCT).lower()
        if token:
            counts[token] += 1
    total = 0.0
    for k in counts.values():
        p_none = float(math.comb(k, 0) * math.comb(len(words) - k, draw)) / float(math.comb(len(words), draw))
        total += (1.0 - p_none) / draw
    return total


def oda_tokens(text: str) -> list[int]:
    return o200k_encoding().encode(text, disallowed_special=())


def oda_token_entropy(text: str) -> float:
    tokens = oda_tokens(text)
    if not tokens:
        return 0.0
    return -sum(c / len(tokens) * math.log2(c / len(tokens)) for c in Counter(tokens).values())


def oda_unique_2token(text: str) -> float:
    tokens = oda_tokens(text)
    if len(tokens) < 2:
        return 0.0
    grams = [tuple(tokens[i : i + 2]) for i in range(len(tokens) - 1)]
    return len(set(grams)) / len(grams)


def oda_compress_ratio(text: str) -> float:
    raw = text.encode("utf-8", errors="ignore")
    return round(len(zlib.compress(raw, level=9)) / len(raw), 4) if raw else 0.0


def oda_logical_words(text: str) -> int:
    return sum(1 for w in text.lower().translate(LOGICAL_SEPARATORS).split() if w in LOGICAL)


def oda_think_or_not(output: str) -> float:
    return 1.0 if any(p.search(output) for p in TAGS) else 0.0


def oda_pure_think(output: str) -> float:
    if not any(p.search(output) for p in TAGS):
        return -2.0
    think = ""
    for name in ("think", "redacted_reasoning"):
        m = re.search(rf"<{name}\s*>(.*?)</{name}\s*>", output, re.IGNORECASE | re.DOTALL)
        if m:
            think = m.group(1).strip()
            break
    rest = output
    for name in ("think", "redacted_reasoning"):
        rest = re.sub(rf"<{name}\s*>.*?</{name}\s*>", "", rest, flags=re.IGNORECASE | re.DOTALL)
    if not CODE.search(rest.strip()):
        return -1.0
    return 0.0 if CODE.search(think) else 1.0


# ------------------------------------------------------------------ data

WORDS = [
    "the", "a", "model", "data", "Therefore,", "wait", "However", "so", "It's", "well-known", "3.5", "x=1;",
    "...", "-", "(note)", "naïve", "Größe", "数据，因此", "模型。", "ответ", "—", "“quoted”", "Think:", "e.g.",
    "\u00a0", "\u3000", "Calculation", "recall", "😀", "İstanbul",
]  # fmt: skip
SHAPES = [
    "{a}",
    "<think>{t}</think>{a}",
    "<THINK>\n{t}\n</THINK>\n\n{a}",
    "<think >{t}</think >{a}",
    "<think></think>{a}",
    "<think>{t}",
    "{a}\n```python\nprint(1)\n```",
    "<think>{t}\n```js\nx()\n```</think>{a}\n```\ny\n```",
    "<think>{t}</think>{a}\n```sh\nls\n```",
    "<redacted_reasoning>{t}</redacted_reasoning>{a}",
]


def phrase(draw: st.DrawFn, min_size: int = 1, max_size: int = 40) -> str:
    words = draw(st.lists(st.sampled_from(WORDS), min_size=min_size, max_size=max_size))
    seps = draw(
        st.lists(st.sampled_from([" ", " ", " ", "\n", "  ", "\t"]), min_size=len(words), max_size=len(words))
    )
    return "".join(w + s for w, s in zip(words, seps, strict=True)).strip() or "x"


@st.composite
def records(draw: st.DrawFn) -> dict[str, str]:
    shape = draw(st.sampled_from(SHAPES))
    output = shape.format(t=phrase(draw), a=phrase(draw))
    record = {"instruction": phrase(draw), "output": output}
    if draw(st.booleans()):
        record["input"] = phrase(draw, max_size=8)
    return record


def profile(rows: list[dict[str, str]]) -> list[dict[str, float | None]]:
    samples = [normalize_record(r, i) for i, r in enumerate(rows)]
    assert all(isinstance(s, Sample) for s in samples)
    scorer = HeuristicScorer(word_rule="oda", workers=0)
    try:
        return [{k: v.value for k, v in r.items()} for r in scorer.score_batch(samples)]  # type: ignore[arg-type]
    finally:
        scorer.close()


def check(record: dict[str, str], got: dict[str, float | None]) -> None:
    text = oda_text(record)
    assert got["chars"] == len(text)  # StrLength
    assert got["tokens"] == len(oda_tokens(text))  # TokenLength
    assert got["has_think"] == oda_think_or_not(record["output"])  # ThinkOrNot
    assert got["pure_think"] == oda_pure_think(record["output"])  # PureThink
    assert got["logical_words"] == oda_logical_words(text)  # LogicalWordCount
    assert got["compress_ratio"] == oda_compress_ratio(text)  # CompressRatio
    assert got["token_entropy"] == pytest.approx(
        oda_token_entropy(text), rel=1e-12, abs=1e-12
    )  # TokenEntropy
    assert got["unique_2token"] == pytest.approx(oda_unique_2token(text), rel=1e-12)  # UniqueNtoken
    assert got["hdd"] == pytest.approx(oda_hdd(text), rel=1e-9, abs=1e-12)  # HD-D
    expected_mtld = oda_mtld(text)
    if expected_mtld == -1:  # every word distinct: the profile scores the word count instead of -1
        assert got["mtld"] == len(text.split())
    else:
        assert got["mtld"] == pytest.approx(expected_mtld, rel=1e-12)  # MTLD


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records(), min_size=1, max_size=25))
def test_ten_heuristics_agree_with_oda_definitions(rows: list[dict[str, str]]) -> None:
    for record, got in zip(rows, profile(rows), strict=True):
        check(record, got)


def test_hand_picked_edge_cases_agree() -> None:
    rows = [
        {"instruction": "Why?", "output": "Because... it's well-known — “quoted”, Therefore wait!"},
        {
            "instruction": "List",
            "input": "a b",
            "output": "- - - a a a b",
        },  # empty words count in the population
        {"instruction": "Q", "output": "one two three four five"},  # every word distinct: MTLD sentinel
        {"instruction": "数据集", "output": "因此，模型。然而，wait，so"},
        {"instruction": "Code?", "output": "<think>plan\n```py\nx=1\n```</think>Here:\n```py\nx=2\n```"},
        {"instruction": "Hi", "output": "<think>unclosed reasoning ```a``` and more"},
        {"instruction": "Tags", "output": "<Think >\n</THINK >plain answer"},
        {"instruction": "x", "output": "y"},
    ]
    for record, got in zip(rows, profile(rows), strict=True):
        check(record, got)


def test_closing_tag_alone_is_read_as_r1_trace_where_oda_sees_none() -> None:
    """The one deliberate difference: R1-distilled data opens the think block in the prompt."""
    record = {
        "instruction": "Sum?",
        "output": "let me add\n```py\n1+1\n```\n</think>\nIt is 2.\n```py\nprint(2)\n```",
    }
    (got,) = profile([record])
    assert oda_pure_think(record["output"]) == 1.0  # ODA: no trace, the code is all in the answer
    assert got["pure_think"] == 0.0  # here: the trace before </think> has code too
    assert got["has_think"] == 1.0 and got["think_tokens"] > 0
