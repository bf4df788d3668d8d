"""``oda``: one command line over the library. Each package contributes its commands through ``register``.

Commands (each has ``--help`` with examples):

    oda trace QUEUE_FILE            trace lineage of a queue of Hub datasets (lineage)
    oda hub serve SNAPSHOT          serve a snapshot as a Hub-compatible API (lineage)
    oda query …, oda stats          contamination, upstream/downstream trees, flagged edges, landscape (graph_store)
    oda import FILE, oda export     oda-jsonl, json and graphml (graph_store)
    oda review serve|export         the review web app and its audit log (review_ui)
    oda score …                     data scorers and profiles (scoring)
    oda bench …                     SFT + evaluation jobs and analysis (benchmarking)
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated

import typer

from oda import __version__
from oda.config import load_config
from oda.errors import OdaError
from oda.output import console

# Modules that define ``register(app: typer.Typer) -> None``. Each must import its heavy dependencies lazily.
COMMAND_MODULES = (
    "lineage.acquisition.cli",
    "lineage.cli",
    "graph_store.cli",
    "review_ui.cli",
    "scoring.cli",
    "benchmarking.cli",
)

app = typer.Typer(
    name="oda",
    help="Dataset lineage tracing, contamination queries, data scoring and SFT benchmarking.\n\n"
    "Quick start (offline):\n\n"
    "  oda trace examples/demo/queue.txt --snapshot examples/demo/snapshot --offline\n\n"
    "  oda export --format json",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"oda {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    config: Annotated[
        str | None, typer.Option("--config", help="TOML config file (default: $ODA_CONFIG or ./oda.toml)")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    load_config(config)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # package has no commands yet
            raise
        module.register(app)


_register_all()


def main() -> None:
    try:
        app()
    except OdaError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
