"""The command line as a client of a running service: ``oda trace QUEUE_FILE --server URL``.

The queue file is read and checked here (refused lines are reported as by a local trace), the valid ids are
queued with ``POST /api/traces``, and the run is followed with ``GET /api/traces/{run}`` until it ends: each
dataset is printed when it finishes. Interrupting the client leaves the run going on the service; cancel it with
``DELETE /api/traces/{run}``. The token comes from ``ODA_SERVICE_TOKEN`` (a token of the service's tokens).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import httpx

from oda.errors import ConfigError, InputError, OdaError

TOKEN_ENV = "ODA_SERVICE_TOKEN"


class ServiceError(OdaError):
    """The service refused a request or could not be reached."""


def _explain(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = response.text[:300]
    return f"{response.status_code}: {detail}"


class ServiceClient:
    """A small synchronous client of the service API."""

    def __init__(
        self, base_url: str, *, token: str | None = None, timeout_s: float = 30.0, **options: Any
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"--server must be an http(s):// URL, got {base_url!r}")
        token = token if token is not None else os.environ.get(TOKEN_ENV)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s, **options)

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceError(f"cannot reach the service at {self.http.base_url}: {exc}") from exc
        if response.status_code == 401:
            raise ServiceError(f"the service needs a token: set {TOKEN_ENV} ({_explain(response)})")
        if response.status_code >= 400:
            raise ServiceError(f"{method} {path} failed with {_explain(response)}")
        return response.json()

    def submit(self, datasets: list[str], **options: Any) -> dict[str, Any]:
        body = {"datasets": datasets, **{k: v for k, v in options.items() if v is not None}}
        result: dict[str, Any] = self._call("POST", "/api/traces", json=body)
        return result

    def run(self, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/api/traces/{run_id}")
        return result

    def cancel(self, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("DELETE", f"/api/traces/{run_id}")
        return result

    def follow(
        self,
        run_id: str,
        *,
        on_dataset: Callable[[dict[str, Any]], None] | None = None,
        poll_s: float = 1.0,
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """Poll the run until it ends; ``on_dataset`` gets each finished dataset once. Returns the final view."""
        seen: set[tuple[str, float]] = set()
        deadline = time.monotonic() + timeout_s if timeout_s else None
        while True:
            view = self.run(run_id)
            for item in view["datasets"]:
                key = (item["dataset"], item["started"])
                if item.get("finished") is not None and key not in seen:
                    seen.add(key)
                    if on_dataset is not None:
                        on_dataset(item)
            if view["state"] in ("finished", "cancelled"):
                return view
            if deadline is not None and time.monotonic() > deadline:
                raise ServiceError(
                    f"run {run_id} did not end within {timeout_s}s (it goes on on the service)"
                )
            time.sleep(poll_s)


def trace_via_server(
    server: str,
    queue_file: str | None,
    options: dict[str, Any],
    *,
    local_options: dict[str, Any] | None = None,
    as_json: bool = False,
) -> dict[str, Any]:
    """What ``oda trace QUEUE_FILE --server URL`` does (see the module docstring); returns the final run view.

    ``local_options`` are the options that only a local trace understands (store, snapshot, resume, ...): the
    service has its own, so giving one with ``--server`` is an error rather than silently ignored."""
    from lineage.runner import parse_queue
    from oda.output import console, emit_json

    given = [name for name, value in (local_options or {}).items() if value is not None]
    if given:
        raise InputError(f"--server traces with the service's own settings; drop {', '.join(given)}")
    if queue_file is None:
        raise InputError("--server needs QUEUE_FILE")
    queue = parse_queue(queue_file)
    for failure in queue.failures:
        console.print(f"[red]skipped[/] {failure['reason']}", highlight=False)
    if not queue.entries:
        raise InputError(f"no valid dataset id in {queue_file}")
    client = ServiceClient(server)
    try:
        accepted = client.submit(queue.entries, **options)
        run_id = accepted["run_id"]
        console.print(
            f"run [bold]{run_id}[/] queued on {server}: {accepted['queued']} dataset(s); following its progress "
            f"(Ctrl-C stops following, not the run)",
            highlight=False,
        )

        def show(item: dict[str, Any]) -> None:
            extra = f" ({item['note']})" if item.get("note") and item["status"] != "traced" else ""
            console.print(
                f"depth {item['depth']} {item['dataset']}: {item['status']}, {item['edges']} edge(s) "
                f"[dim]{item['worker']}[/]{extra}",
                highlight=False,
            )

        view = client.follow(run_id, on_dataset=None if as_json else show)
    finally:
        client.close()
    if as_json:
        emit_json(view)
    else:
        totals = view["totals"]
        console.print(
            f"[bold]run {run_id}[/] {view['state']}: {totals.get('traced', 0)} dataset(s) traced, "
            f"{totals.get('edges', 0)} edge(s), [yellow]{totals.get('flagged', 0)} flagged[/], "
            f"{totals.get('dropped', 0)} dropped, {totals.get('failed', 0)} failed",
            highlight=False,
        )
    return view
