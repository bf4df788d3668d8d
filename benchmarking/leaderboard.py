"""Import OpenDataArena's published leaderboard (``processed_leaderboard_data.json``) as benchmark results.

The file maps a model family (``llama``, ``qwen``) to rows: the base model (``domain == "base"``), the instruct
model (``instruct``, skipped) and one row per SFT dataset with ``task_details`` (per-benchmark scores),
``size_precise`` and the dataset's Hub ``link``. Each task is mapped to the suite's benchmark by name or alias;
the benchmark's domain comes from the suite (Table 4), which also files HumanEval under Code and ARC-c under
Reasoning where the published snapshot files them under Math and Code.

Also reads ODA's scorer profiles (``processed_score_data.json``) into ``ScoreProfile`` records.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarking.presets import SuitePreset
from graph_store.models import BenchResult, ScoreProfile, ext_id, is_hf_id
from oda.errors import InputError

# The leaderboard's model-family keys and the base models they were fine-tuned from (presets' --base-model keys).
FAMILY_BASE_MODELS = {"llama": "llama3.1-8b", "qwen": "qwen2.5-7b", "qwen3": "qwen3-8b"}
LEADERBOARD_RUN_ID = "oda-leaderboard"
_HF_LINK = re.compile(r"huggingface\.co/datasets/([^/?#\s]+/[^/?#\s]+)")


@dataclass
class LeaderboardImport:
    """Results, base-model scores, dataset sizes and names read from the file, and rows that could not be read."""

    results: list[BenchResult] = field(default_factory=list)
    base_scores: dict[str, list[tuple[str, str | None, str, float]]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    unknown_tasks: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"leaderboard file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from exc


def load_name_map(path: Path | None) -> dict[str, str]:
    """``id2name.jsonl``: leaderboard display name -> Hub id."""
    if path is None or not path.exists():
        return {}
    mapping: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("origin") and row.get("target"):
                mapping[row["origin"]] = row["target"]
    return mapping


def dataset_id(row: dict[str, Any], names: dict[str, str]) -> str:
    """The dataset's node id: its Hub id from ``link``, else from the name map, else an ``ext:`` slug."""
    match = _HF_LINK.search(row.get("link") or "")
    if match and is_hf_id(match.group(1)):
        return match.group(1)
    mapped = names.get(row.get("name", ""))
    if mapped and is_hf_id(mapped):
        return mapped
    return ext_id(str(row.get("name") or row.get("id")))


def _tasks(row: dict[str, Any]) -> list[tuple[str, str, float]]:
    out = []
    for tasks in (row.get("task_details") or {}).values():
        for task in tasks:
            metrics = task.get("metrics") or []
            if metrics and isinstance(metrics[0].get("score"), int | float):
                out.append(
                    (task["task_name"], str(metrics[0].get("metric", "score")), float(metrics[0]["score"]))
                )
    return out


def import_leaderboard(
    path: str | Path, suite: SuitePreset, *, name_map: str | Path | None = None
) -> LeaderboardImport:
    """Read the leaderboard file; a row that cannot be read is recorded in ``errors`` and the import goes on."""
    p = Path(path)
    data = _load_json(p)
    if not isinstance(data, dict):
        raise InputError(f"{p}: expected {{family: [rows]}}, got {type(data).__name__}")
    names = load_name_map(Path(name_map) if name_map else p.parent / "id2name.jsonl")
    out = LeaderboardImport()
    for family, rows in data.items():
        base_model: str = FAMILY_BASE_MODELS.get(str(family), str(family))
        base_rows = [r for r in rows if r.get("domain") == "base"]
        base_scores: dict[str, float] = {}
        if base_rows:
            for task, metric, score in _tasks(base_rows[0]):
                spec = suite.lookup(task)
                if spec is None:
                    out.unknown_tasks.add(task)
                    continue
                base_scores[spec.node_id] = score
                out.base_scores.setdefault(base_model, []).append((spec.node_id, spec.domain, metric, score))
        else:
            out.errors.append(f"{family}: no base-model row; deltas are unknown")
        sft_rows = [r for r in rows if r.get("domain") not in ("base", "instruct")]
        ids: dict[int, str] = {}
        for i, row in enumerate(sft_rows):
            try:
                ids[i] = dataset_id(row, names)
            except ValueError as exc:
                out.errors.append(f"{family} row {row.get('id')}: {exc}")
        shared = {d for d in ids.values() if list(ids.values()).count(d) > 1}
        for i, d in list(ids.items()):
            if d in shared:  # several subsets of one Hub repo: each is its own dataset
                ids[i] = ext_id(str(sft_rows[i].get("name")))
                out.notes.append(f"{family}/{sft_rows[i].get('name')}: a subset of {d}; recorded as {ids[i]}")
        for i, row in enumerate(sft_rows):
            if i not in ids:
                continue
            ds = ids[i]
            tasks = _tasks(row)
            if not tasks:
                out.errors.append(f"{family}/{row.get('name')}: no task scores")
                continue
            size = str(row.get("size_precise") or "").strip()
            if size.isdigit() and int(size) > 0:
                out.sizes[ds] = int(size)
            else:
                out.errors.append(f"{family}/{row.get('name')}: no dataset size; efficiency is unknown")
            out.names[ds] = str(row.get("name") or ds)
            for task, metric, score in tasks:
                spec = suite.lookup(task)
                if spec is None:
                    out.unknown_tasks.add(task)
                    continue
                base = base_scores.get(spec.node_id)
                out.results.append(
                    BenchResult(
                        dataset=ds,
                        base_model=base_model,
                        benchmark=spec.node_id,
                        domain=spec.domain,
                        metric=metric,
                        score=score,
                        base_score=base,
                        delta=None if base is None else round(score - base, 6),
                        run_id=f"{LEADERBOARD_RUN_ID}/{family}",
                        source="leaderboard",
                    )
                )
    return out


