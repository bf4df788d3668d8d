"""The structure of a dataset card (or any markdown document): sections, paragraphs, lists, tables and noise.

``parse_blocks`` reads markdown with a real CommonMark parser (``markdown-it-py``, tables enabled) and returns the
blocks a reader of lineage cares about, each with its character span in the text, its **section path** (the
headings above it, outermost first) and the **role** of that section:

| role | sections (the innermost heading that says something decides) |
|---|---|
| ``sources`` | "Dataset Sources", "Source Data", "Data Collection", "Composition", "Mixture", "Subsets" ... |
| ``schema`` | "Data Fields", "Dataset Structure", "Data Instances", "Format", "Columns" ... |
| ``evaluation`` | "Evaluation", "Results", "Benchmarks", "Performance", "Leaderboard" ... |
| ``decontamination`` | "Decontamination", "Contamination" |
| ``see_also`` | "Related datasets", "See also", "Other versions", "Models trained on ..." |
| ``acknowledgement`` | "Acknowledgements", "Credits", "Thanks" |
| ``citation``, ``license`` | "Citation", "BibTeX"; "License", "Licensing" |
| ``usage`` | "Usage", "Quick start", "How to use", "Installation", "Training" |
| ``general`` | everything else |

Block kinds: ``heading``, ``paragraph``, ``item`` (one list item's own text, nested lists apart), ``row`` (one
table body row, with its header cells), ``code`` (fenced or indented) and ``html`` (raw HTML blocks, HTML
comments included). A list item or a table knows the paragraph that announced it (``lead``: "The data comes
from:"), and a list whose items are ``**field**: description`` pairs of plain words is marked as a field list.

``mask_noise`` blanks (with spaces, so that offsets stay valid) what never names a source inside a block: images,
inline HTML tags and comments, and Hub file-download URLs (``.../resolve/...``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from markdown_it import MarkdownIt

SectionRole = Literal[
    "sources",
    "schema",
    "evaluation",
    "decontamination",
    "see_also",
    "acknowledgement",
    "citation",
    "license",
    "usage",
    "general",
]
BlockKind = Literal["heading", "paragraph", "item", "row", "code", "html"]

# The innermost heading that matches one of these decides the role of a section; the order breaks ties inside one
# heading ("Evaluation data sources" is evaluation).
_ROLE_PATTERNS: list[tuple[SectionRole, re.Pattern[str]]] = [
    ("citation", re.compile(r"\b(?:citation|citations|cite|citing|bibtex|references?|bibliography)\b", re.I)),
    ("license", re.compile(r"\blicen[cs]\w*|terms of use\b", re.I)),
    ("decontamination", re.compile(r"decontaminat\w*|\bcontaminat\w*|overlap with (?:test|benchmark)", re.I)),
    (
        "evaluation",
        re.compile(
            r"\b(?:evaluat\w*|results?|benchmark(?:s|ing)?|performance|leaderboard|scores?|comparison|"
            r"compared|baselines?)\b",
            re.I,
        ),
    ),
    ("acknowledgement", re.compile(r"acknowledg\w*|\bcredits?\b|\bthanks\b|special thanks", re.I)),
    (
        "see_also",
        re.compile(
            r"\b(?:related|see also|other (?:versions|datasets|resources)|sibling|family|models? trained|"
            r"trained models?|collections|collection including|previous versions?|also check|more datasets|links?|"
            r"resources?|"
            r"models?|news|updates?|changelog|releases?)\b",
            re.I,
        ),
    ),
    (
        "schema",
        re.compile(
            r"\b(?:data(?:set)? fields?|fields?|data(?:set)? structure|structure|schema|data instances?|"
            r"instances?|columns?|features?|format|data format|example|examples|sample|splits?)\b",
            re.I,
        ),
    ),
    (
        "usage",
        re.compile(
            r"\b(?:usage|uses?|quick ?start|how to (?:use|load)|installation|getting started|load(?:ing)?|"
            r"training (?:details|setup|procedure|hyper-?parameters|scripts?|code|configs?)|how to train|environment|"
            r"reproduc\w*|intended use)\b",
            re.I,
        ),
    ),
    (
        "sources",
        re.compile(
            r"\b(?:sources?|source data|composition|construct\w*|creation|curation|collect\w*|provenance|"
            r"origin\w*|mixture|subsets?|components?|generation|pipeline|methodology|how .* (?:built|made)|recipe|"
            r"build\w*|overview of the data|data distribution|data(?:sets?)? used|used data(?:sets?)?|data mix|"
            r"training data(?:sets?)?)\b|^\W*(?:the\s+)?data(?:sets?)?\W*$",
            re.I,
        ),
    ),
]

_FIELD_KEY = re.compile(
    r"^\s*(?:[-*+]\s+)?(?:\*\*|__|`)?\s*([A-Za-z_][\w .\-]{0,40}?)\s*(?:\*\*|__|`)?\s*(?:\*\*|__)?\s*[:：]"
)
_FIELD_WORDS = {
    "question", "questions", "answer", "answers", "final answer", "problem", "solution", "solutions", "prompt",
    "prompts", "response", "responses", "chosen", "rejected", "messages", "conversations", "instruction", "input",
    "output", "id", "source", "domain", "topic", "difficulty", "score", "scores", "rating", "ratings", "label",
    "labels", "text", "category", "task", "type", "language", "metadata", "system", "context", "reasoning",
    "helpfulness", "correctness", "coherence", "complexity", "verbosity", "from", "value", "role", "content",
    "completion", "completions", "generated solution", "expected answer", "problem source", "split", "model",
}  # fmt: skip

_ITEM_MARKER = re.compile(r"[ \t]*(?:[-*+•]|\d+[.)])[ \t]+")
_IMAGE_MD = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_HUB_FILE_URL = re.compile(
    r"(?:https?://)?(?:www\.)?(?:huggingface\.co|hf\.co)/(?:datasets/)?[\w.\-]+/[\w.\-]+/(?:resolve|raw)/\S*",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Block:
    """One block of a markdown document, with its place in the section tree."""

    kind: BlockKind
    start: int
    end: int
    path: tuple[str, ...]
    role: SectionRole
    lead: str | None = None
    """The text of the paragraph just before a list or table (it announces what the items are)."""
    header: tuple[str, ...] | None = None
    """The header cells of a table row."""
    field_list: bool = False
    """An item of a ``**field**: description`` list (a schema, not sources)."""
    depth: int = 0
    """List nesting of an item (0 for a top-level item)."""


class HeadingStack:
    """The headings open at a point of a document, outermost first: a heading closes every open one at its level
    or deeper, then opens."""

    __slots__ = ("_open",)

    def __init__(self, base_path: tuple[str, ...] = (), base_levels: tuple[int, ...] = ()) -> None:
        """``base_path``/``base_levels``: the headings open where the text starts (levels 1, 2, ... when the
        levels are not known)."""
        levels = base_levels if len(base_levels) == len(base_path) else tuple(range(1, len(base_path) + 1))
        self._open = list(zip(levels, base_path, strict=True))

    def push(self, level: int, title: str) -> None:
        while self._open and self._open[-1][0] >= level:
            self._open.pop()
        self._open.append((level, title))

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(title for _, title in self._open)

    @property
    def levels(self) -> tuple[int, ...]:
        return tuple(level for level, _ in self._open)


def section_role(path: tuple[str, ...] | list[str]) -> SectionRole:
    """The role of a section: the innermost heading of ``path`` that names one decides."""
    for heading in reversed(path):
        role = _heading_role(heading)
        if role is not None:
            return role
    return "general"


@lru_cache(maxsize=8192)
def _heading_role(heading: str) -> SectionRole | None:
    """The role one heading names, if any (headings repeat across cards and chunks: each is matched once)."""
    for role, pattern in _ROLE_PATTERNS:
        if pattern.search(heading):
            return role
    return None


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # Only the block structure is read (blocks, their line spans, a heading's or a cell's raw text): the inline
    # pass (emphasis, links, entities inside each block) builds tokens nothing here looks at, and costs about half
    # of the parse.
    return MarkdownIt("commonmark").enable("table").disable("inline")


def _line_offsets(text: str) -> list[int]:
    offsets = [0]
    for line in text.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    return offsets


def _clean_heading(text: str) -> str:
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[*_`#]+", "", text)
    return re.sub(r"\s+", " ", text).strip(" :")


def _cells(line: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in line.strip().strip("|").split("|"))


def is_field_item(text: str) -> bool:
    """``**question**: the problem statement``: a schema entry, not a source."""
    m = _FIELD_KEY.match(text)
    if not m:
        return False
    key = m.group(1).strip().lower()
    return key in _FIELD_WORDS or bool(re.fullmatch(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+", key))


def parse_blocks(
    text: str, base_path: tuple[str, ...] = (), base_levels: tuple[int, ...] = ()
) -> list[Block]:
    """The blocks of ``text`` in document order (see the module docstring).

    ``base_path``/``base_levels``: the headings (and their levels) above the start of ``text``, when ``text`` is a
    piece of a larger document.
    """
    tokens = _parser().parse(text)
    offsets = _line_offsets(text)
    n_lines = len(offsets) - 1

    def span(line_map: list[int] | None) -> tuple[int, int]:
        assert line_map is not None
        a, b = line_map
        start = offsets[min(a, n_lines)]
        end = offsets[min(b, n_lines)]
        while end > start and text[end - 1] in "\r\n":
            end -= 1
        while start < end and text[start] in " \t":
            start += 1
        return start, end

    blocks: list[Block] = []
    stack = HeadingStack(base_path, base_levels)

    last_paragraph: str | None = None
    list_depth = 0
    list_items: list[list[int]] = []  # indexes (into blocks) of the items of each open list
    item_open: list[bool] = []
    table_header: tuple[str, ...] | None = None
    table_lead: str | None = None
    list_leads: list[str | None] = []
    in_thead = False

    def path() -> tuple[str, ...]:
        return stack.path

    i = 0
    while i < len(tokens):
        tok = tokens[i]
        kind = tok.type
        if kind == "heading_open":
            level = int(tok.tag[1:])
            title = _clean_heading(tokens[i + 1].content) if i + 1 < len(tokens) else ""
            stack.push(level, title)
            s, e = span(tok.map)
            blocks.append(Block("heading", s, e, path(), section_role(path())))
            last_paragraph = None
            i += 3
            continue
        if kind in ("bullet_list_open", "ordered_list_open"):
            list_leads.append(last_paragraph if list_depth == 0 else None)
            list_depth += 1
            list_items.append([])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            list_depth -= 1
            members = list_items.pop()
            list_leads.pop()
            fields = [blocks[k] for k in members if blocks[k].field_list]
            if members and len(fields) * 2 >= len(members) and len(fields) >= 2:
                for k in members:
                    blocks[k] = _replace(blocks[k], field_list=True)
            else:
                for k in members:
                    if blocks[k].field_list:
                        blocks[k] = _replace(blocks[k], field_list=False)
            last_paragraph = None
        elif kind == "list_item_open":
            item_open.append(True)
        elif kind == "list_item_close":
            item_open.pop()
        elif kind == "paragraph_open":
            s, e = span(tok.map)
            if item_open and item_open[-1]:
                item_open[-1] = False  # the item's own first paragraph
                marker = _ITEM_MARKER.match(text, s, e)
                if marker:
                    s = marker.end()
                lead = next((ld for ld in reversed(list_leads) if ld), None)
                block = Block(
                    "item",
                    s,
                    e,
                    path(),
                    section_role(path()),
                    lead=lead,
                    field_list=is_field_item(text[s:e]),
                    depth=max(0, list_depth - 1),
                )
                list_items[-1].append(len(blocks))
                blocks.append(block)
            elif item_open:
                blocks.append(Block("paragraph", s, e, path(), section_role(path()), depth=list_depth))
            else:
                blocks.append(Block("paragraph", s, e, path(), section_role(path())))
                last_paragraph = text[s:e]
        elif kind == "table_open":
            table_lead, table_header = last_paragraph, None
        elif kind == "thead_open":
            in_thead = True
        elif kind == "thead_close":
            in_thead = False
        elif kind == "tr_open":
            s, e = span(tok.map)
            if in_thead:
                table_header = _cells(text[s:e])
            else:
                blocks.append(
                    Block("row", s, e, path(), section_role(path()), lead=table_lead, header=table_header)
                )
        elif kind == "table_close":
            last_paragraph = None
        elif kind in ("fence", "code_block"):
            s, e = span(tok.map)
            blocks.append(Block("code", s, e, path(), section_role(path())))
        elif kind == "html_block":
            s, e = span(tok.map)
            blocks.append(Block("html", s, e, path(), section_role(path())))
        i += 1
    return blocks


def _replace(block: Block, **changes: object) -> Block:
    data = {**block.__dict__, **changes}
    return Block(**data)


def mask_noise(text: str) -> str:
    """``text`` with images, inline HTML and comments, and Hub file URLs blanked out (offsets unchanged)."""

    def blank(match: re.Match[str]) -> str:
        return re.sub(r"[^\n]", " ", match.group(0))

    for pattern in (_HTML_COMMENT, _IMAGE_MD, _HTML_TAG, _HUB_FILE_URL):
        text = pattern.sub(blank, text)
    return text


def heading_paths(
    headings: list[tuple[int, int, str]], base_path: tuple[str, ...] = (), base_levels: tuple[int, ...] = ()
) -> list[tuple[int, tuple[str, ...], SectionRole]]:
    """``(offset, section path, role)`` of each of ``headings`` (``(offset, level, title)``, in document order),
    below the headings ``base_path``/``base_levels`` open where the text starts."""
    stack = HeadingStack(base_path, base_levels)
    out = []
    for offset, level, title in headings:
        stack.push(level, title)
        path = stack.path
        out.append((offset, path, section_role(path)))
    return out


def heading_levels(text: str) -> list[tuple[int, int, str]]:
    """``(offset, level, title)`` of every ATX or setext heading the parser finds in ``text``."""
    offsets = _line_offsets(text)
    out = []
    tokens = _parser().parse(text)
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.map is not None:
            title = _clean_heading(tokens[i + 1].content) if i + 1 < len(tokens) else ""
            out.append((offsets[tok.map[0]], int(tok.tag[1:]), title))
    return out
