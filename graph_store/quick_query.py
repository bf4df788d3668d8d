"""``oda query contamination|upstream|downstream … --json`` on the embedded store, before the full command line loads.

The ``oda`` executable calls ``answer(argv)`` first. It handles exactly these forms::

    oda query contamination BENCHMARK [--store S] [--min-confidence F] [--status S]... [--split S] --json
    oda query upstream|downstream DATASET [--depth N] [--store S] --json

on an embedded store that exists, and returns None for anything else (another command, ``--help``, a table, a Neo4j
URI, a missing store, a value the full command line would refuse, a benchmark that is not a node); the full command
line then runs as usual, so every message and error stays that of ``oda.cli``. A contamination answer loads numpy,
orjson and the adjacency index, not typer, rich, pydantic or the database engine; only a stale index (a write since
it was built) opens the database, read-only, to rebuild it. A tree opens the database read-only for the records of
the nodes and edges the index's BFS found.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from graph_store.adjacency_index import AdjacencyIndex

STATUSES = ("auto", "flagged", "approved", "rejected", "edited")


class _NotMine(Exception):
    """The arguments are not the form this module answers."""


@dataclass
class ContaminationArgs:
    benchmark: str = ""
    store: str | None = None
    min_confidence: float = 0.0
    statuses: list[str] = field(default_factory=list)
    split: str | None = None


def _split_args(args: list[str], value_options: tuple[str, ...]) -> tuple[str, list[tuple[str, str]]]:
    """The one positional argument and the ``(option, value)`` pairs of a ``--json`` query; anything else is not mine."""
    positional: list[str] = []
    options: list[tuple[str, str]] = []
    as_json = False
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, inline = arg.partition("=")
        if arg == "--json":
            as_json = True
        elif name in value_options:
            if eq:
                value = inline
            elif i + 1 < len(args):
                i += 1
                value = args[i]
            else:
                raise _NotMine
            options.append((name, value))
        elif arg == "--" or arg.startswith("-"):
            raise _NotMine
        else:
            positional.append(arg)
        i += 1
    if len(positional) != 1 or not as_json:
        raise _NotMine
    return positional[0], options


def _contamination_args(args: list[str]) -> ContaminationArgs:
    benchmark, options = _split_args(args, ("--store", "--min-confidence", "--status", "--split"))
    parsed = ContaminationArgs(benchmark=benchmark)
    for name, value in options:
        if name == "--store":
            parsed.store = value
        elif name == "--min-confidence":
            parsed.min_confidence = _confidence(value)
        elif name == "--status":
            if value not in STATUSES:
                raise _NotMine
            parsed.statuses.append(value)
        else:
            parsed.split = value
    return parsed


def _confidence(value: str) -> float:
    try:
        confidence = float(value)
    except ValueError:
        raise _NotMine from None
    if not 0.0 <= confidence <= 1.0:
        raise _NotMine
    return confidence


def _embedded_path(uri: str | None) -> Path:
    """The database file an embedded store URI names (``open_store``'s rules); Neo4j and missing stores are not mine."""
    import os

    if uri is None:
        from oda.settings import load_settings

        try:
            uri = load_settings(None).store.uri
        except Exception:
            raise _NotMine from None
    uri = uri.strip()
    if not uri or "://" in uri:
        raise _NotMine
    path = Path(os.path.expanduser(uri.removeprefix("embedded:")))
    if not path.is_file():
        raise _NotMine
    return path


def _index(path: Path) -> AdjacencyIndex:
    """The saved index if fresh, else one rebuilt from the database opened read-only by the engine alone."""
    from graph_store import adjacency_index as adj

    index = adj.AdjacencyIndex.load(adj.index_path(path))
    if index is not None and index.is_fresh(path):
        return index
    try:
        index = adj.build_read_only(path)
    except Exception:
        raise _NotMine from None  # the full command line opens the store and says what is wrong
    return adj.save_if_tagged(index, path)


def _resolve(index: AdjacencyIndex, name: str) -> str:
    """``name`` if it is a node, else its ``ext:`` slug if that is one (as ``oda query`` resolves names)."""
    if index.rank(name) is not None:
        return name
    from graph_store.models import ext_id

    try:
        slug = ext_id(name)
    except ValueError:
        raise _NotMine from None
    if index.rank(slug) is None:
        raise _NotMine  # the full command line says there is no such node
    return slug


def answer(argv: list[str], out: IO[bytes] | None = None) -> int | None:
    """Answer ``argv`` (the arguments after ``oda``) if it is a query this module handles; else None."""
    stream = out if out is not None else sys.stdout.buffer
    try:
        if argv[:2] == ["query", "contamination"]:
            return _contamination(_contamination_args(argv[2:]), stream)
        if argv[:2] in (["query", "upstream"], ["query", "downstream"]):
            return _tree(_tree_args(argv[2:]), argv[1] == "upstream", stream)
    except _NotMine:
        return None
    return None


def _contamination(args: ContaminationArgs, stream: IO[bytes]) -> int:
    from graph_store import adjacency_index as adj

    path = _embedded_path(args.store)
    index = _index(path)
    benchmark = _resolve(index, args.benchmark)
    tree = adj.contamination_tree(
        index, benchmark, min_confidence=args.min_confidence, statuses=args.statuses or None, split=args.split
    )
    assert tree is not None  # the benchmark resolved to a node
    adj.write_json_rows(adj.contamination_rows(index, tree, benchmark), stream)
    stream.flush()
    return 0


@dataclass
class TreeArgs:
    dataset: str = ""
    store: str | None = None
    depth: int = 6


def _tree_args(args: list[str]) -> TreeArgs:
    dataset, options = _split_args(args, ("--store", "--depth"))
    parsed = TreeArgs(dataset=dataset)
    for name, value in options:
        if name == "--store":
            parsed.store = value
        elif value.isdigit() and 0 <= int(value) <= 50:
            parsed.depth = int(value)
        else:
            raise _NotMine
    return parsed


def _tree(args: TreeArgs, upstream: bool, stream: IO[bytes]) -> int:
    """An upstream or downstream tree: the BFS runs on the index, the records come from the store (read-only)."""
    import orjson

    from graph_store.embedded import EmbeddedStore
    from graph_store.models import ext_id

    path = _embedded_path(args.store)
    try:
        store = EmbeddedStore(path, create=False, read_only=True)
    except Exception:
        raise _NotMine from None
    with store:
        index = store.adjacency()
        node_id = args.dataset
        if index.rank(node_id) is None:
            try:
                slug = ext_id(node_id)
            except ValueError:
                slug = node_id
            node_id = slug if index.rank(slug) is not None else node_id
        sub = store.upstream(node_id, args.depth) if upstream else store.downstream(node_id, args.depth)
    stream.write(orjson.dumps(sub.model_dump(mode="json", exclude_none=True), option=orjson.OPT_INDENT_2))
    stream.write(b"\n")
    stream.flush()
    return 0
