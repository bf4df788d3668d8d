"""``oda hub serve`` and ``oda hub build-snapshot``: the Hub stand-in and the snapshot builder on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

hub_app = typer.Typer(
    name="hub",
    help="A Hub-compatible server for worlds and snapshots, and the snapshot builder.",
    no_args_is_help=True,
)


@hub_app.command("serve")
def hub_serve(
    path: Annotated[
        Path, typer.Argument(help="A snapshot directory (with manifest.json) or a world folder.")
    ],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8990,
) -> None:
    """Serve a snapshot or world folder as a Hub-compatible API (point HF_ENDPOINT at it).

    Examples:

      oda hub serve examples/demo/snapshot --port 8990

      HF_ENDPOINT=http://127.0.0.1:8990 hf download --repo-type dataset org/name README.md

    Private datasets of a world are served to the bearer tokens listed (comma separated) in $ODA_HUB_TOKENS.
    """
    import os

    from oda.output import console
    from standins.hub import HubServer

    tokens = frozenset(t.strip() for t in os.environ.get("ODA_HUB_TOKENS", "").split(",") if t.strip())
    server = HubServer(path, host, port, tokens=tokens)
    console.print(
        f"Serving {path} at [bold]{server.base_url}[/] (HF_ENDPOINT={server.base_url}); Ctrl-C stops."
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@hub_app.command("build-snapshot")
def hub_build_snapshot(
    world: Annotated[Path, typer.Argument(help="World folder (datasets/, pages.json, pages/, arxiv/).")],
    out: Annotated[
        Path, typer.Option("-o", "--out", help="Snapshot directory to write (created or updated).")
    ],
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Record a snapshot of a hand-written world through the real clients.

    Example:

      oda hub build-snapshot examples/demo/world -o examples/demo/snapshot
    """
    from oda.output import console, emit_json
    from standins.snapshot_builder import build_snapshot

    report = build_snapshot(world, out)
    if json_output:
        emit_json(report.__dict__)
        return
    console.print(
        f"Snapshot {report.snapshot}: {report.entries} recorded reads "
        f"({report.datasets} datasets, {report.pages} pages, {report.papers} papers, {report.searches} searches)"
    )
    for failure in report.failures:
        console.print(f"  [yellow]recorded failure[/] {failure}")


def register(app: typer.Typer) -> None:
    """Add ``oda hub ...`` to the main command line."""
    app.add_typer(hub_app, name="hub")
