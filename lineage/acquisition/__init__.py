"""The acquisition layer: every read from the Hub, the web and arXiv, recorded to and replayed from snapshots.

from lineage.acquisition import Acquirer, AcquisitionConfig

async with Acquirer(AcquisitionConfig(snapshot_dir=Path("snap"), offline=True)) as acq:
    info = await acq.dataset_info("org/name")
    card = await acq.dataset_card("org/name")
"""

from lineage.acquisition.acquirer import Acquirer
from lineage.acquisition.config import AcquisitionConfig
from lineage.acquisition.links import discover_links, front_matter_sources
from lineage.acquisition.models import AcquisitionStats, Card, DatasetInfo, Link, Page, Paper

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
