"""OpenLineage: the lineage graph as ``RunEvent``s, live from the workers and exported in bulk.

Every dataset a worker traces is one OpenLineage run of the job ``oda`` / ``trace/<dataset>``: a ``START`` event
when the trace begins, then ``COMPLETE`` (traced), ``ABORT`` (dropped by rule: too old, gated, not found) or
``FAIL`` (could not be traced). The event's output is the traced dataset; its inputs are the dataset's sources,
each with the ``odaLineage`` input facet (relationship, confidence, review status, evidence URL). Events go
through the official ``openlineage-python`` client's HTTP transport to any OpenLineage endpoint (Marquez,
``POST {url}/api/v1/lineage``), from a background thread so a slow endpoint never slows tracing; a failed send is
logged and dropped.

``oda export --format openlineage`` writes the whole graph the same way: one ``COMPLETE`` event per dataset that
has sources, one JSON object a line.

Dataset naming: Hub datasets are ``huggingface`` / ``org/name``; sources known only by name (``ext:`` nodes) are
``oda-external`` / ``<slug>``.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from openlineage.client.event_v2 import RunEvent, RunState
from openlineage.client.uuid import generate_new_uuid

from graph_store.openlineage import run_event

log = logging.getLogger("oda.service.openlineage")

STATE_OF = {"traced": RunState.COMPLETE, "dropped": RunState.ABORT, "failed": RunState.FAIL}


class OpenLineageEmitter:
    """Sends the run events of traced datasets to ``url`` (see the module docstring)."""

    def __init__(self, url: str, *, client: Any = None) -> None:
        from openlineage.client import OpenLineageClient
        from openlineage.client.transport.http import HttpConfig, HttpTransport

        self.client = client or OpenLineageClient(transport=HttpTransport(HttpConfig(url=url, timeout=5.0)))
        self._runs: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[RunEvent | None] = queue.Queue()
        self._thread = threading.Thread(target=self._send_all, name="oda-openlineage", daemon=True)
        self._thread.start()

    def _send_all(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is None:
                    return
                self.client.emit(event)
            except Exception as exc:  # never let the lineage endpoint break tracing
                log.warning("OpenLineage event not sent: %s", exc)
            finally:
                self._queue.task_done()

    def started(self, run_id: str, item: Any) -> None:
        ol_run = str(generate_new_uuid())
        with self._lock:
            self._runs[(run_id, item["id"])] = ol_run
        self._queue.put(run_event(RunState.START, item["id"], ol_run))

    def finished(self, run_id: str, result: Any) -> None:
        dataset = result.item["id"]
        with self._lock:
            ol_run = self._runs.pop((run_id, dataset), None)
        state = STATE_OF.get(result.status)
        if ol_run is None or state is None:
            return
        self._queue.put(run_event(state, dataset, ol_run, edges=result.edges))

    def flush(self) -> None:
        """Wait until every queued event was sent (or dropped)."""
        self._queue.join()

    def close(self) -> None:
        self.flush()
        self._queue.put(None)
        self._thread.join(timeout=10)
