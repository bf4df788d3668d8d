"""Snapshots: every external read, recorded as a plain directory and replayed byte for byte.

Layout (stable across runs, diffable, safe to commit)::

    SNAPSHOT/
      manifest.json             sorted JSON: {"format": ..., "entries": {KEY: ENTRY}}
      blobs/ab/cdef0123...      response bodies, named by their SHA-256 (content-addressed, deduplicated)

A ``KEY`` is the request: ``"GET hub:/api/datasets/org/name"``. URLs under the Hub endpoint, the arXiv API and
the arXiv HTML base are written with the aliases ``hub:``, ``arxiv-api:`` and ``arxiv-html:``, so a snapshot
recorded against one server replays against any other (or none). Query parameters are sorted; a request body, if
any, adds ``#sha256`` of the body. An ``ENTRY`` is either a response, ``{"status", "headers", "blob", "size"}``
(only headers that change a client's behaviour are kept), or a transport failure, ``{"error": "timeout"}``, so a
page that timed out while recording times out again on replay.

The manifest carries no timestamps: recording the same reads twice gives the same bytes. A later recording of the
same request replaces the earlier one (the last answer wins, e.g. the 200 after a retried 503).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from oda.errors import ConfigError, SnapshotMissError

FORMAT = "oda-snapshot/1"
MANIFEST = "manifest.json"
# Response headers that some client acts on. Everything else (dates, request ids, server names) is dropped so that
# two recordings of the same content are identical.
KEPT_HEADERS = frozenset(
    {
        "content-type",
        "content-encoding",
        "content-length",
        "etag",
        "location",
        "retry-after",
        "link",
        "x-repo-commit",
        "x-linked-etag",
        "x-linked-size",
        "x-error-code",
        "x-error-message",
        "last-modified",
    }
)
ERROR_KINDS = ("timeout", "connect", "protocol")


@dataclass(frozen=True)
class RecordedResponse:
    """One recorded answer: a response, or a transport failure when ``error`` is set."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None


def canonical_url(url: str, aliases: Mapping[str, str] | None = None) -> str:
    """``url`` with sorted query parameters and its base replaced by an alias (longest base first)."""
    parts = urlsplit(url)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    path = parts.path or "/"
    bare = f"{parts.scheme}://{parts.netloc}{path}"
    for alias, base in sorted((aliases or {}).items(), key=lambda item: -len(item[1])):
        base_norm = base.rstrip("/")
        if bare == base_norm or bare.startswith(base_norm + "/"):
            bare = alias + bare[len(base_norm) :]
            break
    return bare + (f"?{query}" if query else "")


def request_key(
    method: str, url: str, body: bytes | None = None, aliases: Mapping[str, str] | None = None
) -> str:
    """The manifest key of a request."""
    key = f"{method.upper()} {canonical_url(url, aliases)}"
    if body:
        key += "#" + hashlib.sha256(body).hexdigest()[:16]
    return key


def keep_headers(headers: Mapping[str, str] | Any) -> dict[str, str]:
    """The headers worth recording, lower-cased and sorted."""
    items: Any = headers.items() if hasattr(headers, "items") else headers
    kept = {str(k).lower(): str(v) for k, v in items if str(k).lower() in KEPT_HEADERS}
    return dict(sorted(kept.items()))


