"""A scoring run: stream a dataset through scorers, write per-sample JSONL, aggregate, resume after a stop.

Layout of the output folder (``-o DIR``)::

    DIR/<scorer>.jsonl       one line per sample: {"id", "scores": {metric: value|null}, "errors"?, "reasons"?}
    DIR/<scorer>.meta.json   the scorer's cache key (model, prompt version...): a rerun must match it
    DIR/input_errors.jsonl   records that could not become samples (rewritten on every run)
    DIR/profile.json         the dataset's ScoreProfiles (mean, quantiles, histogram per metric)
    DIR/run.json             the run report

A rerun into the same folder skips every (sample id, scorer) already written; only the missing ones are scored,
and the aggregates include the earlier lines. A sample that a scorer failed on gets a line with an ``errors``
entry per metric, never a value of zero. A torn last line (a killed run) is cut off, and a sample whose line records an error is
scored again, so a rerun retries what failed (the judge's cache keeps what succeeded).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from graph_store.models import ScoreProfile
from oda.errors import ConfigError, OdaError
from scoring.aggregate import MetricAggregate
from scoring.base import MetricScores, Score, ScoreColumns, Scorer
from scoring.dedup import SeenSet, hash_keys
from scoring.inputs import (
    DEFAULT_MAX_RECORD_BYTES,
    is_jsonl,
    iter_jsonl_lines,
    resolve_source,
    samples_from_files,
)
from scoring.samples import Sample, SampleError


@dataclass
class RunReport:
    """What a run did. ``profiles`` cover every sample written to the folder, earlier runs included."""

    dataset: str
    out_dir: str
    run_id: str
    samples: int = 0
    scored: dict[str, int] = field(default_factory=dict)
    resumed: dict[str, int] = field(default_factory=dict)
    sample_errors: dict[str, int] = field(default_factory=dict)
    input_errors: int = 0
    skipped: int = 0
    formats: dict[str, int] = field(default_factory=dict)
    error_reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    profiles: list[ScoreProfile] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "profiles"}
        out["profiles"] = [p.model_dump(mode="json") for p in self.profiles]
        return out


def hash_keys_of(hashes: list[int]) -> np.ndarray:
    return np.array(hashes, dtype=np.int64).view(np.uint64)


_ENCODE = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode

#: where orjson writes a float with the same characters as ``repr``: both write the shortest digits that read back
#: as the same float, and only their exponent notations differ (``repr`` switches to ``1e-05`` / ``1e+16`` below
#: 1e-4 and from 1e16 on, orjson at other bounds)
_PLAIN_FLOATS = (1e-4, 1e16)


def interleave(pieces: Sequence[str], columns: Sequence[list[str]]) -> str:
    """``pieces[0] + columns[0][i] + pieces[1] + columns[1][i] + ... + pieces[-1]`` for every row ``i``, one
    after the other: a batch of lines from one join of a list filled by slices, where a format per line would cost
    several times more."""
    rows = len(columns[0])
    width = 2 * len(columns) + 1
    flat = [""] * (rows * width)
    for k, column in enumerate(columns):
        flat[2 * k :: width] = [pieces[k]] * rows
        flat[2 * k + 1 :: width] = column
    flat[width - 1 :: width] = [pieces[-1]] * rows
    return "".join(flat)


def float_texts(values: np.ndarray) -> list[str]:
    """``repr`` of each value of a float64 column, as the result lines spell numbers.

    ``repr`` costs about half a microsecond a fractional value, a large share of writing a line; orjson formats a
    whole column at once, about ten times faster, and is used wherever it spells a value the same way."""
    if values.size == 0:
        return []
    values = np.ascontiguousarray(values, dtype=np.float64)
    texts = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY).decode()[1:-1].split(",")
    magnitude = np.abs(values)
    plain = ((magnitude >= _PLAIN_FLOATS[0]) & (magnitude < _PLAIN_FLOATS[1])) | (values == 0)
    if not plain.all():
        for i in np.flatnonzero(~plain).tolist():
            texts[i] = repr(float(values[i]))
    return texts


class _ScorerOutput:
    """The JSONL file, the done-set and the aggregates of one scorer.

    The done-set holds the ids of the lines earlier runs wrote. The ids of this run are not added to it: the run's
    own id set already turns every repeated id away before any scorer sees it, and a done-set that stays the size
    of the earlier runs keeps its look-ups free on a fresh run."""

    def __init__(self, scorer: Scorer, out_dir: Path, *, restart: bool) -> None:
        self.scorer = scorer
        self.path = out_dir / f"{scorer.name}.jsonl"
        meta_path = out_dir / f"{scorer.name}.meta.json"
        self.aggregates = {m.name: MetricAggregate(m) for m in scorer.metrics}
        self.done = SeenSet()
        self.resumed = 0
        self.errors = 0
        key = scorer.cache_key()
        if restart and self.path.exists():
            self.path.unlink()
        if meta_path.exists() and self.path.exists():
            earlier = json.loads(meta_path.read_text(encoding="utf-8")).get("cache_key")
            if earlier != key:
                raise ConfigError(
                    f"{self.path} was written by {earlier!r}, not {key!r}: use another output folder or --restart"
                )
        meta_path.write_text(json.dumps({"scorer": scorer.name, "cache_key": key}) + "\n", encoding="utf-8")
        if self.path.exists():
            self._load_existing()
        self.fh: IO[str] = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()

    def _load_existing(self) -> None:
        """Read earlier lines: complete ones are done and aggregated; lines with errors are dropped (retried)."""
        tmp = self.path.with_suffix(".jsonl.tmp")
        keys: list[int] = []
        dropped = False
        with open(self.path, "rb") as fh, open(tmp, "wb") as kept:
            for raw in fh:
                try:
                    row = json.loads(raw)
                    sid = row["id"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    dropped = True
                    break  # a torn line from a killed run: cut here
                if not raw.endswith(b"\n"):
                    dropped = True
                    break
                if row.get("errors"):
                    dropped = True  # failed samples are scored again
                    continue
                kept.write(raw)
                keys.append(hash(str(sid)))
                self._aggregate(row.get("scores", {}))
                self.resumed += 1
                if len(keys) >= 100_000:
                    self.done.check_and_add(hash_keys_of(keys))
                    keys.clear()
        if keys:
            self.done.check_and_add(hash_keys_of(keys))
        if dropped:
            os.replace(tmp, self.path)
        else:
            tmp.unlink()

    def _aggregate(self, scores: dict[str, Any]) -> None:
        for name, agg in self.aggregates.items():
            agg.add(scores.get(name))

    def write_batch(self, ids: Sequence[str], results: Sequence[MetricScores]) -> None:
        """Append one line per sample and add the values to the aggregates."""
        names = list(self.aggregates)
        columns: dict[str, list[float | None]] = {name: [] for name in names}
        lines = []
        for sample_id, result in zip(ids, results, strict=True):
            scores: dict[str, float | None] = {}
            errors: dict[str, str] = {}
            reasons: dict[str, str] = {}
            for name in names:
                score = result.get(name)
                if score is None:
                    errors[name] = "scorer returned no value"
                    value = None
                else:
                    value = score.value
                    if score.error is not None:
                        errors[name] = score.error
                        value = None
                    if score.reason:
                        reasons[name] = score.reason
                scores[name] = value
                columns[name].append(value)
            row: dict[str, Any] = {"id": sample_id, "scores": scores}
            if errors:
                row["errors"] = errors
                self.errors += 1
            if reasons:
                row["reasons"] = reasons
            lines.append(_ENCODE(row))
        for name in names:
            self.aggregates[name].add_many(columns[name])
        lines.append("")
        self.fh.write("\n".join(lines))

    def write_columns(self, ids: Sequence[str], cols: ScoreColumns) -> None:
        """Append one line per sample from columns; the same lines as ``write_batch`` would write."""
        names = list(self.aggregates)
        matrix = np.column_stack([cols.values[name] for name in names])
        for name in names:
            self.aggregates[name].add_array(cols.values[name])
        clean = ~np.isnan(matrix).any(axis=1)
        # a clean line is pieces[0] id pieces[1] value pieces[2] value ... pieces[-1]
        pieces = ['{"id": ', ', "scores": {' + _ENCODE(names[0]) + ": "]
        pieces += [f", {_ENCODE(n)}: " for n in names[1:]] + ["}}"]
        texts = [list(map(_ENCODE, ids)), *(float_texts(cols.values[name]) for name in names)]
        if clean.all():
            self.fh.write(interleave([*pieces[:-1], pieces[-1] + "\n"], texts))
            return
        template = "%s".join(pieces)
        lines = []
        for i, (row_texts, ok) in enumerate(zip(zip(*texts, strict=True), clean.tolist(), strict=True)):
            if ok:
                lines.append(template % row_texts)
                continue
            sample_id, row = ids[i], matrix[i].tolist()
            errors = {
                n: cols.errors.get(n, {}).get(i, "no value")
                for n, v in zip(names, row, strict=True)
                if v != v
            }
            scores = {n: (None if v != v else v) for n, v in zip(names, row, strict=True)}
            self.errors += 1
            lines.append(_ENCODE({"id": sample_id, "scores": scores, "errors": errors}))
        lines.append("")
        self.fh.write("\n".join(lines))

    def close(self) -> None:
        self.fh.close()


def default_out_dir(dataset: str) -> Path:
    """``.oda/scores/<dataset slug>``."""
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in dataset).strip("_") or "dataset"
    return Path(".oda") / "scores" / slug


def run_scoring(
    source: str | os.PathLike[str],
    scorers: Sequence[Scorer],
    *,
    out_dir: str | os.PathLike[str] | None = None,
    dataset: str | None = None,
    split: str | None = None,
    limit: int | None = None,
    batch_size: int | None = None,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    restart: bool = False,
    progress: Callable[[int], None] | None = None,
) -> RunReport:
    """Score a dataset with ``scorers``; see the module docstring for what is written where."""
    if not scorers:
        raise ConfigError("no scorers selected")
    dataset = dataset or str(source)
    out = Path(out_dir) if out_dir is not None else default_out_dir(dataset)
    out.mkdir(parents=True, exist_ok=True)
    report = RunReport(dataset=dataset, out_dir=str(out), run_id=uuid.uuid4().hex[:12])
    started = time.perf_counter()
    outputs = [_ScorerOutput(s, out, restart=restart) for s in scorers]
    size = batch_size or max(s.batch_size for s in scorers)
    formats: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    run_ids = SeenSet()
    pending: deque[_Pending] = deque()

    def settle(keep: int) -> None:
        while len(pending) > keep:
            done = pending.popleft()
            _finish(done, report)
            if progress:
                progress(done.batch_size)

    try:
        with open(out / "input_errors.jsonl", "w", encoding="utf-8") as err_fh:

            def record_error(err: SampleError) -> None:
                if err.kind == "skip":
                    report.skipped += 1
                else:
                    report.input_errors += 1
                reasons[err.reason.split(":")[0][:60]] += 1
                err_fh.write(
                    json.dumps({"id": err.id, "kind": err.kind, "reason": err.reason, "source": err.source})
                    + "\n"
                )

            files = resolve_source(source, split=split)
            line_scorer = outputs[0].scorer if len(outputs) == 1 else None
            if hasattr(line_scorer, "submit_lines") and all(is_jsonl(f) for f in files):
                args = (outputs[0], report, run_ids, record_error, formats, size, limit, max_record_bytes)
                _run_lines(files, *args, progress)
            else:
                batch: list[Sample] = []
                for item in samples_from_files(files, limit=limit, max_record_bytes=max_record_bytes):
                    if isinstance(item, SampleError):
                        record_error(item)
                        continue
                    formats[item.format] += 1
                    batch.append(item)
                    if len(batch) >= size:
                        pending.extend(_process(batch, outputs, report, run_ids, record_error))
                        settle(IN_FLIGHT * len(outputs))
                        batch = []
                if batch:
                    pending.extend(_process(batch, outputs, report, run_ids, record_error))
                settle(0)
    finally:
        for o in outputs:
            o.close()
            o.scorer.close()
    return _close_run(report, outputs, formats, reasons, out, started)


def _close_run(
    report: RunReport,
    outputs: list[_ScorerOutput],
    formats: Counter[str],
    reasons: Counter[str],
    out: Path,
    started: float,
) -> RunReport:
    """Fill in the report and write ``profile.json`` and ``run.json``."""
    report.formats = dict(formats)
    report.error_reasons = dict(reasons.most_common(20))
    for o in outputs:
        report.resumed[o.scorer.name] = o.resumed
        report.sample_errors[o.scorer.name] = o.errors
        for name, agg in o.aggregates.items():
            report.profiles.append(
                agg.profile(
                    dataset=report.dataset, scorer=name, family=o.scorer.family.value, run_id=report.run_id
                )
            )
    report.seconds = round(time.perf_counter() - started, 3)
    (out / "profile.json").write_text(
        json.dumps([p.model_dump(mode="json") for p in report.profiles], indent=1) + "\n", encoding="utf-8"
    )
    (out / "run.json").write_text(json.dumps(report.to_dict(), indent=1) + "\n", encoding="utf-8")
    return report


def _run_lines(
    files: list[Path],
    o: _ScorerOutput,
    report: RunReport,
    run_ids: SeenSet,
    on_error: Callable[[SampleError], None],
    formats: Counter[str],
    size: int,
    limit: int | None,
    max_record_bytes: int,
    progress: Callable[[int], None] | None,
) -> None:
    """The JSON Lines path of a scorer that parses records itself (in worker processes): this process only
    reads lines, and writes results in order as they come back."""
    scorer: Any = o.scorer
    pending: deque[tuple[Callable[[], Any], int]] = deque()

    def settle(keep: int) -> None:
        while len(pending) > keep:
            result, n_records = pending.popleft()
            _finish_lines(result(), o, report, run_ids, on_error, formats)
            if progress:
                progress(n_records)

    seen = 0
    offset = 0
    for path in files:
        chunk: list[tuple[int, int, bytes | SampleError]] = []
        last = -1
        for index, lineno, raw in iter_jsonl_lines(path, max_record_bytes=max_record_bytes):
            if limit is not None and seen >= limit:
                break
            seen += 1
            last = index
            if isinstance(raw, SampleError):
                raw.id = f"#{offset + index}"
            chunk.append((offset + index, lineno, raw))
            if len(chunk) >= size:
                pending.append((scorer.submit_lines(path.name, chunk), len(chunk)))
                settle(IN_FLIGHT)
                chunk = []
        if chunk:
            pending.append((scorer.submit_lines(path.name, chunk), len(chunk)))
        offset += last + 1
    settle(0)


def _finish_lines(
    lines: Any,
    o: _ScorerOutput,
    report: RunReport,
    run_ids: SeenSet,
    on_error: Callable[[SampleError], None],
    formats: Counter[str],
) -> None:
    """Record a parsed batch's input errors, drop repeated ids, flag duplicates and write what is new."""
    for err in lines.errors:
        on_error(err)
    if not lines.ids:
        return
    keys = hash_keys(lines.ids)
    repeated = run_ids.check_and_add(keys)
    keep = ~repeated
    for i in np.flatnonzero(repeated).tolist():
        on_error(SampleError(lines.ids[i], f"duplicate sample id {lines.ids[i]!r}: scored once only"))
    ids = [sid for sid, k in zip(lines.ids, keep.tolist(), strict=True) if k]
    formats.update(f for f, k in zip(lines.formats, keep.tolist(), strict=True) if k)
    report.samples += len(ids)
    keys = keys[keep]
    done = o.done.contains(keys)
    if lines.failure is not None:
        results: Any = [{m.name: Score.failed(lines.failure) for m in o.scorer.metrics} for _ in ids]
        todo_ids = [sid for sid, d in zip(ids, done.tolist(), strict=True) if not d]
        o.write_batch(todo_ids, results[: len(todo_ids)])
    else:
        cols = o.scorer.dedup_columns(lines.columns, keep)  # type: ignore[attr-defined]
        todo = ~done
        todo_ids = [sid for sid, t in zip(ids, todo.tolist(), strict=True) if t]
        if todo_ids:
            o.write_columns(todo_ids, cols.take(todo) if done.any() else cols)
    report.scored[o.scorer.name] = report.scored.get(o.scorer.name, 0) + len(todo_ids)


