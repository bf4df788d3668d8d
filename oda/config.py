"""Configuration: an optional TOML file plus environment variables.

The file is found at ``--config PATH``, else ``$ODA_CONFIG``, else ``./oda.toml`` when it exists. It holds one
table per part of the service::

    [store]
    uri = ".oda/graph"            # or "bolt://localhost:7687"

    [trace]
    extractor = "auto"
    max_depth = 3
    threshold = 0.7

    [llm]
    base_url = "http://127.0.0.1:8000/v1"
    model = "qwen2.5-7b-instruct"

Secrets never live in the file: a key named like ``key``, ``api_key``, ``token``, ``password``, ``pwd``,
``secret``, ``credentials`` or ``authorization`` (also ``*_key``, ``*_token``) is refused, in any table, inline
table or array.
They come from the environment only (``ODA_LLM_API_KEY``/``OPENAI_API_KEY``, ``ODA_NEO4J_USER``/
``ODA_NEO4J_PASSWORD``, ``HF_TOKEN``, ``ODA_REVIEW_TOKENS``). Explicit command-line options always win over the
file; the file wins over built-in defaults.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from oda.errors import ConfigError

_loaded: dict[str, Any] | None = None
_loaded_from: Path | None = None


def find_config_file(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        return path
    env = os.environ.get("ODA_CONFIG")
    if env:
        path = Path(env)
        if not path.is_file():
            raise ConfigError(f"ODA_CONFIG points at a missing file: {path}")
        return path
    local = Path("oda.toml")
    return local if local.is_file() else None


_SECRET_WORDS = frozenset(
    {
        "key",
        "apikey",
        "token",
        "accesstoken",
        "authtoken",
        "secret",
        "password",
        "passwd",
        "pwd",
        "credential",
        "credentials",
        "authorization",
        "auth",
    }
)


def _is_secret_key(key: str) -> bool:
    """A key one of whose words (split on ``_``, ``-``, ``.`` and spaces) names a secret: ``key``, ``token``,
    ``secret``, ``password``, ``pwd``, ``credentials``, ``authorization``…, so ``api_key``, ``hf_token`` and
    ``Authorization`` are refused while ``max_tokens`` or ``keywords`` are not."""
    words = re.split(r"[\s_.\-]+", str(key).strip().lower())
    return any(word in _SECRET_WORDS for word in words)


def _check_no_secrets(table: Any, where: str) -> None:
    """Refuse a secret-looking key anywhere in the file: tables, inline tables and arrays (of tables)."""
    if isinstance(table, Mapping):
        for key, value in table.items():
            if _is_secret_key(key):
                raise ConfigError(
                    f"{where}.{key}: secrets are read from the environment only, never from the config file"
                )
            _check_no_secrets(value, f"{where}.{key}")
    elif isinstance(table, list):
        for index, item in enumerate(table):
            _check_no_secrets(item, f"{where}[{index}]")


def load_config(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Read and validate the config file (or return an empty config when there is none)."""
    global _loaded, _loaded_from
    found = find_config_file(path)
    if found is None:
        _loaded, _loaded_from = {}, None
        return {}
    try:
        data = tomllib.loads(found.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{found}: invalid TOML: {exc}") from exc
    _check_no_secrets(data, found.name)
    _loaded, _loaded_from = data, found
    return data


def section(name: str) -> dict[str, Any]:
    """One table of the loaded config (empty when absent). Loads the default file on first use."""
    if _loaded is None:
        load_config()
    assert _loaded is not None
    value = _loaded.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table")
    return dict(value)


def setting(name: str, key: str, default: Any = None) -> Any:
    """``section(name).get(key, default)``."""
    return section(name).get(key, default)


def default_store_uri() -> str:
    """The store to use when no ``--store`` is given: config ``[store].uri``, else ``.oda/graph``."""
    return str(setting("store", "uri", ".oda/graph"))
