"""Read an edge's fetched text back from an acquisition snapshot, exactly as tracing read it.

Tracing records every external read in a snapshot directory (``oda trace --record DIR``). Given that directory,
``SnapshotContext`` replays, offline and through the same acquisition layer, the pages an edge's evidence came
from: the page at ``evidence_url`` (a blog, a GitHub README, a paper page) and the target's dataset card. The
review page then shows the evidence highlighted inside that text. Nothing is fetched from the network.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from urllib.parse import urlsplit

from graph_store.models import Edge, is_hf_id
from oda.errors import ConfigError, OdaError

CACHE_SIZE = 256
logger = logging.getLogger("oda.review")


def _is_card_url(url: str, target: str) -> bool:
    """True when ``url`` is the Hub page or card of ``target`` (read through the card instead)."""
    path = urlsplit(url).path.rstrip("/")
    return path == f"/datasets/{target}" or path.startswith(f"/datasets/{target}/")


class SnapshotContext:
    """A ``ContextSource`` over a recorded snapshot: ``(edge) -> [(label, text)]``; results are cached."""

    def __init__(self, snapshot_dir: str | Path, *, hf_endpoint: str | None = None) -> None:
        from acquisition.config import AcquisitionConfig

        root = Path(snapshot_dir)
        if not (root / "manifest.json").is_file():
            raise ConfigError(f"not a snapshot directory (no manifest.json): {root}")
        self.config = AcquisitionConfig(snapshot_dir=root, offline=True, hf_endpoint=hf_endpoint, retries=0)
        self._cache: OrderedDict[tuple[str, str | None], list[tuple[str, str]]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, edge: Edge) -> list[tuple[str, str]]:
        key = (edge.target, edge.evidence_url)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return list(self._cache[key])
        try:
            found = asyncio.run(self._read(edge))
        except Exception as exc:  # the page must still render, with the store's own context
            logger.warning("cannot replay the context of %s <- %s: %s", edge.target, edge.source, exc)
            return []
        with self._lock:
            self._cache[key] = found
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return list(found)

    async def _read(self, edge: Edge) -> list[tuple[str, str]]:
        from acquisition.acquirer import Acquirer

        found: list[tuple[str, str]] = []
        async with Acquirer(self.config) as acquirer:
            url = edge.evidence_url
            if url and url.startswith(("http://", "https://")) and not _is_card_url(url, edge.target):
                try:
                    page = await acquirer.fetch_page(url)
                    found.append((f"page fetched from {url}", page.text))
                except OdaError:
                    pass  # not recorded, or recorded as a failure: fall back to the other contexts
            if is_hf_id(edge.target):
                try:
                    card = await acquirer.dataset_card(edge.target)
                    found.append((f"dataset card of {edge.target}", card.raw))
                except OdaError:
                    pass
        return found
