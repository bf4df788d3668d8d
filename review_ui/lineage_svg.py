"""Lay out the local lineage of an edge's target as a small picture: parents, the target, children.

Data flows left to right: the target's sources (parents) on the left, the target in the middle, the datasets
derived from it (children) on the right. The edge under review is drawn thicker and in the accent colour. This
module computes geometry only; ``templates/lineage.svg.j2`` turns it into SVG with every label escaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graph_store.base import GraphStore
from graph_store.models import Edge

MAX_PER_COLUMN = 8
BOX_W = 230
BOX_H = 30
ROW_GAP = 14
COL_GAP = 90
MARGIN = 12
LABEL_CHARS = 30


@dataclass(frozen=True)
class PictureNode:
    id: str
    label: str
    x: int
    y: int
    role: str  # parent, target or child
    current: bool = False


@dataclass(frozen=True)
class PictureLink:
    x1: int
    y1: int
    x2: int
    y2: int
    status: str
    relationship: str
    current: bool = False


@dataclass
class LineagePicture:
    width: int
    height: int
    box_w: int = BOX_W
    box_h: int = BOX_H
    nodes: list[PictureNode] = field(default_factory=list)
    links: list[PictureLink] = field(default_factory=list)
    more_parents: int = 0
    more_children: int = 0


def _label(node_id: str) -> str:
    return node_id if len(node_id) <= LABEL_CHARS else node_id[: LABEL_CHARS - 1] + "…"


def _column_y(count: int, height: int) -> list[int]:
    used = count * BOX_H + max(0, count - 1) * ROW_GAP
    top = (height - used) // 2
    return [top + i * (BOX_H + ROW_GAP) for i in range(count)]


def _pick(edges: list[Edge], keep: tuple[str, str]) -> tuple[list[Edge], int]:
    """At most MAX_PER_COLUMN edges, always including the one under review."""
    ordered = sorted(edges, key=lambda e: (e.key != keep, -e.confidence, e.target, e.source))
    return ordered[:MAX_PER_COLUMN], max(0, len(ordered) - MAX_PER_COLUMN)


def layout(edge: Edge, parents: list[Edge], children: list[Edge]) -> LineagePicture:
    """Geometry for ``edge``'s target with its ``parents`` (edges from it) and ``children`` (edges into it)."""
    if all(p.key != edge.key for p in parents):
        parents = [edge, *parents]
    shown_parents, more_parents = _pick(parents, edge.key)
    shown_children, more_children = _pick(children, edge.key)
    rows = max(1, len(shown_parents), len(shown_children))
    height = 2 * MARGIN + rows * BOX_H + (rows - 1) * ROW_GAP + (20 if more_parents or more_children else 0)
    width = 2 * MARGIN + 3 * BOX_W + 2 * COL_GAP
    picture = LineagePicture(
        width=width, height=height, more_parents=more_parents, more_children=more_children
    )
    x_parent, x_target, x_child = MARGIN, MARGIN + BOX_W + COL_GAP, MARGIN + 2 * (BOX_W + COL_GAP)
    target_y = (height - BOX_H) // 2
    picture.nodes.append(PictureNode(edge.target, _label(edge.target), x_target, target_y, "target"))
    mid = BOX_H // 2
    for parent, y in zip(shown_parents, _column_y(len(shown_parents), height), strict=True):
        current = parent.key == edge.key
        picture.nodes.append(
            PictureNode(parent.source, _label(parent.source), x_parent, y, "parent", current)
        )
        picture.links.append(
            PictureLink(
                x_parent + BOX_W,
                y + mid,
                x_target,
                target_y + mid,
                parent.status.value,
                parent.relationship.value,
                current,
            )
        )
    for child, y in zip(shown_children, _column_y(len(shown_children), height), strict=True):
        picture.nodes.append(PictureNode(child.target, _label(child.target), x_child, y, "child"))
        picture.links.append(
            PictureLink(
                x_target + BOX_W,
                target_y + mid,
                x_child,
                y + mid,
                child.status.value,
                child.relationship.value,
            )
        )
    return picture


def local_lineage(store: GraphStore, edge: Edge) -> LineagePicture:
    """Read the target's parents and children from the store and lay them out."""
    parents = store.edges(target=edge.target)
    children = store.edges(source=edge.target)
    return layout(edge, parents, children)
