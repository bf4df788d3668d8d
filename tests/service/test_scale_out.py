"""Scale-out for real: Postgres (queue, checkpoints, claims), the Bolt stand-in, ``oda serve`` and ``oda worker``
processes over a 200-dataset synthetic Hub. Workers are SIGKILLed mid-run; the graph must come out exactly as a
single-process ``oda trace`` of the same queue writes it, and no dataset may be traced by two workers at once."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.runs import ABANDONED, RunBook
from standins.synthetic_world import write_queue, write_world
from tests.service.conftest import REPO
from tests.service.test_cli import ODA, oda_serve

WORLD_SIZE = 200
QUEUE_ENTRIES = 25
MAX_DEPTH = 50  # deeper than any tree of the world: every ancestor is traced, whatever the order
TOKEN = "tok-alice-0001"
LEASE_S = 8
"""Long enough that a live worker's renewals (every third of it) never lapse on a loaded CI machine, short enough
that the killed workers' datasets are taken over within the test."""


def _edges(store_uri: str) -> tuple[list[tuple[str, str]], set[tuple[str, str, str, float, str]], set[str]]:
    from graph_store.factory import open_store

    with open_store(store_uri) as store:
        edges = store.edges()
        nodes = {n.id for n in store.nodes()}
    pairs = [(e.target, e.source) for e in edges]
    full = {(e.target, e.source, e.relationship.value, round(e.confidence, 6), e.status.value) for e in edges}
    return pairs, full, nodes


def _wipe(server: Any) -> None:
    import neo4j

    with (
        neo4j.GraphDatabase.driver(server.uri, auth=server.auth) as driver,
        driver.session(database=server.database) as session,
    ):
        session.run("MATCH (n) DETACH DELETE n").consume()


