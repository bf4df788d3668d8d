"""Fixtures for the store tests: a fresh store per test, on each backend.

``store`` is parametrized over the embedded store and the Neo4j driver path. The Neo4j one is marked
``integration``: it runs against an ArcadeDB Bolt server that this suite starts once per session (when the
``arcadedb-embedded`` package is installed; otherwise those tests skip) and empties before each test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from graph_store.cypher_store import CypherGraphStore
from graph_store.embedded import EmbeddedStore
from standins.arcadedb import ArcadeDBServer, arcadedb_available, start_arcadedb

SMALL_POOL = 64 * 1024 * 1024


@pytest.fixture(scope="session")
def arcadedb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArcadeDBServer]:
    """One ArcadeDB Bolt server for the session."""
    if not arcadedb_available():
        pytest.skip("arcadedb-embedded is not installed (pip install -e '.[bolt]')")
    with start_arcadedb(tmp_path_factory.mktemp("arcadedb")) as server:
        yield server


def _bolt_store(server: ArcadeDBServer) -> CypherGraphStore:
    from graph_store.neo4j_store import Neo4jStore

    empty_bolt_database(server)
    store = Neo4jStore.connect(server.uri, auth=server.auth, database=server.database)
    store.ensure_schema()
    return store


def empty_bolt_database(server: ArcadeDBServer) -> None:
    """Delete every node and relationship (the schema stays)."""
    import neo4j

    with (
        neo4j.GraphDatabase.driver(server.uri, auth=server.auth) as driver,
        driver.session(database=server.database) as session,
    ):
        session.run("MATCH (n) DETACH DELETE n").consume()


BACKENDS = ["embedded", "embedded-bulk", pytest.param("bolt", marks=pytest.mark.integration)]


def bulk_paths(store: EmbeddedStore) -> EmbeddedStore:
    """Make every write and query take the paths large inputs take (COPY, id snapshot, one-scan BFS)."""
    store.copy_min_rows = 0
    store.snapshot_min_items = 0
    store.bfs_scan_fraction = 0.0
    store.bfs_scan_min = 0
    return store


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CypherGraphStore]:
    """An empty store on each backend (``embedded-bulk``: the embedded store on its bulk paths)."""
    if request.param == "embedded":
        opened: CypherGraphStore = EmbeddedStore(tmp_path / "graph", buffer_pool_size=SMALL_POOL)
    elif request.param == "embedded-bulk":
        opened = bulk_paths(EmbeddedStore(tmp_path / "graph", buffer_pool_size=SMALL_POOL))
    else:
        opened = _bolt_store(request.getfixturevalue("arcadedb"))
    yield opened
    opened.close()
