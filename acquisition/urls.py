"""Classifying and checking URLs."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from acquisition.models import PageKind
from oda.errors import InputError

_BLOG_HOST_RE = re.compile(
    r"(^|\.)(medium\.com|substack\.com|wordpress\.com|blogspot\.com|ghost\.io|notion\.site|"
    r"hashnode\.dev|github\.io|lmsys\.org|openai\.com|anthropic\.com)$",
    re.I,
)
_BLOG_PATH_RE = re.compile(r"/(blog|blogs|posts?|news|articles?|notes)(/|$)", re.I)
GITHUB_HOSTS = {"github.com", "www.github.com"}
HUB_HOSTS = {"huggingface.co", "hf.co", "www.huggingface.co"}


def check_url(url: object) -> str:
    """Return ``url`` stripped if it is an absolute http(s) URL with a host, else raise ``InputError``."""
    if not isinstance(url, str) or not url.strip():
        raise InputError("URL is empty")
    value = url.strip()
    shown = value if len(value) <= 100 else value[:97] + "..."
    if len(value) > 4096:
        raise InputError(f"URL is {len(value)} characters long: {shown!r}")
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError as exc:
        raise InputError(f"malformed URL {shown!r}: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise InputError(f"only http(s) URLs can be fetched, not {shown!r}")
    if not parts.hostname:
        raise InputError(f"URL has no host: {shown!r}")
    if any(ch.isspace() for ch in value):
        raise InputError(f"URL contains whitespace: {shown!r}")
    return value


def github_repo(url: str) -> str | None:
    """``owner/repo`` of a github.com repository URL (any page inside the repo), else ``None``."""
    parts = urlsplit(url)
    if (parts.hostname or "").lower() not in GITHUB_HOSTS:
        return None
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2 or segments[0] in {
        "orgs",
        "topics",
        "search",
        "features",
        "about",
        "settings",
        "sponsors",
    }:
        return None
    repo = segments[1].removesuffix(".git")
    if not re.fullmatch(r"[A-Za-z0-9_.\-]+", segments[0]) or not re.fullmatch(r"[A-Za-z0-9_.\-]+", repo):
        return None
    return f"{segments[0]}/{repo}"


def classify_url(url: str) -> PageKind:
    """``github`` for repositories, ``hf_dataset`` for Hub dataset pages, ``blog`` for blog-like pages."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if github_repo(url):
        return "github"
    if host in HUB_HOSTS and parts.path.startswith("/datasets/"):
        return "hf_dataset"
    if host in HUB_HOSTS and parts.path.startswith("/blog/"):
        return "blog"
    if _BLOG_HOST_RE.search(host) or host.startswith("blog.") or _BLOG_PATH_RE.search(parts.path):
        return "blog"
    return "other"
