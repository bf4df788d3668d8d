"""Landscape figures of a lineage graph (the paper's §3.2.2), computed with networkx over the store's nodes and edges.

The store exports its nodes and non-rejected ``(target, source)`` pairs and this module does the graph work in
memory: it is simple, identical on every backend, and fast enough for the graphs the paper describes (hundreds to
a few hundred thousand edges). Terms, for edges that point from a derived dataset to its source:

- a **root** is a dataset nothing is derived from (a top of the lineage, where a trace starts);
- a **leaf** is a dataset with no known source (a base dataset);
- the **depth** of a root is its longest upstream chain, in edges; ``max_depth`` is the longest chain overall and
  ``avg_depth`` the mean depth over roots. Cycles (which a clean lineage has none of) are collapsed first, so a
  cycle counts as one step and nothing loops;
- a source's **reuse** is the number of datasets derived directly from it;
- an **aggregator**'s direct sources are its out-degree; its recursive sources are every dataset upstream of it.
  For graphs over ``RECURSIVE_LIMIT`` nodes the recursive count is computed for the ``top`` candidates by direct
  sources and by depth only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from graph_store.models import Node

RECURSIVE_LIMIT = 20_000


def _depths(graph: Any) -> dict[str, int]:
    """Longest upstream chain (edges) from every node, on the condensation so cycles terminate."""
    import networkx as nx

    condensed = nx.condensation(graph)
    members = condensed.graph["mapping"]
    longest: dict[int, int] = {}
    for component in reversed(list(nx.topological_sort(condensed))):
        successors = list(condensed.successors(component))
        longest[component] = 1 + max((longest[s] for s in successors), default=-1) if successors else 0
    return {node: longest[members[node]] for node in graph.nodes}


def _ranked(counts: Iterable[tuple[str, int]], top: int, key: str) -> list[dict[str, Any]]:
    ordered = sorted(counts, key=lambda item: (-item[1], item[0]))
    return [{"dataset": name, key: value} for name, value in ordered[:top] if value > 0]


def _section(graph: Any, nodes: dict[str, Node], top: int) -> dict[str, Any]:
    import networkx as nx

    n_nodes, n_edges = graph.number_of_nodes(), graph.number_of_edges()
    roots = sorted(n for n in graph.nodes if graph.in_degree(n) == 0)
    leaves = sorted(n for n in graph.nodes if graph.out_degree(n) == 0)
    depth = _depths(graph) if n_nodes else {}
    root_depths = [depth[r] for r in roots]
    direct = {n: graph.out_degree(n) for n in graph.nodes}
    if n_nodes <= RECURSIVE_LIMIT:
        candidates = list(graph.nodes)
    else:
        by_direct = sorted(graph.nodes, key=lambda n: -direct[n])[: top * 5]
        by_depth = sorted(graph.nodes, key=lambda n: -depth[n])[: top * 5]
        candidates = list(dict.fromkeys(by_direct + by_depth))
    recursive = {n: len(nx.descendants(graph, n)) for n in candidates}
    aggregators = sorted(candidates, key=lambda n: (-recursive[n], -direct[n], n))[:top]
    return {
        "nodes": n_nodes,
        "edges": n_edges,
        "edges_per_node": round(n_edges / n_nodes, 4) if n_nodes else 0.0,
        "roots": len(roots),
        "leaves": len(leaves),
        "max_depth": max(depth.values(), default=0),
        "avg_depth": round(sum(root_depths) / len(root_depths), 4) if root_depths else 0.0,
        "deepest": _ranked(((r, depth[r]) for r in roots), top, "depth"),
        "most_reused": _ranked(((n, graph.in_degree(n)) for n in graph.nodes), top, "reused_by"),
        "top_aggregators": [
            {"dataset": n, "direct_sources": direct[n], "all_sources": recursive[n]}
            for n in aggregators
            if direct[n] > 0
        ],
        "benchmarks": sorted(
            (
                {"benchmark": n, "downstream": len(nx.ancestors(graph, n))}
                for n in graph.nodes
                if nodes.get(n) is not None and nodes[n].is_benchmark
            ),
            key=lambda b: (-b["downstream"], b["benchmark"]),
        ),
    }


def landscape(nodes: Sequence[Node], edges: Iterable[tuple[str, str]], *, top: int = 10) -> dict[str, Any]:
    """The landscape figures for ``nodes`` and ``(target, source)`` edges (see the module docstring).

    Keys: ``nodes``, ``edges``, ``edges_per_node``, ``roots``, ``leaves``, ``max_depth``, ``avg_depth``,
    ``deepest``, ``most_reused``, ``top_aggregators``, ``benchmarks`` and ``domains`` (the same figures for the
    upstream closure of the roots carrying each domain).
    """
    import networkx as nx

    by_id = {n.id: n for n in nodes}
    graph = nx.DiGraph()
    graph.add_nodes_from(by_id)
    graph.add_edges_from(edges)
    figures = _section(graph, by_id, top)
    domains: dict[str, Any] = {}
    roots = [n for n in graph.nodes if graph.in_degree(n) == 0]
    domain_roots: dict[str, list[str]] = {}
    for root in roots:
        node = by_id.get(root)
        for domain in node.domains if node is not None else []:
            domain_roots.setdefault(domain, []).append(root)
    for domain, members in sorted(domain_roots.items()):
        closure: set[str] = set(members)
        for root in members:
            closure |= nx.descendants(graph, root)
        section = _section(graph.subgraph(closure).copy(), by_id, top)
        section["seed_roots"] = len(members)
        domains[domain] = section
    figures["domains"] = domains
    figures["domain_counts"] = dict(sorted(Counter(d for n in nodes for d in n.domains).items()))
    return figures
