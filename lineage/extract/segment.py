"""Split a chunk into the units a claim's evidence is made of: sentences, list items and table rows.

The structure comes from ``lineage.cards.parser`` (a real markdown parser): every unit knows its section path and
the role of that section (sources, schema, evaluation, decontamination, see also, acknowledgement, license ...),
the paragraph that announced its list or table, and the header of its table. Code blocks and raw HTML blocks
(badges, image grids, comments) produce no units.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from graph_store.models import Relationship
from lineage.cards.parser import Block, parse_blocks

_ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "etc.", "vs.", "cf.", "Fig.", "Eq.", "No.", "approx.", "v.")


@dataclass
class Unit:
    """A sentence, a table row or a list item: the span that becomes a claim's evidence."""

    start: int
    end: int
    kind: str  # "sentence" | "row" | "bullet"
    section: str | None = None
    table_header: list[str] | None = None
    lead_cue: tuple[Relationship, float] | None = None  # cue of the sentence that announced this list
    lead_negative: str | None = None
    role: str = "general"
    path: tuple[str, ...] = ()
    field_list: bool = False
    lead_text: str | None = None
    share: float | None = None
    """For a row of a mixture table with counts: the row's share of the table's total (0..1)."""
    table: int | None = None
    """For a table row: an id shared by the rows of one table."""


def _is_abbreviation(para: str, dot_index: int) -> bool:
    head = para[: dot_index + 1]
    return any(head.endswith(a) for a in _ABBREVIATIONS)


def sentences(text: str, start: int, end: int, section: str | None, role: str = "general") -> list[Unit]:
    """The sentences of ``text[start:end]`` (a paragraph)."""
    units = []
    para = text[start:end]
    cursor = 0
    for m in re.finditer(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(\[`*])|\n(?=\s*\S)", para):
        piece_end = m.start() + (1 if para[m.start()] in "\"')]" else 0)
        if para[m.start()] != "\n" and _is_abbreviation(para, m.start()):
            continue
        if para[m.start()] == "\n" and not _line_break_ends_sentence(para, m.start()):
            continue
        if para[cursor:piece_end].strip():
            units.append(Unit(start + cursor, start + piece_end, "sentence", section, role=role))
        cursor = m.end()
    if cursor < len(para.rstrip()):
        units.append(Unit(start + cursor, start + len(para.rstrip()), "sentence", section, role=role))
    return units


def _line_break_ends_sentence(para: str, at: int) -> bool:
    """A line break ends a sentence after a colon or a URL-only line ("70K: https://..."), not inside prose."""
    line_start = para.rfind("\n", 0, at) + 1
    line = para[line_start:at].rstrip()
    return line.endswith(":") or bool(re.search(r"https?://\S+$", line)) or line.endswith((".", "!", "?"))


def units_of(
    text: str,
    title: str | None,
    section_path: tuple[str, ...] = (),
    section_levels: tuple[int, ...] = (),
    lead_cue: object = None,
) -> list[Unit]:
    """Every unit of ``text``; ``lead_cue(line)`` gives the (cue, negative role) that a lead sentence announces."""
    base = tuple(section_path) or ((title,) if title else ())
    levels = tuple(section_levels) if section_path else ((1,) if title else ())
    out: list[Unit] = []
    lead_cache: dict[str, tuple[tuple[Relationship, float] | None, str | None]] = {}
    blocks = parse_blocks(text, base, levels)
    tables = _tables(blocks)
    shares = _mixture_shares(text, blocks, tables)
    table_of = {index: rows[0] for rows in tables for index in rows}
    for index, block in enumerate(blocks):
        section = block.path[-1] if block.path else title
        if block.kind == "paragraph":
            for unit in sentences(text, block.start, block.end, section, block.role):
                unit.path = block.path
                out.append(unit)
            continue
        if block.kind not in ("item", "row"):
            continue
        cue: tuple[Relationship, float] | None = None
        negative: str | None = None
        lead = _lead_sentence(block)
        if lead is not None and callable(lead_cue):
            if lead not in lead_cache:
                lead_cache[lead] = lead_cue(lead)
            cue, negative = lead_cache[lead]
        out.append(
            Unit(
                block.start,
                block.end,
                "row" if block.kind == "row" else "bullet",
                section,
                list(block.header) if block.header else ([] if block.kind == "row" else None),
                cue,
                negative,
                role=block.role,
                path=block.path,
                field_list=block.field_list,
                lead_text=lead,
                share=shares.get(index),
                table=table_of.get(index),
            )
        )
    return out


_COUNT_HEADER = re.compile(
    r"#|\bcount|\bsamples?\b|\bsize\b|\bexamples?\b|\bnumber\b|\bnum\b|\brows?\b|\binstances?\b|\bproblems?\b|"
    r"\bquestions?\b|\bpairs?\b|\bconversations?\b|\btokens?\b|\bamount\b",
    re.IGNORECASE,
)
_SHARE_HEADER = re.compile(r"%|\bproportion\b|\bshare\b|\bratio\b|\bpercent", re.IGNORECASE)
_TOTAL_ROW = re.compile(r"^\W*(?:total|overall|sum|all)\W*$", re.IGNORECASE)


def _number(cell: str) -> float | None:
    """``12,345`` -> 12345; ``12.3k`` -> 12300; ``1.2M`` -> 1.2e6; ``45%`` -> 45; anything else -> None."""
    m = re.fullmatch(r"[~≈<>]?\s*(\d[\d,]*(?:\.\d+)?)\s*([kKmMbB])?\s*%?", cell.strip().strip("*_` "))
    if not m:
        return None
    value = float(m.group(1).replace(",", ""))
    scale = {"k": 1e3, "m": 1e6, "b": 1e9}.get((m.group(2) or "").lower(), 1.0)
    return value * scale


def _tables(blocks: list[Block]) -> list[list[int]]:
    """The indexes of the body rows of each table, in order."""
    tables: list[list[int]] = []
    for index, block in enumerate(blocks):
        if block.kind != "row":
            continue
        previous = tables[-1][-1] if tables else None
        if previous is not None and previous == index - 1 and blocks[previous].header == block.header:
            tables[-1].append(index)
        else:
            tables.append([index])
    return tables


def _mixture_shares(text: str, blocks: list[Block], tables: list[list[int]]) -> dict[int, float]:
    """Each table row's share of its table's total, from a count (or a percentage) column."""
    shares: dict[int, float] = {}
    for rows in tables:
        if not blocks[rows[0]].header:
            continue
        header = blocks[rows[0]].header or ()
        column = next((i for i, h in enumerate(header) if i > 0 and _SHARE_HEADER.search(h)), None)
        percent = column is not None
        if column is None:
            column = next((i for i, h in enumerate(header) if i > 0 and _COUNT_HEADER.search(h)), None)
        if column is None:
            continue
        values: dict[int, float] = {}
        for index in rows:
            line = text[blocks[index].start : blocks[index].end]
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) <= column or _TOTAL_ROW.match(cells[0]):
                continue
            value = _number(cells[column])
            if value is not None:
                values[index] = value
        total = sum(values.values())
        if len(values) < 2 or total <= 0:
            continue
        for index, value in values.items():
            shares[index] = round(value / 100.0 if percent and total > 1.5 else value / total, 4)
    return shares


def _lead_sentence(block: Block) -> str | None:
    """The last sentence of the paragraph that announced a list or a table, when it ends with a colon."""
    if not block.lead:
        return None
    last = re.split(r"(?<=[.!?])\s+", block.lead.strip())[-1]
    return last if last.rstrip().endswith(":") else None
