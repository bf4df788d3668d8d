"""Commands of the graph store: ``oda query …``, ``oda stats``, ``oda import`` and ``oda export``.

Each is a thin layer over the library (``graph_store.open_store``, ``graph_store.io``). ``--json`` writes plain
JSON on stdout; otherwise a rich table goes to the terminal.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from graph_store.base import GraphStore

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store", help="Store URI: a path, embedded:PATH, bolt://host:7687 or neo4j://… (default: config)"
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Write JSON to stdout instead of a table.")]

QUERY_HELP = """Query the lineage graph: contamination, upstream/downstream trees, flagged edges, read-only Cypher.

Examples:

  oda query contamination EleutherAI/hendrycks_math --min-confidence 0.7

  oda query upstream a-m-team/AM-Thinking-v1-Distilled --depth 3 --json

  oda query cypher "MATCH (d:Dataset) WHERE d.is_benchmark RETURN d.id AS id"
"""


def _open(ctx: typer.Context, uri: str | None, *, write: bool = False) -> GraphStore:
    """The store for a command: only a writing command (``oda import``) creates a missing one; readers open
    it read-only and fail with one line naming the path when it does not exist."""
    from graph_store.factory import open_store
    from oda.command import settings_of

    uri = uri or settings_of(ctx).store.uri
    if write:
        return open_store(uri)
    return open_store(uri, create=False, read_only=True)


def _resolve(store: GraphStore, name: str) -> str | None:
    """A node id for ``name``: the id itself, else a catalog entry's id (``GSM8K`` -> ``openai/gsm8k``, also
    its alternative ids), else its ``ext:`` slug; None when no such node is stored."""
    from graph_store.models import ext_id

    candidates = [name]
    try:
        from catalog import Catalog

        entry = Catalog.load().lookup(name)
    except Exception:  # the catalog only helps resolve a name; an id still works without it
        entry = None
    if entry is not None:
        candidates += [entry.id, *entry.also_ids]
    with contextlib.suppress(ValueError):
        candidates.append(ext_id(name))
    for candidate in candidates:
        if store.get_node(candidate) is not None:
            return candidate
    return None


def _known(store: GraphStore, name: str) -> str:
    """``_resolve``, or an ``InputError`` (exit 2) naming what was asked for."""
    from oda.errors import InputError

    node_id = _resolve(store, name)
    if node_id is None:
        raise InputError(
            f"no dataset or benchmark {name!r} in the store (an id, a catalog name or a source name)"
        )
    return node_id


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None (JSON has no such numbers)."""
    import math

    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _console() -> Any:
    from oda.output import console

    return console


def _edge_table(title: str, edges: list[Any]) -> Any:
    from rich.table import Table

    table = Table(title=title)
    for column in ("target", "source", "relationship", "confidence", "status", "evidence"):
        table.add_column(column, overflow="fold")
    for e in edges:
        evidence = (e.evidence[:77] + "…") if len(e.evidence) > 80 else e.evidence
        table.add_row(
            e.target, e.source, e.relationship.value, f"{e.confidence:.2f}", e.status.value, evidence
        )
    return table