class Workers:
    """``oda worker`` processes, each logging to its own file."""

    def __init__(self, tmp_path: Path, env: dict[str, str], args: list[str]) -> None:
        self.tmp_path, self.env, self.args = tmp_path, env, args
        self.processes: list[subprocess.Popen[bytes]] = []
        self.killed: dict[int, float] = {}

    def start(self) -> subprocess.Popen[bytes]:
        log_path = self.tmp_path / f"worker-{len(self.processes)}.log"
        with log_path.open("wb") as log:  # the child keeps its own copy of the file
            process = subprocess.Popen(
                [*ODA, "worker", *self.args],
                cwd=self.tmp_path,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        self.killed[process.pid] = time.time()  # nothing it does after this moment counts
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def logs(self) -> str:
        return "\n".join(p.read_text()[-3000:] for p in sorted(self.tmp_path.glob("worker-*.log")))


def _pid_of(worker: str) -> int:
    return int(worker.rsplit(":", 1)[1])


def _busy_worker(
    view: dict[str, Any], alive: dict[int, subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes] | None:
    """A live worker process that has a dataset in flight now."""
    for item in view["datasets"]:
        pid = _pid_of(item["worker"])
        if item["finished"] is None and pid in alive and alive[pid].poll() is None:
            return alive[pid]
    return None


@pytest.mark.integration
@pytest.mark.slow
def test_workers_killed_mid_run_trace_the_graph_one_process_traces(
    tmp_path: Path, postgres_url: str, bolt_server: Any, hub_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = write_world(tmp_path / "world", WORLD_SIZE, seed=11)
    queue = write_queue(tmp_path / "queue.txt", list(reversed(world.ids[-QUEUE_ENTRIES:])))
    config = tmp_path / "oda.toml"
    config.write_text(
        "[acquisition]\nper_host_rate = 0\nretries = 6\nbackoff_base_s = 0.2\n", encoding="utf-8"
    )
    store_uri = f"{bolt_server.uri}?database={bolt_server.database}"
    user, password = bolt_server.auth
    monkeypatch.setenv("ODA_NEO4J_USER", user)  # this process reads the store too
    monkeypatch.setenv("ODA_NEO4J_PASSWORD", password)

    with hub_server(world.root) as hub_url:
        env = {
            **os.environ,
            "ODA_CONFIG": str(config),
            "HF_ENDPOINT": hub_url,
            "ODA_NEO4J_USER": user,
            "ODA_NEO4J_PASSWORD": password,
            "ODA_REVIEW_TOKENS": f"alice:{TOKEN}",
            "PYTHONPATH": str(REPO),
        }
        # the reference: one process, the same queue and options, into the same kind of store
        options = ["--extractor", "rules", "--max-depth", str(MAX_DEPTH)]
        checkpoints = ["--checkpoints", str(tmp_path / "reference.sqlite")]
        reference = subprocess.run(
            [*ODA, "trace", str(queue), "--store", store_uri, *options, *checkpoints, "--json"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert reference.returncode == 0, reference.stderr[-3000:]
        ref_pairs, ref_edges, ref_nodes = _edges(store_uri)
        assert len(ref_edges) > 100  # the world's trees overlap: a real graph, not a few chains
        _wipe(bolt_server)
        assert _edges(store_uri)[1] == set()

        serve_args = ["--queue", postgres_url, "--store", store_uri, "--workers", "0"]
        worker_args = ["--queue", postgres_url, "--store", store_uri, "--concurrency", "4"]
        worker_args += ["--lease", str(LEASE_S), "--heartbeat", "1", "--stalled-after", "6"]
        workers = Workers(tmp_path, env, worker_args)
        with oda_serve(tmp_path, *serve_args, env=env) as url:
            client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
            try:
                for _ in range(3):
                    workers.start()
                accepted = client.post(
                    "/api/traces",
                    json={
                        "datasets": queue.read_text().splitlines()[1:],
                        "extractor": "rules",
                        "max_depth": MAX_DEPTH,
                    },
                )
                assert accepted.status_code == 202, accepted.text
                run_id = accepted.json()["run_id"]

                kills_at = [40, 100]  # datasets finished when a busy worker is SIGKILLed
                deadline = time.monotonic() + 900
                while True:
                    view = client.get(f"/api/traces/{run_id}").json()
                    finished = sum(1 for d in view["datasets"] if d["finished"] is not None)
                    if kills_at and finished >= kills_at[0]:
                        alive = {p.pid: p for p in workers.processes if p.poll() is None}
                        victim = _busy_worker(view, alive)
                        if victim is not None:
                            workers.kill(victim)
                            kills_at.pop(0)
                            if not kills_at:
                                workers.start()  # the replacement
                    if view["state"] == "finished":
                        break
                    assert time.monotonic() < deadline, (
                        f"run did not finish: {view['state']}\n{workers.logs()}"
                    )
                    time.sleep(0.2)
                metrics = client.get("/metrics").text
            finally:
                client.close()
                workers.stop_all()

    assert len(workers.killed) == 2, workers.logs()
    assert {e["state"] for e in view["entries"]} == {"finished"}, workers.logs()
    assert 'oda_queue_entries{state="finished"}' in metrics

    book = RunBook(postgres_url)
    try:
        attempts = book.attempts(run_id)
        failures = book.run_view(run_id)["failures"]  # type: ignore[index]
    finally:
        book.close()

    # the same graph as the single process: no edge lost, none duplicated, no node missing
    pairs, edges, nodes = _edges(store_uri)
    assert len(pairs) == len(set(pairs)), "an edge was written twice"
    differing = {e[0] for e in edges ^ ref_edges}
    assert edges == ref_edges, (
        [a for a in attempts if a["dataset"] in differing],
        [f for f in failures if f["dataset"] in differing],
    )
    assert nodes == ref_nodes
    assert len(pairs) == len(ref_pairs)

    # no dataset traced by two workers at once; the killed workers' datasets were traced again after they died
    by_dataset: dict[str, list[dict[str, Any]]] = {}
    for attempt in attempts:
        by_dataset.setdefault(attempt["dataset"], []).append(attempt)
    cut_short = 0
    for dataset, tries in by_dataset.items():
        tries.sort(key=lambda a: a["started"])
        for before, after in itertools.pairwise(tries):
            if before["finished"] is not None:  # ended, or abandoned by its live worker (its entry stopped)
                assert after["started"] >= before["finished"], (f"{dataset} traced twice at once", tries)
            else:
                pid = _pid_of(before["worker"])
                assert pid in workers.killed, (
                    f"{dataset}: an attempt by a live worker never finished",
                    tries,
                )
                assert after["started"] >= workers.killed[pid], (
                    f"{dataset} taken over while its worker lived",
                    tries,
                )
        cut_short += sum(1 for a in tries if a["finished"] is None)
        ended = [a for a in tries if a["finished"] is not None and a["status"] != ABANDONED]
        assert len(ended) == 1, (f"{dataset} not traced exactly once in the run", tries)
        assert tries[-1] is ended[0], (f"{dataset} was tried again after it was traced", tries)
    assert cut_short >= 2  # both kills landed mid-dataset, and those datasets were traced again


@pytest.mark.integration
def test_a_run_is_queued_in_batches_one_job_per_entry_in_queue_order(
    tmp_path: Path, postgres_url: str, bolt_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    import psycopg

    import service.queue
    from service.runtime import ServiceConfig, ServiceRuntime

    monkeypatch.setattr(service.queue, "DEFER_BATCH", 3)
    user, password = bolt_server.auth
    monkeypatch.setenv("ODA_NEO4J_USER", user)
    monkeypatch.setenv("ODA_NEO4J_PASSWORD", password)
    config = ServiceConfig(store_uri=f"{bolt_server.uri}?database={bolt_server.database}", queue=postgres_url)
    datasets = [f"org/d{i}" for i in range(8)]

    async def queue_and_cancel() -> None:
        async with ServiceRuntime.open(config) as runtime:
            await runtime.submit("batched", {}, datasets, [])
            with psycopg.connect(postgres_url) as conn:
                jobs = conn.execute("SELECT args, status FROM procrastinate_jobs ORDER BY id").fetchall()
            assert [args for args, _ in jobs] == [{"run_id": "batched", "position": p} for p in range(8)]
            assert {status for _, status in jobs} == {"todo"}
            assert await runtime.cancel("batched")  # cancels the jobs the run book recorded for its entries
            with psycopg.connect(postgres_url) as conn:
                statuses = conn.execute("SELECT status FROM procrastinate_jobs").fetchall()
            assert statuses == [("cancelled",)] * 8

    asyncio.run(queue_and_cancel())
