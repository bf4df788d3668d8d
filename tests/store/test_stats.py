"""Landscape figures (paper §3.2.2) on small graphs whose answers are known."""

from __future__ import annotations

from graph_store.models import Node
from graph_store.stats import landscape


def test_landscape_figures() -> None:
    nodes = [
        Node(id="org/math-top", domains=["Math"]),
        Node(id="org/code-top", domains=["Code"]),
        Node(id="org/mid"),
        Node(id="openai/gsm8k"),
        Node(id="ext:aime", is_benchmark=True, on_hub=False),
        Node(id="org/lonely"),
    ]
    edges = [
        ("org/math-top", "org/mid"),
        ("org/math-top", "openai/gsm8k"),
        ("org/mid", "openai/gsm8k"),
        ("org/mid", "ext:aime"),
        ("org/code-top", "openai/gsm8k"),
    ]
    figures = landscape(nodes, edges)
    assert (figures["nodes"], figures["edges"]) == (6, 5)
    assert figures["edges_per_node"] == round(5 / 6, 4)
    assert figures["roots"] == 3  # math-top, code-top, lonely
    assert figures["leaves"] == 3  # gsm8k, aime, lonely
    assert figures["max_depth"] == 2
    assert figures["avg_depth"] == round((2 + 1 + 0) / 3, 4)
    assert figures["most_reused"][0] == {"dataset": "openai/gsm8k", "reused_by": 3}
    assert figures["top_aggregators"][0] == {"dataset": "org/math-top", "direct_sources": 2, "all_sources": 3}
    assert figures["benchmarks"] == [{"benchmark": "ext:aime", "downstream": 2}]
    math = figures["domains"]["Math"]
    assert (math["seed_roots"], math["nodes"], math["edges"], math["max_depth"]) == (1, 4, 4, 2)
    code = figures["domains"]["Code"]
    assert (code["nodes"], code["edges"], code["avg_depth"]) == (2, 1, 1.0)


def test_landscape_survives_cycles_and_empty_graphs() -> None:
    empty = landscape([], [])
    assert (empty["nodes"], empty["max_depth"], empty["avg_depth"]) == (0, 0, 0.0)
    nodes = [Node(id=f"org/n{i}") for i in range(4)]
    cyclic = landscape(
        nodes, [("org/n0", "org/n1"), ("org/n1", "org/n2"), ("org/n2", "org/n1"), ("org/n2", "org/n3")]
    )
    assert cyclic["max_depth"] == 2  # n0 -> {n1, n2} -> n3, the cycle counted as one step
    assert cyclic["roots"] == 1
