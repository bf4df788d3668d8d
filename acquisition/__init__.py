"""The acquisition layer: every read from the Hub, the web and arXiv, recorded to and replayed from snapshots.

from acquisition import Acquirer, AcquisitionConfig

async with Acquirer(AcquisitionConfig(snapshot_dir=Path("snap"), offline=True)) as acq:
    info = await acq.dataset_info("org/name")
    card = await acq.dataset_card("org/name")

The names below load on first use, so importing a submodule (the command line does) does not pull in the HTTP
clients and the HTML parser.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from acquisition.acquirer import Acquirer
    from acquisition.config import AcquisitionConfig
    from acquisition.links import discover_links, front_matter_sources
    from acquisition.models import AcquisitionStats, Card, DatasetInfo, Link, Page, Paper

_HOMES = {
    "Acquirer": "acquirer",
    "AcquisitionConfig": "config",
    "discover_links": "links",
    "front_matter_sources": "links",
    "AcquisitionStats": "models",
    "Card": "models",
    "DatasetInfo": "models",
    "Link": "models",
    "Page": "models",
    "Paper": "models",
}

__all__ = [
    "Acquirer",
    "AcquisitionConfig",
    "AcquisitionStats",
    "Card",
    "DatasetInfo",
    "Link",
    "Page",
    "Paper",
    "discover_links",
    "front_matter_sources",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
