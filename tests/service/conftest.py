"""Fixtures for the service: a runtime over a temporary embedded store and SQLite run book, and its app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.runtime import ServiceConfig, ServiceRuntime

REPO = Path(__file__).resolve().parents[2]
DEMO_SNAPSHOT = REPO / "examples" / "demo" / "snapshot"
DEMO_QUEUE = REPO / "examples" / "demo" / "queue.txt"
TOKENS = {"tok-alice-0001": "alice"}
ALICE = {"Authorization": "Bearer tok-alice-0001"}


def demo_ids() -> list[str]:
    from lineage.runner import parse_queue

    return parse_queue(DEMO_QUEUE).entries


def demo_config(tmp_path: Path, **values: Any) -> ServiceConfig:
    options: dict[str, Any] = {
        "store_uri": str(tmp_path / "graph"),
        "queue": str(tmp_path / "service.sqlite"),
        "concurrency": 4,
        "acquisition": {"snapshot_dir": str(DEMO_SNAPSHOT), "offline": True},
    }
    options.update(values)
    return ServiceConfig(**options)


@asynccontextmanager
async def running_service(
    config: ServiceConfig, *, workers: int = 1, **app_options: Any
) -> AsyncIterator[tuple[ServiceRuntime, httpx.AsyncClient]]:
    """An opened runtime with ``workers`` in-process workers and an in-process client of its app."""
    from service.app import create_service_app

    async with ServiceRuntime.open(config) as runtime:
        app = create_service_app(runtime, tokens=app_options.pop("tokens", TOKENS), **app_options)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(runtime.embedded_worker(stop)) for _ in range(workers)]
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as client:
                yield runtime, client
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)


async def wait_for_run(client: httpx.AsyncClient, run_id: str, timeout_s: float = 120.0) -> dict[str, Any]:
    """Poll ``GET /api/traces/{run}`` until the run has ended."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        response = await client.get(f"/api/traces/{run_id}")
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()
        if view["state"] in ("finished", "cancelled"):
            return view
        if loop.time() > deadline:
            raise AssertionError(f"run {run_id} did not end: {view['state']}")
        await asyncio.sleep(0.1)


@pytest.fixture(scope="session")
def traced_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo queue traced once by the single-process CLI path (``run_trace``), rules extractor."""
    from lineage.context import TraceContext
    from lineage.runner import acquisition_from_options, parse_queue, run_trace

    root = tmp_path_factory.mktemp("demo-trace")
    ctx = TraceContext(
        run_id="reference",
        store_uri=str(root / "graph"),
        extractor="rules",
        acquisition=acquisition_from_options(
            hf_endpoint=None, snapshot=DEMO_SNAPSHOT, offline=True, record=None
        ),
    )
    asyncio.run(run_trace(ctx, parse_queue(DEMO_QUEUE), checkpoints=root / "runs.sqlite"))
    return root / "graph"


def edge_set(store_uri: str) -> set[tuple[str, str, str, float, str]]:
    from graph_store.factory import open_store

    with open_store(store_uri) as store:
        return {
            (e.target, e.source, e.relationship.value, round(e.confidence, 6), e.status.value)
            for e in store.edges()
        }


@pytest.fixture
def api_only(tmp_path: Path) -> Iterator[ServiceRuntime]:
    """A runtime with no workers and no checkpointer (what the API alone needs), built synchronously."""
    from graph_store.factory import open_store
    from service.runs import RunBook

    config = demo_config(tmp_path)
    book = RunBook(config.queue)
    store = open_store(config.store_uri)
    try:
        yield ServiceRuntime(config, book, store, checkpointer=None)
    finally:
        store.close()
        book.close()


# --- Postgres (scale-out) ------------------------------------------------------------------------------------

POSTGRES_ADMIN_URL = "postgresql://oda:oda@127.0.0.1:5432/oda"


def postgres_binaries() -> bool:
    """True when Debian's Postgres server is installed (what ``scripts/start_postgres.sh`` starts)."""
    import shutil

    return shutil.which("pg_ctlcluster") is not None and any(
        Path("/usr/lib/postgresql").glob("*/bin/postgres")
    )


def _reachable(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the loopback cluster (created for the test, dropped after).

    Skips only when the Postgres binaries are absent; a cluster that is installed but stopped is started with
    ``scripts/start_postgres.sh`` (as root), and a cluster that still cannot be reached fails the test."""
    import os
    import secrets
    import subprocess

    import psycopg

    if not postgres_binaries():
        pytest.skip(
            "Postgres binaries are absent (apt-get install postgresql; CI runs scripts/start_postgres.sh)"
        )
    if not _reachable(POSTGRES_ADMIN_URL) and os.geteuid() == 0:
        subprocess.run(["bash", str(REPO / "scripts" / "start_postgres.sh")], check=True, capture_output=True)
    if not _reachable(POSTGRES_ADMIN_URL):
        pytest.fail(
            f"Postgres is installed but {POSTGRES_ADMIN_URL} does not answer: run scripts/start_postgres.sh"
        )
    name = "oda_test_" + secrets.token_hex(4)
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://oda:oda@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def bolt_server(tmp_path: Path) -> Iterator[Any]:
    """An ArcadeDB server speaking Bolt (the Neo4j stand-in), started for the test."""
    from standins.arcadedb import arcadedb_available, start_arcadedb

    if not arcadedb_available():
        pytest.skip("arcadedb-embedded is not installed (pip install -e '.[bolt]')")
    with start_arcadedb(tmp_path / "arcadedb") as server:
        yield server


@pytest.fixture
def hub_server() -> Any:
    """A factory: ``with hub_server(world_dir) as base_url`` serves a world with the Hub stand-in."""
    from standins.hub import serve_in_thread

    return serve_in_thread
