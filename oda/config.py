"""The config file: where it is found, and the rule that keeps secrets out of it (``oda.settings`` reads it).

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
``ODA_NEO4J_PASSWORD``, ``HF_TOKEN``, ``ODA_REVIEW_TOKENS``). Explicit command-line options win over the
environment, the environment over the file, the file over built-in defaults (``oda.settings``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from oda.errors import ConfigError


def find_config_file(
    explicit: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Path | None:
    """``explicit``, else ``$ODA_CONFIG``, else ``./oda.toml`` when it exists, else ``None``."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        return path
    named = (os.environ if env is None else env).get("ODA_CONFIG")
    if named:
        path = Path(named)
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


def check_no_secrets(table: Any, where: str) -> None:
    """Refuse a secret-looking key anywhere in the file: tables, inline tables and arrays (of tables)."""
    if isinstance(table, Mapping):
        for key, value in table.items():
            if _is_secret_key(key):
                raise ConfigError(
                    f"{where}.{key}: secrets are read from the environment only, never from the config file"
                )
            check_no_secrets(value, f"{where}.{key}")
    elif isinstance(table, list):
        for index, item in enumerate(table):
            check_no_secrets(item, f"{where}[{index}]")
