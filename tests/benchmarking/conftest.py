"""Fixtures for the benchmarking tests: presets, tiny datasets, and job settings whose commands are the fast
stand-in ``tiny_job.py`` (real LLaMA-Factory training is exercised by the ``slow`` test)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from benchmarking.jobs import JobSettings
from benchmarking.presets import PresetRegistry, load_registry

HERE = Path(__file__).parent
SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
LEADERBOARD = SHARED_DATA / "oda-leaderboard" / "processed_leaderboard_data.json"
SCORE_DATA = SHARED_DATA / "oda-leaderboard" / "processed_score_data.json"
FIXTURES = HERE / "fixtures"


@pytest.fixture(scope="session")
def registry() -> PresetRegistry:
    return load_registry()


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def datasets(tmp_path: Path) -> dict[str, Path]:
    """Three small alpaca datasets and an empty one."""
    folder = tmp_path / "datasets"
    folder.mkdir()
    out = {}
    for name in ("alpha", "beta", "gamma"):
        out[name] = write_jsonl(
            folder / f"{name}.jsonl",
            [{"instruction": f"{name} question {i}", "output": f"{name} answer {i}"} for i in range(4)],
        )
    out["empty"] = folder / "empty.jsonl"
    out["empty"].write_text("")
    return out


@pytest.fixture
def control(tmp_path: Path) -> Path:
    folder = tmp_path / "control"
    folder.mkdir()
    return folder


def tiny_settings(work_dir: Path, control: Path, **kw: object) -> JobSettings:
    job = f"{shlex.quote(sys.executable)} {shlex.quote(str(HERE / 'tiny_job.py'))}"
    return JobSettings(
        work_dir=work_dir,
        train_command=f"{job} train {{run_dir}} {{eval_dir}}",
        eval_command=f"{job} eval {{run_dir}} {{eval_dir}}",
        env={"ODA_TEST_CONTROL": str(control)},
        **kw,  # type: ignore[arg-type]
    )


def ran(control: Path, dataset: str, step: str) -> int:
    """How many times tiny_job.py really executed ``step`` for ``dataset``."""
    import re

    key = re.sub(r"[^A-Za-z0-9]+", "-", dataset).strip("-")
    f = control / f"ran.{key}.{step}"
    return len(f.read_text().splitlines()) if f.exists() else 0
