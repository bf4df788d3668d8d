"""Name keys, ``ext:`` names and Hub ids found in free text: the matching rules the catalog and the canonicalizer share."""

from __future__ import annotations

import re

from graph_store.models import is_hf_id

HF_URL_RE = re.compile(
    r"(?:https?://)?(?:www\.)?(?:huggingface\.co|hf\.co)/datasets/"
    r"(?P<id>[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*)",
    re.IGNORECASE,
)
_FILLER_WORDS = re.compile(r"\b(the|dataset|datasets|data set|benchmark|corpus|collection|data)\b")
_URL_PREFIX = re.compile(r"^(?:https?://)?(?:www\.)?")
QUALIFIER = re.compile(
    r"\s*\([^)]*\)\s*$|\s+(?:problems|questions|prompts|subset|split|train|training|test|set|portion|"
    r"samples|examples|instructions)(?:\s+(?:set|split|subset))?\s*$",
    re.IGNORECASE,
)
VERSION_SUFFIX = re.compile(
    r"^(?:v?\d+(?:\.\d+)*[km]?|data|dataset|full|all|raw|en|english|hf|clean(?:ed)?|"
    r"filtered|dedup(?:ed)?|v\d+|\d+[km]|sharegpt)+$"
)


def ext_name(name: str) -> str:
    """The text an ``ext:`` id is derived from: a URL without its scheme, ``www.``, query or fragment; a name
    without a trailing generic qualifier."""
    text = name.strip()
    domain = re.fullmatch(r"(?:https?://)?(?:www\.)?((?:[a-z0-9-]+\.)+[a-z]{2,})(/.*)?", text, re.IGNORECASE)
    if domain:
        path = re.split(r"[?#]", domain.group(2) or "")[0].strip("/")
        if not path:
            # a whole website: "http://www.cnn.com/" and "cnn.com" are "cnn"
            return domain.group(1).lower().split(".")[-2]
        return f"{domain.group(1).lower()}/{path}"
    bare = QUALIFIER.sub("", text).strip() or text
    return (
        re.sub(r"\s+(?:dataset|data set|corpus|collection)$", "", bare, flags=re.IGNORECASE).strip() or bare
    )


def normalize_name(name: str) -> str:
    """The matching key of a name: lower case, no filler words ("the", "dataset"), only letters, digits, ``+``.

    ``"The GSM-8K dataset"`` -> ``"gsm8k"``; ``"HumanEval+"`` -> ``"humaneval+"``.
    """
    text = name.strip().lower()
    text = _URL_PREFIX.sub("", text).rstrip("/")
    stripped = _FILLER_WORDS.sub(" ", text)
    key = re.sub(r"[^a-z0-9+]", "", stripped)
    return key or re.sub(r"[^a-z0-9+]", "", text)


def hf_id_from_text(text: str | None) -> str | None:
    """The Hub dataset id in ``text`` when it is one (``org/name``) or holds a Hub dataset URL, else ``None``."""
    if not text:
        return None
    m = HF_URL_RE.search(text)
    if m:
        candidate = m["id"].rstrip(".")
        candidate = re.split(r"/(?:tree|blob|resolve|viewer)/", candidate)[0]
        return candidate if is_hf_id(candidate) else None
    stripped = text.strip().strip("`'\"")
    if (
        is_hf_id(stripped)
        and not stripped.lower().startswith(("http", "www."))
        and "." not in stripped.split("/")[0]
    ):
        return stripped
    return None
