"""The lineage graph as OpenLineage ``RunEvent``s: the event model shared by the service's live events and
``oda export --format openlineage``.

Every traced dataset is one OpenLineage run of the job ``oda`` / ``trace/<dataset>``. The event's output is the
traced dataset; its inputs are the dataset's sources, each with the ``odaLineage`` input facet (relationship,
confidence, review status, evidence URL). The export writes one ``COMPLETE`` event per dataset that has sources,
one JSON object a line.

Dataset naming: Hub datasets are ``huggingface`` / ``org/name``; sources known only by name (``ext:`` nodes) are
``oda-external`` / ``<slug>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, ClassVar

import attr
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import InputDatasetFacet
from openlineage.client.serde import Serde
from openlineage.client.uuid import generate_new_uuid

from oda import __version__

PRODUCER = f"https://pypi.org/project/oda-lineage/{__version__}"
JOB_NAMESPACE = "oda"
HUB_NAMESPACE = "huggingface"
EXTERNAL_NAMESPACE = "oda-external"
FACET_NAME = "odaLineage"
FACET_SCHEMA_URL = "https://pypi.org/project/oda-lineage/#OdaLineageInputDatasetFacet"


@attr.define
class OdaLineageInputDatasetFacet(InputDatasetFacet):
    """How an input (a source) went into the output dataset: the lineage edge's fields."""

    relationship: str
    confidence: float
    status: str
    evidenceUrl: str | None = attr.field(default=None)  # OpenLineage field names are camelCase
    extractor: str | None = attr.field(default=None)

    _additional_skip_redact: ClassVar[list[str]] = ["relationship", "confidence", "status", "extractor"]

    @staticmethod
    def _get_schema() -> str:
        return FACET_SCHEMA_URL


def dataset_ref(node_id: str) -> tuple[str, str]:
    """``(namespace, name)`` of a node id."""
    if node_id.startswith("ext:"):
        return EXTERNAL_NAMESPACE, node_id.removeprefix("ext:")
    return HUB_NAMESPACE, node_id


def _inputs(edges: Iterable[Any]) -> list[InputDataset]:
    inputs = []
    for edge in edges:
        get = edge.get if isinstance(edge, dict) else lambda key, e=edge: getattr(e, key, None)
        status = get("status")
        status = getattr(status, "value", status)
        if status == "rejected":
            continue
        relationship = get("relationship")
        namespace, name = dataset_ref(str(get("source")))
        facet = OdaLineageInputDatasetFacet(
            relationship=str(getattr(relationship, "value", relationship)),
            confidence=float(get("confidence") or 0.0),
            status=str(status),
            evidenceUrl=get("evidence_url"),
            extractor=get("extractor"),
            producer=PRODUCER,
        )
        inputs.append(InputDataset(namespace=namespace, name=name, inputFacets={FACET_NAME: facet}))
    return inputs


def run_event(
    state: RunState, dataset: str, run_id: str, *, edges: Iterable[Any] = (), when: datetime | None = None
) -> RunEvent:
    """One run event of tracing ``dataset`` (``run_id`` is the OpenLineage run's UUID)."""
    namespace, name = dataset_ref(dataset)
    return RunEvent(
        eventType=state,
        eventTime=(when or datetime.now(UTC)).isoformat(),
        run=Run(runId=run_id),
        job=Job(namespace=JOB_NAMESPACE, name=f"trace/{dataset}"),
        inputs=_inputs(edges),
        outputs=[OutputDataset(namespace=namespace, name=name)],
        producer=PRODUCER,
    )


def graph_events(store: Any) -> Iterator[RunEvent]:
    """One ``COMPLETE`` event per dataset with sources, for the whole graph (its edges in target order)."""
    by_target: dict[str, list[Any]] = {}
    for edge in store.edges():
        by_target.setdefault(edge.target, []).append(edge)
    for target in sorted(by_target):
        edges = sorted(by_target[target], key=lambda e: e.source)
        updated = [e.updated_at for e in edges if e.updated_at is not None]
        when = max(updated) if updated else None
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        event = run_event(RunState.COMPLETE, target, str(generate_new_uuid(when)), edges=edges, when=when)
        if event.inputs:
            yield event


def export_openlineage(store: Any, out: IO[str]) -> int:
    """Write the graph as OpenLineage run events, one JSON object a line; returns the number of edges written."""
    edges = 0
    for event in graph_events(store):
        out.write(Serde.to_json(event) + "\n")
        edges += len(event.inputs or [])
    return edges


def export_openlineage_to_path(store: Any, fmt: str, path: str | Path | None) -> int:
    """``graph_store.io.export_to_path``'s signature, for ``oda export --format openlineage``."""
    import sys

    if path is None or str(path) == "-":
        return export_openlineage(store, sys.stdout)
    with open(path, "w", encoding="utf-8") as handle:
        return export_openlineage(store, handle)
