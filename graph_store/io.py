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

An import validates the whole file before writing anything. Bad lines (malformed JSON, a ``meta_info`` that is
not a JSON string, a confidence outside [0, 1], an unknown relationship, a self-loop, oversized evidence, an
invalid id) are reported with their line numbers, and so is a cycle (with the nodes on it, checked together with
the edges already stored); then nothing is written, unless ``skip_invalid`` asks to load the valid rest. Edges
that carry no status get ``flagged`` below the flag threshold and ``auto`` otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
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
from oda.errors import InputError

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


def default_flag_threshold() -> float:
    """The flag threshold from config ``[trace].threshold`` (default 0.7)."""
    from oda.config import setting

    value = float(setting("trace", "threshold", 0.7))
    if not 0.0 <= value <= 1.0:
        raise InputError(f"[trace].threshold must be in [0, 1], got {value}")
    return value


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


def read_json(source: str | Path | IO[str]) -> ImportPlan:
    """Parse and validate the project's ``json`` format into an ``ImportPlan``."""
    plan = ImportPlan()
    try:
        if isinstance(source, (str, Path)):
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        else:
            data = json.load(source)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        plan.errors.append(f"not valid JSON: {exc}")
        return plan
    if not isinstance(data, dict) or not isinstance(data.get("edges", []), list):
        plan.errors.append('expected an object {"nodes": [...], "edges": [...]}')
        return plan
    unknown = sorted(set(data) - {"nodes", "edges", "scores", "results", "format", "version"})
    if unknown:
        plan.errors.append(f"unknown top-level keys: {', '.join(unknown)}")
    for index, item in enumerate(data.get("nodes", []) or []):
        plan.items += 1
        try:
            _merge_node(plan, Node.model_validate(item))
        except (ValidationError, ValueError, TypeError) as exc:
            plan.errors.append(f"nodes[{index}]: {_error_text(exc)}")
    for index, item in enumerate(data.get("edges", []) or []):
        plan.items += 1
        try:
            _merge_edge(plan, Edge.model_validate(item))
        except (ValidationError, ValueError, TypeError) as exc:
            label = f" ({item.get('target')} <- {item.get('source')})" if isinstance(item, dict) else ""
            plan.errors.append(f"edges[{index}]{label}: {_error_text(exc)}")
    for index, item in enumerate(data.get("scores", []) or []):
        plan.items += 1
        try:
            plan.scores.append(ScoreProfile.model_validate(item))
        except (ValidationError, ValueError, TypeError) as exc:
            plan.errors.append(f"scores[{index}]: {_error_text(exc)}")
    for index, item in enumerate(data.get("results", []) or []):
        plan.items += 1
        try:
            plan.results.append(BenchResult.model_validate(item))
        except (ValidationError, ValueError, TypeError) as exc:
            plan.errors.append(f"results[{index}]: {_error_text(exc)}")
    return plan


# --- import ---------------------------------------------------------------------------------------------------


def find_cycle(pairs: Iterable[tuple[str, str]]) -> list[str] | None:
    """A cycle among ``(target, source)`` pairs as ``[a, b, …, a]`` (a derives from b …), or None."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_edges_from(pairs)
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return None
    return [str(u) for u, _ in cycle] + [str(cycle[0][0])]


def apply_flag_threshold(edges: Iterable[Edge], threshold: float) -> tuple[list[Edge], int]:
    """Edges with no explicit status get ``flagged`` below ``threshold``, else ``auto``; returns the flagged count."""
    out: list[Edge] = []
    flagged = 0
    for edge in edges:
        if "status" not in edge.model_fields_set:
            status = EdgeStatus.FLAGGED if edge.confidence < threshold else EdgeStatus.AUTO
            edge = edge.model_copy(update={"status": status})
            edge.model_fields_set.add("status")
        if edge.status == EdgeStatus.FLAGGED:
            flagged += 1
        out.append(edge)
    return out, flagged


def import_file(
    store: GraphStore,
    path: str | Path | IO[str],
    fmt: ImportFormat,
    *,
    flag_below: float | None = None,
    skip_invalid: bool = False,
) -> ImportReport:
    """Validate ``path`` completely, then write it to ``store`` (see the module docstring).

    Raises ``InputError`` listing the bad items (and writes nothing) unless ``skip_invalid``; a cycle is always
    refused.
    """
    if fmt not in IMPORT_FORMATS:
        raise InputError(f"unknown import format {fmt!r}; expected one of: {', '.join(IMPORT_FORMATS)}")
    threshold = default_flag_threshold() if flag_below is None else float(flag_below)
    if not 0.0 <= threshold <= 1.0:
        raise InputError(f"flag threshold must be in [0, 1], got {threshold}")
    plan = read_oda_jsonl(path) if fmt == "oda-jsonl" else read_json(path)
    if plan.errors and not skip_invalid:
        raise InputError(_errors_message(plan.errors, plan.items))
    edges, flagged = apply_flag_threshold(plan.edges.values(), threshold)
    stored_pairs = store.edge_pairs() if hasattr(store, "edge_pairs") else [e.key for e in store.edges()]
    walkable = [e.key for e in edges if e.status != EdgeStatus.REJECTED]
    cycle = find_cycle([*stored_pairs, *walkable])
    if cycle is not None:
        raise InputError(
            "the lineage would contain a cycle: " + " <- ".join(cycle) + "; nothing was imported"
        )
    report = ImportReport(items=plan.items, flagged=flagged, errors=plan.errors)
    report.nodes = store.upsert_nodes(plan.nodes.values())
    report.edges = store.upsert_edges(edges)
    if plan.scores:
        report.scores = store.attach_scores(plan.scores)
    if plan.results:
        report.results = store.attach_results(plan.results)
    return report


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
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
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
    json.dump(document, out, ensure_ascii=False, indent=1)
    out.write("\n")
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


def export_to_path(store: GraphStore, fmt: ExportFormat, path: str | Path | None) -> int:
    """Export to a file, or to stdout when ``path`` is None or ``-``; returns the number of edges written."""
    import sys

    if fmt not in EXPORT_FORMATS:
        raise InputError(f"unknown export format {fmt!r}; expected one of: {', '.join(EXPORT_FORMATS)}")
    to_stdout = path is None or str(path) == "-"
    if fmt == "graphml":
        if to_stdout:
            return export_graphml(store, sys.stdout.buffer)
        with open(path, "wb") as handle:  # type: ignore[arg-type]
            return export_graphml(store, handle)
    writer = export_json if fmt == "json" else export_oda_jsonl
    if to_stdout:
        return writer(store, sys.stdout)
    with open(path, "w", encoding="utf-8") as handle:  # type: ignore[arg-type]
        return writer(store, handle)
