"""``oda fetch``: the acquisition layer on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer


def fetch(
    ctx: typer.Context,
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

    from acquisition.config import AcquisitionConfig
    from oda.command import settings_of
    from oda.output import console, emit_json

    cfg = AcquisitionConfig.from_settings(
        settings_of(ctx).acquisition,
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
    from acquisition.acquirer import Acquirer
    from acquisition.ids import arxiv_id_from_ref, dataset_id_from_url
    from acquisition.links import discover_links
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
    """Add ``oda fetch`` to the main command line."""
    app.command("fetch")(fetch)
