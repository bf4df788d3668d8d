"""``oda trace``: trace the lineage of a queue of Hub datasets into the graph store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from lineage.runner import ProgressEvent, TraceSummary

TRACE_HELP = (
    "Trace the upstream sources of each dataset in QUEUE_FILE, depth first, into the lineage graph.\n\n"
    "QUEUE_FILE has one Hub dataset id (or dataset URL) per line; '#' starts a comment. Each entry's tree is "
    "finished before the next entry starts. Every edge carries a relationship, a computed confidence and verbatim "
    "evidence; edges below --threshold are flagged for review. The run's id is printed at the start: an "
    "interrupted run continues with --resume RUN_ID. The Hub is reached through huggingface_hub (HF_ENDPOINT is "
    "honoured).\n\n"
    "Exit status: 0 when at least one dataset was traced; 1 when the run traced nothing (every queue entry was "
    "dropped, failed or malformed); 2 for a usage, input, configuration or store error.\n\n"
    "Examples:\n\n"
    "  oda trace examples/demo/queue.txt --snapshot examples/demo/snapshot --offline\n\n"
    "  oda trace queue.txt --extractor llm --max-depth 2 --record snapshots/today\n\n"
    "  oda trace --resume trace-20250101T120000-3f9a1c\n\n"
    "  oda export --format json"
)


EXIT_NOTHING_TRACED = 1
"""``oda trace`` exits 1 when a finished run traced no dataset (every entry dropped, failed or malformed)."""


MAX_PROBLEM_ROWS = 20
"""Rows of the read or extraction problems table at most (``--json`` has them all)."""


class _LiveProgress:
    """A rich live panel on stderr: queue position, current dataset and depth, edges found so far."""

    def __init__(self) -> None:
        from rich.live import Live

        from oda.output import console

        self.console = console
        self.live = Live(self._render(None), console=console, refresh_per_second=8, transient=False)
        self.interactive = console.is_terminal

    def _render(self, event: ProgressEvent | None) -> Any:
        from rich.table import Table

        table = Table.grid(padding=(0, 2))
        if event is None or event.kind != "dataset":
            table.add_row("[bold]tracing[/]", "starting…")
            return table
        totals = event.totals
        table.add_row(
            f"[bold]queue[/] {event.queue_index}/{event.queue_size}",
            f"[bold]tree[/] {event.root}",
            f"[bold]depth[/] {event.depth}",
            f"[cyan]{event.dataset}[/]",
        )
        table.add_row(
            f"[bold]datasets[/] {totals.get('traced', 0)}",
            f"[bold]edges[/] {totals.get('edges', 0)}",
            f"[yellow]flagged[/] {totals.get('flagged', 0)}",
            f"[red]dropped/failed[/] {totals.get('dropped', 0)}/{totals.get('failed', 0)}",
        )
        return table

    def __call__(self, event: ProgressEvent) -> None:
        if event.kind == "skipped":
            self.console.print(
                f"[{event.queue_index}/{event.queue_size}] {event.dataset}: {event.status} ({event.note})",
                highlight=False,
                markup=False,
            )
            return
        if event.kind == "dataset" and not self.interactive:
            status = event.status or "?"
            extra = f" ({event.note})" if event.note and status != "traced" else ""
            self.console.print(
                f"[{event.queue_index}/{event.queue_size}] depth {event.depth} {event.dataset}: {status}, "
                f"{event.edges} edge(s), {event.flagged} flagged{extra}",
                highlight=False,
                markup=False,
            )
        self.live.update(self._render(event))

    def __enter__(self) -> _LiveProgress:
        if self.interactive:
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.interactive:
            self.live.stop()


def _failure_groups(failures: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    """The run's failure report split the way the summary line counts it."""
    groups: dict[str, list[dict[str, str]]] = {"dropped": [], "failed": [], "skipped": [], "partial": []}
    for failure in failures:
        if failure.get("outcome") in ("dropped", "failed"):
            groups[failure["outcome"]].append(failure)
        elif failure["stage"] == "queue":
            groups["skipped"].append(failure)
        else:
            groups["partial"].append(failure)
    return groups


