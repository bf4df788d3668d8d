"""Embedded store specifics: durability on disk, crash mid-batch, URIs, the read-only check."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from graph_store.embedded import EmbeddedStore
from graph_store.factory import neo4j_auth_from_env, open_store
from graph_store.models import Edge, EdgeStatus, Node
from graph_store.readonly import check_read_only
from oda.errors import ConfigError, ReadOnlyError

ROOT = Path(__file__).resolve().parents[2]


def test_store_is_durable_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "graph"
    with EmbeddedStore(path, buffer_pool_size=64 << 20) as store:
        store.upsert_edges([Edge(target="org/a", source="org/b", relationship="subset", confidence=0.5)])
    with open_store(f"embedded:{path}") as reopened:
        assert [e.key for e in reopened.edges()] == [("org/a", "org/b")]


def test_crash_mid_batch_leaves_last_committed_state(tmp_path: Path) -> None:
    path = tmp_path / "graph"
    script = textwrap.dedent(
        f"""
        import os
        from graph_store.embedded import EmbeddedStore
        from graph_store.models import Edge
        from graph_store import queries as q

        store = EmbeddedStore({str(path)!r}, buffer_pool_size=64 << 20)
        store.upsert_edges([Edge(target="org/a", source="org/b", relationship="subset", confidence=0.5)])
        rows = [{{"id": f"org/n{{i}}", "on_hub": True}} for i in range(500)]

        def work(tx):
            tx.run(*q.ensure_nodes(store.dialect, rows))
            os._exit(17)  # the process dies with the transaction open

        store._write(work)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 17, done.stderr
    with EmbeddedStore(path, buffer_pool_size=64 << 20) as store:
        assert [n.id for n in store.nodes()] == ["org/a", "org/b"]
        assert [e.key for e in store.edges()] == [("org/a", "org/b")]


