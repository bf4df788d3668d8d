"""The lineage graph store: one contract, an embedded default and Neo4j."""

from graph_store.base import GraphStore, open_store

__all__ = ["GraphStore", "open_store"]
