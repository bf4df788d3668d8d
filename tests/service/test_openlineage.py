"""OpenLineage: run events sent by the workers to a loopback endpoint, and ``oda export --format openlineage``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.service.conftest import ALICE, demo_config, demo_ids, running_service, wait_for_run

SPEC_ENV = "ODA_OPENLINEAGE_SPEC"
SPEC_PATHS = (Path("/work/shared/data/openlineage/OpenLineage.json"),)


@contextmanager
def lineage_endpoint() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback HTTP endpoint that records the JSON bodies POSTed to ``/api/v1/lineage``."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/api/v1/lineage" and self.headers.get("Content-Type", "").startswith(
                "application/json"
            ):
                received.append(json.loads(body))
                self.send_response(201)
            else:
                self.send_response(404)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def _spec() -> dict[str, Any] | None:
    candidates = [Path(os.environ[SPEC_ENV])] if os.environ.get(SPEC_ENV) else list(SPEC_PATHS)
    for path in candidates:
        if path.is_file():
            return dict(json.loads(path.read_text(encoding="utf-8")))
    return None


@pytest.fixture(scope="module")
def traced_events(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Path]:
    """The demo traced by the embedded service with OpenLineage on: the events received, and the store."""
    import asyncio

    tmp_path = tmp_path_factory.mktemp("openlineage")
    with lineage_endpoint() as (url, received):
        config = demo_config(tmp_path, openlineage_url=url)

        async def trace() -> None:
            async with running_service(config) as (_runtime, client):
                body = {"datasets": demo_ids(), "extractor": "rules"}
                run_id = (await client.post("/api/traces", json=body, headers=ALICE)).json()["run_id"]
                await wait_for_run(client, run_id)

        asyncio.run(trace())  # closing the runtime waits until every queued event was sent
        return list(received), Path(config.store_uri)


def test_one_start_and_one_end_event_per_traced_dataset(
    traced_events: tuple[list[dict[str, Any]], Path],
) -> None:
    from graph_store.factory import open_store

    events, store_path = traced_events
    runs: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        uuid.UUID(event["run"]["runId"])
        runs.setdefault(event["run"]["runId"], []).append(event)
    by_dataset: dict[str, str] = {}
    for run_events in runs.values():
        assert run_events[0]["eventType"] == "START"
        assert len(run_events) == 2, run_events
        end = run_events[1]
        assert end["job"] == run_events[0]["job"] and end["job"]["namespace"] == "oda"
        [output] = end["outputs"]
        dataset = output["name"] if output["namespace"] == "huggingface" else "ext:" + output["name"]
        assert end["job"]["name"] == f"trace/{dataset}"
        by_dataset[dataset] = end["eventType"]
    assert by_dataset["legacy-nlp/OldQA"] == "ABORT"  # created in 2019: dropped by rule
    assert by_dataset[demo_ids()[0]] == "COMPLETE"

    with open_store(str(store_path)) as store:
        for run_events in runs.values():
            end = run_events[1]
            if end["eventType"] != "COMPLETE":
                continue
            target = end["outputs"][0]["name"]
            stored = {e.source: e for e in store.edges(target=target)}
            sent = {
                (i["name"] if i["namespace"] == "huggingface" else "ext:" + i["name"]): i["inputFacets"][
                    "odaLineage"
                ]
                for i in end["inputs"]
            }
            assert set(sent) == set(stored), target
            for source, facet in sent.items():
                assert facet["relationship"] == stored[source].relationship.value
                assert facet["confidence"] == pytest.approx(stored[source].confidence)
                assert facet["status"] == stored[source].status.value
                assert facet["_schemaURL"] and facet["_producer"]


def test_events_validate_against_the_openlineage_schema(
    traced_events: tuple[list[dict[str, Any]], Path],
) -> None:
    spec = _spec()
    if spec is None:
        pytest.skip(
            f"the OpenLineage spec (OpenLineage.json) is not on this machine: set {SPEC_ENV} to its path"
        )
    import jsonschema

    events, _ = traced_events
    pointer = "#/$defs/RunEvent" if "$defs" in spec else "#/definitions/RunEvent"  # 2-x and 1-x specs
    validator = jsonschema.Draft202012Validator(
        {**spec, "$ref": pointer}, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    for event in events:
        errors = sorted(validator.iter_errors(event), key=str)
        assert not errors, errors[0]


def test_export_openlineage_covers_every_edge(traced_events: tuple[list[dict[str, Any]], Path]) -> None:
    from graph_store.factory import open_store

    _, store_path = traced_events
    result = subprocess.run(
        [sys.executable, "-m", "oda.cli", "export", "--format", "openlineage", "--store", str(store_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    events = [json.loads(line) for line in result.stdout.splitlines()]
    with open_store(str(store_path)) as store:
        edges = [e for e in store.edges() if e.status.value != "rejected"]
    assert {e["eventType"] for e in events} == {"COMPLETE"}
    assert sum(len(e["inputs"]) for e in events) == len(edges)
    assert len({e["outputs"][0]["name"] for e in events}) == len(events) == len({e.target for e in edges})