#: batches a scorer may work on ahead of the one being written: the worker processes keep busy while this process
#: writes, and a moment in which it is not scheduled (a busy machine) does not leave them without input
IN_FLIGHT = 6


@dataclass
class _Pending:
    """A batch handed to a scorer, not yet written."""

    output: _ScorerOutput
    ids: list[str]
    result: Callable[[], list[MetricScores] | ScoreColumns]
    batch_size: int


def _process(
    batch: list[Sample],
    outputs: list[_ScorerOutput],
    report: RunReport,
    run_ids: SeenSet,
    on_error: Callable[[SampleError], None],
) -> list[_Pending]:
    """Hand a batch to every scorer (skipping what earlier runs wrote); the results are written by ``_finish``."""
    keys = hash_keys(s.id for s in batch)
    repeated = run_ids.check_and_add(keys)
    if repeated.any():
        for s in (s for s, r in zip(batch, repeated, strict=True) if r):
            on_error(SampleError(s.id, f"duplicate sample id {s.id!r}: scored once only"))
        batch = [s for s, r in zip(batch, repeated, strict=True) if not r]
        keys = keys[~repeated]
    report.samples += len(batch)
    started: list[_Pending] = []
    for o in outputs:
        done = o.done.contains(keys)
        if done.any():
            todo = [s for s, d in zip(batch, done, strict=True) if not d]
            o.scorer.observe([s for s, d in zip(batch, done, strict=True) if d])
        else:
            todo = batch
        if todo:
            started.append(_Pending(o, [s.id for s in todo], o.scorer.submit(todo), len(batch)))
    return started


def _finish(p: _Pending, report: RunReport) -> None:
    """Write a handed-out batch's results; a failed batch is recorded per sample and the run goes on."""
    o = p.output
    n = len(p.ids)
    try:
        results = p.result()
        if len(results) != n:
            raise OdaError(f"scorer {o.scorer.name} returned {len(results)} results for {n} samples")
    except Exception as exc:
        reason = f"batch failed: {type(exc).__name__}: {str(exc)[:300]}"
        results = [{m.name: Score.failed(reason) for m in o.scorer.metrics} for _ in range(n)]
    if isinstance(results, ScoreColumns):
        o.write_columns(p.ids, results)
    else:
        o.write_batch(p.ids, results)
    report.scored[o.scorer.name] = report.scored.get(o.scorer.name, 0) + n