def contamination(
    ctx: typer.Context,
    benchmark: Annotated[str, typer.Argument(help="Benchmark node id (or its name, e.g. AIME).")],
    store: StoreOption = None,
    min_confidence: Annotated[
        float,
        typer.Option("--min-confidence", min=0.0, max=1.0, help="Walk only edges at least this confident."),
    ] = 0.0,
    status: Annotated[
        list[str] | None, typer.Option("--status", help="Walk only edges with this status (repeatable).")
    ] = None,
    split: Annotated[
        str | None, typer.Option("--split", help="Walk only edges of this split or unknown split.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Every dataset from which BENCHMARK is reachable upstream, with one shortest witness path each.

    Rejected edges never count. Examples:

      oda query contamination KbsdJames/Omni-MATH

      oda query contamination AIME --min-confidence 0.8 --status approved --status auto --json
    """
    from graph_store.models import EdgeStatus
    from oda.errors import InputError
    from oda.output import emit_json

    try:
        statuses = [EdgeStatus(s) for s in status] if status else None
    except ValueError as exc:
        raise InputError(f"{exc}; expected one of: {', '.join(s.value for s in EdgeStatus)}") from exc
    with _open(ctx, store) as graph:
        node_id = _known(graph, benchmark)
        hits = graph.contamination(node_id, min_confidence=min_confidence, statuses=statuses, split=split)
    if as_json:
        emit_json(hits)
        return
    from rich.table import Table

    table = Table(title=f"{len(hits)} dataset(s) reach {node_id}")
    for column in ("dataset", "hops", "min conf.", "score", "witness path"):
        table.add_column(column, overflow="fold")
    for hit in hits:
        score = f"{hit.benchmark_score:g}" if hit.benchmark_score is not None else ""
        table.add_row(hit.dataset, str(hit.hops), f"{hit.min_confidence:.2f}", score, " → ".join(hit.path))
    _console().print(table)


def _tree(
    ctx: typer.Context, dataset: str, store: str | None, depth: int, as_json: bool, upstream: bool
) -> None:
    from oda.output import emit_json

    with _open(ctx, store) as graph:
        node_id = _known(graph, dataset)
        sub = graph.upstream(node_id, depth) if upstream else graph.downstream(node_id, depth)
    if as_json:
        emit_json(sub)
        return
    if not sub.nodes:
        _console().print(f"[yellow]no node {dataset!r} in the store[/]")
        return
    word = "sources of" if upstream else "datasets derived from"
    _console().print(_edge_table(f"{len(sub.nodes) - 1} {word} {node_id} (depth ≤ {depth})", sub.edges))


DepthOption = Annotated[
    int, typer.Option("--depth", min=0, max=50, help="Maximum number of edges from DATASET.")
]


def upstream(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset id.")],
    depth: DepthOption = 6,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """The sources of DATASET (its upstream tree), with the edges between them.

    Example: oda query upstream alibaba-pai/OmniThought-0528 --depth 4
    """
    _tree(ctx, dataset, store, depth, as_json, upstream=True)


def downstream(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset id.")],
    depth: DepthOption = 6,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """The datasets derived from DATASET (its downstream tree).

    Example: oda query downstream openai/gsm8k --depth 2 --json
    """
    _tree(ctx, dataset, store, depth, as_json, upstream=False)


def flagged(ctx: typer.Context, store: StoreOption = None, as_json: JsonOption = False) -> None:
    """Edges waiting for review (status flagged), lowest confidence first.

    Example: oda query flagged --json
    """
    from oda.output import emit_json

    with _open(ctx, store) as graph:
        edges = graph.flagged()
    if as_json:
        emit_json(edges)
        return
    _console().print(_edge_table(f"{len(edges)} flagged edge(s)", edges))


def _parse_params(items: list[str] | None) -> dict[str, Any]:
    import json

    from oda.errors import InputError

    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise InputError(f"--param must look like name=value, got {item!r}")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def cypher(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="One read-only Cypher statement.")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Query parameter name=value (JSON or text; repeatable)."),
    ] = None,
    store: StoreOption = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout", min=0.1, help="Stop the query after this many seconds ([store].query_timeout_s, 30)."
        ),
    ] = None,
    max_rows: Annotated[
        int | None,
        typer.Option(
            "--max-rows", min=1, help="Refuse answers longer than this ([store].query_max_rows, 100000)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run a read-only Cypher query; any write is refused and leaves the store unchanged.

    The query runs where the engine cannot write (a read-only database, or a READ session on Neo4j), under a
    time limit, a row limit and a memory limit ([store].query_max_memory_mb, 1024); Ctrl-C stops it. File and
    extension statements (COPY, LOAD, EXPORT, ATTACH, INSTALL, ...) are refused.

    Examples:

      oda query cypher "MATCH (d:Dataset {id: \\$id})-[r:DERIVED_FROM]->(s) RETURN s.id AS source" -p id=org/name

      oda query cypher "MATCH (d:Dataset) WHERE d.is_benchmark RETURN d.id AS id" --json
    """
    from graph_store.readonly import make_query_limits
    from oda.command import settings_of
    from oda.output import emit_json, to_json

    configured = settings_of(ctx).override("store", query_timeout_s=timeout, query_max_rows=max_rows).store
    limits = make_query_limits(
        timeout_s=configured.query_timeout_s,
        max_rows=configured.query_max_rows,
        max_memory_mb=configured.query_max_memory_mb,
    )
    with _open(ctx, store) as graph:
        rows = _finite(graph.cypher(query, _parse_params(param), limits=limits))
    if as_json:
        emit_json(rows)
        return
    from rich.table import Table

    table = Table(title=f"{len(rows)} row(s)")
    columns = list(rows[0]) if rows else []
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*[v if isinstance(v, str) else to_json(v, indent=None) for v in row.values()])
    _console().print(table)


def stats(ctx: typer.Context, store: StoreOption = None, as_json: JsonOption = False) -> None:
    """Landscape figures of the lineage graph (paper §3.2.2): size, depth, reuse, aggregators, benchmarks.

    Examples: oda stats;  oda stats --json --store bolt://localhost:7687
    """
    from oda.output import emit_json

    with _open(ctx, store) as graph:
        figures = graph.stats()
    if as_json:
        emit_json(figures)
        return
    from rich.table import Table

    console = _console()
    summary = Table(title="lineage landscape")
    summary.add_column("figure")
    summary.add_column("value", justify="right")
    for key in ("nodes", "edges", "edges_per_node", "roots", "leaves", "max_depth", "avg_depth"):
        summary.add_row(key, str(figures[key]))
    console.print(summary)
    for key, title, columns in (
        ("most_reused", "most reused sources", ("dataset", "reused_by")),
        ("top_aggregators", "top aggregators", ("dataset", "direct_sources", "all_sources")),
        ("benchmarks", "benchmarks and datasets downstream", ("benchmark", "downstream")),
    ):
        if figures[key]:
            table = Table(title=title)
            for column in columns:
                table.add_column(column)
            for row in figures[key]:
                table.add_row(*[str(row[c]) for c in columns])
            console.print(table)
    if figures["domains"]:
        table = Table(title="per domain")
        for column in ("domain", "roots", "nodes", "edges", "edges/node", "avg depth", "max depth"):
            table.add_column(column)
        for name, d in figures["domains"].items():
            table.add_row(
                name,
                str(d["seed_roots"]),
                str(d["nodes"]),
                str(d["edges"]),
                str(d["edges_per_node"]),
                str(d["avg_depth"]),
                str(d["max_depth"]),
            )
        console.print(table)


def import_command(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="The file to import.", exists=True, dir_okay=False, readable=True)
    ],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="oda-jsonl (OpenDataArena lineage) or json.")
    ] = "oda-jsonl",
    store: StoreOption = None,
    flag_below: Annotated[
        float | None,
        typer.Option(
            "--flag-below", min=0.0, max=1.0, help="Flag edges below this confidence (default: config)."
        ),
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the valid items and report the rest.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Import a lineage file. The whole file is validated first; bad items are listed and nothing is written.

    An edge that would close a cycle is written flagged, with the cycle in its note, for a reviewer. Each write
    batch is atomic; if an import is interrupted, run the same command again: it finishes the job.

    Examples:

      oda import lineage.jsonl --format oda-jsonl

      oda import backup.json --format json --store bolt://localhost:7687
    """
    from graph_store.io import import_file
    from oda.output import emit_json

    with _open(ctx, store, write=True) as graph:
        if flag_below is None:
            from oda.command import settings_of

            flag_below = settings_of(ctx).trace.threshold
        report = import_file(graph, file, fmt, flag_below=flag_below, skip_invalid=skip_invalid)  # type: ignore[arg-type]
    if as_json:
        emit_json(report)
        return
    console = _console()
    console.print(
        f"[green]imported[/] {report.items} item(s): nodes {report.nodes.created} new / {report.nodes.updated} "
        f"updated / {report.nodes.unchanged} unchanged; edges {report.edges.created} new / "
        f"{report.edges.updated} updated / {report.edges.unchanged} unchanged / "
        f"{report.edges.protected} kept (human decision); {report.flagged} flagged for review"
    )
    for error in report.errors:
        console.print(f"[yellow]skipped[/] {error}")
    for cycle in report.edges.cycles:
        console.print(f"[yellow]flagged, would close a cycle[/] {cycle}")


def export_command(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", "-f", help="oda-jsonl, json or graphml.")] = "json",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Output file (default: stdout).")
    ] = None,
    store: StoreOption = None,
) -> None:
    """Export the lineage graph.

    Examples:

      oda export --format json -o lineage.json

      oda export --format oda-jsonl > lineage.jsonl

      oda export --format graphml -o lineage.graphml   # opens in Gephi

      oda export --format openlineage > lineage.jsonl  # OpenLineage run events, one a line
    """
    from graph_store.io import export_to_path

    if fmt == "openlineage":  # OpenLineage run events, one JSON object a line (graph_store.openlineage)
        from graph_store.openlineage import export_openlineage_to_path as export_to_path

    with _open(ctx, store) as graph:
        count = export_to_path(graph, fmt, output)  # type: ignore[arg-type]
    if output is not None:
        _console().print(f"[green]wrote[/] {count} edge(s) to {output}")


def register(app: typer.Typer) -> None:
    """Add ``oda query …``, ``oda stats``, ``oda import`` and ``oda export`` to the ``oda`` app."""
    query_app = typer.Typer(help=QUERY_HELP, no_args_is_help=True)
    query_app.command("contamination")(contamination)
    query_app.command("upstream")(upstream)
    query_app.command("downstream")(downstream)
    query_app.command("flagged")(flagged)
    query_app.command("cypher")(cypher)
    app.add_typer(query_app, name="query")
    app.command("stats")(stats)
    app.command("import")(import_command)
    app.command("export")(export_command)
