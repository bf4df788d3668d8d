"""The lineage graph store: one contract, an embedded default and Neo4j."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graph_store.base import GraphStore, open_store

__all__ = ["GraphStore", "open_store"]


def __getattr__(name: str) -> Any:
    # Loaded on first use, so that a query answered from the adjacency index does not import the models.
    if name in __all__:
        from graph_store import base

        return getattr(base, name)
    raise AttributeError(f"module 'graph_store' has no attribute {name!r}")
