"""The judge goes through the shared LLM layer: it waits as ``Retry-After`` says and falls back from JSON mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scoring.judge import Q_AXES, JudgeQScorer
from scoring.samples import Sample
from standins.openai_compat import Reply, serve_openai

RATED = json.dumps({a: {"score": 6, "reason": "fine"} for a in Q_AXES})


def _scorer(server: Any, tmp_path: Path, **kw: Any) -> JudgeQScorer:
    opts: dict[str, Any] = {"concurrency": 2, "max_retries": 2, "timeout_s": 5, "backoff_s": 0.0}
    opts.update(kw)
    return JudgeQScorer(
        base_url=server.base_url, model="judge-m", api_key="t", cache_path=tmp_path / "c.sqlite", **opts
    )


def test_the_judge_waits_as_long_as_retry_after_says(tmp_path: Path) -> None:
    with serve_openai([Reply(status=429, headers={"Retry-After": "1"}), RATED]) as server:
        scorer = _scorer(server, tmp_path)
        [scores] = scorer.score_batch([Sample(id="1", instruction="Task", response="")])
        scorer.close()
        arrived = server.received_at
    assert {s.value for s in scores.values()} == {6.0}
    assert len(arrived) == 2 and arrived[1] - arrived[0] >= 1.0
    assert scorer.requests_sent == 2


def test_the_judge_falls_back_when_json_mode_is_rejected(tmp_path: Path) -> None:
    def responder(body: dict[str, Any]) -> Reply | str:
        if "response_format" in body:
            return Reply(status=400, error_message="unsupported parameter: response_format")
        return RATED

    with serve_openai(responder) as server:
        scorer = _scorer(server, tmp_path, max_retries=0)
        [scores] = scorer.score_batch([Sample(id="1", instruction="Task", response="")])
        scorer.close()
    assert {s.value for s in scores.values()} == {6.0}
    assert [("response_format" in body) for body in server.requests] == [True, False]


def test_a_too_long_retry_after_fails_the_sample_with_the_reason(tmp_path: Path) -> None:
    with serve_openai([Reply(status=429, headers={"Retry-After": "3600"})]) as server:
        scorer = _scorer(server, tmp_path)
        [scores] = scorer.score_batch([Sample(id="1", instruction="Task", response="")])
        scorer.close()
    assert len(server.requests) == 1
    errors = {s.error for s in scores.values()}
    assert len(errors) == 1 and "retry after 3600s" in (errors.pop() or "")
