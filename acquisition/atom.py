"""The arXiv API's Atom feed, rendered from paper records (for the offline world and test stand-ins).

A paper record is the world format's ``arxiv/<id>.json``: ``{"id", "title", "abstract", "authors": [...],
"published": ISO 8601, "full_text": optional}``. ``answer_query`` implements the part of the arXiv query API that
the ``arxiv`` package uses: ``id_list`` (comma separated), ``search_query`` with ``ti:"..."``, ``all:...`` or bare
words (every word must occur in the title or abstract), ``start`` and ``max_results``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

ATOM_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
    'xmlns:arxiv="http://arxiv.org/schemas/atom">\n'
)


def _iso(value: str) -> str:
    value = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value + "T00:00:00Z"
    return value.replace("+00:00", "Z")


def render_entry(paper: Mapping[str, Any]) -> str:
    """One ``<entry>`` for a paper record."""
    pid = str(paper["id"])
    published = _iso(str(paper.get("published", "2000-01-01")))
    authors = "".join(f"<author><name>{escape(str(a))}</name></author>" for a in paper.get("authors", []))
    return (
        "<entry>"
        f"<id>http://arxiv.org/abs/{escape(pid)}v1</id>"
        f"<updated>{escape(published)}</updated><published>{escape(published)}</published>"
        f"<title>{escape(str(paper.get('title', '')))}</title>"
        f"<summary>{escape(str(paper.get('abstract', '')))}</summary>"
        f"{authors}"
        f'<link href="http://arxiv.org/abs/{escape(pid)}v1" rel="alternate" type="text/html"/>'
        f'<link title="pdf" href="http://arxiv.org/pdf/{escape(pid)}v1" rel="related" type="application/pdf"/>'
        f"<arxiv:primary_category term={quoteattr(str(paper.get('category', 'cs.CL')))}/>"
        f"<category term={quoteattr(str(paper.get('category', 'cs.CL')))}/>"
        "</entry>\n"
    )


def render_feed(entries: Sequence[Mapping[str, Any]], total: int, start: int) -> bytes:
    """A complete feed page."""
    body = "".join(render_entry(p) for p in entries)
    return (
        ATOM_HEAD
        + "<title>arXiv Query Results</title><id>http://arxiv.org/api/query</id><updated>2000-01-01T00:00:00Z</updated>\n"
        + f"<opensearch:totalResults>{total}</opensearch:totalResults>"
        + f"<opensearch:startIndex>{start}</opensearch:startIndex>"
        + f"<opensearch:itemsPerPage>{len(entries)}</opensearch:itemsPerPage>\n"
        + body
        + "</feed>\n"
    ).encode("utf-8")


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _matches(paper: Mapping[str, Any], query: str) -> bool:
    title_terms = re.findall(r'ti:"([^"]*)"|ti:(\S+)', query)
    if title_terms:
        title_words = set(_words(str(paper.get("title", ""))))
        return all(set(_words(a or b)) <= title_words for a, b in title_terms)
    text = re.sub(r"\b(all|abs|ti|au):", " ", query)
    words = [w for w in _words(text) if w not in {"and", "or"}]
    haystack = set(_words(f"{paper.get('title', '')} {paper.get('abstract', '')}"))
    return bool(words) and all(w in haystack for w in words)


def answer_query(papers: Mapping[str, Mapping[str, Any]], params: Mapping[str, str]) -> bytes:
    """The feed the arXiv API would return for ``params`` over ``papers`` (keyed by id, in sorted order)."""
    start = int(params.get("start") or 0)
    limit = int(params.get("max_results") or 10)
    ids = [i.strip() for i in (params.get("id_list") or "").split(",") if i.strip()]
    query = params.get("search_query") or ""
    if ids:
        found = [papers[re.sub(r"v\d+$", "", i)] for i in ids if re.sub(r"v\d+$", "", i) in papers]
        if query:
            found = [p for p in found if _matches(p, query)]
    elif query:
        found = [papers[k] for k in sorted(papers) if _matches(papers[k], query)]
    else:
        found = []
    return render_feed(found[start : start + limit], len(found), start)
