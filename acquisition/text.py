"""Pruning fetched content down to the text worth reading: HTML main text, markdown without code, paper sections.

Decisions where the spec is silent:
- HTML: scripts, styles, navigation, headers, footers, sidebars, forms and ``<pre>`` code are removed; the main
  text is ``<article>``, else ``<main>``/``[role=main]``, else ``<body>``.
- Markdown (GitHub READMEs): fenced code blocks, HTML comments and badge-only lines are removed.
- Papers: the text is split at headings. Related work, experiments/evaluation/results, references,
  acknowledgements and limitations are dropped. If some sections talk about data (dataset, construction,
  collection, curation, synthesis, filtering...), only those (with their subsections) and the introduction are
  kept; otherwise everything that was not dropped is kept.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

from bs4 import BeautifulSoup, Comment, Tag

from oda.errors import ContentError

_DROP_TAGS = (
    "script",
    "style",
    "noscript",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "svg",
    "iframe",
    "button",
    "template",
    "pre",
    "select",
    "input",
    "canvas",
    "object",
    "embed",
)
_CHROME_RE = re.compile(
    r"(^|[\s_-])(nav|navbar|menu|sidebar|side-bar|footer|cookie|breadcrumbs?|share|social|advert|ads|"
    r"subscribe|newsletter|related-posts|comments?)($|[\s_-])",
    re.I,
)
_BLOCK_TAGS = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "li",
    "ul",
    "ol",
    "table",
    "tr",
    "br",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "dd",
    "dt",
    "figcaption",
    "caption",
    "hr",
}


def html_to_text(html: str | bytes) -> tuple[str | None, str]:
    """``(title, main_text)`` of an HTML document, with chrome and code removed."""
    soup = BeautifulSoup(html, "lxml")
    title = _title(soup)
    for tag in list(soup.find_all(True)):
        if tag.decomposed or tag.name in ("html", "body", "main", "article"):
            continue
        if tag.name in _DROP_TAGS or _ROLE_RE.match(str(tag.get("role") or "")):
            tag.decompose()
            continue
        marker = " ".join([*(tag.get("class") or []), str(tag.get("id") or "")])
        if marker.strip() and _CHROME_RE.search(marker):
            tag.decompose()
    main = (
        soup.find("article")
        or soup.find("main")
        or soup.find(True, attrs={"role": "main"})
        or soup.body
        or soup
    )
    return title, normalize_whitespace(_block_text(main))


_ROLE_RE = re.compile(r"^(navigation|banner|contentinfo|complementary)$")
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}


def _block_text(root: Tag) -> str:
    """Text of ``root`` with line breaks around block elements and ``#`` markers before headings.

    An explicit stack instead of recursion: hostile pages can nest thousands of elements deep.
    """
    out: list[str] = []
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, str):  # a closing marker pushed below, or page text
            if not isinstance(node, Comment):
                out.append(str(node))
            continue
        name = node.name
        level = _HEADINGS.get(name)
        if level is not None:
            out.append("\n\n" + "#" * level + " ")
            stack.append("\n\n")
        elif name in _BLOCK_TAGS:
            out.append("\n")
            stack.append("\n")
        stack.extend(reversed(list(node.children)))
    return "".join(out)


def _title(soup: BeautifulSoup) -> str | None:
    meta = soup.find("meta", attrs={"property": "og:title"})
    if isinstance(meta, Tag) and meta.get("content"):
        return " ".join(str(meta["content"]).split())
    if soup.title and soup.title.string:
        return " ".join(soup.title.string.split())
    h1 = soup.find("h1")
    return " ".join(h1.get_text(" ").split()) if h1 else None


def normalize_whitespace(text: str) -> str:
    """Strip lines, collapse runs of spaces, keep at most one blank line between paragraphs."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    return "\n".join(out).strip()


_FENCE_RE = re.compile(r"^(?P<fence>`{3,}|~{3,})[^\n]*\n.*?(?:^(?P=fence)[ \t]*$|\Z)", re.S | re.M)
_HTML_COMMENT_RE = re.compile(r"<!--.*?-->", re.S)
_BADGE_LINE_RE = re.compile(r"^\s*(\[?!\[[^\]]*\]\([^)]*\)\]?(\([^)]*\))?\s*)+$", re.M)


def markdown_to_text(markdown: str) -> tuple[str | None, str]:
    """``(title, text)`` of a markdown document: code blocks, comments and badge lines dropped."""
    text = _FENCE_RE.sub("", markdown)
    text = _HTML_COMMENT_RE.sub("", text)
    text = _BADGE_LINE_RE.sub("", text)
    if "<" in text and re.search(r"</?[a-zA-Z][^>]*>", text):
        text = BeautifulSoup(text, "lxml").get_text("")
    title_match = re.search(r"^#\s+(.+)$", text, re.M)
    title = title_match.group(1).strip() if title_match else None
    return title, normalize_whitespace(text)


