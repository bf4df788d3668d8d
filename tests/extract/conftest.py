"""Fixtures for the extraction tests: chunk builders, the shipped catalog, the DPI data folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from catalog import Catalog
from graph_store.models import SourceKind
from lineage.extract.rules import RulesExtractor
from lineage.extract.types import ResourceChunk, make_chunk_id

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DPI_DIR = PROJECT_ROOT / ".." / "shared" / "data" / "dpi"
DEMO_WORLD = PROJECT_ROOT / "examples" / "demo" / "world"

ChunkFactory = Callable[..., ResourceChunk]


@pytest.fixture
def make_chunk() -> ChunkFactory:
    """Build a chunk of a given kind for the target ``org/target``."""

    def build(
        text: str,
        kind: SourceKind = SourceKind.CARD,
        *,
        target: str = "org/target",
        url: str = "https://huggingface.co/datasets/org/target",
        index: int = 0,
        title: str | None = None,
    ) -> ResourceChunk:
        return ResourceChunk(
            target=target,
            chunk_id=make_chunk_id(url + kind.value, index),
            kind=kind,
            url=url,
            title=title,
            text=text,
        )

    return build


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture(scope="session")
def rules() -> RulesExtractor:
    return RulesExtractor()


@pytest.fixture(scope="session")
def dpi_dir() -> Path:
    if not (DPI_DIR / "data_summaries").is_dir():
        pytest.skip("the DPI data folder ../shared/data/dpi is not available")
    return DPI_DIR