@pytest.mark.parametrize("read_only", [False, True], ids=["read-write", "read-only"])
def test_a_log_torn_by_a_killed_writer_is_replayed_up_to_the_torn_record(
    tmp_path: Path, read_only: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """A process killed while it wrote the log's last record leaves that record torn: the next open keeps every
    write committed before it, drops the torn one, and says so."""
    path = tmp_path / "graph"
    script = textwrap.dedent(
        f"""
        import os
        from graph_store.embedded import EmbeddedStore
        from graph_store.models import Node

        store = EmbeddedStore({str(path)!r}, buffer_pool_size=64 << 20)
        for name in ("a", "b", "c"):
            store.upsert_nodes([Node(id=f"org/{{name}}", name=name)])  # one transaction each, in the log
        os._exit(0)  # no close: nothing is folded into the database file
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    log = path.with_name(path.name + ".wal")
    size = log.stat().st_size
    with log.open("r+b") as handle:  # the last record only partly written
        handle.truncate(size - 20)
    with (
        caplog.at_level("WARNING", logger="oda.store"),
        EmbeddedStore(path, buffer_pool_size=64 << 20, read_only=read_only) as store,
    ):
        assert [n.id for n in store.nodes()] == ["org/a", "org/b"]
    assert any("torn record" in r.getMessage() for r in caplog.records)
    with EmbeddedStore(path, buffer_pool_size=64 << 20, read_only=read_only) as again:  # repaired for good
        assert [n.id for n in again.nodes()] == ["org/a", "org/b"]


def test_open_store_uris(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_store(str(tmp_path / "plain")) as store:
        assert isinstance(store, EmbeddedStore)
    with pytest.raises(ConfigError, match="scheme"):
        open_store("redis://localhost")
    with pytest.raises(ConfigError, match="credentials"):
        open_store("bolt://neo4j:secret@localhost:7687")
    monkeypatch.setenv("NEO4J_AUTH", "neo4j/pw")
    monkeypatch.delenv("ODA_NEO4J_USER", raising=False)
    monkeypatch.delenv("ODA_NEO4J_PASSWORD", raising=False)
    assert neo4j_auth_from_env() == ("neo4j", "pw")
    monkeypatch.setenv("ODA_NEO4J_USER", "u")
    with pytest.raises(ConfigError):
        neo4j_auth_from_env()


def test_bolt_uri_opens_without_network_io(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ODA_NEO4J_USER", "neo4j")
    monkeypatch.setenv("ODA_NEO4J_PASSWORD", "pw")
    store = open_store("bolt://127.0.0.1:1?database=lineage")
    try:
        assert store.__class__.__name__ == "Neo4jStore" and getattr(store, "database", None) == "lineage"
    finally:
        store.close()


@pytest.mark.parametrize(
    "query",
    [
        "MATCH (n) SET n.x = 1",
        "match (n) detach delete n",
        "CREATE (n:Dataset {id: 'a/b'})",
        "MATCH (n) RETURN n; DROP TABLE Dataset",
        "COPY Dataset FROM 'x.csv'",
        "LOAD FROM 'x.csv' RETURN *",
        "CALL threads = 1",
        "CALL drop_fts_index('Dataset', 'idx')",
        "CALL apoc.create.node(['X'], {}) YIELD node RETURN node",
        "MATCH (n) /* sneaky */ REMOVE n.name",
        "",
    ],
)
def test_write_queries_are_refused(query: str) -> None:
    with pytest.raises(ReadOnlyError):
        check_read_only(query)


@pytest.mark.parametrize(
    "query",
    [
        "MATCH (n:Dataset) RETURN n.id",
        "MATCH (n:Dataset) WHERE n.summary CONTAINS 'CREATE; SET' RETURN n.id;",
        "MATCH (n) // delete everything? no\nRETURN count(n)",
        "CALL show_tables() RETURN *",
    ],
)
def test_read_queries_pass(query: str) -> None:
    check_read_only(query)


def test_many_small_writes_in_one_process_do_not_exhaust_the_buffer_pool(tmp_path: Path) -> None:
    """A long-lived writer (the review server, a long trace) makes hundreds of small writes in one process.

    With a 64 MB buffer pool, scanning a Python object per write used to fill the pool after ~40 writes.
    """
    store = EmbeddedStore(tmp_path / "graph", buffer_pool_size=64 * 1024 * 1024)
    try:
        n = 400
        edges = [
            Edge(
                target=f"org/t{i}",
                source=f"org/s{i}",
                relationship="subset",
                confidence=0.5,
                status="flagged",
            )
            for i in range(n)
        ]
        store.upsert_edges(edges)
        for i in range(n):
            store.upsert_nodes([Node(id=f"org/t{i}", downloads=i)])
            store.decide(f"org/t{i}", f"org/s{i}", "approve", reviewer="alice")
        assert {e.status for e in store.edges()} == {EdgeStatus.APPROVED}
        assert len(store.audit_log()) == n
        assert store.get_node("org/t7") is not None and store.get_node("org/t7").downloads == 7
    finally:
        store.close()


class _BlindLookupStore(EmbeddedStore):
    """Emulates the engine state seen once after a kill mid-write: the id lookup misses rows the key index has.

    Records, per lookup, whether its transaction MERGEs its creates.
    """

    merging: list[bool]

    def _existing_ids(self, tx, ids):  # type: ignore[no-untyped-def]
        self.merging.append(tx.merge_creates)
        return set()


def test_a_duplicate_key_the_lookup_missed_is_merged_not_duplicated(tmp_path: Path) -> None:
    store = _BlindLookupStore(tmp_path / "graph")
    store.merging = []
    try:
        edge = Edge(target="org/child", source="org/parent", relationship="subset", confidence=0.6)
        store.upsert_nodes([Node(id="org/child", downloads=1)])
        store.upsert_edges([edge])
        # every id now exists, yet the lookup reports none: a plain CREATE would hit the key index
        store.upsert_nodes([Node(id="org/child", downloads=2)])
        store.upsert_edges([edge.model_copy(update={"confidence": 0.9})])
        assert [n.id for n in store.nodes()] == ["org/child", "org/parent"]
        assert store.get_node("org/child").downloads == 2
        edges = store.edges()
        assert [(e.target, e.source, e.confidence) for e in edges] == [("org/child", "org/parent", 0.9)]
        # the first node write created; each write after it hit the key index and was retried once in a
        # merging transaction, and the next write started without merging again
        assert store.merging == [False, False, True, False, True, False, True]
    finally:
        store.close()
