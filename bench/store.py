"""Graph store benchmark: ingest, contamination and upstream latency, peak memory, against an in-memory floor.

A synthetic lineage DAG (seeded): datasets derive from 1 + Poisson(1.5) earlier datasets, biased toward old ones
(so hubs emerge, as in real lineage), and about 2% of datasets include one of 50 benchmarks chosen with Zipf
weights. Each benchmark's downstream set therefore ranges from most of the graph (wide) to a handful (narrow).

For each size and backend, in a fresh subprocess (so peak memory is per run):

- ``ingest``: ``upsert_nodes`` + ``upsert_edges`` of prebuilt models into an empty store (batched transactions);
- ``contamination`` for the wide, a medium and the narrow benchmark (reachable set + one shortest witness each);
- ``upstream`` to depth 6 from the deepest datasets (median of several);
- peak RSS of the process (and of the ArcadeDB server for ``bolt``).

The floor runs the same queries on a ``networkx.DiGraph`` in memory (BFS with parent pointers, paths rebuilt the
same way). Ratios are store / floor. Usage::

    python bench/store.py                         # 10^5 and 10^6 edges, embedded; 10^5 over Bolt
    python bench/store.py --sizes 100000 --backends embedded bolt
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

N_BENCHMARKS = 50


def synthetic_lineage(n_edges: int, seed: int = 7) -> dict[str, Any]:
    """``{"nodes": [(id, is_benchmark)], "edges": [(target, source, confidence)]}`` with about n_edges edges."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n_datasets = max(100, int(n_edges / 2.5))
    benchmarks = [f"bench/b{k}" for k in range(N_BENCHMARKS)]
    zipf = 1.0 / np.arange(1, N_BENCHMARKS + 1) ** 1.2
    zipf /= zipf.sum()
    edges: list[tuple[str, str, float]] = []
    seen: set[tuple[int, int]] = set()
    counts = 1 + rng.poisson(1.5, n_datasets)
    for i in range(n_datasets):
        if i > 0:
            for _ in range(int(counts[i])):
                j = int(i * rng.random() ** 2)  # bias toward old datasets: hubs
                if (i, j) not in seen:
                    seen.add((i, j))
                    edges.append((f"org/d{i}", f"org/d{j}", round(float(rng.uniform(0.3, 1.0)), 3)))
        if rng.random() < 0.02 or i == 0:
            k = int(rng.choice(N_BENCHMARKS, p=zipf))
            edges.append((f"org/d{i}", benchmarks[k], round(float(rng.uniform(0.3, 1.0)), 3)))
    nodes = [(b, True) for b in benchmarks] + [(f"org/d{i}", False) for i in range(n_datasets)]
    return {"nodes": nodes, "edges": edges}


# --- the floor ------------------------------------------------------------------------------------------------


def floor_graph(data: dict[str, Any]) -> Any:
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(n for n, _ in data["nodes"])
    graph.add_weighted_edges_from(
        ((s, t, c) for t, s, c in data["edges"]), weight="confidence"
    )  # parent -> child
    return graph


def floor_contamination(graph: Any, benchmark: str) -> list[dict[str, Any]]:
    """BFS with parent pointers from the benchmark, one shortest witness per dataset (what the stores return)."""
    parent: dict[str, str] = {}
    hops = {benchmark: 0}
    weakest = {benchmark: 1.0}
    frontier = [benchmark]
    while frontier:
        nxt = []
        for node in frontier:
            for child, data in graph.succ[node].items():
                if child in hops:
                    continue
                parent[child] = node
                hops[child] = hops[node] + 1
                weakest[child] = min(weakest[node], data["confidence"])
                nxt.append(child)
        frontier = nxt
    hits = []
    for dataset in sorted(parent, key=lambda d: (hops[d], d)):
        path = [dataset]
        while path[-1] != benchmark:
            path.append(parent[path[-1]])
        hits.append(
            {"dataset": dataset, "path": path, "min_confidence": weakest[dataset], "hops": hops[dataset]}
        )
    return hits


