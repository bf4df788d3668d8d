"""Think traces: closed blocks, R1's lone closing tag, empty blocks, tag variants and unclosed tags."""

from __future__ import annotations

import pytest

from scoring.heuristic import HeuristicScorer
from scoring.samples import Sample, normalize_record
from scoring.think import pure_think, split_think
from scoring.tokens import o200k_encoding


@pytest.mark.parametrize(
    ("response", "think", "answer"),
    [
        ("<think>step one</think>The answer.", "step one", "The answer."),
        ("<think>\n a \n</think>\n\nB", "a", "B"),
        ("<THINK>upper</THINK>done", "upper", "done"),
        ("<think >spaced</think >done", "spaced", "done"),
        ("<Think>\tmixed\t</tHiNk\n>done", "mixed", "done"),
        ("<think></think>Just the answer.", "", "Just the answer."),
        ("<redacted_reasoning>r</redacted_reasoning>a", "r", "a"),
        # R1-distilled: the chat template opened the block, only the closing tag is in the response
        ("First I add 2 and 2.\nThat is 4.\n</think>\n\nThe answer is 4.", "First I add 2 and 2.\nThat is 4.",
         "The answer is 4."),
        ("</think>no trace before", "", "no trace before"),
    ],
)  # fmt: skip
def test_trace_and_answer(response: str, think: str, answer: str) -> None:
    split = split_think(response)
    assert split.tagged
    assert split.think == think
    assert split.answer == answer


def test_unclosed_tag_has_an_empty_trace_like_the_reference_scorers() -> None:
    split = split_think("<think>I am still thinking about it")
    assert split.tagged and split.think == "" and split.answer == "<think>I am still thinking about it"


def test_no_tag_no_trace() -> None:
    split = split_think("A <thinking> cap is not a tag; neither is think>.")
    assert not split.tagged and split.think is None


def test_pure_think_values() -> None:
    code = "```py\nx = 1\n```"
    assert pure_think(split_think("plain")) == -2
    assert pure_think(split_think("<think>t</think>no code here")) == -1
    assert pure_think(split_think(f"<think>{code}</think>{code}")) == 0
    assert pure_think(split_think(f"<think>t</think>{code}")) == 1


def test_sample_fields_follow_the_rules() -> None:
    r1 = normalize_record({"instruction": "2+2?", "output": "2 plus 2 is 4.\n</think>\n4"}, 0)
    assert isinstance(r1, Sample)
    assert r1.think == "2 plus 2 is 4." and r1.final_response == "4" and r1.format == "alpaca+think"
    empty = normalize_record({"instruction": "q", "output": "<think></think>a"}, 1)
    assert isinstance(empty, Sample) and empty.think == "" and empty.format == "alpaca+think"
    plain = normalize_record({"instruction": "q", "output": "a"}, 2)
    assert isinstance(plain, Sample) and plain.think is None and plain.format == "alpaca"
    field = normalize_record({"instruction": "q", "output": "a", "reasoning_content": "r"}, 3)
    assert isinstance(field, Sample) and field.think == "r"


def test_think_metrics_per_case() -> None:
    enc = o200k_encoding()
    samples = [
        Sample(id="r1", instruction="q", response="Reasoning here.\n</think>\nAnswer."),
        Sample(id="empty", instruction="q", response="<think></think>Answer."),
        Sample(id="upper", instruction="q", response="<THINK>Reasoning here.</THINK>Answer."),
        Sample(id="spaced", instruction="q", response="<think >Reasoning here.</think >Answer."),
        Sample(id="unclosed", instruction="q", response="<think>Reasoning here. Answer."),
        Sample(id="none", instruction="q", response="Answer."),
    ]
    scorer = HeuristicScorer(workers=0)
    try:
        got = {
            s.id: {k: v.value for k, v in r.items()}
            for s, r in zip(samples, scorer.score_batch(samples), strict=True)
        }
    finally:
        scorer.close()
    trace = len(enc.encode_ordinary("Reasoning here."))
    assert {k: (v["has_think"], v["think_tokens"]) for k, v in got.items()} == {
        "r1": (1, trace),
        "empty": (1, 0),
        "upper": (1, trace),
        "spaced": (1, trace),
        "unclosed": (1, 0),  # a tag, but no trace the reference scorers would count
        "none": (0, 0),
    }
    # the response length always covers the whole response, trace included
    assert got["r1"]["response_tokens"] == len(enc.encode_ordinary("Reasoning here.\n</think>\nAnswer."))
