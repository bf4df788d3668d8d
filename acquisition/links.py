"""Finding the resources a dataset card points at: papers, repositories, blogs and other datasets.

Sources, in order: the YAML front matter (``source_datasets``, ``configs[].data_files`` paths naming other repos,
``paperswithcode_id``/``arxiv`` tags such as ``arxiv:2401.01234``, ``homepage``/``repository``/``paper`` keys), then
the markdown body (inline links, bare URLs, ``arXiv:XXXX.XXXXX`` mentions, ``hf.co/datasets/...`` URLs). Results are
deduplicated by ``(kind, ref)``, keeping the first (front matter wins), in order of appearance.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from acquisition.ids import ARXIV_NEW_RE, arxiv_id_from_ref, dataset_id_from_url
from acquisition.models import Card, Link
from acquisition.urls import classify_url, github_repo
from graph_store.models import is_hf_id

_URL_RE = re.compile(r"https?://[^\s<>\"'`\])}|]+", re.I)
_ARXIV_MENTION_RE = re.compile(r"\barxiv[:\s]*(\d{4}\.\d{4,5})(?:v\d+)?", re.I)
_TRAILING = ".,;:!?*_~"
_URL_KEYS = (
    "homepage",
    "repository",
    "repo",
    "github",
    "paper",
    "paper_url",
    "url",
    "blog",
    "project_page",
    "point_of_contact",
    "source_url",
)


def _clean_url(url: str) -> str:
    url = url.rstrip(_TRAILING)
    while url.endswith(")") and url.count("(") < url.count(")"):
        url = url[:-1]
    return url


def _walk_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk_strings(item)


def link_for_url(url: str, origin: str) -> Link | None:
    """Classify one URL as a link of a kind we follow, or ``None``."""
    url = _clean_url(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if not host:
        return None
    if host.endswith("arxiv.org"):
        arxiv_id = arxiv_id_from_ref(url)
        return Link(kind="arxiv", url=url, ref=arxiv_id, origin=origin) if arxiv_id else None  # type: ignore[arg-type]
    if host in {"huggingface.co", "hf.co", "www.huggingface.co"}:
        if parts.path.startswith("/papers/"):
            arxiv_id = arxiv_id_from_ref(url)
            return Link(kind="hf_paper", url=url, ref=arxiv_id, origin=origin) if arxiv_id else None  # type: ignore[arg-type]
        dataset = dataset_id_from_url(url)
        if dataset:
            return Link(kind="hf_dataset", url=url, ref=dataset, origin=origin)  # type: ignore[arg-type]
        if parts.path.startswith("/blog/"):
            return Link(kind="blog", url=url, ref=url, origin=origin)  # type: ignore[arg-type]
        return None
    repo = github_repo(url)
    if repo:
        return Link(kind="github", url=f"https://github.com/{repo}", ref=repo, origin=origin)  # type: ignore[arg-type]
    if classify_url(url) == "blog":
        return Link(kind="blog", url=url, ref=url, origin=origin)  # type: ignore[arg-type]
    return None


def front_matter_sources(card: Card) -> list[str]:
    """The card's YAML ``source_datasets`` entries (strings, in order, deduplicated; ``original`` dropped)."""
    value = card.front_matter.get("source_datasets")
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            continue
        name = item.strip()
        if name.startswith("extended|"):
            name = name.split("|", 1)[1].strip()
        if name and name.lower() != "original" and name not in out:
            out.append(name)
    return out


def _arxiv_id_from_float(value: float) -> str | None:
    """``paper: 2310.01370`` unquoted in YAML is a float; ids since 2015 have five digits after the dot."""
    yymm = int(value)
    text = f"{value:.5f}" if yymm >= 1501 else f"{value:.4f}"
    return arxiv_id_from_ref(text)


def _front_matter_links(card: Card) -> Iterator[Link]:
    fm = card.front_matter
    for source in front_matter_sources(card):
        dataset = dataset_id_from_url(source) if source.startswith("http") else source
        if dataset and is_hf_id(dataset):
            yield Link(
                kind="hf_dataset",
                url=f"https://huggingface.co/datasets/{dataset}",
                ref=dataset,
                origin="front_matter",
            )
    configs = fm.get("configs")
    if isinstance(configs, list):
        for path in _walk_strings([c.get("data_files") for c in configs if isinstance(c, dict)]):
            match = re.match(r"^hf://datasets/([^/@]+/[^/@]+)", path)
            if match and is_hf_id(match.group(1)):
                yield Link(
                    kind="hf_dataset",
                    url=f"https://huggingface.co/datasets/{match.group(1)}",
                    ref=match.group(1),
                    origin="front_matter",
                )
    for tag in fm.get("tags") or []:
        if isinstance(tag, str) and tag.lower().startswith("arxiv:"):
            arxiv_id = arxiv_id_from_ref(tag)
            if arxiv_id:
                yield Link(
                    kind="arxiv", url=f"https://arxiv.org/abs/{arxiv_id}", ref=arxiv_id, origin="front_matter"
                )
    for key in _URL_KEYS:
        for text in _walk_strings(fm.get(key)):
            for url in _URL_RE.findall(text):
                link = link_for_url(url, "front_matter")
                if link:
                    yield link
            bare = arxiv_id_from_ref(text) if key.startswith("paper") else None
            if bare:
                yield Link(kind="arxiv", url=f"https://arxiv.org/abs/{bare}", ref=bare, origin="front_matter")
        if key.startswith("paper") and isinstance(fm.get(key), float):
            bare = _arxiv_id_from_float(fm[key])
            if bare:
                yield Link(kind="arxiv", url=f"https://arxiv.org/abs/{bare}", ref=bare, origin="front_matter")


def _body_links(body: str) -> Iterator[Link]:
    without_code = re.sub(r"^(`{3,}|~{3,}).*?^\1", "", body, flags=re.S | re.M)
    events: list[tuple[int, Link]] = []
    for match in _URL_RE.finditer(without_code):
        link = link_for_url(match.group(0), "body")
        if link:
            events.append((match.start(), link))
    for match in _ARXIV_MENTION_RE.finditer(without_code):
        arxiv_id = match.group(1)
        if ARXIV_NEW_RE.fullmatch(arxiv_id):
            events.append(
                (
                    match.start(),
                    Link(kind="arxiv", url=f"https://arxiv.org/abs/{arxiv_id}", ref=arxiv_id, origin="body"),
                )
            )
    events.sort(key=lambda item: item[0])
    for _, link in events:
        yield link


def _dedup(links: Iterable[Link]) -> list[Link]:
    seen: set[tuple[str, str]] = set()
    out: list[Link] = []
    for link in links:
        key = (link.kind, link.ref.lower() if link.kind != "blog" else link.ref)
        if key not in seen:
            seen.add(key)
            out.append(link)
    return out


def discover_links(card: Card) -> list[Link]:
    """Every followable link named by ``card``: front matter first, then the body, deduplicated."""
    own = card.repo_id.lower()
    links = [
        link
        for link in _dedup([*_front_matter_links(card), *_body_links(card.body)])
        if not (link.kind == "hf_dataset" and link.ref.lower() == own)
    ]
    return links