def floor_upstream(graph: Any, dataset: str, depth: int) -> int:
    seen = {dataset}
    frontier = [dataset]
    edges = 0
    for _ in range(depth):
        nxt = []
        for node in frontier:
            for parent in graph.pred[node]:
                edges += 1
                if parent not in seen:
                    seen.add(parent)
                    nxt.append(parent)
        frontier = nxt
    return len(seen)


def pick_benchmarks(graph: Any) -> dict[str, tuple[str, int]]:
    import networkx as nx

    reach = sorted(
        ((len(nx.descendants(graph, f"bench/b{k}")), f"bench/b{k}") for k in range(N_BENCHMARKS)),
        reverse=True,
    )
    reach = [r for r in reach if r[0] > 0]
    wide, narrow = reach[0], reach[-1]
    medium = min(reach, key=lambda r: abs(r[0] - wide[0] / 3))
    return {"wide": (wide[1], wide[0]), "medium": (medium[1], medium[0]), "narrow": (narrow[1], narrow[0])}


def deep_datasets(graph: Any, count: int = 5) -> list[str]:
    n = graph.number_of_nodes()
    return [f"org/d{i}" for i in range(n - N_BENCHMARKS - 1, n - N_BENCHMARKS - 1 - count, -1)]


def timed(fn: Any, repeat: int = 1) -> tuple[float, Any]:
    times = []
    value = None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


