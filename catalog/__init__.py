"""The curated catalog of well-known datasets and benchmarks, and the name rules that match mentions to it.

Shared by tracing (canonicalization), the graph store's queries (benchmark names), the review UI (edits that name a
catalog entry) and benchmarking (presets).
"""

from catalog.entries import CATALOG_PATH, Catalog, CatalogEntry
from catalog.names import ext_name, hf_id_from_text, normalize_name

__all__ = ["CATALOG_PATH", "Catalog", "CatalogEntry", "ext_name", "hf_id_from_text", "normalize_name"]
