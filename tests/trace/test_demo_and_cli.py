"""The bundled demo, traced offline through the command line, and the command's contract (help, errors, JSON)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from graph_store.factory import open_store
from tests.support.oda_process import run_oda

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo"


def _oda(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return run_oda(args, cwd, timeout=600, **env)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str]:
    if not (DEMO / "snapshot").is_dir():
        pytest.skip("the demo snapshot is not built")
    work = tmp_path_factory.mktemp("demo")
    result = _oda(
        [
            "trace",
            str(DEMO / "queue.txt"),
            "--snapshot",
            str(DEMO / "snapshot"),
            "--offline",
            "--store",
            "graph",
            "--json",
        ],
        work,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return work, json.loads(result.stdout), result.stderr


def test_demo_traces_offline_with_the_expected_lineage_features(demo_run: tuple[Path, dict, str]) -> None:
    work, summary, _stderr = demo_run
    assert summary["finished"] is True
    assert summary["datasets_traced"] >= 10
    # with no LLM configured, auto says once that it uses the rules
    assert summary["notes"] == ["no LLM is configured: the auto extractor uses the rules only"]
    failures = summary["failures"]
    # the dead link is reported, and the dataset is still traced
    assert any(
        f["stage"] == "fetch" and "github.com/northwind-ai/helios-data" in f.get("url", "") for f in failures
    )
    # the 2019 dataset is dropped with its reason
    assert any(f["dataset"] == "legacy-nlp/OldQA" and "before 2020" in f["reason"] for f in failures)

    with open_store(str(work / "graph")) as store:
        nodes = {n.id: n for n in store.nodes()}
        edges = store.edges()
        # a benchmark leaks into the first queue entry three levels down
        hits = {h.dataset: h for h in store.contamination("EleutherAI/hendrycks_math")}
        helios = hits["northwind-ai/Helios-Reasoning-200K"]
        assert helios.hops == 3
        assert helios.path[-1] == "EleutherAI/hendrycks_math"
        # teacher models are edge properties, never nodes
        assert not any(key in node_id.lower() for node_id in nodes for key in ("deepseek", "gpt-4o", "qwq"))
        assert any(e.teacher == "DeepSeek-R1" for e in edges)
        # the hedged claim ("may have been adapted from SciQ") is flagged for review
        sciq = store.get_edge("northwind-ai/Helios-Reasoning-200K", "allenai/sciq")
        assert sciq is not None and sciq.status.value == "flagged"
        # evaluation-only benchmarks of the first entry are not its sources
        helios_sources = {e.source for e in edges if e.target == "northwind-ai/Helios-Reasoning-200K"}
        assert not any("aime" in s or "livecodebench" in s or "500" in s for s in helios_sources)
        assert nodes["northwind-ai/Helios-Reasoning-200K"].trace_status == "traced"
        assert "legacy-nlp/OldQA" not in nodes  # a dropped queue entry is in the report, not in the lineage
    # and the graph is readable afterwards with oda export
    exported = _oda(["export", "--format", "json", "--store", "graph"], work)
    assert exported.returncode == 0, exported.stderr[-2000:]
    data = json.loads(exported.stdout)
    assert len(data["edges"]) == len(edges)


def test_every_queue_entry_gets_a_progress_line(demo_run: tuple[Path, dict, str]) -> None:
    _work, summary, stderr = demo_run
    # HarborCode-Contest (entry 3) is traced inside entry 1's tree: it still gets its line, and the counter
    # goes 1, 2, 3, 4 without skipping
    assert "[3/4] harbor-ml/HarborCode-Contest: already traced" in stderr
    positions = [int(m) for m in re.findall(r"^\[(\d+)/4\]", stderr, flags=re.M)]
    assert sorted(set(positions)) == [1, 2, 3, 4]
    assert positions == sorted(positions)
    assert summary["queue_size"] == 4


def test_trace_help_has_examples() -> None:
    result = _oda(["trace", "--help"], ROOT)
    assert result.returncode == 0
    for option in (
        "--store",
        "--extractor",
        "--max-depth",
        "--max-branching",
        "--threshold",
        "--snapshot",
        "--offline",
        "--record",
        "--resume",
        "--json",
    ):
        assert option in result.stdout
    assert "Examples" in result.stdout


def test_bad_invocations_are_clear_errors(tmp_path: Path) -> None:
    missing = _oda(["trace", str(tmp_path / "nope.txt"), "--store", "g"], tmp_path)
    assert missing.returncode == 2 and "queue file not found" in missing.stderr
    queue = tmp_path / "q.txt"
    queue.write_text("org/name\n", encoding="utf-8")
    bad = _oda(["trace", str(queue), "--extractor", "magic", "--store", "g"], tmp_path)
    assert bad.returncode == 2 and "unknown extractor" in bad.stderr
    offline = _oda(["trace", str(queue), "--offline", "--store", "g"], tmp_path)
    assert offline.returncode == 2 and "--snapshot" in offline.stderr
    unknown = _oda(["trace", "--resume", "trace-nope", "--checkpoints", "runs.sqlite"], tmp_path)
    assert unknown.returncode == 2 and "no run" in unknown.stderr
    clash = _oda(["trace", "--resume", "trace-x", "--max-depth", "1"], tmp_path)
    assert clash.returncode == 2 and "--max-depth" in clash.stderr
    no_llm = _oda(["trace", str(queue), "--extractor", "llm", "--store", "g"], tmp_path)
    assert no_llm.returncode == 2 and "LLM" in no_llm.stderr
