"""``oda hub serve``, ``oda hub build-snapshot`` and ``oda fetch``: the acquisition layer on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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

    from lineage.acquisition.hubserver import HubServer
    from oda.output import console

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
    from lineage.acquisition.world import build_snapshot
    from oda.output import console, emit_json

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


def fetch(
    target: Annotated[
        str,
        typer.Argument(help="org/name, a Hub dataset URL, an arXiv id or URL, 'search:QUERY', or any URL."),
    ],
    snapshot: Annotated[Path | None, typer.Option(help="Replay reads from this snapshot.")] = None,
    offline: Annotated[bool, typer.Option(help="Never touch the network (needs --snapshot).")] = False,
    record: Annotated[
        Path | None, typer.Option(help="Record every read into this snapshot directory.")
    ] = None,
    hf_endpoint: Annotated[str | None, typer.Option(help="Hub base URL (default: $HF_ENDPOINT).")] = None,
    arxiv_endpoint: Annotated[str | None, typer.Option(help="arXiv API query URL.")] = None,
    full_text: Annotated[bool, typer.Option(help="For papers: also read and prune the full text.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
) -> None:
    """Read one thing through the acquisition layer and show what the tracer would see.

    Examples:

      oda fetch HuggingFaceH4/ultrachat_200k --json

      oda fetch 2305.14233 --full-text

      oda fetch https://github.com/thunlp/UltraChat --record snap/

      oda fetch search:ultrachat --snapshot examples/demo/snapshot --offline
    """
    import asyncio

    from lineage.acquisition.config import AcquisitionConfig
    from oda.output import console, emit_json

    cfg = AcquisitionConfig.from_settings(
        snapshot_dir=snapshot,
        offline=offline or None,
        record_dir=record,
        hf_endpoint=hf_endpoint,
        arxiv_endpoint=arxiv_endpoint,
    )
    result = asyncio.run(_fetch(cfg, target, full_text))
    if json_output:
        emit_json(result)
    else:
        _show(console, result)
    if result.get("error"):
        raise typer.Exit(1)


async def _fetch(cfg: Any, target: str, full_text: bool) -> dict[str, Any]:
    from lineage.acquisition.acquirer import Acquirer
    from lineage.acquisition.ids import arxiv_id_from_ref, dataset_id_from_url
    from lineage.acquisition.links import discover_links
    from oda.errors import OdaError

    out: dict[str, Any] = {"target": target}
    async with Acquirer(cfg) as acq:
        try:
            if target.startswith("search:"):
                out["kind"] = "search"
                out["results"] = await acq.search_datasets(target[7:])
            elif arxiv_id_from_ref(target) is not None:
                out["kind"] = "paper"
                out["paper"] = await acq.arxiv_paper(target, full_text=full_text)
            elif not target.startswith(("http://", "https://")) or dataset_id_from_url(target):
                out["kind"] = "dataset"
                out["info"] = await acq.dataset_info(target)
                try:
                    card = await acq.dataset_card(target)
                    out["card"] = card
                    out["links"] = discover_links(card)
                except OdaError as exc:
                    out["card_error"] = f"{type(exc).__name__}: {exc}"
            else:
                out["kind"] = "page"
                out["page"] = await acq.fetch_page(target)
        except OdaError as exc:
            out["error"] = f"{type(exc).__name__}: {exc}"
        out["stats"] = acq.stats
    return out


def _show(console: Any, result: dict[str, Any]) -> None:
    from oda.output import to_json

    if result.get("error"):
        console.print(f"[bold red]error:[/] {result['error']}")
    for key in ("info", "card", "links", "page", "paper", "results", "card_error", "stats"):
        if key in result:
            value = result[key]
            if key == "card":
                value = {k: v for k, v in value.model_dump(mode="json").items() if k != "raw"}
            console.print(f"[bold]{key}[/]")
            console.print(to_json(value), markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``oda hub ...`` and ``oda fetch`` to the main command line."""
    app.add_typer(hub_app, name="hub")
    app.command("fetch")(fetch)
