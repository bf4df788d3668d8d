"""Fixtures for the review app: a real embedded store seeded with a small lineage graph, and clients."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from graph_store.base import GraphStore
from graph_store.factory import open_store
from graph_store.models import ConfidenceComponents, Edge, EdgeStatus, Node
from review_ui.app import ReviewSettings, create_app

TOKENS = {"tok-alice-0001": "alice", "tok-bob-0002": "bob"}
ALICE, BOB = "tok-alice-0001", "tok-bob-0002"
SCRIPT_EVIDENCE = 'distilled from org/base-math <script>alert("pwned")</script> with R1'
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def seed(store: GraphStore) -> None:
    """Five datasets, three flagged edges and a chain of auto edges below ``org/derived-a``.

    Downstream counts: org/derived-a has two descendants (org/grandchild, org/great), org/derived-b none.
    """
    store.upsert_nodes(
        [
            Node(id="org/base-math", downloads=5000, domains=["Math"], summary="Competition problems."),
            Node(
                id="org/derived-a",
                downloads=100,
                domains=["Math"],
                summary="Intro.\nThis set was   Built from\norg/base-math by rewriting every problem. More text.",
            ),
            Node(id="org/derived-b", downloads=9000, domains=["Code"], summary=f"Card: {SCRIPT_EVIDENCE}."),
            Node(id="org/grandchild", downloads=10, domains=["Math"]),
            Node(id="org/great", downloads=1, domains=["Math"]),
            Node(id="org/other-src", downloads=50, domains=["Math"]),
            Node(id="org/unrelated", downloads=70, domains=["General"]),
            Node(id="ext:aops-wiki", on_hub=False, name="AoPS Wiki"),
        ]
    )
    parts = ConfidenceComponents(support=0.5, credibility=0.6, agreement=0.3)
    store.upsert_edges(
        [
            Edge(
                target="org/derived-a",
                source="org/base-math",
                relationship="Semantic Evolution",
                confidence=0.4,
                evidence="built from org/base-math",
                evidence_url="https://huggingface.co/datasets/org/derived-a",
                source_kind="card",
                extractor="rules",
                status=EdgeStatus.FLAGGED,
                components=parts,
            ),
            Edge(
                target="org/derived-a",
                source="org/other-src",
                relationship="Synthetic Generation",
                confidence=0.55,
                evidence="other-src",
                extractor="llm",
                status=EdgeStatus.FLAGGED,
            ),
            Edge(
                target="org/derived-b",
                source="org/base-math",
                relationship="CoT Distillation",
                confidence=0.3,
                evidence=SCRIPT_EVIDENCE,
                evidence_url="javascript:alert(1)",
                extractor="llm",
                status=EdgeStatus.FLAGGED,
            ),
            Edge(target="org/grandchild", source="org/derived-a", relationship="subset", confidence=0.9),
            Edge(target="org/great", source="org/grandchild", relationship="subset", confidence=0.9),
            Edge(target="org/derived-b", source="ext:aops-wiki", relationship="subset", confidence=0.95),
        ]
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[GraphStore]:
    graph = open_store(str(tmp_path / "graph"))
    seed(graph)
    try:
        yield graph
    finally:
        graph.close()


def make_app(store: GraphStore, **overrides: Any) -> FastAPI:
    settings = ReviewSettings(tokens=dict(TOKENS), secret=b"test-secret-0123456789", **overrides)
    return create_app(store, settings)


def only_in_catalog(node_id: str) -> bool:
    """Stands in for the curated catalog: it knows one id that the store does not hold."""
    return node_id == "catalog/only-here"


@pytest.fixture
def app(store: GraphStore) -> FastAPI:
    return make_app(store, catalog_check=only_in_catalog)


def new_client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://review.test")


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with new_client(app) as http:
        yield http


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


async def sign_in(http: httpx.AsyncClient, token: str) -> str:
    """Sign in through the login form; return the CSRF token of the new session."""
    page = await http.get("/login")
    response = await http.post("/login", data={"csrf": csrf_of(page.text), "token": token, "next": "/queue"})
    assert response.status_code == 303
    assert response.headers["location"] == "/queue"
    queue = await http.get("/queue")
    return csrf_of(queue.text)
