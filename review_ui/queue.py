"""The review queue: flagged edges, ordered and filtered the way a reviewer works through them.

Three orders are offered:

- ``downstream`` (default): edges whose target has the most datasets derived from it come first, because an error
  there propagates furthest; ties go to the lower confidence, then to the more downloaded target;
- ``confidence``: lowest confidence first;
- ``downloads``: the most downloaded target first.

The downstream count of a dataset is the number of distinct datasets that reach it through non-rejected
``DERIVED_FROM`` edges (its descendants), computed once per queue build over the whole graph.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from graph_store.base import GraphStore
from graph_store.models import Edge, EdgeStatus, Node

SORTS = ("downstream", "confidence", "downloads")


@dataclass(frozen=True)
class QueueFilter:
    """How the reviewer asked to see the queue. Empty strings mean "any"."""

    sort: str = "downstream"
    domain: str = ""
    relationship: str = ""
    extractor: str = ""

    def normalized(self) -> QueueFilter:
        sort = self.sort if self.sort in SORTS else "downstream"
        return QueueFilter(sort, self.domain.strip(), self.relationship.strip(), self.extractor.strip())

    def as_params(self) -> dict[str, str]:
        """Non-default values as query parameters, to carry the view from page to page."""
        params = {"sort": self.sort, "domain": self.domain, "relationship": self.relationship}
        params["extractor"] = self.extractor
        return {k: v for k, v in params.items() if v and not (k == "sort" and v == "downstream")}


@dataclass(frozen=True)
class QueueItem:
    """One flagged edge with what the queue sorts and filters on."""

    edge: Edge
    downstream: int
    downloads: int | None
    domains: tuple[str, ...]


@dataclass
class Queue:
    """A built queue plus the values its filters can take."""

    items: list[QueueItem]
    total_flagged: int
    domains: list[str] = field(default_factory=list)
    relationships: list[str] = field(default_factory=list)
    extractors: list[str] = field(default_factory=list)

    def position(self, target: str, source: str) -> int | None:
        for index, item in enumerate(self.items):
            if item.edge.key == (target, source):
                return index
        return None


def descendant_counts(edges: Iterable[Edge], roots: Iterable[str]) -> dict[str, int]:
    """For each root, how many distinct datasets derive from it (transitively), ignoring rejected edges."""
    children: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        if edge.status != EdgeStatus.REJECTED:
            children[edge.source].add(edge.target)
    counts: dict[str, int] = {}
    for root in roots:
        if root in counts:
            continue
        seen: set[str] = set()
        stack = list(children.get(root, ()))
        while stack:
            node = stack.pop()
            if node in seen or node == root:
                continue
            seen.add(node)
            stack.extend(children.get(node, ()))
        counts[root] = len(seen)
    return counts


def _sort_key(sort: str, item: QueueItem) -> tuple[float, ...]:
    downloads = float(item.downloads or 0)
    if sort == "confidence":
        return (item.edge.confidence, -item.downstream, -downloads)
    if sort == "downloads":
        return (-downloads, -item.downstream, item.edge.confidence)
    return (-item.downstream, item.edge.confidence, -downloads)


@dataclass
class QueueData:
    """Every flagged edge with its sort keys, read from the store in one pass; filtered by ``select``."""

    items: list[QueueItem]


def load_queue(store: GraphStore) -> QueueData:
    """Read the flagged edges, their targets' downloads and domains, and their downstream counts."""
    flagged = store.flagged()
    nodes: dict[str, Node] = {node.id: node for node in store.nodes()}
    counts = descendant_counts(store.edges(), {edge.target for edge in flagged})
    items = []
    for edge in flagged:
        node = nodes.get(edge.target)
        items.append(
            QueueItem(
                edge=edge,
                downstream=counts.get(edge.target, 0),
                downloads=node.downloads if node else None,
                domains=tuple(node.domains) if node else (),
            )
        )
    return QueueData(items)


def select(data: QueueData, view: QueueFilter) -> Queue:
    """Filter and order loaded queue data as ``view`` asks."""
    view = view.normalized()
    items = data.items
    queue = Queue(
        items=[],
        total_flagged=len(items),
        domains=sorted({d for item in items for d in item.domains}),
        relationships=sorted({item.edge.relationship.value for item in items}),
        extractors=sorted({item.edge.extractor for item in items if item.edge.extractor}),
    )
    selected = [
        item
        for item in items
        if (not view.domain or view.domain in item.domains)
        and (not view.relationship or item.edge.relationship.value == view.relationship)
        and (not view.extractor or item.edge.extractor == view.extractor)
    ]
    selected.sort(key=lambda item: (*_sort_key(view.sort, item), item.edge.target, item.edge.source))
    queue.items = selected
    return queue


def build_queue(store: GraphStore, view: QueueFilter) -> Queue:
    """Read the flagged edges and order and filter them as ``view`` asks."""
    return select(load_queue(store), view)
