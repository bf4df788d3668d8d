"""Graph store benchmark: ingest, contamination and upstream latency, peak memory, against an in-memory floor.

A synthetic lineage DAG (seeded): datasets derive from 1 + Poisson(1.5) earlier datasets, biased toward old ones
(so hubs emerge, as in real lineage), and about 2% of datasets include one of 50 benchmarks chosen with Zipf
weights. Each benchmark's downstream set therefore ranges from most of the graph (wide) to a handful (narrow).

For each size and backend, in a fresh subprocess (so peak memory is per run):

- ``ingest``: ``upsert_nodes`` + ``upsert_edges`` of prebuilt models into an empty store (batched transactions);
- ``contamination`` for the wide, a medium and the narrow benchmark (reachable set + one shortest witness each);
- ``upstream`` to depth 6 from the deepest datasets (median of several);
- peak RSS of the process (and of the ArcadeDB server for ``bolt``).

The floor of a contamination query is a plain-Python BFS in memory (a dict of children per node, a parent pointer
per node, the witness path of each dataset rebuilt from them); the upstream floor runs on a ``networkx.DiGraph``.
Ratios are store / floor.

Then, for the embedded store, the command users type, each run a whole process (median of 3, interleaved):
``oda query contamination BENCH --store S --json`` for the three benchmarks. A query's cost is its time minus the
narrow query's (which cancels the start-up), set against the floor measured in the same run; the narrow query's
whole-process time, the first query after the writes (which rebuilds the adjacency index) and each process's peak
RSS are printed too. Usage::

    python bench/store.py                         # 10^5 and 10^6 edges, embedded; 10^5 over Bolt
    python bench/store.py --sizes 100000 --backends embedded bolt
    python bench/store.py --import                # `oda import` of 250k edges (bench/store_import.py)
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import multiprocessing as mp
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

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


def floor_children(data: dict[str, Any]) -> dict[str, list[tuple[str, float]]]:
    """The contamination floor's graph: each dataset's derived datasets with the edge's confidence."""
    children: dict[str, list[tuple[str, float]]] = {}
    for target, source, confidence in data["edges"]:
        children.setdefault(source, []).append((target, confidence))
    return children


def floor_contamination(children: dict[str, list[tuple[str, float]]], benchmark: str) -> list[dict[str, Any]]:
    """Plain BFS with parent pointers from the benchmark, one shortest witness per dataset (what the stores return)."""
    parent: dict[str, str] = {}
    hops = {benchmark: 0}
    weakest = {benchmark: 1.0}
    frontier = [benchmark]
    while frontier:
        nxt = []
        for node in frontier:
            for child, confidence in children.get(node, ()):
                if child in hops:
                    continue
                parent[child] = node
                hops[child] = hops[node] + 1
                weakest[child] = min(weakest[node], confidence)
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
    children = floor_children(data)
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
    del nodes, edges  # the models: only the floors' graphs stay in memory
    for label, (bench, reach) in picks.items():
        with gc_paused():  # as for the floor: the bench's heap is not the query's cost
            store_s, hits = timed(lambda b=bench: store.contamination(b), repeat=3 if reach < 50_000 else 1)
        floor_s, floor_hits = timed_floor(children, bench)
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
        figures["cli"] = measure_cli(Path(workdir), Path(workdir) / "graph", picks, children)
    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    out.put(figures)


# --- the command line -------------------------------------------------------------------------------------------


def oda_command() -> list[str]:
    """The ``oda`` executable of this interpreter's environment (else the module it runs)."""
    script = Path(sys.executable).parent / "oda"
    return [str(script)] if script.exists() else [sys.executable, "-m", "oda.entry"]


# Runs a command with stdout to a file and writes "<wall s> <CPU s> <peak RSS KB> <exit code>" to a second file. The
# command starts from this small process, not from the bench's large one: a child's peak RSS counts what it inherited.
LAUNCHER = """
import os, subprocess, sys, time
stdout_path, report_path, *command = sys.argv[1:]
with open(stdout_path, "wb") as out:
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=out)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
with open(report_path, "w") as report:
    cpu = usage.ru_utime + usage.ru_stime
    report.write(f"{wall} {cpu} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def run_cli(args: list[str], stdout: Path) -> tuple[float, float, float]:
    """Run ``oda ARGS`` as a whole process with stdout to a file: (wall s, CPU s, peak RSS MB)."""
    report = stdout.with_suffix(".time")
    report.unlink(missing_ok=True)
    launched = subprocess.run(
        [sys.executable, "-c", LAUNCHER, str(stdout), str(report), *oda_command(), *args],
        cwd=stdout.parent,
        capture_output=True,
    )
    wall, cpu, rss_kb, code = report.read_text().split() if report.exists() else ("0", "0", "0", "-1")
    if launched.returncode != 0 or int(code) != 0:
        raise RuntimeError(f"oda {' '.join(args)} failed: {launched.stderr.decode(errors='replace')[-2000:]}")
    return float(wall), float(cpu), int(rss_kb) / 1024


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Collect, then pause the garbage collector: the bench keeps large graphs in memory, whose scans would
    otherwise slow a BFS several times over."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def floor_once(children: dict[str, list[tuple[str, float]]], benchmark: str) -> tuple[float, float, Any]:
    """One floor run with the garbage collector paused (the bench's own heap would otherwise slow a plain BFS
    several times and flatter the ratio): (wall s, CPU s, hits)."""
    with gc_paused():
        wall, cpu = time.perf_counter(), time.process_time()
        hits = floor_contamination(children, benchmark)
        return time.perf_counter() - wall, time.process_time() - cpu, hits


def timed_floor(children: dict[str, list[tuple[str, float]]], benchmark: str) -> tuple[float, Any]:
    """The floor's wall time, median of 3 (see ``floor_once``), and its hits."""
    runs = [floor_once(children, benchmark) for _ in range(3)]
    return statistics.median(r[0] for r in runs), runs[-1][2]


