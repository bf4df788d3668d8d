"""Import and export of lineage graphs: OpenDataArena's ``oda-jsonl``, the project's ``json``, and GraphML.

``oda-jsonl`` is OpenDataArena's own lineage file, one edge a line, ``source`` upstream of ``target``::

    {"target": "org/derived", "source": "AIME", "meta_info": "{\\"source\\": \\"https://…\\", \\"confidence\\": 0.9,
     \\"relationship\\": \\"Direct Inclusion/Subset\\", \\"evidence\\": \\"…\\", \\"exists\\": false}"}

``meta_info`` is a JSON *string*. Its ``source`` (where the evidence was found) is kept as the edge's
``evidence_url`` (or ``source_kind`` when it names one), ``exists`` as the source node's ``on_hub``. A name that
is not a Hub id ("AIME", "Wikipedia") becomes an ``ext:`` node that keeps the raw name as ``name``; exports write
the raw name back. Duplicate pairs merge: the highest confidence wins, and later lines fill fields earlier ones
left empty.

``json`` is the project's lossless format: ``{"nodes": [...], "edges": [...], "scores": [...], "results": [...]}``
with every field of ``models.Node``/``Edge``/``ScoreProfile``/``BenchResult``.

An import reads the file as a stream (the ``json`` document item by item, never the whole text at once) and
validates every item before writing anything. Bad items (malformed JSON, a ``meta_info`` that is not a JSON
string, a confidence outside [0, 1], an unknown relationship, a self-loop, an invalid id, a value the engines
cannot hold: an integer past 64 bits, a non-finite number, a string past ``[store].max_text_chars``, nesting past
32 levels) are reported with their positions; then nothing is written, unless ``skip_invalid`` asks to load the
valid rest. Edges that carry no status get ``flagged`` below the flag threshold and ``auto`` otherwise.

An edge that would close a cycle is written as a cycle candidate (flagged, out of the DAG; see
``graph_store.dag``) and listed in the report; the rest of the file is written as usual.

What is atomic: each write batch (nodes first, then edges, then scores and results) is one transaction, so an
interrupted import leaves whole batches, never half of one. The resume point is the file itself: writes are
idempotent and a stored edge the file would not change is not rewritten, so running the same import again
finishes the job and ends with the same graph as an uninterrupted run.

Every export is written to a temporary file beside the target and renamed into place, so a failed export never
leaves a partial file or destroys an earlier one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ValidationError

from graph_store.base import GraphStore
from graph_store.models import (
    EXT_ID_RE,
    BenchResult,
    Edge,
    EdgeStatus,
    Node,
    Relationship,
    ScoreProfile,
    SourceKind,
    UpsertReport,
    ext_id,
    is_hf_id,
)
from oda.errors import InputError, StoreError
from oda.settings import DEFAULT_THRESHOLD

ImportFormat = Literal["oda-jsonl", "json"]
ExportFormat = Literal["oda-jsonl", "json", "graphml"]
IMPORT_FORMATS: tuple[str, ...] = ("oda-jsonl", "json")
EXPORT_FORMATS: tuple[str, ...] = ("oda-jsonl", "json", "graphml")
MAX_LINE_CHARS = 1_000_000
MAX_REPORTED_ERRORS = 50


class ImportReport(BaseModel):
    """What an import read and wrote."""

    items: int = 0
    nodes: UpsertReport = UpsertReport()
    edges: UpsertReport = UpsertReport()
    flagged: int = 0
    scores: int = 0
    results: int = 0
    errors: list[str] = []


@dataclass
class ImportPlan:
    """Validated nodes and edges read from a file, with the per-item errors found."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: dict[tuple[str, str], Edge] = field(default_factory=dict)
    scores: list[ScoreProfile] = field(default_factory=list)
    results: list[BenchResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    items: int = 0


def name_to_id(name: str) -> str:
    """A Hub id or ``ext:`` id stays as it is; any other name becomes ``ext_id(name)``."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a dataset name must be a non-empty string")
    name = name.strip()
    if is_hf_id(name) or EXT_ID_RE.match(name):
        return name
    return ext_id(name)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}".removeprefix("value: ")
            for err in exc.errors()
        )
    return str(exc)


# --- oda-jsonl ------------------------------------------------------------------------------------------------


def _parse_meta(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        raise ValueError("meta_info must be a JSON string (an object encoded as text), not an object")
    if not isinstance(raw, str):
        raise ValueError(f"meta_info must be a JSON string, got {type(raw).__name__}")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"meta_info is not valid JSON: {exc.msg} at char {exc.pos}") from exc
    except RecursionError:
        raise ValueError("meta_info is nested too deep") from None
    if not isinstance(meta, dict):
        raise ValueError("meta_info must encode a JSON object")
    return meta


def _oda_edge(record: Any) -> tuple[Edge, dict[str, Node]]:
    if not isinstance(record, dict):
        raise ValueError("each line must be a JSON object")
    missing = [k for k in ("target", "source", "meta_info") if k not in record]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    meta = _parse_meta(record["meta_info"])
    raw_target, raw_source = record["target"], record["source"]
    target, source = name_to_id(raw_target), name_to_id(raw_source)
    confidence = meta.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)):
        raise ValueError(f"confidence must be a number in [0, 1], got {confidence!r}")
    if "relationship" not in meta:
        raise ValueError("meta_info has no relationship")
    evidence_source = meta.get("source")
    fields: dict[str, Any] = {
        "target": target,
        "source": source,
        "relationship": meta["relationship"],
        "confidence": confidence,
        "evidence": meta.get("evidence") or "",
        "extractor": "import",
    }
    if isinstance(evidence_source, str) and evidence_source:
        if evidence_source in {k.value for k in SourceKind}:
            fields["source_kind"] = evidence_source
        else:
            fields["evidence_url"] = evidence_source
    elif evidence_source is not None:
        raise ValueError(f"meta_info.source must be a string, got {type(evidence_source).__name__}")
    edge = Edge.model_validate(fields)
    nodes: dict[str, Node] = {}
    nodes[target] = (
        Node(id=target, name=raw_target.strip()) if target != raw_target.strip() else Node(id=target)
    )
    source_fields: dict[str, Any] = {"id": source}
    if source != raw_source.strip():
        source_fields["name"] = raw_source.strip()
    if isinstance(meta.get("exists"), bool):
        source_fields["on_hub"] = meta["exists"]
    nodes[source] = Node.model_validate(source_fields)
    return edge, nodes


def _merge_node(plan: ImportPlan, node: Node) -> None:
    old = plan.nodes.get(node.id)
    if old is None:
        plan.nodes[node.id] = node
        return
    update = {k: getattr(node, k) for k in node.model_fields_set if getattr(node, k) is not None}
    merged = old.model_copy(update=update)
    merged.model_fields_set.update(old.model_fields_set | set(update))
    plan.nodes[node.id] = merged


def _merge_edge(plan: ImportPlan, edge: Edge) -> None:
    old = plan.edges.get(edge.key)
    if old is None:
        plan.edges[edge.key] = edge
        return
    strong, weak = (edge, old) if edge.confidence >= old.confidence else (old, edge)
    fill = {
        k: getattr(weak, k)
        for k in weak.model_fields_set
        if getattr(strong, k) in (None, "") and getattr(weak, k) not in (None, "")
    }
    merged = strong.model_copy(update=fill)
    merged.model_fields_set.update(strong.model_fields_set | set(fill))
    plan.edges[edge.key] = merged


def _lines(source: str | Path | IO[str]) -> Iterator[tuple[int, str]]:
    if isinstance(source, (str, Path)):
        with open(source, encoding="utf-8", errors="strict") as handle:
            yield from enumerate(handle, start=1)
    else:
        yield from enumerate(source, start=1)


def read_oda_jsonl(source: str | Path | IO[str]) -> ImportPlan:
    """Parse and validate an ``oda-jsonl`` file into an ``ImportPlan`` (nothing is written)."""
    plan = ImportPlan()
    try:
        for number, line in _lines(source):
            if not line.strip():
                continue
            plan.items += 1
            if len(line) > MAX_LINE_CHARS:
                plan.errors.append(f"line {number}: {len(line)} characters; the limit is {MAX_LINE_CHARS}")
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                plan.errors.append(f"line {number}: not valid JSON: {exc.msg} at char {exc.pos}")
                continue
            except RecursionError:
                plan.errors.append(f"line {number}: not valid JSON: nested too deep")
                continue
            try:
                edge, nodes = _oda_edge(record)
            except (ValidationError, ValueError, TypeError) as exc:
                plan.errors.append(f"line {number}: {_error_text(exc)}")
                continue
            for node in nodes.values():
                _merge_node(plan, node)
            _merge_edge(plan, edge)
    except UnicodeDecodeError as exc:
        plan.errors.append(f"the file is not UTF-8 text: {exc}")
    return plan


# --- json -----------------------------------------------------------------------------------------------------


_JSON_SECTIONS = {"nodes", "edges", "scores", "results"}
_NOT_WHITESPACE = re.compile(r"[^ \t\n\r]")
_READ_CHARS = 1 << 20


class _DocumentReader:
    """Reads the top level of a ``json`` document from a text stream: ``(key, index, item)`` for each item of
    an array value and ``(key, None, value)`` for any other value, parsing one item at a time."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle
        self._decoder = json.JSONDecoder()
        self._buf = ""
        self._pos = 0
        self._eof = False

    def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = self._handle.read(_READ_CHARS)
        if not chunk:
            self._eof = True
            return False
        self._buf = self._buf[self._pos :] + chunk
        self._pos = 0
        return True

    def _peek(self) -> str:
        while True:
            found = _NOT_WHITESPACE.search(self._buf, self._pos)
            if found is not None:
                self._pos = found.start()
                return self._buf[self._pos]
            self._pos = len(self._buf)
            if not self._fill():
                return ""

    def _expect(self, chars: str) -> str:
        char = self._peek()
        if not char or char not in chars:
            raise ValueError(f"expected {' or '.join(repr(c) for c in chars)} at character {self._pos}")
        self._pos += 1
        return char

    def _value(self) -> Any:
        self._peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError:
                if self._fill():
                    continue
                raise
            if end == len(self._buf) and self._fill():
                continue  # a number may go on in the next chunk
            self._pos = end
            return value

    def items(self) -> Iterator[tuple[str, int | None, Any]]:
        self._expect("{")
        if self._peek() == "}":
            self._pos += 1
            return
        while True:
            key = self._value()
            if not isinstance(key, str):
                raise ValueError("object keys must be strings")
            self._expect(":")
            if self._peek() == "[":
                self._pos += 1
                index = 0
                if self._peek() == "]":
                    self._pos += 1
                else:
                    while True:
                        yield key, index, self._value()
                        index += 1
                        if self._expect(",]") == "]":
                            break
            else:
                yield key, None, self._value()
            if self._expect(",}") == "}":
                break
        if self._peek():
            raise ValueError(f"unexpected text after the document at character {self._pos}")


def read_json(source: str | Path | IO[str]) -> ImportPlan:
    """Parse and validate the project's ``json`` format into an ``ImportPlan``, one item at a time."""
    if isinstance(source, (str, Path)):
        with open(source, encoding="utf-8", errors="strict") as handle:
            return _read_json_stream(handle)
    return _read_json_stream(source)


def _read_json_stream(handle: IO[str]) -> ImportPlan:
    plan = ImportPlan()
    unknown: set[str] = set()
    try:
        for key, index, item in _DocumentReader(handle).items():
            if key not in _JSON_SECTIONS:
                if key not in ("format", "version"):
                    unknown.add(key)
                continue
            if index is None:
                if item not in (None, []):
                    plan.errors.append(f"{key} must be a list")
                continue
            plan.items += 1
            try:
                if key == "nodes":
                    _merge_node(plan, Node.model_validate(item))
                elif key == "edges":
                    _merge_edge(plan, Edge.model_validate(item))
                elif key == "scores":
                    plan.scores.append(ScoreProfile.model_validate(item))
                else:
                    plan.results.append(BenchResult.model_validate(item))
            except (ValidationError, ValueError, TypeError) as exc:
                label = (
                    f" ({item.get('target')} <- {item.get('source')})"
                    if key == "edges" and isinstance(item, dict)
                    else ""
                )
                plan.errors.append(f"{key}[{index}]{label}: {_error_text(exc)}")
    except json.JSONDecodeError as exc:
        plan.errors.append(f"not valid JSON: {exc.msg}")
    except ValueError as exc:
        plan.errors.append(f'not a lineage document {{"nodes": [...], "edges": [...]}}: {exc}')
    except RecursionError:
        plan.errors.append("not valid JSON: nested too deep")
    except UnicodeDecodeError as exc:
        plan.errors.append(f"the file is not UTF-8 text: {exc}")
    if unknown:
        plan.errors.append(f"unknown top-level keys: {', '.join(sorted(unknown))}")
    return plan


# --- import ---------------------------------------------------------------------------------------------------


def import_file(
    store: GraphStore,
    path: str | Path | IO[str],
    fmt: ImportFormat,
    *,
    flag_below: float | None = None,
    skip_invalid: bool = False,
) -> ImportReport:
    """Validate ``path`` completely, then write it to ``store`` (see the module docstring).

    Raises ``InputError`` listing the bad items (and writes nothing) unless ``skip_invalid``. Edges that would
    close a cycle are written as cycle candidates and listed in ``report.edges.cycles``.
    """
    if fmt not in IMPORT_FORMATS:
        raise InputError(f"unknown import format {fmt!r}; expected one of: {', '.join(IMPORT_FORMATS)}")
    threshold = DEFAULT_THRESHOLD if flag_below is None else float(flag_below)
    if not 0.0 <= threshold <= 1.0:
        raise InputError(f"flag threshold must be in [0, 1], got {threshold}")
    plan = read_oda_jsonl(path) if fmt == "oda-jsonl" else read_json(path)
    if plan.errors and not skip_invalid:
        raise InputError(_errors_message(plan.errors, plan.items))
    flagged = _set_flag_threshold(plan.edges.values(), threshold)
    report = ImportReport(items=plan.items, flagged=flagged, errors=plan.errors)
    report.nodes = store.upsert_nodes(plan.nodes.values())
    plan.nodes.clear()
    report.edges = store.upsert_edges(plan.edges.values())
    plan.edges.clear()
    if plan.scores:
        report.scores = store.attach_scores(plan.scores)
    if plan.results:
        report.results = store.attach_results(plan.results)
    return report


def _set_flag_threshold(edges: Iterable[Edge], threshold: float) -> int:
    """Edges with no explicit status get ``flagged`` below ``threshold``, else ``auto``, in place (the import
    holds each model once); returns the flagged count."""
    flagged = 0
    for edge in edges:
        if "status" not in edge.model_fields_set:
            edge.status = EdgeStatus.FLAGGED if edge.confidence < threshold else EdgeStatus.AUTO
            edge.model_fields_set.add("status")
        if edge.status == EdgeStatus.FLAGGED:
            flagged += 1
    return flagged


def _errors_message(errors: list[str], items: int) -> str:
    shown = errors[:MAX_REPORTED_ERRORS]
    more = f"\n… and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
    return f"{len(errors)} invalid item(s) of {items}; nothing was imported:\n" + "\n".join(shown) + more


# --- export ---------------------------------------------------------------------------------------------------


def _display_name(node: Node | None, node_id: str) -> str:
    if node is not None and node.id.startswith("ext:") and node.name:
        return node.name
    return node_id


def export_oda_jsonl(store: GraphStore, out: IO[str], *, include_rejected: bool = False) -> int:
    """Write every edge (rejected ones only when asked) as ``oda-jsonl``; returns the number of lines."""
    nodes = {n.id: n for n in store.nodes()}
    count = 0
    for edge in store.edges():
        if edge.status == EdgeStatus.REJECTED and not include_rejected:
            continue
        source_node = nodes.get(edge.source)
        meta = {
            "source": edge.evidence_url or (edge.source_kind.value if edge.source_kind else None),
            "confidence": edge.confidence,
            "relationship": Relationship(edge.relationship).value,
            "evidence": edge.evidence,
            "exists": source_node.on_hub if source_node is not None else not edge.source.startswith("ext:"),
        }
        line = {
            "target": _display_name(nodes.get(edge.target), edge.target),
            "source": _display_name(source_node, edge.source),
            "meta_info": json.dumps(meta, ensure_ascii=False),
        }
        out.write(json.dumps(line, ensure_ascii=False, allow_nan=False) + "\n")
        count += 1
    return count


def export_document(store: GraphStore) -> dict[str, Any]:
    """The whole store in the project's ``json`` format."""
    return {
        "nodes": [n.model_dump(mode="json", exclude_none=True) for n in store.nodes()],
        "edges": [e.model_dump(mode="json", exclude_none=True) for e in store.edges()],
        "scores": [s.model_dump(mode="json", exclude_none=True) for s in store.scores()],
        "results": [r.model_dump(mode="json", exclude_none=True) for r in store.results()],
    }


def export_json(store: GraphStore, out: IO[str]) -> int:
    """Write the store as ``json``; returns the number of edges."""
    document = export_document(store)
    try:
        text = json.dumps(document, ensure_ascii=False, indent=1, allow_nan=False)
    except ValueError as exc:
        raise StoreError(f"the store holds a value JSON cannot carry ({exc}); nothing was exported") from exc
    out.write(text + "\n")
    return len(document["edges"])


def _graphml_value(value: Any) -> Any:
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value


def to_networkx(store: GraphStore, *, include_rejected: bool = True) -> Any:
    """The store as a ``networkx.DiGraph`` (edges point from the derived dataset to its source)."""
    import networkx as nx

    graph = nx.DiGraph()
    for node in store.nodes():
        attrs = {
            k: _graphml_value(v)
            for k, v in node.model_dump(mode="json", exclude={"id"}).items()
            if v is not None
        }
        graph.add_node(node.id, **attrs)
    for edge in store.edges():
        if edge.status == EdgeStatus.REJECTED and not include_rejected:
            continue
        data = edge.model_dump(mode="json", exclude={"target", "source"})
        graph.add_edge(
            edge.target, edge.source, **{k: _graphml_value(v) for k, v in data.items() if v is not None}
        )
    return graph


def export_graphml(store: GraphStore, out: IO[bytes]) -> int:
    """Write the store as GraphML (loads in Gephi and ``networkx.read_graphml``); returns the number of edges."""
    import networkx as nx

    graph = to_networkx(store)
    nx.write_graphml(graph, out, named_key_ids=True)
    return int(graph.number_of_edges())


@contextmanager
def atomic_output(path: str | Path, *, binary: bool = False) -> Iterator[IO[Any]]:
    """A file handle whose content replaces ``path`` only once the block ends without an error.

    It writes beside ``path`` under a temporary name and renames it into place, so a failure leaves any earlier
    file as it was. A missing folder is an ``InputError`` naming it.
    """
    import os
    import tempfile

    target = Path(path)
    if target.is_dir():
        raise InputError(f"cannot write to {target}: it is a folder")
    folder = target.parent
    if not folder.is_dir():
        raise InputError(f"cannot write to {target}: there is no folder {folder}")
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".partial")
    except OSError as exc:
        raise InputError(f"cannot write to {target}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(handle, "wb") if binary else os.fdopen(handle, "w", encoding="utf-8") as out:
            yield out
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def export_to_path(store: GraphStore, fmt: ExportFormat, path: str | Path | None) -> int:
    """Export to a file, or to stdout when ``path`` is None or ``-``; returns the number of edges written.

    A file is written through ``atomic_output``: a failed export leaves any earlier file as it was.
    """
    import sys

    if fmt not in EXPORT_FORMATS:
        raise InputError(f"unknown export format {fmt!r}; expected one of: {', '.join(EXPORT_FORMATS)}")
    if path is None or str(path) == "-":
        if fmt == "graphml":
            return export_graphml(store, sys.stdout.buffer)
        return (export_json if fmt == "json" else export_oda_jsonl)(store, sys.stdout)
    with atomic_output(path, binary=fmt == "graphml") as out:
        if fmt == "graphml":
            return export_graphml(store, out)
        return (export_json if fmt == "json" else export_oda_jsonl)(store, out)
