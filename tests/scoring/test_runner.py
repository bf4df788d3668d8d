"""Runs: per-sample JSONL keyed by id, resumable, bad data counted, profiles shaped like ODA's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from oda.errors import ConfigError
from scoring.aggregate import MetricAggregate
from scoring.base import Axis, Metric
from scoring.heuristic import HeuristicScorer
from scoring.runner import float_texts, interleave, run_scoring
from tests.scoring.conftest import SHARED_DATA, write_jsonl


def _rows(n: int) -> list[dict[str, str]]:
    return [
        {"instruction": f"Question number {i}?", "output": f"Answer {i} is here, with words {i % 7}."}
        for i in range(n)
    ]


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_bad_data_run_finishes_with_counts(tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    with open(src, "wb") as fh:
        fh.write(json.dumps({"instruction": "good", "output": "fine answer"}).encode() + b"\n")
        fh.write(json.dumps({"instruction": "empty", "output": ""}).encode() + b"\n")
        fh.write(json.dumps({"text": "no fields"}).encode() + b"\n")
        fh.write(
            json.dumps(
                {"messages": [{"role": "user", "content": "m"}, {"role": "assistant", "content": "n"}]}
            ).encode()
            + b"\n"
        )
        fh.write(b'{"instruction": "\xff\xfe", "output": "x"}\n')
        fh.write(json.dumps({"instruction": "huge", "output": "y" * 1_100_000}).encode() + b"\n")
        fh.write(json.dumps({"instruction": "!!!", "output": "..."}).encode() + b"\n")  # no words: MTLD error
    report = run_scoring(src, [HeuristicScorer()], out_dir=tmp_path / "out")
    assert report.samples == 3
    assert report.skipped == 1 and report.input_errors == 3
    assert report.formats == {"alpaca": 2, "messages": 1}
    errors = _lines(tmp_path / "out" / "input_errors.jsonl")
    assert {e["id"] for e in errors} == {"#1", "#2", "#4", "#5"}
    lines = _lines(tmp_path / "out" / "heuristic_profile.jsonl")
    no_words = next(line for line in lines if line["id"] == "#6")
    assert no_words["scores"]["response_mtld"] is None and "no words" in no_words["errors"]["response_mtld"]
    mtld_profile = next(p for p in report.profiles if p.scorer == "response_mtld")
    assert (mtld_profile.n, mtld_profile.n_errors) == (2, 1)


def test_empty_file_run_reports_zero(tmp_path: Path) -> None:
    src = tmp_path / "empty.jsonl"
    src.write_text("", encoding="utf-8")
    report = run_scoring(src, [HeuristicScorer()], out_dir=tmp_path / "out")
    assert report.samples == 0
    assert all(p.n == 0 and p.mean is None for p in report.profiles)


def test_resume_scores_only_missing_ids_and_keeps_aggregates(tmp_path: Path) -> None:
    rows = [*_rows(30), _rows(1)[0]]  # the last row duplicates the first
    src = write_jsonl(tmp_path / "d.jsonl", rows)
    out = tmp_path / "out"
    first = run_scoring(src, [HeuristicScorer()], out_dir=out, limit=12)
    assert first.scored == {"heuristic_profile": 12}
    second = run_scoring(src, [HeuristicScorer()], out_dir=out)
    assert second.resumed == {"heuristic_profile": 12}
    assert second.scored == {"heuristic_profile": 19}
    lines = _lines(out / "heuristic_profile.jsonl")
    assert sorted(line["id"] for line in lines) == sorted(f"#{i}" for i in range(31))
    full = run_scoring(src, [HeuristicScorer()], out_dir=tmp_path / "fresh")
    by_name = {p.scorer: p for p in full.profiles}
    for p in second.profiles:
        assert p.n == by_name[p.scorer].n and p.mean == pytest.approx(by_name[p.scorer].mean)
    # the duplicate of an already-scored sample is still flagged after the resume
    last = next(line for line in lines if line["id"] == "#30")
    assert last["scores"]["exact_dup"] == 1


def test_torn_last_line_is_cut_and_rescored(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "d.jsonl", _rows(5))
    out = tmp_path / "out"
    run_scoring(src, [HeuristicScorer()], out_dir=out, limit=3)
    path = out / "heuristic_profile.jsonl"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + '{"id": "#3", "scores": {"instr', encoding="utf-8")  # a killed run
    report = run_scoring(src, [HeuristicScorer()], out_dir=out)
    assert report.resumed["heuristic_profile"] == 3 and report.scored["heuristic_profile"] == 2
    assert [line["id"] for line in _lines(path)] == ["#0", "#1", "#2", "#3", "#4"]


def test_rerun_with_other_settings_is_refused(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "d.jsonl", _rows(3))
    run_scoring(src, [HeuristicScorer()], out_dir=tmp_path / "out")
    with pytest.raises(ConfigError, match="--restart"):
        run_scoring(src, [HeuristicScorer(num_perm=32, bands=4)], out_dir=tmp_path / "out")
    report = run_scoring(src, [HeuristicScorer(num_perm=32, bands=4)], out_dir=tmp_path / "out", restart=True)
    assert report.scored == {"heuristic_profile": 3}


def test_duplicate_ids_are_reported_not_scored_twice(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "d.jsonl", [{"id": "x", "instruction": "a", "output": "b"}] * 2)
    report = run_scoring(src, [HeuristicScorer()], out_dir=tmp_path / "out")
    assert report.samples == 1 and report.input_errors == 1


def test_profile_has_the_shape_of_oda_score_data(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "d.jsonl", _rows(20))
    report = run_scoring(src, [HeuristicScorer()], out_dir=tmp_path / "out", dataset="org/data")
    saved = json.loads((tmp_path / "out" / "profile.json").read_text(encoding="utf-8"))
    assert len(saved) == len(report.profiles) == len(HeuristicScorer.metrics)
    oda = json.loads(
        (SHARED_DATA / "oda-leaderboard" / "processed_score_data.json").read_text(encoding="utf-8")
    )
    oda_metric = next(iter(oda.values()))["QA_scores"]["LLM-as-Judge"]["Clarity"]
    tokens = next(p for p in report.profiles if p.scorer == "response_tokens")
    assert set(oda_metric) <= {"mean", *tokens.histogram}
    assert len(tokens.histogram["range"]) == len(tokens.histogram["distribution"])
    assert sum(tokens.histogram["counts"]) == tokens.n == 20
    assert tokens.quantiles["p5"] <= tokens.quantiles["p50"] <= tokens.quantiles["p95"]
    assert tokens.dataset == "org/data" and tokens.axis == "QA" and tokens.family == "Heuristic"


def test_rated_metric_histogram_has_one_bin_per_level() -> None:
    agg = MetricAggregate(Metric("judge_clarity", Axis.QA, "", scale=(1, 10)))
    for v in [1, 10, 10, 5, None]:
        agg.add(v)
    p = agg.profile(dataset="org/d", scorer="judge_clarity", family="LLM-as-Judge")
    assert p.histogram["range"] == [float(x) for x in range(1, 11)]
    assert p.histogram["counts"] == [1, 0, 0, 0, 1, 0, 0, 0, 0, 2]
    assert p.histogram["distribution"][-1] == 50.0
    assert (p.n, p.n_errors, p.mean) == (4, 1, 6.5)


def test_jsonl_and_parquet_runs_write_the_same_lines(tmp_path: Path) -> None:
    """JSON Lines are parsed in the scorer's workers, Parquet in this process: the results are the same."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        {
            "instruction": f"Question {i % 9}?",
            "input": "" if i % 3 else "ctx",
            "output": f"<think>t {i}</think>a {i % 4}",
        }
        for i in range(60)
    ]
    src = write_jsonl(tmp_path / "d.jsonl", rows)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "d.parquet")
    a = run_scoring(src, [HeuristicScorer()], out_dir=tmp_path / "a", batch_size=16)
    b = run_scoring(tmp_path / "d.parquet", [HeuristicScorer()], out_dir=tmp_path / "b", batch_size=16)
    assert a.samples == b.samples == 60 and a.formats == b.formats
    assert _lines(tmp_path / "a" / "heuristic_profile.jsonl") == _lines(
        tmp_path / "b" / "heuristic_profile.jsonl"
    )
    assert (
        sum(x["scores"]["instruction_exact_dup"] for x in _lines(tmp_path / "a" / "heuristic_profile.jsonl"))
        > 0
    )


def test_float_texts_spell_every_value_as_repr_does() -> None:
    rng = np.random.default_rng(5)
    n = 50_000
    values = np.concatenate(
        [
            10 ** rng.uniform(-30, 30, n) * rng.choice([-1.0, 1.0], n),  # every magnitude, both signs
            rng.random(n),
            np.round(rng.random(n), 4),
            rng.integers(-5, 10**7, n).astype(np.float64),
            # just inside the edges of plain notation, then on them
            np.nextafter(np.array([1e-4, 1e16, -1e-4, -1e16]), 0.0),
            np.array(
                [1e-4, 1e16, -1e-4, -1e16, 0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, 1.7976931348623157e308]
            ),
        ]
    )
    assert float_texts(values) == [repr(v) for v in values.tolist()]
    assert float_texts(values[::3]) == [repr(v) for v in values[::3].tolist()]  # a strided view
    assert float_texts(np.zeros(0)) == []


def test_interleave_builds_each_row_from_the_pieces() -> None:
    columns = [["a", "b", "c"], ["1", "2", "3"]]
    assert interleave(["<", "|", ">\n"], columns) == "<a|1>\n<b|2>\n<c|3>\n"
    assert interleave(["<", "|", ">"], [[], []]) == ""
