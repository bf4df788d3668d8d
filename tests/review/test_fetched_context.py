"""Evidence shown inside the pages tracing fetched, replayed offline from a recorded snapshot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from graph_store.base import GraphStore
from graph_store.factory import open_store
from graph_store.models import Edge, EdgeStatus
from oda.errors import ConfigError
from review_ui.fetched_context import SnapshotContext
from tests.review.conftest import make_app

CARD = """---
license: mit
---
# Derived C

We collected the problems of org/base-math and rewrote them with a
stronger model.
"""
BLOG = (
    "<html><head><title>Blog</title></head><body><nav>menu</nav><article><h1>How we built C</h1>"
    "<p>The seed set is <b>org/base-math</b>; every answer was distilled   from a teacher "
    "&lt;img src=x onerror=alert(1)&gt;.</p></article></body></html>"
)


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from standins.snapshot_builder import build_snapshot

    world = tmp_path_factory.mktemp("world")
    card_dir = world / "datasets" / "org" / "derived-c"
    card_dir.mkdir(parents=True)
    (card_dir / "README.md").write_text(CARD, encoding="utf-8")
    (card_dir / "info.json").write_text('{"downloads": 10}', encoding="utf-8")
    (world / "pages").mkdir()
    (world / "pages" / "blog.html").write_text(BLOG, encoding="utf-8")
    pages = {"https://blog.example.org/c": {"file": "pages/blog.html", "content_type": "text/html"}}
    (world / "pages.json").write_text(json.dumps(pages), encoding="utf-8")
    out = tmp_path_factory.mktemp("snapshot")
    report = build_snapshot(world, out)
    assert report.failures == []
    return out


@pytest.fixture
def traced_store(tmp_path: Path) -> Iterator[GraphStore]:
    store = open_store(str(tmp_path / "graph"))
    common = {"target": "org/derived-c", "relationship": "CoT Distillation", "status": EdgeStatus.FLAGGED}
    store.upsert_edges(
        [
            Edge(
                **common,
                source="org/base-math",
                confidence=0.4,
                evidence="every answer was distilled from a teacher <img src=x onerror=alert(1)>",
                evidence_url="https://blog.example.org/c",
                source_kind="blog",
            ),
            Edge(
                **common,
                source="org/stronger",
                confidence=0.3,
                evidence="rewrote them with a stronger model",
                evidence_url="https://huggingface.co/datasets/org/derived-c",
                source_kind="card",
            ),
        ]
    )
    try:
        yield store
    finally:
        store.close()


async def test_evidence_is_highlighted_in_the_replayed_page_and_card(
    snapshot: Path, traced_store: GraphStore
) -> None:
    app = make_app(traced_store, context_source=SnapshotContext(snapshot))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://review.test"
    ) as http:
        blog = (await http.get("/edge", params={"target": "org/derived-c", "source": "org/base-math"})).text
        assert "page fetched from https://blog.example.org/c" in blog
        assert (
            "<mark>every answer was distilled from a teacher &lt;img src=x onerror=alert(1)&gt;</mark>"
            in blog
        )
        assert "The seed set is org/base-math;" in blog
        assert "<img src=x" not in blog
        card = (await http.get("/edge", params={"target": "org/derived-c", "source": "org/stronger"})).text
        assert "dataset card of org/derived-c" in card
        assert "<mark>rewrote them with a\nstronger model</mark>" in card


def test_a_page_missing_from_the_snapshot_falls_back_to_the_card(snapshot: Path) -> None:
    context = SnapshotContext(snapshot)
    edge = Edge(
        target="org/derived-c",
        source="org/base-math",
        relationship="subset",
        confidence=0.2,
        evidence_url="https://blog.example.org/never-recorded",
    )
    assert [label for label, _ in context(edge)] == ["dataset card of org/derived-c"]
    unknown = Edge(target="org/not-recorded", source="org/base-math", relationship="subset", confidence=0.2)
    assert context(unknown) == []


def test_a_folder_without_a_manifest_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a snapshot directory"):
        SnapshotContext(tmp_path)
