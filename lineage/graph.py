"""The tracing agents as a LangGraph ``StateGraph`` (paper §3.2.1).

One dataset at a time, depth first::

    START → select_next ─┬→ validate → retrieve → fetch_resources ─┬→ trace_chunk (one per chunk, via Send) ┐
                         │      │           │                      └──────────────────────────────────────→ aggregate
                         │      └───────────┴──────────→ write ←───────────────────────────────────────────────┘
                         └→ END                           │
                              ↑___________________________┘ (write pushes the new parents, then select_next)

- ``select_next`` pops the depth-first stack (starting the next queue entry's tree when it is empty) and skips
  datasets already visited;
- ``validate`` (candidate validation) checks that the dataset exists on the Hub, is readable and was created in
  ``min_year`` or later, and records why a candidate is dropped;
- ``retrieve`` (retrieval agent) reads the card and discovers the resources it names;
- ``fetch_resources`` (resource agents) fetches GitHub, blogs and arXiv concurrently and prunes them into chunks;
- ``trace_chunk`` (source-tracing agents) runs the extractor on one chunk; all chunks run concurrently, bounded
  by the extractor's concurrency;
- ``aggregate`` (aggregation agent) canonicalizes the names, checks time order, verifies evidence, computes the
  confidence and flags weak edges;
- ``write`` MERGEs the nodes and edges into the store and pushes the new Hub-hosted parents on the stack. A
  dropped or failed candidate (missing, gated, too old, unreadable) goes into the run's failure report only; it
  never becomes a node (a node that an earlier edge already names records why it was not traced).

Every node is an async function that returns a partial state update (or a ``Command`` that also routes). What goes
wrong with one item (a dead link, a chunk the LLM could not read, a name the Hub could not be asked about) is a
value: the extractor and the canonicalizer return their problems, and the nodes add them to the state's
``failures`` (an appending reducer), so they are checkpointed with the rest of the run. The graph is compiled with a checkpointer (SQLite for ``oda trace``), so a killed run resumes at its last step; the
store writes are idempotent, so re-running a step that was cut short is harmless.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, Send

from graph_store.models import Edge, EdgeStatus, Node, is_hf_id
from lineage.context import TraceContext
from lineage.extract.types import RawClaim, ResourceChunk
from lineage.resources import card_chunks, page_chunks, paper_chunks
from lineage.state import RESET, ChunkTask, Failure, StackItem, TraceState
from oda.errors import (
    AccessDeniedError,
    AcquisitionError,
    ContentError,
    FetchTimeoutError,
    InputError,
    NotFoundError,
    OdaError,
    SnapshotMissError,
)

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.graph.state import CompiledStateGraph

    from lineage.canonical import Resolution, ResolveOutcome

MAX_LINKS_PER_DATASET = 12
"""Resources fetched per dataset at most (in the order the card names them)."""

FETCHABLE_LINK_KINDS = ("arxiv", "hf_paper", "github", "blog")
"""Link kinds the resource agents read. Links to other Hub datasets are read when those datasets are traced."""

_DATASET_RESET: dict[str, Any] = {
    "info": None,
    "links": [],
    "chunks": [],
    "claims": RESET,
    "aggregation": None,
    "outcome": None,
}


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _failure(dataset: str, stage: str, reason: str, url: str | None = None) -> Failure:
    failure: Failure = {"dataset": dataset, "stage": stage, "reason": reason}
    if url:
        failure["url"] = url
    return failure


def _current(state: TraceState) -> StackItem:
    current = state.get("current")
    if current is None:
        raise OdaError("no dataset selected")
    return current


# --- select -----------------------------------------------------------------------------------------------


async def select_next(state: TraceState) -> Command[Literal["validate", "__end__"]]:
    """Pop the next unvisited dataset off the stack; start the next queue entry when the stack is empty."""
    stack = list(state.get("stack") or [])
    visited = set(state.get("visited") or [])
    queue = list(state.get("queue") or [])
    pos = int(state.get("queue_pos") or 0)
    skipped = 0
    while True:
        while stack:
            item = stack.pop()
            if item["id"] in visited:
                skipped += 1
                continue
            update: dict[str, Any] = {
                **_DATASET_RESET,
                "stack": stack,
                "queue_pos": pos,
                "current": item,
                "visited": [item["id"]],
                "counters": {"revisits_skipped": skipped} if skipped else {},
            }
            return Command(goto="validate", update=update)
        if pos >= len(queue):
            return Command(
                goto="__end__",
                update={
                    **_DATASET_RESET,
                    "stack": [],
                    "queue_pos": pos,
                    "current": None,
                    "counters": {"revisits_skipped": skipped} if skipped else {},
                },
            )
        entry = queue[pos]
        pos += 1
        stack.append({"id": entry, "depth": 0, "root": entry, "via": None})


# --- candidate validation ---------------------------------------------------------------------------------


async def validate(
    state: TraceState, runtime: Runtime[TraceContext]
) -> Command[Literal["retrieve", "write"]]:
    """Candidate validation: the dataset exists on the Hub, can be read, and is recent enough."""
    ctx = runtime.context
    item = _current(state)
    dataset = item["id"]
    try:
        info = await _dataset_info(ctx, dataset)
    except NotFoundError:
        return _stop("dropped", "not found on the Hub", dataset, "validate")
    except AccessDeniedError:
        return _stop("dropped", "gated or private repository", dataset, "validate")
    except InputError as exc:
        return _stop("dropped", f"not a valid Hub id ({exc})", dataset, "validate")
    except SnapshotMissError:
        return _stop("failed", "not in the snapshot (offline run)", dataset, "validate")
    except AcquisitionError as exc:
        return _stop("failed", f"metadata could not be read ({_describe(exc)})", dataset, "validate")
    if getattr(info, "private", False):
        return _stop("dropped", "private repository", dataset, "validate")
    if getattr(info, "gated", False):
        return _stop("dropped", "gated repository", dataset, "validate")
    created: datetime | None = info.created_at
    if created is not None and created.year < ctx.min_year:
        return _stop(
            "dropped", f"created {created.date().isoformat()}, before {ctx.min_year}", dataset, "validate"
        )
    info_json = {
        "id": info.id,
        "created_at": created.isoformat() if created else None,
        "downloads": info.downloads,
        "tags": list(getattr(info, "tags", []) or []),
    }
    return Command(goto="retrieve", update={"info": info_json})


def _stop(status: str, note: str, dataset: str, stage: str) -> Command[Any]:
    """End the current dataset early: go straight to ``write`` to record why (in the run's failure report)."""
    failure = _failure(dataset, stage, note)
    failure["outcome"] = status
    return Command(goto="write", update={"outcome": {"status": status, "note": note}, "failures": [failure]})


# --- retrieval --------------------------------------------------------------------------------------------


async def retrieve(
    state: TraceState, runtime: Runtime[TraceContext]
) -> Command[Literal["fetch_resources", "write"]]:
    """Retrieval agent: read the card, split it into chunks and discover the resources it links to."""
    from acquisition.links import discover_links

    ctx = runtime.context
    dataset = _current(state)["id"]
    try:
        card = await ctx.svc.acquirer.dataset_card(dataset)
    except NotFoundError:
        return _stop("failed", "the dataset has no card", dataset, "retrieve")
    except AcquisitionError as exc:
        return _stop("failed", f"card could not be read ({_describe(exc)})", dataset, "retrieve")
    chunks = card_chunks(dataset, card)
    links = [link.model_dump(mode="json") for link in discover_links(card)]
    failures: list[Failure] = []
    yaml_error = getattr(card, "yaml_error", None)
    if yaml_error:
        failures.append(_failure(dataset, "retrieve", f"card YAML is malformed ({yaml_error})", card.url))
    return Command(
        goto="fetch_resources",
        update={
            "chunks": [c.model_dump(mode="json") for c in chunks],
            "links": links,
            "failures": failures,
        },
    )


# --- resources --------------------------------------------------------------------------------------------


def _unique_links(links: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for link in links:
        if link.get("kind") not in FETCHABLE_LINK_KINDS:
            continue
        kind = "arxiv" if link["kind"] == "hf_paper" else link["kind"]
        key = (kind, str(link.get("ref") or link.get("url")))
        if key in seen:
            continue
        seen.add(key)
        kept.append(link)
    return kept[:MAX_LINKS_PER_DATASET]


async def _read_link(ctx: TraceContext, dataset: str, link: dict[str, Any]) -> list[ResourceChunk]:
    acquirer = ctx.svc.acquirer
    if link["kind"] in ("arxiv", "hf_paper"):
        try:
            paper = await acquirer.arxiv_paper(link["ref"], full_text=True)
        except (SnapshotMissError, FetchTimeoutError, ContentError):
            paper = await acquirer.arxiv_paper(link["ref"])  # the abstract is still worth reading
        return paper_chunks(dataset, paper)
    page = await acquirer.fetch_page(link["url"])
    return page_chunks(dataset, page, link["kind"])


async def fetch_resources(state: TraceState, runtime: Runtime[TraceContext]) -> Command[Any]:
    """Resource agents: fetch the linked GitHub pages, blogs and papers concurrently, then fan out one
    source-tracing agent per chunk."""
    ctx = runtime.context
    dataset = _current(state)["id"]
    links = _unique_links(list(state.get("links") or []))
    limit = asyncio.Semaphore(ctx.resource_concurrency)

    async def read(link: dict[str, Any]) -> list[ResourceChunk] | BaseException:
        async with limit:
            try:
                return await _read_link(ctx, dataset, link)
            except (AcquisitionError, InputError) as exc:
                return exc

    results = await asyncio.gather(*(read(link) for link in links))
    chunks = [ResourceChunk.model_validate(c) for c in state.get("chunks") or []]
    failures: list[Failure] = []
    seen_ids = {c.chunk_id for c in chunks}
    for link, result in zip(links, results, strict=True):
        if isinstance(result, BaseException):
            failures.append(
                _failure(dataset, "fetch", f"dead or unreadable link ({_describe(result)})", link["url"])
            )
            continue
        for chunk in result:
            if chunk.chunk_id not in seen_ids:
                seen_ids.add(chunk.chunk_id)
                chunks.append(chunk)
    chunk_json = [c.model_dump(mode="json") for c in chunks]
    update = {"chunks": chunk_json, "failures": failures, "counters": {"chunks": len(chunks)}}
    if not chunks:
        return Command(goto="aggregate", update=update)
    sends = [Send("trace_chunk", ChunkTask(chunk=c)) for c in chunk_json]
    return Command(goto=sends, update=update)


# --- source tracing ---------------------------------------------------------------------------------------


async def trace_chunk(task: ChunkTask, runtime: Runtime[TraceContext]) -> dict[str, Any]:
    """Source-tracing agent: run the extractor on one chunk and return its raw claims; the problems it met go
    into the run's failure report."""
    svc = runtime.context.svc
    chunk = ResourceChunk.model_validate(task["chunk"])
    async with svc.extract_limit:
        result = await svc.extractor.extract(chunk)
    return {
        "claims": [claim.model_dump(mode="json") for claim in result.claims],
        "failures": [_failure(chunk.target, "extract", problem, chunk.url) for problem in result.problems],
    }


# --- aggregation ------------------------------------------------------------------------------------------


async def _dataset_info(ctx: TraceContext, dataset: str) -> Any:
    """Hub metadata, read once per process (a failed read is not cached: validation retries it)."""
    cache = ctx.svc.info_cache
    if dataset not in cache:
        cache[dataset] = await ctx.svc.acquirer.dataset_info(dataset)
    return cache[dataset]


async def _created_at(ctx: TraceContext, dataset: str) -> datetime | None:
    try:
        created: datetime | None = (await _dataset_info(ctx, dataset)).created_at
    except (AcquisitionError, InputError):
        return None
    return created


async def aggregate_claims(state: TraceState, runtime: Runtime[TraceContext]) -> dict[str, Any]:
    """Aggregation agent: canonicalize every mention, then dedupe, verify, score and flag (``lineage.aggregate``)."""
    from lineage.aggregate import aggregate

    ctx = runtime.context
    item = _current(state)
    dataset = item["id"]
    claims = [RawClaim.model_validate(c) for c in state.get("claims") or [] if c.get("target") == dataset]
    chunks = {c["chunk_id"]: ResourceChunk.model_validate(c) for c in state.get("chunks") or []}
    failures: list[Failure] = []

    names = sorted({(c.source_name, c.hf_id_hint) for c in claims}, key=lambda p: (p[0], p[1] or ""))
    limit = asyncio.Semaphore(ctx.resource_concurrency)

    async def resolve(name: str, hint: str | None) -> ResolveOutcome:
        async with limit:
            return await ctx.svc.canonicalizer.resolve_outcome(name, hint)

    outcomes = await asyncio.gather(*(resolve(name, hint) for name, hint in names))
    resolutions: dict[str, Resolution] = {}
    for (name, hint), outcome in zip(names, outcomes, strict=True):
        # Hub reads that failed while resolving (such names are not memoized, and are asked again later), and
        # names no id can be made of; a mention that names nothing (a path the Hub does not know) is no failure
        failures.extend(_failure(dataset, "resolve", problem) for problem in outcome.problems)
        if outcome.resolution is None:
            continue  # its claims are dropped as unresolved
        resolutions.setdefault(name, outcome.resolution)
        if hint:
            resolutions.setdefault(hint, outcome.resolution)
    hub_ids = sorted({r.id for r in resolutions.values() if r.on_hub and is_hf_id(r.id) and r.id != dataset})
    created = await asyncio.gather(*(_created_at(ctx, i) for i in hub_ids))
    source_created_at = dict(zip(hub_ids, created, strict=True))
    info = state.get("info") or {}
    target_created = datetime.fromisoformat(info["created_at"]) if info.get("created_at") else None

    result = aggregate(
        dataset,
        target_created,
        claims,
        chunks,
        resolutions,
        source_created_at,
        threshold=ctx.threshold,
        run_id=ctx.run_id,
        catalog=ctx.svc.canonicalizer.catalog,
    )
    aggregation = {
        "edges": [e.model_dump(mode="json") for e in result.edges],
        "nodes": [n.model_dump(mode="json") for n in result.nodes],
        "dropped": [
            {"source_name": d.claim.source_name, "role": d.claim.role, "reason": d.reason}
            for d in result.dropped
        ],
    }
    return {"aggregation": aggregation, "failures": failures, "counters": {"claims": len(claims)}}


# --- write and recurse ------------------------------------------------------------------------------------


def _merge_node(node_id: str, existing: Node | None, **fields: Any) -> Node:
    """A node update that keeps what the store already knows (booleans have no 'unknown' value)."""
    if existing is None:
        return Node(id=node_id, **{k: v for k, v in fields.items() if v is not None})
    data = existing.model_dump()
    data.update({k: v for k, v in fields.items() if v is not None})
    return Node.model_validate(data)


def _parents_to_push(
    item: StackItem, edges: list[Edge], nodes: dict[str, Node], ctx: TraceContext, visited: set[str]
) -> list[StackItem]:
    if item["depth"] + 1 > ctx.max_depth:
        return []
    candidates = [
        e
        for e in edges
        if e.status in (EdgeStatus.AUTO, EdgeStatus.FLAGGED)
        and is_hf_id(e.source)
        and nodes.get(e.source, Node(id=e.source)).on_hub
        and e.source not in visited
    ]
    candidates.sort(key=lambda e: (-e.confidence, e.source))
    chosen: list[str] = []
    for edge in candidates:
        if edge.source not in chosen:
            chosen.append(edge.source)
        if len(chosen) >= ctx.max_branching:
            break
    return [{"id": s, "depth": item["depth"] + 1, "root": item["root"], "via": item["id"]} for s in chosen]


def _partial_note(failures: list[Failure]) -> str | None:
    """What went wrong while a dataset was still traced: unreadable resources, chunks not extracted, ..."""
    parts = []
    links = [f.get("url", "?") for f in failures if f["stage"] == "fetch"]
    if links:
        parts.append(f"{len(links)} resource(s) unreadable: " + ", ".join(links))
    extract = [f for f in failures if f["stage"] == "extract"]
    if extract:
        parts.append(f"{len(extract)} chunk(s) not extracted: {extract[0]['reason']}")
    other = [f["reason"] for f in failures if f["stage"] in ("retrieve", "resolve")]
    parts.extend(other)
    return "; ".join(parts)[:2000] if parts else None


async def write(state: TraceState, runtime: Runtime[TraceContext]) -> dict[str, Any]:
    """MERGE the dataset's node, its sources and its edges, then push its new Hub parents (depth first)."""
    ctx = runtime.context
    store = ctx.svc.store
    item = _current(state)
    dataset = item["id"]
    outcome = dict(state.get("outcome") or {})
    aggregation = state.get("aggregation") or {}
    info = state.get("info") or {}
    edges = [Edge.model_validate(e) for e in aggregation.get("edges", [])]
    source_nodes = {n["id"]: Node.model_validate(n) for n in aggregation.get("nodes", [])}

    status = outcome.get("status") or "traced"
    note = outcome.get("note")
    if status == "traced":
        note = _partial_note([f for f in state.get("failures") or [] if f["dataset"] == dataset])
    counters: dict[str, int] = {status: 1}

    def _record_outcome() -> None:
        # A dropped or failed candidate is not lineage: it is in the run's failure report, never a new node.
        # A dataset the store already knows (the source of an edge written earlier) keeps why it was not traced.
        existing = store.get_node(dataset)
        if existing is not None:
            store.upsert_nodes([_merge_node(dataset, existing, trace_status=status, trace_note=note or "")])

    def _write() -> None:
        # what the store already knows of the dataset and its sources, read together
        stored = {n.id: n for n in store.get_nodes(sorted({dataset, *source_nodes}))}
        nodes: list[Node] = []
        for node in source_nodes.values():
            if node.id == dataset:
                continue
            nodes.append(
                _merge_node(
                    node.id,
                    stored.get(node.id),
                    name=node.name,
                    on_hub=node.on_hub,
                    is_benchmark=node.is_benchmark or None,
                    domains=node.domains or None,
                    created_at=node.created_at,
                    downloads=node.downloads,
                )
            )
        created = datetime.fromisoformat(info["created_at"]) if info.get("created_at") else None
        existing = stored.get(dataset)
        entry = ctx.svc.canonicalizer.catalog.by_hub_id(dataset)  # a known benchmark traced as a queue entry
        nodes.append(
            _merge_node(
                dataset,
                existing,
                name=(existing.name if existing else None)
                or (entry.name if entry else dataset.split("/", 1)[-1]),
                is_benchmark=True if entry is not None and entry.is_benchmark else None,
                domains=list(entry.domains) if entry is not None and entry.domains else None,
                created_at=created,
                downloads=info.get("downloads"),
                trace_status=status,
                trace_note=note or "",
            )
        )
        store.upsert_nodes(nodes)
        if edges:
            store.upsert_edges(edges)

    # the store is synchronous: write from a thread, so other datasets in flight (service mode) go on meanwhile;
    # reads and writes together as one transaction where the store can (on Neo4j one round of BEGIN … COMMIT,
    # not one per call)
    if status == "traced":
        await asyncio.to_thread(store.atomically, _write)
    else:
        await asyncio.to_thread(store.atomically, _record_outcome)
    pushed: list[StackItem] = []
    if status == "traced":
        counters["edges"] = len(edges)
        counters["flagged"] = sum(1 for e in edges if e.status == EdgeStatus.FLAGGED)
        visited = set(state.get("visited") or [])
        pushed = _parents_to_push(item, edges, source_nodes, ctx, visited)
    stack = list(state.get("stack") or []) + list(reversed(pushed))
    return {"stack": stack, "counters": counters, "outcome": {"status": status, "note": note}}


# --- the graph --------------------------------------------------------------------------------------------


def build_graph(
    checkpointer: BaseCheckpointSaver[Any] | None = None, *, one_dataset: bool = False
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile the tracing graph. Pass a checkpointer to make runs durable (``thread_id`` = run id).

    ``one_dataset``: the graph of a single dataset, without ``select_next``: it starts at ``validate`` with
    ``current`` set (see ``one_dataset_input``) and ends after ``write``, whose update carries the parents to push
    (the service's workers walk the stack themselves)."""
    builder = StateGraph(TraceState, context_schema=TraceContext)
    if not one_dataset:
        builder.add_node("select_next", select_next)
    builder.add_node("validate", validate)
    builder.add_node("retrieve", retrieve)
    builder.add_node("fetch_resources", fetch_resources)
    builder.add_node("trace_chunk", trace_chunk)  # type: ignore[arg-type]  # a Send target takes its own input
    builder.add_node("aggregate", aggregate_claims)
    builder.add_node("write", write)
    builder.add_edge(START, "validate" if one_dataset else "select_next")
    builder.add_edge("trace_chunk", "aggregate")
    builder.add_edge("aggregate", "write")
    builder.add_edge("write", END if one_dataset else "select_next")
    return builder.compile(checkpointer=checkpointer, name="lineage-trace")


def one_dataset_input(
    run_id: str, settings: dict[str, Any], item: StackItem, visited: list[str]
) -> dict[str, Any]:
    """The input of the ``one_dataset`` graph: ``item`` selected, as ``select_next`` would leave it."""
    return {
        **_DATASET_RESET,
        "claims": [],
        "run_id": run_id,
        "settings": settings,
        "queue": [],
        "queue_pos": 0,
        "stack": [],
        "current": item,
        "visited": [*(v for v in visited if v != item["id"]), item["id"]],
        "counters": {},
        "failures": [],
        "notes": [],
    }
