"""Checking and normalizing what callers ask for: Hub repo ids, arXiv references."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from graph_store.models import is_hf_id
from oda.errors import InputError

# New-style (2401.01234, optional version) and old-style (hep-th/9901001, cs.CL/0101001) arXiv identifiers.
ARXIV_NEW_RE = re.compile(r"(?<![\d.])(\d{4}\.\d{4,5})(v\d+)?(?![\d])")
ARXIV_OLD_RE = re.compile(r"\b([a-z\-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?\b")
_HUB_HOSTS = {"huggingface.co", "hf.co", "www.huggingface.co"}


def check_repo_id(repo_id: object) -> str:
    """Return a well-formed ``org/name`` repo id, or raise ``InputError`` saying what is wrong with it.

    A Hub URL (``https://huggingface.co/datasets/org/name``) is accepted and reduced to its id.
    """
    if not isinstance(repo_id, str):
        raise InputError(f"dataset id must be a string, got {type(repo_id).__name__}")
    value = repo_id.strip()
    if value.startswith(("http://", "https://")):
        from_url = dataset_id_from_url(value)
        if from_url is None:
            raise InputError(f"not a Hub dataset URL: {value[:120]!r}")
        value = from_url
    shown = value if len(value) <= 80 else value[:77] + "..."
    if not value:
        raise InputError("dataset id is empty")
    if len(value) > 193:
        raise InputError(
            f"dataset id is {len(value)} characters long (the Hub allows 96 per part): {shown!r}"
        )
    if "/" not in value:
        raise InputError(f"dataset id {shown!r} has no organization: expected 'org/name'")
    if value.count("/") > 1:
        raise InputError(f"dataset id {shown!r} has more than one '/': expected 'org/name'")
    if not value.isascii():
        raise InputError(f"dataset id {shown!r} contains non-ASCII characters")
    if not is_hf_id(value):
        raise InputError(
            f"dataset id {shown!r} is malformed: each part is 1-96 letters, digits, '-', '_' or '.', "
            "starts with a letter or digit, and '--' or '..' are not allowed"
        )
    return value


def dataset_id_from_url(url: str) -> str | None:
    """``https://huggingface.co/datasets/org/name[/...]`` → ``org/name``; ``None`` for any other URL."""
    parts = urlsplit(url)
    if parts.hostname not in _HUB_HOSTS:
        return None
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) >= 3 and segments[0] == "datasets":
        candidate = f"{segments[1]}/{segments[2]}"
        return candidate if is_hf_id(candidate) else None
    return None


def arxiv_id_from_ref(ref: str) -> str | None:
    """The arXiv id named by ``ref`` (bare id, arxiv.org abs/pdf/html URL, hf.co/papers URL), or ``None``.

    The version suffix is dropped: ``2401.01234v2`` → ``2401.01234``.
    """
    value = ref.strip()
    if value.lower().startswith("arxiv:"):
        value = value[6:].strip()
    if value.startswith(("http://", "https://")):
        parts = urlsplit(value)
        host = (parts.hostname or "").lower()
        if not (host.endswith("arxiv.org") or host in _HUB_HOSTS):
            return None
        if host in _HUB_HOSTS and not parts.path.startswith("/papers/"):
            return None
        value = parts.path
    match = ARXIV_NEW_RE.search(value)
    if match and (value == match.group(0) or "/" in value):
        return match.group(1)
    match_old = ARXIV_OLD_RE.search(value)
    if match_old and (value == match_old.group(0) or value.startswith("/")):
        return match_old.group(1)
    return None
