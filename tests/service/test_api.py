"""The service API in process: every route, its errors, auth, cancel, and a whole trace through the API."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_service_app
from service.runtime import ServiceRuntime
from tests.service.conftest import (
    ALICE,
    TOKENS,
    demo_config,
    demo_ids,
    edge_set,
    running_service,
    wait_for_run,
)


async def test_trace_through_the_api_equals_the_single_process_trace(
    tmp_path: Path, traced_demo: Path
) -> None:
    config = demo_config(tmp_path, concurrency=4)
    async with running_service(config, workers=2) as (_runtime, client):
        accepted = await client.post(
            "/api/traces", json={"datasets": [*demo_ids(), "not an id"], "extractor": "rules"}, headers=ALICE
        )
        assert accepted.status_code == 202, accepted.text
        body = accepted.json()
        assert body["queued"] == len(demo_ids())
        assert [r["dataset"] for r in body["refused"]] == ["not an id"]
        view = await wait_for_run(client, body["run_id"])

        assert view["state"] == "finished"
        assert {e["state"] for e in view["entries"]} == {"finished"}
        assert view["totals"]["traced"] >= len(demo_ids()) - 1
        statuses = {d["dataset"]: d["status"] for d in view["datasets"]}
        assert statuses["legacy-nlp/OldQA"] == "dropped"
        assert all(d["finished"] is not None for d in view["datasets"])
        # no dataset traced twice in a run (a later entry reuses what an earlier one traced)
        datasets = [d["dataset"] for d in view["datasets"]]
        assert len(datasets) == len(set(datasets))

        root = demo_ids()[0]
        lineage = await client.get(f"/api/datasets/{root}")
        assert lineage.status_code == 200
        data = lineage.json()
        assert data["node"]["id"] == root
        assert {e["target"] for e in data["upstream"]["edges"]} >= {root}
        hits = await client.get("/api/contamination/openai/gsm8k", params={"min_confidence": 0.0})
        assert hits.status_code == 200
        assert root in {h["dataset"] for h in hits.json()}
        filtered = await client.get(
            "/api/contamination/openai/gsm8k", params={"min_confidence": 0.99, "status": ["approved"]}
        )
        assert filtered.status_code == 200 and filtered.json() == []
        rows = await client.post(
            "/api/cypher",
            json={
                "query": "MATCH (d:Dataset {id: $id})-[:DERIVED_FROM]->(s) RETURN s.id AS s",
                "params": {"id": root},
            },
        )
        assert rows.status_code == 200, rows.text
        assert {r["s"] for r in rows.json()} == {
            e["source"] for e in data["upstream"]["edges"] if e["target"] == root
        }
        stats = (await client.get("/api/stats")).json()
        assert stats["edges"] == len(edge_set(str(traced_demo)))
        metrics = (await client.get("/metrics")).text
        assert 'oda_datasets_traced_total{status="traced"}' in metrics
        assert 'oda_queue_entries{state="finished"}' in metrics
        assert "oda_hub_call_seconds_count" in metrics
        assert "oda_review_backlog" in metrics
        assert 'oda_dataset_attempts_finished{status="traced"}' in metrics
    # the lineage the service traced is the one the one-shot command traces
    assert edge_set(config.store_uri) == edge_set(str(traced_demo))


def test_writes_need_a_token_and_reads_are_open(api_only: ServiceRuntime) -> None:
    client = TestClient(create_service_app(api_only, tokens=TOKENS))
    body = {"datasets": ["org/name"]}
    assert client.post("/api/traces", json=body).status_code == 401
    wrong = client.post("/api/traces", json=body, headers={"Authorization": "Bearer nope-nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert (
        client.post("/api/traces", json=body, headers={"Authorization": "Basic tok-alice-0001"}).status_code
        == 401
    )
    accepted = client.post("/api/traces", json=body, headers=ALICE)
    assert accepted.status_code == 202
    run_id = accepted.json()["run_id"]
    assert client.delete(f"/api/traces/{run_id}").status_code == 401
    assert client.get(f"/api/traces/{run_id}").status_code == 200
    assert client.get("/api/stats").status_code == 200


def test_closed_reads_need_a_token(api_only: ServiceRuntime) -> None:
    api_only.config.open_reads = False
    client = TestClient(create_service_app(api_only, tokens=TOKENS))
    assert client.get("/api/stats").status_code == 401
    assert client.post("/api/cypher", json={"query": "MATCH (n) RETURN count(n) AS n"}).status_code == 401
    assert client.get("/api/stats", headers=ALICE).status_code == 200
    assert client.get("/healthz").status_code == 200  # health stays open for probes


def test_unknown_run_and_bad_ids(api_only: ServiceRuntime) -> None:
    client = TestClient(create_service_app(api_only, tokens=TOKENS))
    assert client.get("/api/traces/trace-20990101T000000-abcdef").status_code == 404
    assert client.delete("/api/traces/trace-20990101T000000-abcdef", headers=ALICE).status_code == 404
    assert client.get("/api/traces/%20bad%20id%20").status_code == 404
    refused = client.post("/api/traces", json={"datasets": ["not an id", "a/b/c/d"]}, headers=ALICE)
    assert refused.status_code == 202 and refused.json()["queued"] == 0
    reasons = [r["reason"] for r in refused.json()["refused"]]
    assert "no organization" in reasons[0] and "more than one '/'" in reasons[1]
    empty_run = client.get(f"/api/traces/{refused.json()['run_id']}").json()
    assert empty_run["state"] == "finished" and len(empty_run["failures"]) == 2
    assert client.post("/api/traces", json={"datasets": []}, headers=ALICE).status_code == 422
    assert (
        client.post("/api/traces", json={"datasets": ["a/b"], "max_depth": -1}, headers=ALICE).status_code
        == 422
    )
    assert (
        client.post("/api/traces", json={"datasets": ["a/b"], "colour": "red"}, headers=ALICE).status_code
        == 422
    )
    missing = client.get("/api/datasets/nobody/nothing")
    assert missing.status_code == 404 and "no dataset" in missing.json()["detail"]
    assert client.get("/api/contamination/openai/gsm8k", params={"status": "maybe"}).status_code == 422
    assert client.get("/api/contamination/nobody/nothing").json() == []
    write = client.post("/api/cypher", json={"query": "MATCH (n) DETACH DELETE n"})
    assert write.status_code == 400 and "read-only" in write.json()["detail"]
    bad = client.post("/api/cypher", json={"query": "MATCH (n RETURN n"})
    assert bad.status_code == 400


def test_cancel_a_queued_run(api_only: ServiceRuntime) -> None:
    client = TestClient(create_service_app(api_only, tokens=TOKENS))
    run_id = client.post("/api/traces", json={"datasets": ["org/one", "org/two"]}, headers=ALICE).json()[
        "run_id"
    ]
    assert client.get(f"/api/traces/{run_id}").json()["state"] == "queued"
    cancelled = client.delete(f"/api/traces/{run_id}", headers=ALICE)
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    assert {e["state"] for e in cancelled.json()["entries"]} == {"cancelled"}
    assert api_only.book.next_entry("w") is None  # nothing left to take


async def test_cancel_stops_a_running_entry(tmp_path: Path) -> None:
    config = demo_config(tmp_path)
    async with running_service(config, workers=0) as (runtime, client):
        run_id = (
            await client.post(
                "/api/traces", json={"datasets": demo_ids()[:1], "extractor": "rules"}, headers=ALICE
            )
        ).json()["run_id"]
        taken = runtime.book.next_entry(runtime.worker)
        assert taken is not None
        assert (await client.get(f"/api/traces/{run_id}")).json()["state"] == "running"
        assert (await client.delete(f"/api/traces/{run_id}", headers=ALICE)).json()["state"] == "cancelling"
        assert await runtime.trace_entry(*taken) == "cancelled"
        view = (await client.get(f"/api/traces/{run_id}")).json()
        assert view["state"] == "cancelled"
        assert view["datasets"] == []  # stopped before tracing anything


async def test_a_restarted_service_resumes_an_entry_from_its_checkpoint(
    tmp_path: Path, traced_demo: Path
) -> None:
    """Entries left running by a stopped service are queued again and resume from their LangGraph thread."""
    config = demo_config(tmp_path, concurrency=2)
    async with running_service(config, workers=0) as (runtime, client):
        run_id = (
            await client.post(
                "/api/traces", json={"datasets": demo_ids(), "extractor": "rules"}, headers=ALICE
            )
        ).json()["run_id"]
        taken = runtime.book.next_entry(runtime.worker)
        assert taken is not None
        task = asyncio.create_task(runtime.trace_entry(*taken))
        while len(runtime.book.attempts(run_id)) < 3:
            await asyncio.sleep(0.01)
        task.cancel()  # the process "stops" mid-entry
        await asyncio.gather(task, return_exceptions=True)
    async with running_service(config, workers=0) as (runtime, client):
        assert runtime.book.requeue_running() == 1
        stop = asyncio.Event()
        worker = asyncio.create_task(runtime.embedded_worker(stop))
        view = await wait_for_run(client, run_id)
        stop.set()
        await worker
    assert view["state"] == "finished"
    assert edge_set(config.store_uri) == edge_set(str(traced_demo))


def test_health_docs_schema_and_review_mount(api_only: ServiceRuntime) -> None:
    client = TestClient(create_service_app(api_only, tokens=TOKENS))
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["mode"] == "embedded"
    schema = client.get("/openapi.json").json()
    assert {"/api/traces", "/api/traces/{run_id}", "/api/cypher", "/api/stats"} <= set(schema["paths"])
    assert client.get("/docs").status_code == 200
    queue = client.get("/review/queue")
    assert queue.status_code == 200
    assert 'href="/review/static/review.css"' in queue.text
    assert 'href="/queue' not in queue.text
    assert client.get("/review/static/review.css").status_code == 200
    redirect = client.get("/review/", follow_redirects=False)
    assert redirect.status_code in (302, 303, 307) and redirect.headers["location"].startswith("/review/")
    assert client.get("/review/api/progress").status_code == 200


@pytest.mark.parametrize("bad", ["", "sqlite:"])
def test_scale_out_needs_a_bolt_store(tmp_path: Path, bad: str) -> None:
    from oda.errors import ConfigError
    from service.runtime import ServiceConfig

    with pytest.raises(ConfigError, match="Bolt store"):
        ServiceConfig(store_uri=str(tmp_path / "graph") + bad, queue="postgresql://oda:oda@127.0.0.1/oda")
