"""LLM-as-judge against the scripted OpenAI-compatible server: validation, retries, errors, cache, concurrency."""

from __future__ import annotations

import gc
import json
import threading
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from scoring.judge import Q_AXES, QA_AXES, JudgeQAScorer, JudgeQScorer, JudgeReplyError, parse_reply
from scoring.runner import run_scoring
from scoring.samples import Sample
from standins.openai_compat import Reply, serve_openai
from tests.scoring.conftest import write_jsonl


def _answer(axes: tuple[str, ...], score: Any = 7) -> str:
    return json.dumps({a: {"score": score, "reason": f"{a} is fine"} for a in axes})


class Script:
    """Replies chosen by a marker in the instruction; counts attempts per marker (thread-safe)."""

    def __init__(self, axes: tuple[str, ...]) -> None:
        self.axes = axes
        self.attempts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Reply | str:
        text = body["messages"][-1]["content"]
        marker = next(
            (
                m
                for m in (
                    "MALFORMED_ONCE",
                    "OUT_OF_RANGE",
                    "SLOW_ONCE",
                    "E500_ONCE",
                    "E400",
                    "TRUNCATED",
                    "MISSING_AXIS",
                    "REFUSE",
                )
                if m in text
            ),
            "OK",
        )
        with self.lock:
            self.attempts[marker] += 1
            n = self.attempts[marker]
        if marker == "MALFORMED_ONCE" and n == 1:
            return Reply(content='{"Relevance": {"score": 8, ')
        if marker == "OUT_OF_RANGE":
            return Reply(content=_answer(self.axes, score=11))
        if marker == "SLOW_ONCE" and n == 1:
            return Reply(content=_answer(self.axes), delay_s=2.0)
        if marker == "E500_ONCE" and n == 1:
            return Reply(status=500)
        if marker == "E400":
            return Reply(status=400, error_message="bad request")
        if marker == "TRUNCATED":
            return Reply(content=_answer(self.axes)[:-3], finish_reason="length")
        if marker == "MISSING_AXIS":
            return Reply(content=json.dumps({"Relevance": {"score": 5, "reason": "x"}}))
        if marker == "REFUSE":
            return Reply(refusal="I cannot rate this")
        return Reply(content=_answer(self.axes, score=9 if "NINE" in text else 7))


def _scorer(server: Any, tmp_path: Path, cls: type = JudgeQAScorer, **kw: Any) -> Any:
    opts = {"concurrency": 8, "max_retries": 2, "timeout_s": 0.8, "backoff_s": 0.0}
    opts.update(kw)
    return cls(
        base_url=server.base_url, model="judge-m", api_key="t", cache_path=tmp_path / "c.sqlite", **opts
    )


def test_parse_reply_validates_every_axis() -> None:
    ok = parse_reply(
        '```json\n{"clarity": {"score": 3, "reason": "r"}, "Coherence": 4}\n```', ["Clarity", "Coherence"]
    )
    assert ok["Clarity"].score == 3 and ok["Coherence"].score == 4
    for bad, msg in [
        ("", "empty"),
        ("nope", "no JSON"),
        ('{"Clarity": {"score": 0}}', "Clarity"),
        ("{", "no JSON"),
    ]:
        with pytest.raises(JudgeReplyError, match=msg):
            parse_reply(bad, ["Clarity"])
    with pytest.raises(JudgeReplyError, match="missing"):
        parse_reply('{"Clarity": 5}', ["Clarity", "Coherence"])


def test_judge_retries_or_records_errors_never_zeros(tmp_path: Path) -> None:
    script = Script(QA_AXES)
    markers = [
        "OK NINE",
        "MALFORMED_ONCE",
        "OUT_OF_RANGE",
        "SLOW_ONCE",
        "E500_ONCE",
        "E400",
        "TRUNCATED",
        "MISSING_AXIS",
        "REFUSE",
    ]
    samples = [Sample(id=str(i), instruction=f"Task {m}", response="Answer") for i, m in enumerate(markers)]
    with serve_openai(script) as server:
        scorer = _scorer(server, tmp_path)
        results = scorer.score_batch(samples)
        scorer.close()
    by_marker = dict(zip(markers, results, strict=True))
    assert {s.value for s in by_marker["OK NINE"].values()} == {9.0}
    assert by_marker["OK NINE"]["judge_relevance"].reason == "Relevance is fine"
    for recovered in ("MALFORMED_ONCE", "SLOW_ONCE", "E500_ONCE"):
        assert {s.value for s in by_marker[recovered].values()} == {7.0}, recovered
        assert script.attempts[recovered] == 2
    for failed, fragment in [
        ("OUT_OF_RANGE", "less than or equal to 10"),
        ("TRUNCATED", "truncated"),
        ("MISSING_AXIS", "missing"),
        ("REFUSE", "refused"),
    ]:
        scores = by_marker[failed]
        assert all(s.value is None and fragment in (s.error or "") for s in scores.values()), failed
        assert "after 3 attempts" in scores["judge_clarity"].error
        assert script.attempts[failed] == 3
    assert all(s.value is None and "BadRequestError" in (s.error or "") for s in by_marker["E400"].values())
    assert script.attempts["E400"] == 1  # a 400 is not retried


