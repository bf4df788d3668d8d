"""``oda review serve`` and ``oda review export``: the review web app and its audit log."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

SECRET_ENV = "ODA_REVIEW_SECRET"

review_app = typer.Typer(
    name="review",
    help="Human review of low-confidence lineage edges (web app) and export of the decision log.",
    no_args_is_help=True,
)

StoreOpt = Annotated[
    str | None,
    typer.Option("--store", help="Store URI (default: store.uri from the config file, else .oda/graph)"),
]


@review_app.command("serve")
def serve(
    ctx: typer.Context,
    store: StoreOpt = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 8765,
    tokens_file: Annotated[
        Path | None,
        typer.Option(
            "--tokens-file",
            help="File of reviewer tokens, one 'reviewer:token' a line "
            "(default: $ODA_REVIEW_TOKENS, e.g. 'alice:tok1,bob:tok2').",
        ),
    ] = None,
    open_reads: Annotated[
        bool,
        typer.Option(
            "--open-reads/--no-open-reads", help="Let anyone read the queue; writes always need a token."
        ),
    ] = True,
    hub_url: Annotated[str | None, typer.Option("--hub-url", help="Where dataset links point.")] = None,
    snapshot: Annotated[
        Path | None,
        typer.Option(
            "--snapshot",
            help="Snapshot recorded by tracing (oda trace --record DIR): show evidence inside the fetched pages.",
        ),
    ] = None,
) -> None:
    """Serve the review queue of flagged edges.

    Example:

        ODA_REVIEW_TOKENS="alice:s3cret-a,bob:s3cret-b" oda review serve --store .oda/graph --port 8765

    Then open http://127.0.0.1:8765/ and sign in with your token. Scripts use the JSON API with
    'Authorization: Bearer <token>' (GET /api/edges?status=flagged, POST /api/decisions).
    """
    import uvicorn

    from graph_store.factory import open_store
    from oda.command import settings_of
    from oda.output import console
    from oda.serving import AnnouncingServer
    from review_ui.app import DEFAULT_HUB_URL, ReviewSettings, create_app
    from review_ui.auth import load_tokens
    from review_ui.fetched_context import SnapshotContext
    from review_ui.service import catalog_check_from_lineage

    tokens = load_tokens(tokens_file)
    if not tokens:
        console.print("[yellow]no reviewer tokens configured: the queue is read-only[/]")
    secret = os.environ.get(SECRET_ENV)
    settings = ReviewSettings(
        tokens=tokens,
        open_reads=open_reads,
        secret=secret.encode() if secret else None,
        hub_url=hub_url or settings_of(ctx).review.hub_url or DEFAULT_HUB_URL,
        catalog_check=catalog_check_from_lineage(),
        context_source=SnapshotContext(snapshot) if snapshot is not None else None,
    )
    graph = open_store(store or settings_of(ctx).store.uri, create=False)
    try:
        reviewers = len(set(tokens.values()))
        server = AnnouncingServer(
            uvicorn.Config(create_app(graph, settings), host=host, port=port, log_level="warning"),
            lambda url: console.print(f"review queue on {url}/  ({reviewers} reviewers)"),
        )
        server.run()
        if not server.started:
            raise SystemExit(3)  # uvicorn's exit status for a server that failed to start
    finally:
        graph.close()


@review_app.command("export")
def export(
    ctx: typer.Context,
    store: StoreOpt = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="JSONL file (default: stdout).")
    ] = None,
) -> None:
    """Write the append-only decision log as JSONL, oldest first.

    Example:

        oda review export --store .oda/graph -o decisions.jsonl
    """
    import sys

    from graph_store.factory import open_store
    from oda.command import settings_of
    from oda.output import console
    from review_ui.export import write_audit_jsonl

    graph = open_store(store or settings_of(ctx).store.uri, create=False, read_only=True)
    try:
        if output is None:
            count = write_audit_jsonl(graph, sys.stdout)
        else:
            from graph_store.io import atomic_output

            with atomic_output(output) as handle:
                count = write_audit_jsonl(graph, handle)  # type: ignore[arg-type]
            console.print(f"wrote {count} decisions to {output}")
    finally:
        graph.close()


def register(app: typer.Typer) -> None:
    """Add the ``review`` command group to the ``oda`` app."""
    app.add_typer(review_app, name="review")
