"""``oda import`` at scale, through the command users run, beside the raw upsert it is built on.

Run by ``python bench/store.py --import`` (or on its own: ``python bench/store_import.py --edges 250000``).

- The lineage is ``bench/store.py``'s synthetic DAG (250k requested: 100,050 nodes, about 252k edges) written in
  the project's ``json`` format, as an export would be (status and ``updated_at`` on each edge).
- ``oda import FILE --format json`` into an empty embedded store: whole-process wall time and peak RSS.
- The same import run again on the full store (a resume after an interruption does this): nothing changes.
- A 1,000-edge file into the full store: 400 new datasets deriving from stored ones and from each other.
- The floor: ``upsert_nodes`` + ``upsert_edges`` of prebuilt models into an empty store, in this process (no
  file reading, no validation, no DAG check).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

STAMP = "2025-01-01T00:00:00+00:00"


def write_document(data: dict[str, Any], path: Path) -> None:
    """The synthetic lineage as a ``json`` document."""
    document = {
        "nodes": [{"id": node, "is_benchmark": bench} for node, bench in data["nodes"]],
        "edges": [
            {
                "target": target,
                "source": source,
                "relationship": "Direct Inclusion/Subset",
                "confidence": confidence,
                "status": "auto",
                "updated_at": STAMP,
            }
            for target, source, confidence in data["edges"]
        ],
    }
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")


def write_increment(data: dict[str, Any], path: Path, n_edges: int = 1000, seed: int = 5) -> int:
    """``n_edges`` new edges: new datasets deriving from stored datasets and from each other."""
    rng = random.Random(seed)
    stored = [node for node, bench in data["nodes"] if not bench]
    edges: list[dict[str, Any]] = []
    new: list[str] = []
    while len(edges) < n_edges:
        dataset = f"org/new{len(new)}"
        parents = rng.sample(stored, 2) + (rng.sample(new, 1) if new and rng.random() < 0.3 else [])
        for parent in parents[: n_edges - len(edges)]:
            edges.append(
                {
                    "target": dataset,
                    "source": parent,
                    "relationship": "CoT Distillation",
                    "confidence": round(rng.uniform(0.3, 1.0), 3),
                }
            )
        new.append(dataset)
    path.write_text(json.dumps({"nodes": [], "edges": edges}), encoding="utf-8")
    return len(edges)


def timed_command(args: list[str]) -> dict[str, Any]:
    """Run a command as a whole process: wall seconds and its stdout."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {stderr.decode(errors='replace')[-2000:]}")
    return {"wall_s": round(wall, 2), "stdout": stdout.decode(errors="replace")}


def oda_import(path: Path, store: Path) -> dict[str, Any]:
    """``oda import PATH --format json --store STORE --json``, timed, with its peak RSS."""
    report = path.with_suffix(".rss")
    launcher = (
        "import os, subprocess, sys\n"
        "p = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE)\n"
        "out = p.stdout.read()\n"
        "_, status, usage = os.wait4(p.pid, 0)\n"
        "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
        "sys.stdout.buffer.write(out)\n"
        "sys.exit(os.waitstatus_to_exitcode(status))\n"
    )
    command = [
        sys.executable,
        "-m",
        "oda.cli",
        "import",
        str(path),
        "--format",
        "json",
        "--store",
        str(store),
    ]
    figures = timed_command([sys.executable, "-c", launcher, str(report), *command, "--json"])
    result = json.loads(figures.pop("stdout"))
    figures["peak_rss_mb"] = round(int(report.read_text()) / 1024, 1)
    figures["edges"] = {k: result["edges"][k] for k in ("created", "updated", "unchanged", "protected")}
    figures["cycles"] = len(result["edges"]["cycles"])
    return figures


def raw_upsert(data: dict[str, Any], store_path: Path) -> float:
    """Seconds for ``upsert_nodes`` + ``upsert_edges`` of prebuilt models into an empty store (the floor)."""
    from graph_store.embedded import EmbeddedStore
    from graph_store.models import Edge, EdgeStatus, Node, Relationship

    nodes = [Node(id=node, is_benchmark=bench) for node, bench in data["nodes"]]
    edges = [
        Edge(
            target=t,
            source=s,
            relationship=Relationship.DIRECT_INCLUSION,
            confidence=c,
            status=EdgeStatus.AUTO,
            updated_at=datetime.fromisoformat(STAMP),
        )
        for t, s, c in data["edges"]
    ]
    store = EmbeddedStore(store_path)
    try:
        start = time.perf_counter()
        store.upsert_nodes(nodes)
        store.upsert_edges(edges)
        return round(time.perf_counter() - start, 2)
    finally:
        store.close()


def measure_import(n_edges: int = 250_000) -> dict[str, Any]:
    """Every figure of the module docstring, in a scratch folder."""
    from store import synthetic_lineage

    data = synthetic_lineage(n_edges)
    figures: dict[str, Any] = {"nodes": len(data["nodes"]), "edges": len(data["edges"])}
    with tempfile.TemporaryDirectory(prefix="oda-bench-import-") as folder:
        work = Path(folder)
        document = work / "lineage.json"
        write_document(data, document)
        figures["file_mb"] = round(document.stat().st_size / 1e6, 1)
        figures["into_empty"] = oda_import(document, work / "graph")
        figures["again_on_full"] = oda_import(document, work / "graph")
        increment = work / "increment.json"
        figures["increment_edges"] = write_increment(data, increment)
        figures["increment_into_full"] = oda_import(increment, work / "graph")
        figures["raw_upsert_s"] = raw_upsert(data, work / "floor")
    figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return figures


def render(f: dict[str, Any]) -> str:
    empty, again, inc = f["into_empty"], f["again_on_full"], f["increment_into_full"]
    return "\n".join(
        [
            f"oda import, {f['nodes']} nodes / {f['edges']} edges ({f['file_mb']} MB json), embedded store:",
            f"   into an empty store     {empty['wall_s']:>7} s  peak RSS {empty['peak_rss_mb']} MB  {empty['edges']}",
            f"   same file on the full   {again['wall_s']:>7} s  peak RSS {again['peak_rss_mb']} MB  {again['edges']}",
            f"   {f['increment_edges']} new edges into the full {inc['wall_s']:>5} s  peak RSS {inc['peak_rss_mb']} MB"
            f"  {inc['edges']}, cycles {inc['cycles']}",
            f"   floor: upsert_nodes + upsert_edges of prebuilt models {f['raw_upsert_s']} s"
            f"   (load average {f['load_average']})",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--edges", type=int, default=250_000, help="edges requested from the generator")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = measure_import(args.edges)
    print(json.dumps(figures) if args.json else render(figures), flush=True)


if __name__ == "__main__":
    main()