def measure_cli(
    workdir: Path,
    store: Path,
    picks: dict[str, tuple[str, int]],
    children: dict[str, list[tuple[str, float]]],
) -> dict[str, Any]:
    """``oda query contamination BENCH --json`` per benchmark against the floor, interleaved, 3 rounds.

    A query's cost is its whole-process time minus the narrow query's (median of 3 each), in wall time and in
    CPU time (user + system, which a loaded machine disturbs less); the floor's likewise, from the same rounds.
    """
    figures: dict[str, Any] = {}
    query = ["query", "contamination"]
    narrow = picks["narrow"][0]
    (store.parent / f"{store.name}.adjacency").unlink(missing_ok=True)  # as after `oda import`: no index yet
    first_s, _, first_rss = run_cli([*query, narrow, "--store", str(store), "--json"], workdir / "first.json")
    figures["first_query_without_index_s"] = round(first_s, 3)
    figures["first_query_peak_rss_mb"] = round(first_rss, 1)
    runs: dict[str, list[tuple[float, float, float]]] = {label: [] for label in picks}
    floors: dict[str, list[tuple[float, float]]] = {label: [] for label in picks}
    floor_hits: dict[str, Any] = {}
    for _ in range(3):
        for label, (bench, _reach) in picks.items():
            runs[label].append(
                run_cli([*query, bench, "--store", str(store), "--json"], workdir / f"{label}.json")
            )
            wall, cpu, floor_hits[label] = floor_once(children, bench)
            floors[label].append((wall, cpu))

    def median(values: list[tuple[float, ...]], at: int) -> float:
        return statistics.median(v[at] for v in values)

    figures["narrow_whole_process_s"] = round(median(runs["narrow"], 0), 3)
    figures["narrow_whole_process_cpu_s"] = round(median(runs["narrow"], 1), 3)
    figures["load_average"] = [round(x, 1) for x in os.getloadavg()]
    for label, (bench, _reach) in picks.items():
        with open(workdir / f"{label}.json", "rb") as handle:
            rows = json.load(handle)
        assert {r["dataset"]: r["hops"] for r in rows} == {h["dataset"]: h["hops"] for h in floor_hits[label]}
        row: dict[str, Any] = {"benchmark": bench, "rows": len(rows)}
        for at, kind in ((0, "wall"), (1, "cpu")):
            cost = median(runs[label], at) - median(runs["narrow"], at)
            floor = median(floors[label], at)
            row[f"whole_{kind}_s"] = round(median(runs[label], at), 3)
            row[f"cost_{kind}_s"] = round(cost, 3)
            row[f"floor_{kind}_s"] = round(floor, 3)
            row[f"cost_over_floor_{kind}"] = round(cost / floor, 2) if label != "narrow" and floor else None
        row["peak_rss_mb"] = round(max(r[2] for r in runs[label]), 1)
        figures[label] = row
    return figures


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
    parser.add_argument(
        "--import",
        dest="import_edges",
        type=int,
        nargs="?",
        const=250_000,
        default=None,
        help="measure `oda import` of a lineage this size (default 250000) beside the raw upsert, then stop",
    )
    args = parser.parse_args()
    if args.import_edges is not None:
        from store_import import measure_import, render

        figures = measure_import(args.import_edges)
        print(json.dumps(figures) if args.json else render(figures), flush=True)
        return
    results = []
    server_cm = None
    server_root: tempfile.TemporaryDirectory[str] | None = None
    bolt = None
    if "bolt" in args.backends:
        from standins.arcadedb import arcadedb_available, start_arcadedb

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
    if "cli" in f:
        c = f["cli"]
        lines.append(
            f"   CLI `oda query contamination BENCH --json`, whole process, median of 3: narrow "
            f"{c['narrow_whole_process_s']} s (CPU {c['narrow_whole_process_cpu_s']} s); first query without an "
            f"index (it builds one) "
            f"{c['first_query_without_index_s']} s, peak RSS {c['first_query_peak_rss_mb']} MB; load average "
            f"{c['load_average']}"
        )
        for label in ("wide", "medium", "narrow"):
            q = c[label]
            lines.append(
                f"   CLI {label:<6} {q['rows']:>7} rows: whole {q['whole_wall_s']} s; cost (minus narrow) "
                f"{q['cost_wall_s']} s vs plain BFS floor {q['floor_wall_s']} s = {q['cost_over_floor_wall']}x; "
                f"CPU: cost {q['cost_cpu_s']} s vs floor {q['floor_cpu_s']} s = {q['cost_over_floor_cpu']}x; "
                f"peak RSS {q['peak_rss_mb']} MB"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
