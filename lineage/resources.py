"""Turn fetched resources (a card, a web page, an arXiv paper) into ``ResourceChunk`` records.

Pruning keeps what can name a source and drops the rest:

- a card's YAML front matter becomes its own ``card_yaml`` chunk, verbatim (it is the most credible place);
- the card body, pages and papers are split at headings (found by a real markdown parser, so a ``#`` line in a
  code block is not a heading), then packed paragraph by paragraph into chunks of at most ``MAX_CHUNK_CHARS``;
  consecutive small sections share a chunk, so a card with many short sections ("### Airoboros 2.2" ...) is read
  whole;
- sections that never carry lineage (citation, BibTeX, contact, authors, references) and fenced code blocks longer
  than a few lines are dropped (a license section stays: its table often lists the subsets the data includes);
- at most ``MAX_CHUNKS_PER_RESOURCE`` chunks are kept per resource, in document order.

Every chunk keeps its provenance (kind, url, title, stable id) and its **section path**: the headings above its
first line, outermost first, with their levels, and the role of that section (``lineage.cards.parser``), and where
each heading inside it starts, from the parse of the whole resource (a chunk is not parsed again). Its text is a
verbatim excerpt of the fetched text, so evidence found in a chunk is evidence found in the resource.
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any

from graph_store.models import SourceKind
from lineage.cards.parser import HeadingStack, heading_levels, section_role
from lineage.extract.types import ResourceChunk, make_chunk_id

MAX_CHUNK_CHARS = 6000
MAX_CHUNKS_PER_RESOURCE = 12
MAX_CODE_BLOCK_LINES = 6
MIN_CHUNK_CHARS = 20

_FENCE_RE = re.compile(r"^```[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_FRONT_MATTER_RE = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_SKIP_SECTION_RE = re.compile(
    r"^(citation|citations|cite|bibtex|how to cite|citing|contact|contacts|"
    r"references|bibliography|authors?|contributors?|dataset card (authors|contact))\b",
    re.IGNORECASE,
)


def _drop_long_code_blocks(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        return "" if match.group(1).count("\n") > MAX_CODE_BLOCK_LINES else match.group(0)

    return _FENCE_RE.sub(repl, text)


def split_sections(text: str) -> list[tuple[str | None, str]]:
    """Split markdown-ish text at headings: ``[(heading or None, section text including its heading)]``."""
    return [(sec.title, sec.text) for sec in _sections(text)]


class _Section:
    """One section of a document: its heading, its text (heading line included) and the path above it."""

    __slots__ = ("levels", "path", "text", "title")

    def __init__(self, title: str | None, text: str, path: tuple[str, ...], levels: tuple[int, ...]) -> None:
        self.title, self.text, self.path, self.levels = title, text, path, levels


def _sections(text: str) -> list[_Section]:
    heads = heading_levels(text)
    if not heads:
        return [_Section(None, text, (), ())]
    sections: list[_Section] = []
    if heads[0][0] > 0:
        sections.append(_Section(None, text[: heads[0][0]], (), ()))
    stack = HeadingStack()
    for i, (offset, level, title) in enumerate(heads):
        stack.push(level, title)
        end = heads[i + 1][0] if i + 1 < len(heads) else len(text)
        sections.append(_Section(title, text[offset:end], stack.path, stack.levels))
    return sections


def _pack(text: str, limit: int) -> list[str]:
    """Pack paragraphs of ``text`` into pieces of at most ``limit`` characters (a longer paragraph is cut)."""
    pieces: list[str] = []
    current = ""
    for para in re.split(r"\n\s*\n", text):
        para = para.strip()
        if not para:
            continue
        while len(para) > limit:
            cut = para.rfind(". ", 0, limit)
            cut = cut + 1 if cut > limit // 2 else limit
            if current:
                pieces.append(current)
                current = ""
            pieces.append(para[:cut].strip())
            para = para[cut:].strip()
        if current and len(current) + 2 + len(para) > limit:
            pieces.append(current)
            current = para
        else:
            current = f"{current}\n\n{para}" if current else para
    if current:
        pieces.append(current)
    return pieces


def _skipped(section: _Section) -> bool:
    if section.title and _SKIP_SECTION_RE.match(section.title.lstrip("0123456789. ")):
        return True
    return bool(section.path) and section_role(section.path[-1:]) == "citation"


def chunk_text(
    target: str,
    kind: SourceKind,
    url: str,
    text: str,
    *,
    title: str | None = None,
    max_chars: int = MAX_CHUNK_CHARS,
    max_chunks: int = MAX_CHUNKS_PER_RESOURCE,
) -> list[ResourceChunk]:
    """Prune and split one resource's text into chunks (see the module docstring)."""
    chunks: list[ResourceChunk] = []
    body = _drop_long_code_blocks(text or "")
    current: list[str] = []
    # (index into current, level, title) of each piece of current that starts with a heading
    current_heads: list[tuple[int, int, str]] = []
    current_path: tuple[tuple[str, ...], tuple[int, ...], str | None] = ((), (), None)

    def flush() -> bool:
        """Close the chunk being packed; False when the resource has all the chunks it may have."""
        nonlocal current, current_heads
        joined = "\n\n".join(current)
        starts = list(accumulate((len(piece) + 2 for piece in current), initial=0))
        headings = [(starts[index], level, heading) for index, level, heading in current_heads]
        current, current_heads = [], []
        if len(joined) < MIN_CHUNK_CHARS:
            return True
        path, levels, heading = current_path
        chunks.append(
            ResourceChunk(
                target=target,
                chunk_id=make_chunk_id(url, len(chunks)),
                kind=kind,
                url=url,
                title=heading or title,
                text=joined,
                section_path=list(path),
                section_levels=list(levels),
                headings=headings,
            )
        )
        return len(chunks) < max_chunks

    for section in _sections(body):
        if _skipped(section):
            continue
        for n, piece in enumerate(_pack(section.text, max_chars)):
            size = sum(len(p) + 2 for p in current)
            if current and size + len(piece) > max_chars and not flush():
                return chunks
            if not current:
                current_path = (section.path, section.levels, section.title)
            if n == 0 and section.levels:  # a section's first piece starts with its heading
                current_heads.append((len(current), section.levels[-1], section.path[-1]))
            current.append(piece)
    if current:
        flush()
    return chunks


