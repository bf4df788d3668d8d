"""``oda``: one command line over the library. Each package contributes its commands through ``register``.

Commands (each has ``--help`` with examples):

    oda trace QUEUE_FILE            trace lineage of a queue of Hub datasets (lineage)
    oda hub serve SNAPSHOT          serve a snapshot as a Hub-compatible API (lineage)
    oda query …, oda stats          contamination, upstream/downstream trees, flagged edges, landscape (graph_store)
    oda import FILE, oda export     oda-jsonl, json and graphml (graph_store)
    oda review serve|export         the review web app and its audit log (review_ui)
    oda score …                     data scorers and profiles (scoring)
    oda bench …                     SFT + evaluation jobs and analysis (benchmarking)

Exit status, for every command:

    0    success
    1    the command ran but found nothing to report (``oda trace`` traced no dataset)
    2    an error the user can fix: bad usage or input, configuration, an unknown id, a missing store, a source
         that cannot be read
    3    an unexpected error (a bug): one line on stderr; ``--debug`` (or ``ODA_DEBUG=1``) shows the traceback
    130  interrupted (Ctrl-C)

No traceback reaches the terminal unless ``--debug`` is given: ``main`` turns every error into one line.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading
import traceback
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from oda import __version__
from oda.errors import OdaError, network_error
from oda.output import console

EXIT_USER_ERROR = 2
EXIT_UNEXPECTED = 3
EXIT_INTERRUPTED = 130

# Modules that define ``register(app: typer.Typer) -> None``. Each must import its heavy dependencies lazily.
COMMAND_MODULES = (
    "acquisition.cli",
    "standins.cli",
    "lineage.cli",
    "graph_store.cli",
    "review_ui.cli",
    "scoring.cli",
    "benchmarking.cli",
    "service.cli",
)


def _escape_markup(text: str | None) -> str | None:
    """Help text is rendered as Rich markup, which would swallow ``[store].uri``: escape such brackets."""
    if not text or "[" not in text or "\\[" in text:
        return text
    from rich.markup import escape

    return escape(text)


def _escape_help(command: Any) -> None:
    """Escape the help of ``command``, its parameters and its subcommands (once)."""
    if getattr(command, "_oda_help_escaped", False):
        return
    command.help = _escape_markup(command.help)
    command.short_help = _escape_markup(command.short_help)
    command.epilog = _escape_markup(command.epilog)
    for param in command.params:
        if isinstance(getattr(param, "help", None), str):
            param.help = _escape_markup(param.help)
    for sub in dict(getattr(command, "commands", None) or {}).values():  # a group's subcommands
        _escape_help(sub)
    command._oda_help_escaped = True


class _OdaGroup(TyperGroup):
    """The root command: shows help text literally (``[section].key`` stays visible) in every command's help."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _escape_help(command)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _escape_help(self)
        super().format_help(ctx, formatter)


_debug = False


app = typer.Typer(
    name="oda",
    cls=_OdaGroup,
    help="Dataset lineage tracing, contamination queries, data scoring and SFT benchmarking.\n\n"
    "Quick start (offline):\n\n"
    "  oda trace examples/demo/queue.txt --snapshot examples/demo/snapshot --offline\n\n"
    "  oda export --format json",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"oda {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        str | None, typer.Option("--config", help="TOML config file (default: $ODA_CONFIG or ./oda.toml)")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show the full traceback of an unexpected error (also: ODA_DEBUG=1)."),
    ] = False,
) -> None:
    global _debug
    _debug = _debug or debug
    from oda.command import load_command_settings

    settings = load_command_settings(ctx, config)
    if settings.store.max_text_chars is not None:
        from graph_store.models import set_max_text_chars

        set_max_text_chars(settings.store.max_text_chars)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
                continue  # the package (or its command module) is not installed
            raise
        module.register(app)


_register_all()


def _debug_wanted(args: list[str]) -> bool:
    if os.environ.get("ODA_DEBUG", "").strip().lower() not in ("", "0", "false", "no"):
        return True
    return _debug or "--debug" in args


def _fail(message: str, code: int, args: list[str]) -> None:
    """Print one error line (the traceback too with ``--debug``) and exit with ``code``."""
    if _debug_wanted(args):
        traceback.print_exc()
    console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False, soft_wrap=True)
    sys.exit(code)


def main(args: list[str] | None = None) -> None:
    """The ``oda`` entry point: runs a command and turns every error into one line and an exit status."""
    argv = list(sys.argv[1:] if args is None else args)
    interrupted = False

    def on_sigint(signum: int, frame: Any) -> None:
        nonlocal interrupted
        interrupted = True
        signal.default_int_handler(signum, frame)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, on_sigint)
    try:
        app(args=argv, prog_name="oda")
    except SystemExit:
        if interrupted:  # the command line library turned Ctrl-C into "Aborted!" and exit status 1
            sys.exit(EXIT_INTERRUPTED)
        raise
    except KeyboardInterrupt:
        _fail("interrupted", EXIT_INTERRUPTED, argv)
    except OdaError as exc:
        _fail(_escaped_line(exc), EXIT_USER_ERROR, argv)
    except OSError as exc:  # a file that cannot be read or written, a full disk, a refused connection
        reached = network_error(exc, "a server")
        _fail(_escaped_line(reached or exc), EXIT_USER_ERROR, argv)
    except Exception as exc:
        reached = network_error(exc, "a server")
        if reached is not None:
            _fail(_escaped_line(reached), EXIT_USER_ERROR, argv)
        hint = "" if _debug_wanted(argv) else "; run again with --debug (or ODA_DEBUG=1) for the traceback"
        _fail(
            _escaped_line(f"unexpected {type(exc).__name__}: {_first_line(exc)}") + hint,
            EXIT_UNEXPECTED,
            argv,
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"


def _escaped_line(error: Any) -> str:
    from rich.markup import escape

    text = error if isinstance(error, str) else str(error).strip()
    return escape(" ".join(text.split()) if text else type(error).__name__)


if __name__ == "__main__":
    main()
