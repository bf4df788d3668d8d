"""The lineage graph store: one contract, an embedded default and Neo4j."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graph_store.base import GraphStore
    from graph_store.factory import open_store

__all__ = ["GraphStore", "open_store"]


def __getattr__(name: str) -> Any:
    # Loaded on first use, so that a query answered from the adjacency index does not import the models.
    if name == "GraphStore":
        from graph_store.base import GraphStore

        return GraphStore
    if name == "open_store":
        from graph_store.factory import open_store

        return open_store
    raise AttributeError(f"module 'graph_store' has no attribute {name!r}")