class Snapshot:
    """A snapshot directory, open for replay (``lookup``), recording (``store``), or both.

    Thread-safe: the Hub and arXiv clients record from worker threads while web reads record from the event loop.
    ``flush()`` writes the manifest atomically; it is also written every ``flush_every`` new entries so that a killed
    run keeps most of what it read.
    """

    def __init__(self, root: str | os.PathLike[str], *, create: bool = False, flush_every: int = 25) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] = {}
        self._dirty = 0
        self._flush_every = flush_every
        manifest = self.root / MANIFEST
        if manifest.is_file():
            self._entries = self._read_manifest(manifest)
        elif not create:
            raise ConfigError(f"not a snapshot directory (no {MANIFEST}): {self.root}")

    @staticmethod
    def _read_manifest(path: Path) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"unreadable snapshot manifest {path}: {exc}") from exc
        if (
            not isinstance(data, dict)
            or data.get("format") != FORMAT
            or not isinstance(data.get("entries"), dict)
        ):
            raise ConfigError(f"{path}: not an {FORMAT} manifest")
        return dict(data["entries"])

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def request_keys(self) -> list[str]:
        """Every recorded request key, sorted."""
        with self._lock:
            return sorted(self._entries)

    def entry(self, key: str) -> dict[str, Any] | None:
        """The raw manifest entry of ``key``."""
        with self._lock:
            value = self._entries.get(key)
            return dict(value) if value is not None else None

    def blob_path(self, digest: str) -> Path:
        return self.root / "blobs" / digest[:2] / digest[2:]

    def lookup(self, key: str) -> RecordedResponse:
        """The recorded answer to ``key``; ``SnapshotMissError`` when the snapshot does not hold it."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            raise SnapshotMissError(f"offline snapshot {self.root} holds no answer for {key}", url=key)
        if entry.get("error"):
            return RecordedResponse(error=str(entry["error"]))
        body = b""
        if entry.get("blob"):
            path = self.blob_path(entry["blob"])
            try:
                body = path.read_bytes()
            except OSError as exc:
                raise SnapshotMissError(f"snapshot blob missing for {key}: {path}", url=key) from exc
        return RecordedResponse(
            status=int(entry["status"]), headers=dict(entry.get("headers", {})), body=body
        )

    def store(self, key: str, response: RecordedResponse) -> None:
        """Record (or replace) the answer to ``key``."""
        if response.error:
            entry: dict[str, Any] = {"error": response.error}
        else:
            digest = self.write_blob(response.body) if response.body else None
            entry = {
                "status": response.status,
                "headers": keep_headers(response.headers),
                "size": len(response.body),
            }
            if digest:
                entry["blob"] = digest
        with self._lock:
            if self._entries.get(key) == entry:
                return
            self._entries[key] = entry
            self._dirty += 1
            due = self._dirty >= self._flush_every
        if due:
            self.flush()

    def write_blob(self, body: bytes) -> str:
        """Store ``body`` under its SHA-256 (once) and return the digest."""
        digest = hashlib.sha256(body).hexdigest()
        path = self.blob_path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_bytes(body)
            os.replace(tmp, path)
        return digest

    def flush(self) -> None:
        """Write the manifest (sorted keys, two-space indent, trailing newline) atomically."""
        with self._lock:
            text = json.dumps({"format": FORMAT, "entries": self._entries}, indent=2, sort_keys=True) + "\n"
            self._dirty = 0
            self.root.mkdir(parents=True, exist_ok=True)
            target = self.root / MANIFEST
            if target.is_file() and target.read_text(encoding="utf-8") == text:
                return
            tmp = self.root / f".{MANIFEST}.{os.getpid()}.tmp"
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, target)


class Tape:
    """The record/replay policy of one run: where answers come from and where they go.

    ``replay`` answers from a snapshot; ``record`` stores every live answer; ``offline`` forbids live reads.
    """

    def __init__(
        self, replay: Snapshot | None, record: Snapshot | None, offline: bool, aliases: dict[str, str]
    ):
        self.replay = replay
        self.record = record
        self.offline = offline
        self.aliases = aliases

    def key(self, method: str, url: str, body: bytes | None = None) -> str:
        return request_key(method, url, body, self.aliases)

    def find(self, key: str) -> RecordedResponse | None:
        """The replayed answer, ``None`` to go live; raises ``SnapshotMissError`` offline."""
        if self.replay is not None:
            if key in self.replay:
                return self.replay.lookup(key)
            if self.offline:
                raise SnapshotMissError(
                    f"offline: the snapshot {self.replay.root} holds no answer for {key}", url=key
                )
        elif self.offline:
            raise SnapshotMissError(f"offline with no snapshot: cannot read {key}", url=key)
        return None

    def keep(self, key: str, response: RecordedResponse) -> None:
        if self.record is not None:
            self.record.store(key, response)

    def flush(self) -> None:
        if self.record is not None:
            self.record.flush()