def front_matter_text(raw: str) -> str | None:
    """The verbatim YAML front matter of a card (between the ``---`` fences), or ``None``."""
    match = _FRONT_MATTER_RE.match(raw or "")
    if not match or not match.group(1).strip():
        return None
    return match.group(1)


def card_chunks(target: str, card: Any) -> list[ResourceChunk]:
    """Chunks of a dataset card: its YAML front matter (one ``card_yaml`` chunk) and its body (``card``)."""
    url = str(getattr(card, "url", None) or f"hf://datasets/{target}")
    chunks: list[ResourceChunk] = []
    yaml_text = front_matter_text(getattr(card, "raw", "") or "")
    if yaml_text is not None:
        chunks.append(
            ResourceChunk(
                target=target,
                chunk_id=make_chunk_id(url + "#yaml", 0),
                kind=SourceKind.CARD_YAML,
                url=url,
                title="YAML front matter",
                text=yaml_text,
                headings=[],  # YAML: a "# ..." line is a comment, not a heading
            )
        )
    body = getattr(card, "body", None)
    if body is None:
        raw = getattr(card, "raw", "") or ""
        match = _FRONT_MATTER_RE.match(raw)
        body = raw[match.end() :] if match else raw
    chunks.extend(chunk_text(target, SourceKind.CARD, url, body, title="dataset card"))
    return chunks


def _page_kind(page: Any, link_kind: str | None) -> SourceKind:
    kind = str(link_kind or getattr(page, "kind", "") or "").lower()
    if "github" in kind:
        return SourceKind.GITHUB
    if kind in ("paper", "arxiv", "pdf"):
        return SourceKind.PAPER
    url = str(getattr(page, "final_url", None) or getattr(page, "url", ""))
    return SourceKind.GITHUB if "github.com" in url else SourceKind.BLOG


def page_chunks(target: str, page: Any, link_kind: str | None = None) -> list[ResourceChunk]:
    """Chunks of a fetched web page (GitHub README or blog post); the page's text is already free of chrome."""
    url = str(getattr(page, "final_url", None) or getattr(page, "url", ""))
    return chunk_text(
        target,
        _page_kind(page, link_kind),
        url,
        getattr(page, "text", "") or "",
        title=getattr(page, "title", None),
    )


def paper_chunks(target: str, paper: Any) -> list[ResourceChunk]:
    """Chunks of an arXiv paper: title + abstract first, then the full text when it was fetched."""
    url = str(getattr(paper, "url", None) or f"https://arxiv.org/abs/{getattr(paper, 'arxiv_id', '')}")
    title = getattr(paper, "title", None)
    abstract = getattr(paper, "abstract", "") or ""
    chunks: list[ResourceChunk] = []
    if abstract.strip():
        chunks.append(
            ResourceChunk(
                target=target,
                chunk_id=make_chunk_id(url + "#abstract", 0),
                kind=SourceKind.PAPER,
                url=url,
                title=title,
                text=abstract,
                headings=[],
            )
        )
    full = getattr(paper, "text", None)
    if full:
        chunks.extend(
            chunk_text(
                target, SourceKind.PAPER, url, full, title=title, max_chunks=MAX_CHUNKS_PER_RESOURCE - 1
            )
        )
    return chunks
