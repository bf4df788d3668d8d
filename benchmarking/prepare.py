"""Normalize a dataset (any format the scoring input layer reads) into LLaMA-Factory's alpaca JSON.

The samples are streamed through ``scoring.inputs.iter_samples`` and written one by one, so a large dataset is
never held in memory. A long chain of thought (``Sample.think``) is kept in the response inside ``<think>`` tags.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from benchmarking.render import dataset_info_entry, slugify
from oda.errors import InputError, network_error

MAX_ERRORS_KEPT = 20


@dataclass
class PreparedDataset:
    """The normalized file of one dataset and what happened while writing it."""

    source: str
    name: str
    file: Path
    n_samples: int
    n_errors: int
    errors: list[str] = field(default_factory=list)
    has_system: bool = False

    def dataset_info(self) -> dict[str, object]:
        return dataset_info_entry(self.name, self.file.name, has_system=self.has_system)


def prepare_dataset(
    source: str | os.PathLike[str],
    data_dir: Path,
    *,
    name: str | None = None,
    limit: int | None = None,
) -> PreparedDataset:
    """Write ``data_dir/<name>.json`` (alpaca format) and merge its entry into ``data_dir/dataset_info.json``.

    Raises ``InputError`` when the dataset yields no usable sample (empty, or every record malformed); the
    message names the first errors. Raises ``AcquisitionError`` when a Hub dataset cannot be reached. No
    ``*.partial`` file is left behind either way. Idempotent: running it again rewrites the same files.
    """
    name = name or slugify(str(source))
    data_dir.mkdir(parents=True, exist_ok=True)
    target = data_dir / f"{name}.json"
    partial = target.with_suffix(".json.partial")
    errors: list[str] = []
    try:
        n, n_err, has_system = _write_alpaca(source, partial, errors, limit)
    except BaseException as exc:  # nothing half-written stays behind, whatever stopped the writing
        partial.unlink(missing_ok=True)
        unreachable = network_error(exc, f"the data of {source}") if isinstance(exc, Exception) else None
        if unreachable is not None:
            raise unreachable from exc
        raise
    if n == 0:
        partial.unlink(missing_ok=True)
        detail = f"; {n_err} malformed records, e.g. {errors[0]}" if errors else " (the source is empty)"
        raise InputError(f"dataset {source} has no samples{detail}")
    partial.replace(target)
    prepared = PreparedDataset(str(source), name, target, n, n_err, errors, has_system)
    merge_dataset_info(data_dir / "dataset_info.json", prepared.dataset_info())
    return prepared


def _write_alpaca(
    source: str | os.PathLike[str], partial: Path, errors: list[str], limit: int | None
) -> tuple[int, int, bool]:
    """Stream the samples of ``source`` into ``partial`` as an alpaca JSON array: (samples, errors, has_system)."""
    from scoring.inputs import iter_samples
    from scoring.samples import SampleError

    n = n_err = 0
    has_system = False
    with partial.open("w", encoding="utf-8") as out:
        out.write("[")
        for item in iter_samples(source, limit=limit):
            if isinstance(item, SampleError):
                n_err += 1
                if len(errors) < MAX_ERRORS_KEPT:
                    errors.append(f"{item.id}: {item.reason}")
                continue
            response = item.response
            if item.think:
                response = f"<think>\n{item.think}\n</think>\n\n{response}"
            row = {"instruction": item.instruction, "input": item.input or "", "output": response}
            if item.system:
                row["system"] = item.system
                has_system = True
            out.write(("\n" if n == 0 else ",\n") + json.dumps(row, ensure_ascii=False))
            n += 1
        out.write("\n]\n")
    return n, n_err, has_system


def merge_dataset_info(path: Path, entry: dict[str, object]) -> None:
    """Add or replace entries in a ``dataset_info.json`` (written atomically)."""
    info: dict[str, object] = {}
    if path.exists():
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path} is not valid JSON: {exc}") from exc
    info.update(entry)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
