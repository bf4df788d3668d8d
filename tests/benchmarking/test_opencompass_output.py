"""Parsing OpenCompass summaries (recorded-format fixtures) and the bad-input cases."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarking.opencompass_output import find_summary, parse_summary, scores_by_benchmark
from benchmarking.presets import PresetRegistry
from oda.errors import BenchmarkError

from .conftest import FIXTURES

CSV = FIXTURES / "summary_20250727_101500.csv"
TXT = FIXTURES / "summary_20250727_101500.txt"


@pytest.mark.parametrize("path", [CSV, TXT])
def test_summary_maps_to_suite_benchmarks(registry: PresetRegistry, path: Path) -> None:
    summary = parse_summary(path)
    assert summary.models == ["qwen2.5-7b-alpaca"]
    mapped = scores_by_benchmark(summary, registry.suite("oda"))
    scores = {name: score for name, (_, _, score) in mapped.scores.items()}
    assert scores["DROP"] == 71.25
    assert scores["GSM8K"] == 85.37
    assert scores["HumanEval"] == 79.88
    assert scores["LiveCodeBench(v5)"] == 12.40
    assert scores["GPQA"] == 31.31
    assert scores["MMLU-PRO"] == pytest.approx(55.0)  # mean of its two subsets
    assert mapped.scores["GSM8K"][0].hf_id == "openai/gsm8k"
    assert mapped.missing == ["MATH-500"]  # '-' is a missing result, never a zero
    assert mapped.unmapped == ["some_other_set"]


def test_find_summary_takes_the_newest_run(tmp_path: Path) -> None:
    for stamp in ("20250101_000000", "20250727_101500"):
        (tmp_path / stamp / "summary").mkdir(parents=True)
        shutil.copy(CSV, tmp_path / stamp / "summary" / f"summary_{stamp}.csv")
    assert find_summary(tmp_path).name == "summary_20250727_101500.csv"


def test_missing_output_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkError, match="no OpenCompass output"):
        find_summary(tmp_path / "nowhere")
    (tmp_path / "eval").mkdir()
    with pytest.raises(BenchmarkError, match="no OpenCompass output"):
        find_summary(tmp_path / "eval")


def test_half_written_csv_is_an_error(tmp_path: Path) -> None:
    text = CSV.read_text()
    cut = tmp_path / "summary_x.csv"
    cut.write_text(text[: text.index("85.37") + 2])  # stops in the middle of a row
    with pytest.raises(BenchmarkError, match="truncated"):
        parse_summary(cut)
    short_row = tmp_path / "summary_y.csv"
    short_row.write_text(text.replace("gsm8k,1d7fe4,accuracy,gen,85.37", "gsm8k,1d7fe4,accuracy"))
    with pytest.raises(BenchmarkError, match="malformed row"):
        parse_summary(short_row)
    empty = tmp_path / "summary_z.csv"
    empty.write_text("")
    with pytest.raises(BenchmarkError, match="empty"):
        parse_summary(empty)


def test_half_written_txt_is_an_error(tmp_path: Path) -> None:
    text = TXT.read_text()
    cut = tmp_path / "summary_x.txt"
    cut.write_text(text[: text.index("csv format") + 200])
    with pytest.raises(BenchmarkError, match="truncated"):
        parse_summary(cut)


def test_not_a_summary(tmp_path: Path) -> None:
    other = tmp_path / "summary_q.csv"
    other.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(BenchmarkError, match="not an OpenCompass summary"):
        parse_summary(other)
