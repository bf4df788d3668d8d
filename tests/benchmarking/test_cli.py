"""``oda bench`` commands through the real CLI app: help, config, bad input, import, analyze, attach."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from oda.cli import app
from oda.errors import InputError

from .conftest import LEADERBOARD, SCORE_DATA, write_jsonl

runner = CliRunner()
COMMANDS = ["config", "submit", "status", "collect", "import-leaderboard", "analyze"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = runner.invoke(app, ["bench", command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output


def test_config_writes_the_three_files(tmp_path: Path) -> None:
    data = write_jsonl(
        tmp_path / "d.jsonl", [{"instruction": "q", "output": "a"}, {"instruction": "q2", "output": "b"}]
    )
    out = tmp_path / "cfg"
    result = runner.invoke(
        app,
        [
            "bench",
            "config",
            "--base-model",
            "llama3.1-8b",
            "--long-cot",
            "--dataset",
            str(data),
            "-o",
            str(out),
            "--no-validate",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["preset"] == "llama3.1-8b-long-cot" and info["n_samples"] == 2
    train = yaml.safe_load((out / "train.yaml").read_text())
    assert (train["cutoff_len"], train["packing"], train["learning_rate"]) == (32768, True, 3.0e-5)
    info_json = json.loads((out / "data" / "dataset_info.json").read_text())
    assert info_json[train["dataset"]]["columns"]["response"] == "output"
    assert len(json.loads((out / "data" / f"{train['dataset']}.json").read_text())) == 2
    assert "VLLMwithChatTemplate" in (out / "eval_config.py").read_text()
    job = (out / "job.sh").read_text()
    assert "#SBATCH --gpus-per-node=8" in job and "train.sh" in job and "eval.sh" in job


def test_config_bad_input(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["bench", "config", "--base-model", "qwen2.5-7", "--dataset", "x", "-o", str(tmp_path / "o")]
    )
    assert isinstance(result.exception, InputError) and "did you mean 'qwen2.5-7b'" in str(result.exception)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = runner.invoke(
        app,
        ["bench", "config", "--base-model", "qwen2.5-7b", "--dataset", str(empty), "-o", str(tmp_path / "o")],
    )
    assert isinstance(result.exception, InputError) and "has no samples" in str(result.exception)


@pytest.mark.skipif(not LEADERBOARD.exists(), reason="ODA leaderboard data not present")
def test_import_analyze_and_attach(tmp_path: Path) -> None:
    work, store_path = tmp_path / "bench", tmp_path / "graph"
    result = runner.invoke(
        app,
        [
            "bench",
            "import-leaderboard",
            str(LEADERBOARD),
            "--work-dir",
            str(work),
            "--attach",
            "--store",
            str(store_path),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["results"] == 3204 and info["datasets"] == 89
    assert info["attach"]["attached"] == 3204 and info["attach"]["rejected"] == []

    plots = tmp_path / "plots"
    result = runner.invoke(
        app,
        [
            "bench",
            "analyze",
            "--work-dir",
            str(work),
            "--scores",
            str(SCORE_DATA),
            "--plots",
            str(plots),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    analysis = json.loads(result.stdout)
    assert set(analysis["spearman_cross_model"]["llama3.1-8b vs qwen2.5-7b"]) == {
        "General",
        "Math",
        "Code",
        "Reasoning",
        "Overall",
    }
    assert len(analysis["top_efficiency"]["qwen2.5-7b"]) == 5
    assert analysis["scorer_correlation"]
    assert len(analysis["plots"]) == 3 and all(Path(p).exists() for p in analysis["plots"])

    from_store = runner.invoke(
        app, ["bench", "analyze", "--work-dir", str(work), "--store", str(store_path), "--json"]
    )
    assert from_store.exit_code == 0, from_store.output
    assert json.loads(from_store.stdout)["spearman_cross_model"] == analysis["spearman_cross_model"]

    # the results are joined onto the graph: a contamination query reports the dataset's own benchmark score
    from graph_store.factory import open_store
    from graph_store.models import Edge, Node

    with open_store(str(store_path)) as store:
        store.upsert_nodes([Node(id="openai/gsm8k", is_benchmark=True)])
        store.upsert_edges(
            [Edge(target="GAIR/lima", source="openai/gsm8k", relationship="subset", confidence=0.9)]
        )
        hits = store.contamination("openai/gsm8k")
        lima_scores = {r.score for r in store.results("GAIR/lima") if r.benchmark == "openai/gsm8k"}
    assert len(lima_scores) == 2  # one per base model
    assert [h.dataset for h in hits] == ["GAIR/lima"] and hits[0].benchmark_score in lima_scores


FAKE_EVAL = (
    "mkdir -p {eval_dir}/20250101_000000/summary && printf 'dataset,version,metric,mode,m\\n"
    "gsm8k,1,accuracy,gen,50.00\\nIFEval,1,accuracy,gen,40.00\\n' > {eval_dir}/20250101_000000/summary/summary_1.csv"
)


def test_submit_status_collect_through_the_cli(tmp_path: Path) -> None:
    queue = tmp_path / "queue.txt"
    data = write_jsonl(tmp_path / "d.jsonl", [{"instruction": "q", "output": "a"}])
    queue.write_text(f"# datasets to benchmark\n{data}\n\n{data}\n")
    work = tmp_path / "bench"
    common = ["--work-dir", str(work)]
    dry = runner.invoke(
        app,
        [
            "bench",
            "submit",
            "--datasets",
            str(queue),
            "--base-model",
            "qwen2.5-7b",
            "--executor",
            "slurm",
            "--dry-run",
            "--gpus-per-node",
            "0",
            "--json",
            *common,
        ],
    )
    assert dry.exit_code == 0, dry.output
    assert [c[0] for c in json.loads(dry.stdout)["commands"]] == ["sbatch"] * 3
    result = runner.invoke(
        app,
        [
            "bench",
            "submit",
            "--datasets",
            str(queue),
            "--base-model",
            "qwen2.5-7b",
            "--train-command",
            "true",
            "--eval-command",
            FAKE_EVAL,
            "--json",
            *common,
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        len(json.loads(result.stdout)["submitted"]) == 2
    )  # the dataset once (deduplicated) and the base model
    status = json.loads(runner.invoke(app, ["bench", "status", "--json", *common]).stdout)
    assert status["counts"] == {"eval:completed": 2, "train:completed": 1}
    collected = json.loads(runner.invoke(app, ["bench", "collect", "--json", *common]).stdout)
    assert collected["results"] == 2 and not collected["failed"]
    again = json.loads(
        runner.invoke(
            app,
            ["bench", "submit", "--datasets", str(queue), "--base-model", "qwen2.5-7b", "--json", *common],
        ).stdout
    )
    assert again["submitted"] == [] and set(again["skipped"].values()) == {"already completed"}