def _print_summary(summary: TraceSummary) -> None:
    """One table per kind of problem, titled with its count, then the summary line (last, where it is seen)."""
    from rich.markup import escape
    from rich.table import Table

    from oda.output import console

    groups = _failure_groups(summary.failures)
    titles = {
        "dropped": "dropped ({n}): not traced, by rule",
        "failed": "failed ({n}): could not be traced",
        "skipped": "queue lines skipped ({n})",
        "partial": "read or extraction problems ({n}): the datasets were traced without these",
    }
    for group, rows in groups.items():
        if not rows:
            continue
        shown = rows if group != "partial" else rows[:MAX_PROBLEM_ROWS]
        table = Table(title=titles[group].format(n=len(rows)), title_justify="left", show_lines=False)
        table.add_column("dataset")
        table.add_column("stage")
        table.add_column("reason")
        for failure in shown:
            reason = failure["reason"] + (f" [{failure['url']}]" if failure.get("url") else "")
            table.add_row(escape(failure["dataset"]), failure["stage"], escape(reason))
        if len(shown) < len(rows):
            table.caption = f"… and {len(rows) - len(shown)} more (oda trace --json lists them all)"
        console.print(table)
    for note in summary.notes:
        console.print(f"[dim]note:[/] {escape(note)}", highlight=False)
    state = "finished" if summary.finished else "stopped before the end"
    parts = [
        f"{summary.datasets_traced} dataset(s) traced",
        f"{summary.edges} edge(s)",
        f"[yellow]{summary.flagged} flagged[/]",
        f"{summary.datasets_dropped} dropped",
        f"{summary.datasets_failed} failed",
    ]
    if groups["skipped"]:
        parts.append(f"{len(groups['skipped'])} queue line(s) skipped")
    if groups["partial"]:
        parts.append(f"{len(groups['partial'])} read or extraction problem(s)")
    console.print(
        f"[bold]run {summary.run_id}[/] {state} in {summary.elapsed_s:.1f}s: " + ", ".join(parts),
        highlight=False,
    )
    console.print(
        f"store: {summary.store}  (read it with: oda export --format json --store {summary.store})",
        highlight=False,
        markup=False,
    )


