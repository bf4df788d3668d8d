"""Several reviewers deciding at once over loopback: no decision is lost, a contested edge has one winner."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from graph_store.base import GraphStore
from graph_store.factory import open_store
from graph_store.models import Edge, EdgeStatus, Node
from review_ui.app import ReviewSettings, create_app
from review_ui.server import serve_in_thread

REVIEWERS = {f"tok-reviewer-{i:02d}": f"reviewer{i:02d}" for i in range(10)}
EDGES = 60


@pytest.fixture
def many_flagged(tmp_path: Path) -> Iterator[GraphStore]:
    store = open_store(str(tmp_path / "graph"))
    store.upsert_nodes([Node(id="org/root")])
    store.upsert_edges(
        Edge(
            target=f"org/d{i:04d}",
            source="org/root",
            relationship="subset",
            confidence=0.1 + (i % 50) / 100,
            status=EdgeStatus.FLAGGED,
            evidence=f"built from root, part {i}",
        )
        for i in range(EDGES)
    )
    try:
        yield store
    finally:
        store.close()


def test_ten_reviewers_lose_nothing_and_conflicts_have_one_winner(many_flagged: GraphStore) -> None:
    store = many_flagged
    app = create_app(store, ReviewSettings(tokens=REVIEWERS))
    tokens = list(REVIEWERS)
    contested = [f"org/d{i:04d}" for i in range(10)]
    own = [f"org/d{i:04d}" for i in range(10, EDGES)]
    lock = threading.Lock()
    made: dict[str, str] = {}
    statuses: Counter[int] = Counter()

    def work(index: int) -> None:
        token = tokens[index]
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            for target in contested:  # everyone tries the same ten edges, all at version 0
                r = http.post(
                    "/api/decisions",
                    json={"action": "approve", "target": target, "source": "org/root", "expected_version": 0},
                )
                with lock:
                    statuses[r.status_code] += 1
                    if r.status_code == 200:
                        made[target] = REVIEWERS[token]
            for target in own[index::10]:
                r = http.post(
                    "/api/decisions",
                    json={
                        "action": "reject",
                        "reason": "wrong",
                        "target": target,
                        "source": "org/root",
                        "expected_version": 0,
                    },
                )
                assert r.status_code == 200, r.text
                with lock:
                    made[target] = REVIEWERS[token]

    with serve_in_thread(app) as url, ThreadPoolExecutor(10) as pool:
        list(pool.map(work, range(10)))

    assert statuses == Counter({200: 10, 409: 90})
    log = store.audit_log()
    assert len(log) == EDGES
    assert len({entry.seq for entry in log}) == EDGES
    assert {entry.target: entry.reviewer for entry in log} == made
    for entry in log:
        assert entry.previous["status"] == "flagged"
        edge = store.get_edge(entry.target, "org/root")
        assert edge is not None and edge.version == 1
        if entry.target in contested:
            assert (edge.status, entry.action) == (EdgeStatus.APPROVED, "approve")
        else:
            assert (edge.status, entry.action) == (EdgeStatus.REJECTED, "reject")


@pytest.mark.slow
async def test_a_long_review_session_keeps_the_store_answering(tmp_path: Path) -> None:
    """300 decisions in one server process: every one is accepted and logged (no store exhaustion)."""
    count = 300
    store = open_store(str(tmp_path / "graph"))
    try:
        store.upsert_edges(
            Edge(
                target=f"org/long{i:04d}",
                source="org/root",
                relationship="subset",
                confidence=0.2,
                status=EdgeStatus.FLAGGED,
            )
            for i in range(count)
        )
        app = create_app(store, ReviewSettings(tokens=REVIEWERS))
        token = next(iter(REVIEWERS))
        transport = httpx.ASGITransport(app=app)
        codes: Counter[int] = Counter()
        first_failure = ""
        async with httpx.AsyncClient(transport=transport, base_url="http://review.test") as http:
            for i in range(count):
                response = await http.post(
                    "/api/decisions",
                    json={"action": "approve", "target": f"org/long{i:04d}", "source": "org/root"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                codes[response.status_code] += 1
                if response.status_code != 200:
                    first_failure = f"decision {i}: {response.status_code} {response.text[:200]}"
                    break
        assert codes == Counter({200: count}), first_failure
        assert len(store.audit_log()) == count
    finally:
        store.close()
