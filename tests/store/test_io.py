"""Import and export: round trips, bad input, cycles, GraphML."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from graph_store.cypher_store import CypherGraphStore
from graph_store.io import export_document, export_graphml, export_oda_jsonl, import_file, read_oda_jsonl
from graph_store.models import BenchResult, EdgeStatus, ScoreProfile
from oda.errors import InputError

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def oda_line(target_name: str, source_name: str, /, **meta: Any) -> str:
    info = {
        "source": "https://huggingface.co/datasets/" + target_name,
        "confidence": 0.9,
        "relationship": "Direct Inclusion/Subset",
        "evidence": f"{target_name} includes {source_name}",
        "exists": True,
    }
    info.update(meta)
    return json.dumps({"target": target_name, "source": source_name, "meta_info": json.dumps(info)})


def write(tmp_path: Path, lines: list[str], name: str = "lineage.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def snapshot(store: CypherGraphStore) -> tuple[list[Any], list[Any]]:
    return (
        [n.model_dump() for n in store.nodes()],
        [e.model_dump() for e in store.edges()],
    )


SAMPLE = [
    oda_line("org/math-mix", "openai/gsm8k", confidence=0.95, source="card_yaml"),
    oda_line("org/math-mix", "AIME", confidence=0.5, relationship="CoT Distillation", exists=False),
    oda_line("org/math-mix", "EleutherAI/hendrycks_math", confidence=0.8, source="https://arxiv.org/abs/1"),
    oda_line("org/derived", "org/math-mix", confidence=0.65, relationship="Semantic Evolution"),
    oda_line("org/derived", "Wikipedia", confidence=0.99, relationship="Synthetic Generation", exists=False),
]


def test_oda_jsonl_import_names_threshold_and_round_trip(store: CypherGraphStore, tmp_path: Path) -> None:
    report = import_file(store, write(tmp_path, SAMPLE), "oda-jsonl", flag_below=0.7)
    assert report.edges.created == 5 and report.flagged == 2
    aime = store.get_node("ext:aime")
    assert aime is not None and aime.name == "AIME" and aime.on_hub is False
    assert {e.source for e in store.flagged()} == {"ext:aime", "org/math-mix"}
    gsm = store.get_edge("org/math-mix", "openai/gsm8k")
    assert gsm is not None and gsm.source_kind is not None and gsm.source_kind.value == "card_yaml"
    out = io.StringIO()
    assert export_oda_jsonl(store, out) == 5
    exported = [json.loads(line) for line in out.getvalue().splitlines()]
    original = [json.loads(line) for line in SAMPLE]
    for record in (*exported, *original):
        record["meta_info"] = json.loads(record["meta_info"])
    assert sorted(exported, key=json.dumps) == sorted(original, key=json.dumps)


def test_import_is_idempotent_and_merges_duplicates(store: CypherGraphStore, tmp_path: Path) -> None:
    lines = [
        oda_line("org/a", "org/b", confidence=0.4, evidence=""),
        oda_line("org/a", "org/b", confidence=0.9, evidence="org/a is a subset of org/b"),
    ]
    path = write(tmp_path, lines)
    first = import_file(store, path, "oda-jsonl", flag_below=0.7)
    assert first.edges.created == 1
    stored = store.get_edge("org/a", "org/b")
    assert stored is not None and stored.confidence == 0.9 and stored.evidence == "org/a is a subset of org/b"
    before = snapshot(store)
    again = import_file(store, path, "oda-jsonl", flag_below=0.7)
    assert again.edges.created == 0 and again.edges.updated == 0 and again.edges.unchanged == 1
    after = snapshot(store)
    assert after[0] == before[0]
    assert [{k: v for k, v in e.items() if k != "updated_at"} for e in after[1]] == [
        {k: v for k, v in e.items() if k != "updated_at"} for e in before[1]
    ]


def test_json_round_trip_is_lossless(store: CypherGraphStore, tmp_path: Path) -> None:
    import_file(store, write(tmp_path, SAMPLE), "oda-jsonl", flag_below=0.7)
    store.decide("org/math-mix", "ext:aime", "reject", reviewer="ann", reason="eval only")
    store.attach_scores(
        [
            ScoreProfile(
                dataset="org/derived",
                scorer="IFD",
                axis="QA",
                family="Model-based Evaluation",
                mean=0.7,
                n=100,
                quantiles={"p50": 0.71},
            )
        ]
    )
    store.attach_results(
        [BenchResult(dataset="org/derived", base_model="qwen", benchmark="AIME", score=12.5)]
    )
    document = export_document(store)
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    from graph_store.embedded import EmbeddedStore

    other = EmbeddedStore(tmp_path / "other", buffer_pool_size=64 << 20)
    try:
        import_file(other, path, "json", flag_below=0.7)
        assert export_document(other) == document
    finally:
        other.close()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"target": "org/a", "source": ', "not valid JSON"),
        (json.dumps({"target": "org/a", "source": "org/b", "meta_info": {"confidence": 0.5}}), "JSON string"),
        (oda_line("org/a", "org/b", confidence=1.5), "confidence"),
        (oda_line("org/a", "org/b", confidence="high"), "confidence"),
        (oda_line("org/a", "org/b", relationship="Telepathy"), "unknown relationship"),
        (oda_line("org/a", "org/a"), "self-loop"),
        (oda_line("org/a", "org/b", evidence="x" * 10_000_001), "characters"),
        (
            json.dumps({"target": "org/a", "source": "org/b", "meta_info": "not json"}),
            "meta_info is not valid JSON",
        ),
        (json.dumps(["org/a", "org/b"]), "JSON object"),
    ],
)
def test_bad_lines_are_reported_and_nothing_is_written(
    store: CypherGraphStore, tmp_path: Path, line: str, message: str
) -> None:
    path = write(tmp_path, [oda_line("org/good", "org/parent"), line])
    with pytest.raises(InputError) as caught:
        import_file(store, path, "oda-jsonl", flag_below=0.7)
    assert "line 2" in str(caught.value) and message in str(caught.value)
    assert store.nodes() == [] and store.edges() == []


def test_skip_invalid_loads_the_rest(store: CypherGraphStore, tmp_path: Path) -> None:
    path = write(tmp_path, [oda_line("org/good", "org/parent"), "{broken", oda_line("org/x", "org/x")])
    report = import_file(store, path, "oda-jsonl", flag_below=0.7, skip_invalid=True)
    assert report.edges.created == 1 and len(report.errors) == 2


def test_an_edge_closing_a_cycle_becomes_a_flagged_candidate(store: CypherGraphStore, tmp_path: Path) -> None:
    path = write(
        tmp_path, [oda_line("org/a", "org/b"), oda_line("org/b", "org/c"), oda_line("org/c", "org/a")]
    )
    report = import_file(store, path, "oda-jsonl", flag_below=0.7)
    assert report.edges.created == 3 and len(report.edges.cycles) == 1
    assert all(name in report.edges.cycles[0] for name in ("org/a", "org/b", "org/c"))
    candidate = store.get_edge("org/c", "org/a")
    assert candidate is not None and candidate.status == EdgeStatus.FLAGGED
    assert candidate.note is not None and candidate.note.startswith("cycle:")
    assert {e.key for e in store.edges(status=EdgeStatus.AUTO)} == {("org/a", "org/b"), ("org/b", "org/c")}
    # a cycle closed through edges already stored; the unrelated edge in the same file is written as usual
    report = import_file(
        store,
        write(tmp_path, [oda_line("org/b", "org/a"), oda_line("org/d", "org/a")], "two.jsonl"),
        "oda-jsonl",
        flag_below=0.7,
    )
    assert len(report.edges.cycles) == 1 and report.edges.created == 2
    reverse = store.get_edge("org/b", "org/a")
    assert reverse is not None and reverse.status == EdgeStatus.FLAGGED and reverse.note.startswith("cycle:")
    assert store.get_edge("org/a", "org/b").status == EdgeStatus.AUTO
    assert store.get_edge("org/d", "org/a").status == EdgeStatus.AUTO
    # the store's own backup imports into an empty store, candidates included
    backup = tmp_path / "backup.json"
    backup.write_text(json.dumps(export_document(store)), encoding="utf-8")
    from graph_store.embedded import EmbeddedStore

    other = EmbeddedStore(tmp_path / "other", buffer_pool_size=64 << 20)
    try:
        import_file(other, backup, "json", flag_below=0.7)
        assert export_document(other) == export_document(store)
    finally:
        other.close()


def test_injection_through_names_is_inert(store: CypherGraphStore, tmp_path: Path) -> None:
    evil = "x'}) MATCH (n) DETACH DELETE n //"
    import_file(
        store,
        write(tmp_path, [oda_line("org/a", "org/b"), oda_line("org/a", evil)]),
        "oda-jsonl",
        flag_below=0.7,
    )
    names = {n.name for n in store.nodes() if n.id.startswith("ext:")}
    assert names == {evil}
    assert len(store.nodes()) == 3 and len(store.edges()) == 2


def test_json_import_keeps_explicit_statuses(store: CypherGraphStore, tmp_path: Path) -> None:
    document = {
        "nodes": [{"id": "org/bench", "is_benchmark": True}],
        "edges": [
            {
                "target": "org/a",
                "source": "org/bench",
                "relationship": "subset",
                "confidence": 0.2,
                "status": "approved",
            },
            {"target": "org/b", "source": "org/bench", "relationship": "subset", "confidence": 0.2},
            {"target": "org/c", "source": "org/bench", "relationship": "subset", "confidence": 7},
        ],
    }
    path = tmp_path / "g.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match=r"edges\[2\]"):
        import_file(store, path, "json", flag_below=0.7)
    document["edges"].pop()
    path.write_text(json.dumps(document))
    import_file(store, path, "json", flag_below=0.7)
    statuses = {e.target: e.status for e in store.edges()}
    assert statuses == {"org/a": EdgeStatus.APPROVED, "org/b": EdgeStatus.FLAGGED}


def test_graphml_loads_in_networkx(store: CypherGraphStore, tmp_path: Path) -> None:
    import_file(store, write(tmp_path, SAMPLE), "oda-jsonl", flag_below=0.7)
    path = tmp_path / "graph.graphml"
    with open(path, "wb") as handle:
        assert export_graphml(store, handle) == 5
    graph = nx.read_graphml(path)
    assert graph.number_of_nodes() == 6 and graph.number_of_edges() == 5
    assert graph.nodes["ext:aime"]["name"] == "AIME"
    assert graph.edges["org/math-mix", "ext:aime"]["relationship"] == "CoT Distillation"


def test_real_dpi_parents_import(store: CypherGraphStore, tmp_path: Path) -> None:
    """Lines built from the Data Provenance Initiative's derived-from pairs (informal parent names)."""
    import csv

    source = DATA / "dpi" / "derived_from_edges.csv"
    if not source.exists():
        pytest.skip("shared data is not present")
    lines = []
    with open(source, encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["child_hf_id"] and row["derived_from"]:
                lines.append(oda_line(row["child_hf_id"], row["derived_from"], confidence=0.6))
    plan = read_oda_jsonl(io.StringIO("\n".join(lines)))
    assert plan.items == len(lines) and len(plan.edges) > 100
    path = write(tmp_path, lines)
    report = import_file(store, path, "oda-jsonl", flag_below=0.7, skip_invalid=True)
    assert report.edges.created == len(plan.edges)
    assert len(store.flagged()) == len(plan.edges)


def test_values_the_engine_cannot_hold_are_refused_before_anything_is_written(
    store: CypherGraphStore, tmp_path: Path
) -> None:
    edge = {"target": "org/a", "source": "org/b", "relationship": "subset", "confidence": 0.5}
    cases = {
        "int64": {"nodes": [{"id": "org/n"}], "edges": [{**edge, "version": 2**70}]},
        "infinity": {
            "nodes": [{"id": "org/n"}],
            "results": [{"dataset": "org/a", "base_model": "m", "benchmark": "b", "score": float("inf")}],
        },
        "long text": {"nodes": [{"id": "org/n", "summary": "x" * 1_000_001}]},
        "nesting": {
            "nodes": [{"id": "org/n"}],
            "scores": [
                {
                    "dataset": "org/a",
                    "scorer": "s",
                    "axis": "Q",
                    "family": "f",
                    "mean": 0.5,
                    "n": 1,
                    "histogram": {"deep": json.loads("[" * 40 + "]" * 40)},
                }
            ],
        },
    }
    for name, document in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.json"
        path.write_text(
            json.dumps(document), encoding="utf-8"
        )  # json.dumps writes Infinity, as a bad file would
        with pytest.raises(InputError, match="nothing was imported"):
            import_file(store, path, "json", flag_below=0.7)
        assert store.nodes() == [] and store.edges() == [], name
    deep = tmp_path / "deep.json"
    deep.write_text('{"nodes": ' + "[" * 200_000 + "]" * 200_000 + "}", encoding="utf-8")
    with pytest.raises(InputError, match="nested too deep"):
        import_file(store, deep, "json", flag_below=0.7)
    deep_line = tmp_path / "deep.jsonl"
    deep_line.write_text("[" * 200_000 + "]" * 200_000 + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="nested too deep"):
        import_file(store, deep_line, "oda-jsonl", flag_below=0.7)
