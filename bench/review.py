"""Load on the review app: 10 concurrent reviewers make 2,000 decisions over loopback.

It seeds an embedded store with flagged edges, starts ``oda review serve`` as a separate process on a free
loopback port, and runs 10 reviewer clients (httpx, one thread each) that take edges from a shared work list and
POST decisions (approve / reject with a reason / edit) to ``/api/decisions`` with ``expected_version``. A second
phase makes all 10 reviewers decide the same edges at the same moment, where exactly one must win and the others
get 409. Afterwards it stops the server, reopens the store and checks that every accepted decision is in the
audit log exactly once, with the right reviewer, previous value and resulting edge, and that sequence numbers
are unique. It prints the latency of a decision (p50/p90/p99/max) and the throughput.

    python bench/review.py [--decisions 2000] [--reviewers 10] [--contested 20] [--workdir DIR]
                           [--backend embedded|bolt]

``--backend bolt`` runs the same load over the Neo4j driver path, against an ArcadeDB Bolt server started on
loopback from the ``arcadedb-embedded`` wheel (``pip install -e '.[bolt]'``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]

from graph_store.factory import open_store  # noqa: E402
from graph_store.models import AuditEntry, Edge, EdgeStatus, Node, Relationship  # noqa: E402

ACTIONS = ("approve", "approve", "approve", "reject", "edit")
RESULT_STATUS = {"approve": EdgeStatus.APPROVED, "reject": EdgeStatus.REJECTED, "edit": EdgeStatus.EDITED}


def seed(uri: str, edges: int, seed_value: int = 7) -> None:
    """``edges`` flagged edges from 400 derived datasets to 60 sources, with downloads and domains."""
    rng = random.Random(seed_value)
    domains = ["Math", "Code", "Science", "General"]
    sources = [f"src-org/source-{i:03d}" for i in range(60)]
    targets = [f"lab-{i % 37:02d}/derived-{i:04d}" for i in range(400)]
    with open_store(uri) as store:
        store.upsert_nodes(
            Node(id=node_id, downloads=rng.randint(0, 100_000), domains=[rng.choice(domains)])
            for node_id in sources + targets
        )
        pairs: set[tuple[str, str]] = set()
        while len(pairs) < edges:
            pairs.add((rng.choice(targets), rng.choice(sources)))
        store.upsert_edges(
            Edge(
                target=target,
                source=source,
                relationship=rng.choice(list(Relationship)),
                confidence=round(rng.uniform(0.05, 0.69), 3),
                evidence=f"{target.split('/')[1]} was built from {source}",
                evidence_url=f"https://huggingface.co/datasets/{target}",
                extractor=rng.choice(["rules", "llm"]),
                status=EdgeStatus.FLAGGED,
            )
            for target, source in sorted(pairs)
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(uri: str, tokens: dict[str, str], log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "ODA_REVIEW_TOKENS": ",".join(f"{who}:{tok}" for tok, who in tokens.items())}
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "oda.cli", "review", "serve", "--store", uri, "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"server did not start; see {log_path}")
        time.sleep(0.2)


def decision_body(index: int, edge: dict[str, object]) -> dict[str, object]:
    action = ACTIONS[index % len(ACTIONS)]
    body: dict[str, object] = {
        "action": action,
        "target": edge["target"],
        "source": edge["source"],
        "expected_version": edge["version"],
    }
    if action == "reject":
        body["reason"] = f"not supported by the card (#{index})"
    if action == "edit":
        body["relationship"] = "Direct Inclusion/Subset"
        body["note"] = f"checked by hand (#{index})"
    return body


def measure_pages(base: str, remaining: list[dict[str, object]], errors: list[str]) -> dict[str, float]:
    """Median time to render the queue page and an edge page, one reviewer at a time, after the load."""
    timings: dict[str, list[float]] = {"queue": [], "edge": []}
    with httpx.Client(base_url=base, timeout=120) as http:
        for edge in remaining[:30]:
            for name, path, params in (
                ("queue", "/queue", {}),
                ("edge", "/edge", {"target": edge["target"], "source": edge["source"]}),
            ):
                t0 = time.perf_counter()
                try:
                    response = http.get(path, params=params)
                except httpx.TransportError as exc:
                    errors.append(f"GET {path}: the server stopped answering ({exc})")
                    return {name: statistics.median(v) for name, v in timings.items() if v}
                if response.status_code != 200:
                    errors.append(f"GET {path}: HTTP {response.status_code}")
                    continue
                timings[name].append((time.perf_counter() - t0) * 1000)
    return {name: statistics.median(values) for name, values in timings.items() if values}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--reviewers", type=int, default=10)
    parser.add_argument("--contested", type=int, default=20, help="edges every reviewer decides at once")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--backend", choices=("embedded", "bolt"), default="embedded")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="oda-review-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if args.backend == "bolt":
            from standins.arcadedb import start_arcadedb

            server = stack.enter_context(start_arcadedb(workdir / "arcadedb"))
            os.environ["ODA_NEO4J_USER"], os.environ["ODA_NEO4J_PASSWORD"] = server.auth
            uri = f"{server.uri}?database={server.database}"
        else:
            uri = str(workdir / "graph")
        print(f"store: {args.backend} ({uri})")
        return run(args, workdir, uri)


def run(args: argparse.Namespace, workdir: Path, uri: str) -> int:
    """Seed, serve, load, verify and print (see the module docstring)."""
    tokens = {f"bench-token-{i:02d}": f"reviewer{i:02d}" for i in range(args.reviewers)}
    started = time.perf_counter()
    seed(uri, args.decisions + args.contested + 50)
    print(
        f"seeded {args.decisions + args.contested + 50} flagged edges in {time.perf_counter() - started:.1f} s"
    )

    failures: list[str] = []
    process, base = start_server(uri, tokens, workdir / "server.log")
    try:
        listing = httpx.get(f"{base}/api/edges", params={"status": "flagged", "limit": 10_000}, timeout=120)
        listing.raise_for_status()
        flagged = listing.json()["edges"]
        work: queue.Queue[tuple[int, dict[str, object]]] = queue.Queue()
        for index, edge in enumerate(flagged[: args.decisions]):
            work.put((index, edge))
        contested = flagged[args.decisions : args.decisions + args.contested]

        lock = threading.Lock()
        latencies: list[float] = []
        accepted: dict[tuple[str, str], tuple[str, str]] = {}  # edge -> (reviewer, action)
        codes: Counter[int] = Counter()
        barrier = threading.Barrier(args.reviewers)

        def reviewer(token: str) -> None:
            name = tokens[token]
            with httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120
            ) as http:
                while True:
                    try:
                        index, edge = work.get_nowait()
                    except queue.Empty:
                        break
                    body = decision_body(index, edge)
                    t0 = time.perf_counter()
                    response = http.post("/api/decisions", json=body)
                    elapsed = time.perf_counter() - t0
                    with lock:
                        latencies.append(elapsed)
                        codes[response.status_code] += 1
                        if response.status_code >= 500:
                            failures.append(" ".join(response.text[:300].split()))
                        if response.status_code == 200:
                            accepted[(str(body["target"]), str(body["source"]))] = (name, str(body["action"]))
                for edge in contested:
                    barrier.wait()
                    body = {"action": "approve", "target": edge["target"], "source": edge["source"]}
                    body["expected_version"] = edge["version"]
                    response = http.post("/api/decisions", json=body)
                    with lock:
                        codes[response.status_code] += 1
                        if response.status_code >= 500:
                            failures.append(" ".join(response.text[:300].split()))
                        if response.status_code == 200:
                            accepted[(str(edge["target"]), str(edge["source"]))] = (name, "approve")

        t_start = time.perf_counter()
        threads = [threading.Thread(target=reviewer, args=(token,)) for token in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - t_start
        page_ms = measure_pages(base, flagged[args.decisions + args.contested :], failures)
    finally:
        if process.poll() is not None:
            failures.append(f"the server process exited by itself with code {process.returncode}")
        process.terminate()
        process.wait(timeout=30)

    problems: list[str] = []
    with open_store(uri) as store:
        log = store.audit_log()
        seqs = [entry.seq for entry in log]
        if len(set(seqs)) != len(seqs):
            problems.append("duplicate audit sequence numbers")
        by_edge: Counter[tuple[str, str]] = Counter((e.target, e.source) for e in log)
        for key, count in by_edge.items():
            if count != 1:
                problems.append(f"{key} has {count} audit entries")
        for entry in log:
            AuditEntry.model_validate(entry.model_dump(mode="json"))
            want = accepted.get((entry.target, entry.source))
            if want is None:
                problems.append(f"audit entry for an unaccepted decision: {entry.target} <- {entry.source}")
            elif (entry.reviewer, entry.action) != want:
                problems.append(
                    f"{entry.target} <- {entry.source}: logged {entry.reviewer}/{entry.action}, sent {want}"
                )
            if entry.previous.get("status") != "flagged":
                problems.append(
                    f"{entry.target} <- {entry.source}: previous status {entry.previous.get('status')}"
                )
        for (target, source), (_, action) in accepted.items():
            edge = store.get_edge(target, source)
            if edge is None or edge.status != RESULT_STATUS[action] or edge.version != 1:
                problems.append(f"{target} <- {source}: store holds {edge and (edge.status, edge.version)}")
        if len(log) != len(accepted):
            problems.append(f"{len(accepted)} decisions accepted but {len(log)} audit entries")

    ms = [x * 1000 for x in latencies]
    contested_wins = sum(1 for e in contested if (str(e["target"]), str(e["source"])) in accepted)
    print(
        f"reviewers: {args.reviewers}   decisions sent: {len(ms)}   HTTP codes: {dict(sorted(codes.items()))}"
    )
    print(
        f"contested edges: {len(contested)}, one winner each: {contested_wins == len(contested)} "
        f"({codes.get(409, 0)} conflicts answered 409)"
    )
    requests = sum(codes.values())
    print(
        f"wall time: {wall:.1f} s   throughput: {requests / wall:.1f} decision requests/s ({requests} in all)"
    )
    print(
        f"decision latency ms: p50 {statistics.median(ms):.1f}   p90 {percentile(ms, 90):.1f}   "
        f"p99 {percentile(ms, 99):.1f}   max {max(ms):.1f}"
    )
    print(
        "page render ms (median, after the load): "
        + "   ".join(f"{name} {value:.1f}" for name, value in page_ms.items())
    )
    print(f"audit log: {len(log)} entries, verified: {'OK' if not problems else 'FAILED'}")
    for problem in problems[:20]:
        print("  -", problem)
    for failure in sorted(set(failures))[:5]:
        print("  failure:", failure)
    return 1 if problems or failures or codes.get(200, 0) != len(accepted) else 0


if __name__ == "__main__":
    raise SystemExit(main())
