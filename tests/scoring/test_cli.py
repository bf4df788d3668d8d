"""``oda score`` and ``oda score list`` through the real CLI app."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from oda.cli import app
from standins.openai_compat import serve_openai
from tests.scoring.conftest import write_jsonl

runner = CliRunner()


def test_help_has_examples() -> None:
    result = runner.invoke(app, ["score", "--help"])
    assert result.exit_code == 0
    assert "oda score data/train.jsonl --scorers heuristic" in result.output
    assert "--attach" in result.output


def test_list_shows_every_family_with_axes() -> None:
    result = runner.invoke(app, ["score", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert {
        "heuristic_profile",
        "judge_q",
        "judge_qa",
        "deita_complexity",
        "deita_quality",
        "ifd",
        "thinking_prob",
        "fail_rate",
    } <= set(rows)
    assert {m["axis"] for m in rows["judge_q"]["metrics"]} == {"Q"}
    assert rows["ifd"]["family"] == "Model-based Evaluation" and rows["ifd"]["requires"] == [
        "torch",
        "transformers",
    ]
    assert len(rows["judge_qa"]["metrics"]) == 7


def test_list_is_a_command_of_its_own(tmp_path: Path) -> None:
    rejected = runner.invoke(app, ["score", "list", "--scorers", "heuristic"])
    assert rejected.exit_code == 2 and "--scorers" in rejected.output
    help_text = runner.invoke(app, ["score", "list", "--help"])
    assert help_text.exit_code == 0 and "List every scorer" in help_text.output
    folder = tmp_path / "list"
    folder.mkdir()
    write_jsonl(folder / "d.jsonl", [{"instruction": "q", "output": "a b"}])
    scored = runner.invoke(app, ["score", str(folder), "-o", str(tmp_path / "out"), "--json"])
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.stdout)["scored"] == {"heuristic_profile": 1}


def test_score_file_json_report_and_resume(tmp_path: Path) -> None:
    src = write_jsonl(
        tmp_path / "d.jsonl", [{"instruction": f"q {i}", "output": f"answer {i}"} for i in range(5)]
    )
    out = tmp_path / "out"
    first = runner.invoke(app, ["score", str(src), "--scorers", "heuristic", "-o", str(out), "--json"])
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["samples"] == 5 and report["scored"] == {"heuristic_profile": 5}
    second = runner.invoke(app, ["score", str(src), "-o", str(out), "--json"])
    assert json.loads(second.stdout)["resumed"] == {"heuristic_profile": 5}
    assert (out / "profile.json").is_file()


def test_unknown_scorer_suggests_a_name(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "d.jsonl", [{"instruction": "q", "output": "a"}])
    result = runner.invoke(app, ["score", str(src), "--scorers", "ifdd"])
    assert result.exit_code != 0
    assert "did you mean 'ifd'" in str(result.exception)


def test_judge_from_the_command_line(tmp_path: Path) -> None:
    from scoring.judge import QA_AXES

    src = write_jsonl(tmp_path / "d.jsonl", [{"instruction": "q", "output": "a"}])
    answer = json.dumps({a: {"score": 6, "reason": "fine"} for a in QA_AXES})
    with serve_openai([answer]) as server:
        result = runner.invoke(
            app,
            [
                "score",
                str(src),
                "--scorers",
                "judge_qa",
                "--base-url",
                server.base_url,
                "--judge-model",
                "m",
                "--judge-cache",
                str(tmp_path / "c.sqlite"),
                "-o",
                str(tmp_path / "out"),
                "--json",
            ],
        )
    assert result.exit_code == 0, result.output
    profiles = {p["scorer"]: p for p in json.loads(result.stdout)["profiles"]}
    assert profiles["judge_relevance"]["mean"] == 6.0


def test_attach_writes_profiles_onto_the_node(tmp_path: Path) -> None:
    from graph_store.factory import open_store

    src = write_jsonl(tmp_path / "d.jsonl", [{"instruction": "q", "output": "a b c"}])
    store_uri = str(tmp_path / "graph")
    result = runner.invoke(
        app,
        [
            "score",
            str(src),
            "--attach",
            "--dataset",
            "org/data",
            "--store",
            store_uri,
            "-o",
            str(tmp_path / "o"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    from scoring.heuristic import HeuristicScorer

    assert (
        json.loads(result.stdout)["attached"] == len(HeuristicScorer.metrics) == 20
    )  # one profile per metric
    with open_store(store_uri) as store:
        assert store.get_node("org/data") is not None
        scores = {p.scorer: p for p in store.scores("org/data")}
    assert scores["response_chars"].mean == 5.0 and scores["response_chars"].axis == "QA"


def test_word_rule_oda_changes_the_lexical_metrics_only(tmp_path: Path) -> None:
    src = write_jsonl(
        tmp_path / "d.jsonl", [{"instruction": "Why?", "output": "It's well-known: it's, it's, its..."}]
    )
    means = {}
    for rule in ("split", "oda"):
        out = tmp_path / rule
        result = runner.invoke(app, ["score", str(src), "-o", str(out), "--word-rule", rule, "--json"])
        assert result.exit_code == 0, result.output
        means[rule] = {p["scorer"]: p["mean"] for p in json.loads(result.stdout)["profiles"]}
    # split: why it s well known it s it s its (9 words); oda: why its wellknown its its its (6 words)
    assert means["split"]["mtld"] != means["oda"]["mtld"]
    assert means["split"]["tokens"] == means["oda"]["tokens"]
    bad = runner.invoke(app, ["score", str(src), "-o", str(tmp_path / "x"), "--word-rule", "nltk"])
    assert bad.exit_code != 0 and "--word-rule" in str(bad.output) + str(bad.exception)


def test_attach_needs_a_dataset_id_for_local_files(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "d.jsonl", [{"instruction": "q", "output": "a"}])
    result = runner.invoke(app, ["score", str(src), "--attach"])
    assert result.exit_code != 0 and "--dataset" in str(result.exception)