_SUFFIXES = ("shuffle", "train", "all")


def _match_key(name: str, *, keep_org: bool = False) -> str:
    key = name.lower().replace("__", "/")
    if not keep_org:
        key = key.rsplit("/", 1)[-1]
    key = re.sub(r"[^a-z0-9]", "", key)
    for suffix in _SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix) + 3:
            key = key[: -len(suffix)]
    return key


def match_datasets(keys: list[str], known: dict[str, str]) -> dict[str, str]:
    """Map scorer-file dataset keys (``"hkust-nlp__dart-math-hard"``, ``"alpaca_gpt4"``) to known dataset ids
    (``known``: id -> display name) by normalized display name or Hub repo name; unmatched keys are left out."""
    index: dict[str, str] = {}
    for ds, name in known.items():
        for candidate in (name, ds):
            index.setdefault(_match_key(candidate), ds)
        index.setdefault(_match_key(ds, keep_org=True), ds)
    out: dict[str, str] = {}
    for k in keys:
        for candidate in (_match_key(k), _match_key(k, keep_org=True)):
            if candidate in index:
                out[k] = index[candidate]
                break
    return out


def import_score_profiles(
    path: str | Path, *, name_map: str | Path | None = None, known: dict[str, str] | None = None
) -> list[ScoreProfile]:
    """ODA's ``processed_score_data.json`` (display name -> axis -> family -> scorer -> {mean, distribution,
    range}) as ``ScoreProfile`` records, keyed by the dataset's id: matched against ``known`` datasets (id ->
    display name, e.g. from a leaderboard import), else its Hub id from the name map, else an ``ext:`` slug."""
    p = Path(path)
    data = _load_json(p)
    if not isinstance(data, dict):
        raise InputError(f"{p}: expected {{dataset: profiles}}, got {type(data).__name__}")
    names = load_name_map(Path(name_map) if name_map else p.parent / "id2name.jsonl")
    matched = match_datasets(list(data), known or {})
    profiles: list[ScoreProfile] = []
    for display, axes in data.items():
        ds = matched.get(display) or (names.get(display) if is_hf_id(names.get(display, "")) else None)
        ds = ds or (display if is_hf_id(display) else ext_id(display))
        for axis_key, families in (axes or {}).items():
            axis = "QA" if axis_key.upper().startswith("QA") else "Q"
            for family, scorers in (families or {}).items():
                for scorer, prof in (scorers or {}).items():
                    mean = prof.get("mean")
                    profiles.append(
                        ScoreProfile(
                            dataset=ds,
                            scorer=scorer,
                            axis=axis,
                            family=family,
                            mean=float(mean) if isinstance(mean, int | float) else None,
                            n=0,
                            histogram={
                                "edges": prof.get("range", []),
                                "counts": prof.get("distribution", []),
                            },
                            run_id="oda-leaderboard",
                        )
                    )
    return profiles