def test_cache_makes_a_rerun_free_and_is_keyed_by_what_the_judge_sees(tmp_path: Path) -> None:
    script = Script(Q_AXES)
    samples = [
        Sample(id="1", instruction="Task OK", response="A"),
        Sample(id="2", instruction="Task OK", response="B"),
    ]
    with serve_openai(script) as server:
        scorer = _scorer(server, tmp_path, cls=JudgeQScorer)
        first = scorer.score_batch(samples)
        sent = len(server.requests)
        again = scorer.score_batch(samples)
        scorer.close()
        assert sent == 2 and len(server.requests) == 2  # same instruction: Q ratings are shared by the cache
        other = _scorer(server, tmp_path, cls=JudgeQScorer, prompt_version="v1")
        other.model = "another-judge"
        other.score_batch(samples[:1])
        other.close()
        assert len(server.requests) == 3  # another model is another cache key
    assert [s.value for s in first[0].values()] == [s.value for s in again[1].values()] == [7.0] * len(Q_AXES)


def test_concurrency_is_bounded(tmp_path: Path) -> None:
    samples = [Sample(id=str(i), instruction=f"Task OK {i}", response="A") for i in range(8)]
    with serve_openai(Script(QA_AXES), latency_s=0.3) as server:
        scorer = _scorer(server, tmp_path, concurrency=4, timeout_s=5)
        started = time.perf_counter()
        results = scorer.score_batch(samples)
        elapsed = time.perf_counter() - started
        scorer.close()
    assert all(s.value == 7.0 for r in results for s in r.values())
    assert 0.55 < elapsed < 3.0  # two waves of four, not one wave of eight


def test_a_closed_judge_leaves_no_event_loop_open(tmp_path: Path) -> None:
    samples = [Sample(id="1", instruction="Task OK", response="A")]
    with serve_openai(Script(QA_AXES)) as server:
        scorer = _scorer(server, tmp_path)
        scorer.score_batch(samples)
        scorer.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del scorer
        gc.collect()
    assert not [w for w in caught if "unclosed event loop" in str(w.message)]


def test_judge_in_a_run_writes_reasons_and_error_counts(tmp_path: Path) -> None:
    src = write_jsonl(
        tmp_path / "d.jsonl",
        [{"instruction": "Task OK", "output": "x"}, {"instruction": "Task OUT_OF_RANGE", "output": "y"}],
    )
    with serve_openai(Script(QA_AXES)) as server:
        report = run_scoring(src, [_scorer(server, tmp_path, max_retries=0)], out_dir=tmp_path / "out")
    relevance = next(p for p in report.profiles if p.scorer == "judge_relevance")
    assert (relevance.n, relevance.n_errors, relevance.mean) == (1, 1, 7.0)
    lines = [json.loads(x) for x in (tmp_path / "out" / "judge_qa.jsonl").read_text().splitlines()]
    assert lines[0]["reasons"]["judge_relevance"] == "Relevance is fine"
    assert lines[1]["scores"]["judge_relevance"] is None and "judge_relevance" in lines[1]["errors"]


def test_prompt_is_rendered_from_the_versioned_file_and_keeps_braces(tmp_path: Path) -> None:
    with serve_openai(Script(Q_AXES)) as server:
        scorer = _scorer(server, tmp_path, cls=JudgeQScorer, axes=["Clarity", "Difficulty"])
        text = scorer.render(Sample(id="1", instruction="Fill {{name}} in", response="r"))
        assert [m.name for m in scorer.metrics] == ["judge_difficulty", "judge_clarity"]
        assert scorer.cache_key() == "judge_q:judge-m:judge_q.v1"
        scorer.close()
    assert "Fill {{name}} in" in text and "- Clarity:" in text and "Coherence" not in text


def test_rerun_retries_failed_samples_and_reuses_cached_ones(tmp_path: Path) -> None:
    src = write_jsonl(
        tmp_path / "d.jsonl",
        [{"instruction": "Task OK", "output": "x"}, {"instruction": "Task E400", "output": "y"}],
    )
    with serve_openai(Script(QA_AXES)) as server:
        first = run_scoring(src, [_scorer(server, tmp_path)], out_dir=tmp_path / "out")
        assert first.sample_errors == {"judge_qa": 1}
    fixed = json.dumps({a: {"score": 4, "reason": "now fine"} for a in QA_AXES})
    with serve_openai([fixed]) as server:
        second = run_scoring(src, [_scorer(server, tmp_path)], out_dir=tmp_path / "out")
        assert len(server.requests) == 1  # only the failed sample is asked again
    assert second.resumed == {"judge_qa": 1} and second.sample_errors == {"judge_qa": 0}
    relevance = next(p for p in second.profiles if p.scorer == "judge_relevance")
    assert (relevance.n, relevance.n_errors, relevance.mean) == (2, 0, 5.5)
    lines = (tmp_path / "out" / "judge_qa.jsonl").read_text().splitlines()
    assert sorted(json.loads(x)["id"] for x in lines) == ["#0", "#1"]
