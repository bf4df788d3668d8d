"""Read OpenCompass's summary output into per-benchmark scores.

OpenCompass writes, for a run with work dir ``W`` started at time ``T``::

    W/T/summary/summary_T.csv    dataset,version,metric,mode,<model abbr>...
    W/T/summary/summary_T.txt    the same table as text: tabulate, csv and markdown sections between
                                 '^^^' and '$$$' rule lines, then the raw results

A score of ``-`` means the dataset produced no result. We read the newest run's CSV, falling back to the CSV
section of the TXT file. A missing summary, a truncated file, or a row with the wrong number of columns is a
``BenchmarkError`` naming the file: never a silent zero.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from benchmarking.presets import BenchmarkSpec, SuitePreset, normalize_name
from oda.errors import BenchmarkError

HEADER = ["dataset", "version", "metric", "mode"]


@dataclass(frozen=True)
class SummaryRow:
    dataset: str
    version: str
    metric: str
    mode: str
    scores: dict[str, float | None]


@dataclass
class Summary:
    path: Path
    models: list[str]
    rows: list[SummaryRow]


@dataclass
class BenchmarkScores:
    """Scores per suite benchmark for one model, plus what could not be mapped or had no result."""

    scores: dict[str, tuple[BenchmarkSpec, str, float]] = field(
        default_factory=dict
    )  # name -> (spec, metric, score)
    missing: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)


def find_summary(eval_dir: str | Path) -> Path:
    """The newest ``summary_*.csv`` (or ``.txt``) under an OpenCompass work dir."""
    root = Path(eval_dir)
    if not root.is_dir():
        raise BenchmarkError(f"no OpenCompass output: {root} does not exist")
    candidates = sorted(root.glob("*/summary/summary_*.csv")) or sorted(root.glob("*/summary/summary_*.txt"))
    if not candidates:
        candidates = sorted(root.glob("summary/summary_*.csv")) or sorted(root.glob("summary/summary_*.txt"))
    if not candidates:
        raise BenchmarkError(f"no OpenCompass output: no summary/summary_*.csv under {root}")
    return candidates[-1]


def _csv_section_of_txt(text: str, path: Path) -> str:
    match = re.search(r"csv format\n\^+\n(.*?)\n\$+\n", text, flags=re.S)
    if not match:
        raise BenchmarkError(
            f"{path}: truncated or malformed OpenCompass summary (no complete 'csv format' section)"
        )
    return match.group(1) + "\n"


def parse_summary(path: str | Path) -> Summary:
    """Parse a summary CSV (or TXT). Raises ``BenchmarkError`` on a missing, empty or half-written file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchmarkError(f"no OpenCompass output: {p} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchmarkError(f"{p}: unreadable OpenCompass summary: {exc}") from exc
    if p.suffix == ".txt":
        text = _csv_section_of_txt(text, p)
    if not text.strip():
        raise BenchmarkError(f"{p}: empty OpenCompass summary")
    if not text.endswith("\n"):
        raise BenchmarkError(f"{p}: truncated OpenCompass summary (the last line is incomplete)")
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    if [h.strip() for h in header[:4]] != HEADER or len(header) < 5:
        raise BenchmarkError(f"{p}: not an OpenCompass summary (header {header[:5]})")
    models = [h.strip() for h in header[4:]]
    parsed: list[SummaryRow] = []
    for lineno, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise BenchmarkError(
                f"{p}:{lineno}: truncated or malformed row ({len(row)} columns, expected {len(header)})"
            )
        scores: dict[str, float | None] = {}
        for model, cell in zip(models, row[4:], strict=True):
            cell = cell.strip()
            if cell in ("-", ""):
                scores[model] = None
                continue
            try:
                scores[model] = float(cell)
            except ValueError:
                raise BenchmarkError(f"{p}:{lineno}: score {cell!r} is not a number") from None
        parsed.append(SummaryRow(row[0].strip(), row[1].strip(), row[2].strip(), row[3].strip(), scores))
    if not parsed:
        raise BenchmarkError(f"{p}: OpenCompass summary has no rows")
    return Summary(p, models, parsed)


def scores_by_benchmark(summary: Summary, suite: SuitePreset, *, model: str | None = None) -> BenchmarkScores:
    """Map summary rows to the suite's benchmarks for one model column (the only one when ``model`` is None).

    A row maps by name or alias; subset rows (``oc_prefix``) are averaged when no group row exists. Benchmarks
    whose score is ``-`` are listed in ``missing``.
    """
    if model is None:
        if len(summary.models) != 1:
            raise BenchmarkError(f"{summary.path}: several models {summary.models}; name the one to read")
        model = summary.models[0]
    if model not in summary.models:
        raise BenchmarkError(f"{summary.path}: no column for model {model!r} (has {summary.models})")
    out = BenchmarkScores()
    subsets: dict[str, list[float]] = {}
    subset_metric: dict[str, str] = {}
    for row in summary.rows:
        score = row.scores.get(model)
        spec = suite.lookup(row.dataset)
        if spec is not None:
            if score is None:
                out.missing.append(spec.name)
            elif spec.name not in out.scores:
                out.scores[spec.name] = (spec, row.metric, score)
            continue
        prefixed = [
            b
            for b in suite.benchmarks
            if b.oc_prefix and normalize_name(row.dataset).startswith(normalize_name(b.oc_prefix))
        ]
        if prefixed:
            if score is not None:
                subsets.setdefault(prefixed[0].name, []).append(score)
                subset_metric[prefixed[0].name] = row.metric
            continue
        out.unmapped.append(row.dataset)
    for name, values in subsets.items():
        if name not in out.scores and values:
            spec_opt = suite.lookup(name)
            assert spec_opt is not None
            out.scores[name] = (spec_opt, f"naive_average({subset_metric[name]})", sum(values) / len(values))
    out.missing = [m for m in dict.fromkeys(out.missing) if m not in out.scores]
    return out