def trace(
    command: typer.Context,
    queue_file: Annotated[
        str | None, typer.Argument(help="Queue file: one Hub dataset id per line (omit with --resume).")
    ] = None,
    store: Annotated[
        str | None, typer.Option("--store", help="Store URI (default: [store].uri or .oda/graph).")
    ] = None,
    extractor: Annotated[
        str | None,
        typer.Option("--extractor", help="rules, llm or auto (default: [trace].extractor or auto)."),
    ] = None,
    max_depth: Annotated[
        int | None,
        typer.Option("--max-depth", help="Levels below the queue's datasets (0: their own sources)."),
    ] = None,
    max_branching: Annotated[
        int | None,
        typer.Option("--max-branching", help="Parents followed per dataset, most confident first."),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option("--threshold", help="Edges below this confidence are flagged (default 0.7)."),
    ] = None,
    min_year: Annotated[
        int | None,
        typer.Option("--min-year", help="Drop candidates created before this year (default 2020)."),
    ] = None,
    snapshot: Annotated[
        str | None, typer.Option("--snapshot", help="Replay reads from this snapshot.")
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Never touch the network (needs --snapshot).")
    ] = False,
    record: Annotated[
        str | None, typer.Option("--record", help="Record every read into this snapshot.")
    ] = None,
    resume: Annotated[str | None, typer.Option("--resume", help="Continue the run with this id.")] = None,
    checkpoints: Annotated[
        str | None,
        typer.Option("--checkpoints", help="Run checkpoints file (default .oda/trace-runs.sqlite)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    server: Annotated[
        str | None, typer.Option("--server", help="Queue on a running 'oda serve' at this URL and follow it.")
    ] = None,
) -> None:
    if server is not None:  # client mode: the service traces, this command follows (service.client)
        from service.client import trace_via_server

        local = {"--store": store, "--snapshot": snapshot, "--offline": offline or None, "--record": record}
        local |= {"--resume": resume, "--checkpoints": checkpoints}
        remote: dict[str, Any] = {
            "extractor": extractor,
            "max_depth": max_depth,
            "max_branching": max_branching,
        }
        remote |= {"threshold": threshold, "min_year": min_year}
        trace_via_server(server, queue_file, remote, local_options=local, as_json=as_json)
        return
    import asyncio

    from rich.markup import escape

    from lineage.context import TraceContext
    from lineage.runner import (
        acquisition_from_options,
        context_from_settings,
        llm_config,
        new_run_id,
        parse_queue,
        run_trace,
        saved_settings,
    )
    from oda.command import settings_of
    from oda.errors import InputError, StoreError
    from oda.output import console, emit_json

    settings = settings_of(command)
    checkpoint_file = checkpoints or settings.trace.checkpoints

    if resume is not None:
        if queue_file is not None:
            raise InputError("give either QUEUE_FILE or --resume RUN_ID, not both")
        given = {
            "--store": store,
            "--extractor": extractor,
            "--max-depth": max_depth,
            "--max-branching": max_branching,
            "--threshold": threshold,
            "--min-year": min_year,
            "--snapshot": snapshot,
            "--record": record,
        }
        clashing = [name for name, value in given.items() if value is not None] + (
            ["--offline"] if offline else []
        )
        if clashing:
            raise InputError(
                f"--resume continues with the options the run was started with; drop {', '.join(clashing)}"
            )
        saved = asyncio.run(saved_settings(resume, checkpoint_file))
        ctx = context_from_settings(resume, saved, settings)
        queue = None
        console.print(
            f"resuming run [bold]{resume}[/] (with the options it was started with)", highlight=False
        )
    else:
        if queue_file is None:
            raise InputError("missing QUEUE_FILE (or --resume RUN_ID)")
        settings = settings.override("store", uri=store)
        trace_settings = settings.override(
            "trace",
            extractor=extractor,
            max_depth=max_depth,
            max_branching=max_branching,
            threshold=threshold,
            min_year=min_year,
        ).trace
        queue = parse_queue(queue_file)
        ctx = TraceContext(
            run_id=new_run_id(),
            store_uri=settings.store.uri,
            extractor=trace_settings.extractor,
            max_depth=trace_settings.max_depth,
            max_branching=trace_settings.max_branching,
            threshold=trace_settings.threshold,
            min_year=trace_settings.min_year,
            acquisition=acquisition_from_options(
                hf_endpoint=None,
                snapshot=snapshot,
                offline=offline,
                record=record,
                configured=settings.acquisition,
            ),
            llm=llm_config(settings.llm),
        )
        console.print(
            f"run [bold]{ctx.run_id}[/]: {len(queue.entries)} dataset(s) in the queue, extractor {ctx.extractor}, "
            f"max depth {ctx.max_depth}",
            highlight=False,
        )
        for failure in queue.failures:
            console.print(f"[red]skipped[/] {escape(failure['reason'])}", highlight=False)

    try:
        with _LiveProgress() as progress:
            summary = asyncio.run(run_trace(ctx, queue, checkpoints=checkpoint_file, progress=progress))
    except StoreError:
        # the store failing stops the run (every later write would fail too); its progress is checkpointed
        hint = f" --checkpoints {checkpoints}" if checkpoints else ""
        console.print(
            f"the run stopped; once the store is fixed, continue it with: oda trace --resume {ctx.run_id}{hint}"
        )
        raise
    if not as_json:
        _print_summary(summary)
    else:
        emit_json(summary.model_dump(mode="json"))
    if summary.finished and summary.datasets_traced == 0:
        console.print(
            "[red]nothing was traced[/]: every queue entry was dropped, failed or malformed (see above)",
            highlight=False,
        )
        raise typer.Exit(EXIT_NOTHING_TRACED)


def register(app: typer.Typer) -> None:
    """Add ``oda trace`` to the command line."""
    app.command("trace", help=TRACE_HELP)(trace)