# --- one run ----------------------------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(backend: str, n_edges: int, workdir: str, bolt: dict[str, Any] | None, out: Any) -> None:
    """Measure one backend at one size; put a dict of figures on ``out``."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from graph_store.models import Edge, Node

    data = synthetic_lineage(n_edges)
    graph = floor_graph(data)
    picks = pick_benchmarks(graph)
    deep = deep_datasets(graph)
    start = time.perf_counter()
    nodes = [Node(id=n, is_benchmark=b) for n, b in data["nodes"]]
    edges = [Edge(target=t, source=s, relationship="subset", confidence=c) for t, s, c in data["edges"]]
    build_s = time.perf_counter() - start
    if backend == "embedded":
        from graph_store.embedded import EmbeddedStore

        store: Any = EmbeddedStore(Path(workdir) / "graph")
    else:
        assert bolt is not None
        from graph_store.neo4j_store import Neo4jStore

        store = Neo4jStore.connect(bolt["uri"], auth=tuple(bolt["auth"]), database=bolt["database"])
        store.ensure_schema()
    figures: dict[str, Any] = {"backend": backend, "edges": len(data["edges"]), "nodes": len(data["nodes"])}
    figures["build_models_s"] = round(build_s, 2)
    start = time.perf_counter()
    store.upsert_nodes(nodes)
    report = store.upsert_edges(edges)
    figures["ingest_s"] = round(time.perf_counter() - start, 2)
    assert report.created == len(data["edges"]), report
    for label, (bench, reach) in picks.items():
        store_s, hits = timed(lambda b=bench: store.contamination(b), repeat=3 if reach < 50_000 else 1)
        floor_s, floor_hits = timed(
            lambda b=bench: floor_contamination(graph, b), repeat=3 if reach < 50_000 else 1
        )
        assert {h.dataset: h.hops for h in hits} == {h["dataset"]: h["hops"] for h in floor_hits}
        figures[f"contamination_{label}"] = {
            "benchmark": bench,
            "hits": len(hits),
            "store_ms": round(store_s * 1000, 1),
            "floor_ms": round(floor_s * 1000, 1),
            "ratio": round(store_s / floor_s, 2) if floor_s else None,
        }
    up_times, floor_times = [], []
    for dataset in deep:
        store_s, sub = timed(lambda d=dataset: store.upstream(d, 6))
        floor_s, floor_nodes = timed(lambda d=dataset: floor_upstream(graph, d, 6))
        assert len(sub.nodes) == floor_nodes
        up_times.append(store_s)
        floor_times.append(floor_s)
    figures["upstream_depth6"] = {
        "store_ms": round(statistics.median(up_times) * 1000, 1),
        "floor_ms": round(statistics.median(floor_times) * 1000, 2),
    }
    start = time.perf_counter()
    figures["flagged_ms"] = round((timed(store.flagged)[0]) * 1000, 1)
    store.close()
    if backend == "embedded":
        from graph_store.embedded import EmbeddedStore

        start = time.perf_counter()
        reopened = EmbeddedStore(Path(workdir) / "graph")
        reopened.upstream(deep[0], 2)
        figures["reopen_first_query_ms"] = round((time.perf_counter() - start) * 1000, 1)
        reopened.close()
    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    out.put(figures)


def measure(backend: str, n_edges: int, bolt: dict[str, Any] | None) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    with tempfile.TemporaryDirectory() as workdir:
        process = ctx.Process(target=run_one, args=(backend, n_edges, workdir, bolt, queue))
        process.start()
        process.join()
        if process.exitcode != 0:
            return {"backend": backend, "edges": n_edges, "error": f"exit code {process.exitcode}"}
        return dict(queue.get())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--backends", nargs="+", default=["embedded", "bolt"], choices=["embedded", "bolt"])
    parser.add_argument("--bolt-max-edges", type=int, default=100_000, help="skip Bolt runs above this size")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    results = []
    server_cm = None
    server_root: tempfile.TemporaryDirectory[str] | None = None
    bolt = None
    if "bolt" in args.backends:
        from tests.support.arcadedb import arcadedb_available, start_arcadedb

        if arcadedb_available():
            server_root = tempfile.TemporaryDirectory(prefix="oda-bench-arcadedb-")
            server_cm = start_arcadedb(Path(server_root.name), heap="4g")
            server = server_cm.__enter__()
            bolt = {
                "uri": server.uri,
                "auth": list(server.auth),
                "database": server.database,
                "pid": server.process.pid,
            }
        else:
            print("arcadedb-embedded is not installed: skipping bolt", file=sys.stderr)
    try:
        for size in args.sizes:
            for backend in args.backends:
                if backend == "bolt" and (bolt is None or size > args.bolt_max_edges):
                    continue
                if backend == "bolt":
                    _empty_bolt(bolt)
                figures = measure(backend, size, bolt)
                if backend == "bolt" and bolt is not None:
                    figures["server_rss_mb"] = _server_rss_mb(bolt["pid"])
                results.append(figures)
                print(json.dumps(figures) if args.json else _render(figures), flush=True)
    finally:
        if server_cm is not None:
            server_cm.__exit__(None, None, None)
        if server_root is not None:
            server_root.cleanup()


def _empty_bolt(bolt: dict[str, Any] | None) -> None:
    import neo4j

    assert bolt is not None
    with (
        neo4j.GraphDatabase.driver(bolt["uri"], auth=tuple(bolt["auth"])) as driver,
        driver.session(database=bolt["database"]) as session,
    ):
        session.run("MATCH (n) DETACH DELETE n").consume()


def _server_rss_mb(pid: int) -> float | None:
    try:
        import psutil

        return round(psutil.Process(pid).memory_info().rss / 2**20, 1)
    except Exception:
        return None


def _render(f: dict[str, Any]) -> str:
    if "error" in f:
        return f"{f['backend']:>8} {f['edges']:>9} edges: {f['error']}"
    lines = [
        f"== {f['backend']}: {f['nodes']} nodes, {f['edges']} edges",
        f"   ingest {f['ingest_s']} s (building the models: {f['build_models_s']} s); peak RSS {f['peak_rss_mb']} MB"
        + (f"; server RSS {f['server_rss_mb']} MB" if f.get("server_rss_mb") else ""),
    ]
    for label in ("wide", "medium", "narrow"):
        c = f[f"contamination_{label}"]
        lines.append(
            f"   contamination {label:<6} {c['hits']:>7} hits: store {c['store_ms']:>9} ms, "
            f"floor {c['floor_ms']:>8} ms, ratio {c['ratio']}"
        )
    u = f["upstream_depth6"]
    lines.append(
        f"   upstream depth 6: store {u['store_ms']} ms, floor {u['floor_ms']} ms; flagged {f['flagged_ms']} ms"
    )
    if "reopen_first_query_ms" in f:
        lines.append(f"   reopen + first query {f['reopen_first_query_ms']} ms")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