def pdf_to_text(data: bytes) -> str:
    """The text of a PDF (``pypdf``); ``ContentError`` if it cannot be read."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise ContentError(f"unreadable PDF: {exc}") from exc
    return normalize_whitespace("\n".join(pages))


# ---- paper sections -------------------------------------------------------------------------------------------

_DROP_SECTION_RE = re.compile(
    r"related work|prior work|literature review|background and related|experiment|evaluation|results|ablation|"
    r"references|bibliography|acknowledg|limitation|broader impact|ethic|conclusion|future work",
    re.I,
)
_DATA_SECTION_RE = re.compile(
    r"\bdata|dataset|corpus|corpora|construct|collect|curat|synthes|generat|pipeline|source|filter|annotat|"
    r"distill|decontaminat|dedup|preprocess|sampling|selection",
    re.I,
)
_INTRO_RE = re.compile(r"^introduction$|^overview$", re.I)
_NUMBERED_HEADING_RE = re.compile(
    r"^(?P<num>(?:\d+(?:\.\d+)*|[A-H](?:\.\d+)*|[IVX]+))\.?\s+(?P<title>[A-Z][^\n]{1,90})$"
)
_MD_HEADING_RE = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<title>.+)$")
_BARE_HEADING_RE = re.compile(
    r"^(abstract|introduction|related work|background|method|methods|methodology|experiments?|evaluation|results|"
    r"conclusions?|references|bibliography|acknowledge?ments?|appendix|limitations)$",
    re.I,
)


@dataclass
class Section:
    """A heading, its depth (1 = top level) and the text under it."""

    heading: str
    depth: int
    text: str


def split_sections(text: str) -> list[Section]:
    """Split paper text at headings (markdown ``#``, numbered ``3.1 Data``, or bare ``References``)."""
    sections: list[Section] = [Section("", 0, "")]
    lines: list[str] = []
    for line in text.splitlines():
        heading = _heading(line.strip())
        if heading is None:
            lines.append(line)
            continue
        sections[-1].text = "\n".join(lines).strip()
        lines = []
        sections.append(Section(heading[0], heading[1], ""))
    sections[-1].text = "\n".join(lines).strip()
    return [s for s in sections if s.heading or s.text]


def _heading(line: str) -> tuple[str, int] | None:
    if not line or len(line) > 100:
        return None
    md = _MD_HEADING_RE.match(line)
    if md:
        title = md.group("title").strip()
        numbered = _NUMBERED_HEADING_RE.match(title)
        if numbered:
            return title, numbered.group("num").count(".") + 1
        return title, max(1, len(md.group("hashes")) - 1)
    numbered = _NUMBERED_HEADING_RE.match(line)
    if numbered and not line.endswith((".", ",", ";")) and len(line.split()) <= 10:
        return line, numbered.group("num").count(".") + 1
    if _BARE_HEADING_RE.match(line):
        return line, 1
    return None


def _bare_title(heading: str) -> str:
    return re.sub(r"^(?:\d+(?:\.\d+)*|[A-H](?:\.\d+)*|[IVX]+)\.?\s+", "", heading).strip()


def prune_paper(text: str) -> str:
    """Keep the sections of a paper that describe how its data was built (see the module docstring)."""
    sections = split_sections(text)
    kept: list[Section] = []
    decisions: list[tuple[Section, str]] = []  # "data", "intro", "drop", "other"
    parent_decision = "other"
    for section in sections:
        title = _bare_title(section.heading)
        if section.depth <= 1:
            if _DROP_SECTION_RE.search(title):
                decision = "drop"
            elif _DATA_SECTION_RE.search(title):
                decision = "data"
            elif _INTRO_RE.match(title):
                decision = "intro"
            else:
                decision = "other"
            parent_decision = decision
        else:
            decision = (
                "data"
                if _DATA_SECTION_RE.search(title) and not _DROP_SECTION_RE.search(title)
                else (parent_decision)
            )
        decisions.append((section, decision))
    has_data = any(d == "data" for _, d in decisions)
    for section, decision in decisions:
        if decision == "drop" or (has_data and decision == "other"):
            continue
        kept.append(section)
    parts = []
    for section in kept:
        parts.append(
            f"{'#' * max(1, section.depth)} {section.heading}\n{section.text}"
            if section.heading
            else section.text
        )
    return "\n\n".join(p.strip() for p in parts if p.strip())
