"""The store's commands, through the real ``oda`` app."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from typer.testing import CliRunner

from graph_store.embedded import EmbeddedStore
from oda.cli import app
from oda.errors import InputError, ReadOnlyError

ROOT = Path(__file__).resolve().parents[2]


def meta(confidence: float, relationship: str = "Direct Inclusion/Subset", exists: bool = True) -> str:
    return json.dumps(
        {
            "source": "card",
            "confidence": confidence,
            "relationship": relationship,
            "evidence": "e",
            "exists": exists,
        }
    )


@pytest.fixture
def lineage_file(tmp_path: Path) -> Path:
    rows = [
        {"target": "org/mix", "source": "AIME", "meta_info": meta(0.5, exists=False)},
        {"target": "org/derived", "source": "org/mix", "meta_info": meta(0.9, "CoT Distillation")},
        {"target": "org/other", "source": "org/mix", "meta_info": meta(0.8)},
    ]
    path = tmp_path / "lineage.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def invoke(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize(
    "command",
    [
        ["query", "contamination"],
        ["query", "upstream"],
        ["query", "downstream"],
        ["query", "flagged"],
        ["query", "cypher"],
        ["stats"],
        ["import"],
        ["export"],
    ],
)
def test_every_command_has_help_with_examples(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "oda " in result.stdout and "--store" in result.stdout


def test_import_then_query_as_json(tmp_path: Path, lineage_file: Path) -> None:
    store = str(tmp_path / "graph")
    runner = CliRunner()
    imported = runner.invoke(
        app, ["import", str(lineage_file), "--store", store, "--flag-below", "0.7", "--json"]
    )
    assert imported.exit_code == 0, imported.output
    report = json.loads(imported.stdout)
    assert report["edges"]["created"] == 3 and report["flagged"] == 1

    hits = json.loads(
        runner.invoke(app, ["query", "contamination", "AIME", "--store", store, "--json"]).stdout
    )
    assert {h["dataset"]: h["path"] for h in hits} == {
        "org/mix": ["org/mix", "ext:aime"],
        "org/derived": ["org/derived", "org/mix", "ext:aime"],
        "org/other": ["org/other", "org/mix", "ext:aime"],
    }
    strict = json.loads(
        runner.invoke(
            app, ["query", "contamination", "ext:aime", "--min-confidence", "0.6", "--store", store, "--json"]
        ).stdout
    )
    assert strict == []

    up = json.loads(
        runner.invoke(
            app, ["query", "upstream", "org/derived", "--depth", "1", "--store", store, "--json"]
        ).stdout
    )
    assert {n["id"] for n in up["nodes"]} == {"org/derived", "org/mix"}
    down = json.loads(
        runner.invoke(app, ["query", "downstream", "org/mix", "--store", store, "--json"]).stdout
    )
    assert {e["target"] for e in down["edges"]} == {"org/derived", "org/other"}
    flagged = json.loads(runner.invoke(app, ["query", "flagged", "--store", store, "--json"]).stdout)
    assert [(e["target"], e["source"]) for e in flagged] == [("org/mix", "ext:aime")]
    rows = json.loads(
        runner.invoke(
            app,
            [
                "query",
                "cypher",
                "MATCH (d:Dataset {id: $id}) RETURN d.name AS name",
                "-p",
                "id=ext:aime",
                "--store",
                store,
                "--json",
            ],
        ).stdout
    )
    assert rows == [{"name": "AIME"}]
    stats = json.loads(runner.invoke(app, ["stats", "--store", store, "--json"]).stdout)
    assert (stats["nodes"], stats["edges"], stats["max_depth"]) == (4, 3, 2)

    table = runner.invoke(app, ["query", "contamination", "AIME", "--store", store])
    assert table.exit_code == 0 and "org/derived" in table.output


def test_export_formats(tmp_path: Path, lineage_file: Path) -> None:
    store = str(tmp_path / "graph")
    runner = CliRunner()
    assert runner.invoke(app, ["import", str(lineage_file), "--store", store]).exit_code == 0
    graphml = tmp_path / "g.graphml"
    assert (
        runner.invoke(app, ["export", "--format", "graphml", "-o", str(graphml), "--store", store]).exit_code
        == 0
    )
    assert nx.read_graphml(graphml).number_of_edges() == 3
    out = runner.invoke(app, ["export", "--format", "oda-jsonl", "--store", store])
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert {(x["target"], x["source"]) for x in lines} == {
        ("org/mix", "AIME"),
        ("org/derived", "org/mix"),
        ("org/other", "org/mix"),
    }
    document = json.loads(runner.invoke(app, ["export", "--format", "json", "--store", store]).stdout)
    assert len(document["edges"]) == 3 and len(document["nodes"]) == 4


def test_write_through_cypher_is_refused_and_changes_nothing(tmp_path: Path, lineage_file: Path) -> None:
    store = str(tmp_path / "graph")
    assert invoke("import", str(lineage_file), "--store", store).exit_code == 0  # type: ignore[attr-defined]
    result = invoke("query", "cypher", "MATCH (n) DETACH DELETE n", "--store", store)
    assert isinstance(result.exception, ReadOnlyError)  # type: ignore[attr-defined]
    with EmbeddedStore(tmp_path / "graph", buffer_pool_size=64 << 20) as graph:
        assert len(graph.nodes()) == 4 and len(graph.edges()) == 3


def test_bad_import_reports_lines_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"target": "org/a", "source": "org/b", "meta_info": {"confidence": 0.5}}\n{oops\n')
    result = invoke("import", str(bad), "--store", str(tmp_path / "graph"))
    assert isinstance(result.exception, InputError)  # type: ignore[attr-defined]
    done = subprocess.run(
        [sys.executable, "-m", "oda.cli", "import", str(bad), "--store", str(tmp_path / "graph")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "line 1" in done.stderr and "line 2" in done.stderr and "nothing was imported" in done.stderr
