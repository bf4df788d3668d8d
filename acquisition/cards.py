"""Dataset cards: split the YAML front matter from the markdown body, tolerating broken YAML."""

from __future__ import annotations

import re
from typing import Any

import yaml

# libyaml's safe loader when PyYAML was built with it (its wheels are): the same documents, about 25x faster
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_FRONT_MATTER_RE = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)(?:\r?\n)?^---[ \t]*(?:\r?\n|\Z)", re.S | re.M)


def load_yaml(text: str) -> Any:
    """``text`` read by YAML's safe loader (libyaml's, when PyYAML has it); ``yaml.YAMLError`` if it is not YAML."""
    return yaml.load(text, Loader=_SAFE_LOADER)


def split_card(raw: str) -> tuple[dict[str, Any], str, str | None]:
    """``(front_matter, body, yaml_error)`` of a card.

    A card without a front-matter block has an empty dict and the whole text as body. Broken YAML (or YAML that is
    not a mapping) gives an empty dict, the body after the block, and an error message naming the problem.
    """
    match = _FRONT_MATTER_RE.match(raw)
    if not match:
        if raw.lstrip("\ufeff").startswith("---"):
            return {}, raw, "front matter block is not closed by a '---' line"
        return {}, raw, None
    block, body = match.group(1), raw[match.end() :]
    try:
        data = load_yaml(block)
    except yaml.YAMLError as exc:
        return {}, body, f"invalid YAML front matter: {_one_line(exc)}"
    if data is None:
        return {}, body, None
    if not isinstance(data, dict):
        return {}, body, f"YAML front matter is a {type(data).__name__}, not a mapping"
    return _jsonable(data), body, None


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


def _jsonable(value: Any) -> Any:
    """YAML dates and other scalars become strings so that cards serialize to JSON identically every time."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
