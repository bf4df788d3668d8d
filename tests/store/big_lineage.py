"""A large synthetic lineage in the project's ``json`` format, for import tests at scale.

Dataset ``i`` derives from one to three earlier datasets (biased toward old ones, so hubs emerge), so the lineage
is a DAG. Every edge carries its status and ``updated_at``, as in an export, so two imports of the same file give
byte-identical exports. Deterministic for a seed.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

STAMP = "2025-01-01T00:00:00+00:00"


def write_lineage(path: Path, n_edges: int, *, seed: int = 3) -> tuple[int, int]:
    """Write about ``n_edges`` edges to ``path``; returns (nodes, edges)."""
    rng = random.Random(seed)
    n_nodes = max(10, int(n_edges / 1.5))  # an upper bound: the loop stops at n_edges
    edges: list[dict[str, object]] = []
    seen: set[tuple[int, int]] = set()
    for i in range(1, n_nodes):
        for _ in range(rng.randint(1, 3)):
            j = int(i * rng.random() ** 2)
            if (i, j) in seen:
                continue
            seen.add((i, j))
            edges.append(
                {
                    "target": f"org/d{i}",
                    "source": f"org/d{j}",
                    "relationship": "Direct Inclusion/Subset",
                    "confidence": round(rng.uniform(0.3, 1.0), 3),
                    "evidence": f"org/d{i} includes org/d{j}",
                    "status": "auto",
                    "updated_at": STAMP,
                }
            )
            if len(edges) >= n_edges:
                break
        if len(edges) >= n_edges:
            n_nodes = i + 1
            break
    nodes = [{"id": f"org/d{i}", "downloads": i} for i in range(n_nodes)]
    path.write_text(json.dumps({"nodes": nodes, "edges": edges}, indent=1), encoding="utf-8")
    return len(nodes), len(edges)
