"""schemathesis against the served OpenAPI schema: a bounded number of generated requests per operation, over a
graph that holds the traced demo. No response may be a server error, and every response must match the schema
(status code, content type, body)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from service.app import create_service_app
from service.runtime import ServiceRuntime
from tests.service.conftest import ALICE, TOKENS, demo_config

MAX_EXAMPLES = 25


@pytest.fixture
def service_schema(tmp_path: Path, traced_demo: Path) -> Iterator[Any]:
    from graph_store.factory import open_store
    from graph_store.io import export_json, import_file
    from service.runs import RunBook

    config = demo_config(tmp_path)
    book = RunBook(config.queue)
    store = open_store(config.store_uri)
    with open_store(str(traced_demo)) as source:  # the traced demo, through export and import
        dump = tmp_path / "demo.json"
        with dump.open("w", encoding="utf-8") as out:
            export_json(source, out)
    import_file(store, dump, "json")
    assert store.edges()
    try:
        app = create_service_app(ServiceRuntime(config, book, store, checkpointer=None), tokens=TOKENS)
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    finally:
        store.close()
        book.close()


def test_served_schema(service_schema: Any) -> None:
    """Each operation of the schema, ``MAX_EXAMPLES`` generated requests (with a token, so writes run too)."""
    operations = [result.ok() for result in service_schema.get_all_operations()]
    assert len(operations) >= 9
    for operation in operations:
        # A Cypher statement is free text that no JSON Schema can describe: a syntax error is a correct 400
        # there. Every other check (no server error, status codes, bodies) still applies to that route.
        excluded = [positive_data_acceptance] if operation.path == "/api/cypher" else []
        _fuzz(operation, excluded)


def _fuzz(operation: Any, excluded: list[Any]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers=dict(ALICE), excluded_checks=excluded)

    check()
