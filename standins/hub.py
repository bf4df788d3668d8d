"""A small Hub-compatible HTTP server: serves a world folder or a snapshot to ``huggingface_hub`` via HF_ENDPOINT.

Endpoints (what ``huggingface_hub`` uses for datasets)::

    GET  /api/datasets?search=Q&limit=N            search by id substring
    GET  /api/datasets/{org}/{name}                dataset info ([/revision/{rev}] too)
    GET  /api/datasets/{org}/{name}/tree/{rev}[/{path}]?recursive=true   list_repo_tree / list_repo_files
    POST /api/datasets/{org}/{name}/paths-info/{rev}                    get_paths_info
    HEAD /datasets/{org}/{name}/resolve/{rev}/{path}   ETag, X-Repo-Commit, Content-Length (hf_hub_download)
    GET  /datasets/{org}/{name}/resolve/{rev}/{path}
    GET  /arxiv/api/query?...                       the arXiv API (Atom) over the world's papers
    GET  /arxiv/html/{id}                           a paper's full text as HTML

Errors carry the headers the library maps to typed exceptions: 404 ``X-Error-Code: RepoNotFound`` (missing, or
private without an accepted token, answered 401 like the Hub), 403 ``X-Error-Code: GatedRepo`` for a gated repo's
data files (its card stays public, as on the Hub), 403 ``X-Error-Message: Access to this resource is disabled.``
for a disabled repo, 404 ``X-Error-Code: EntryNotFound`` for a missing file.

A snapshot is served as recorded (``hub:``, ``arxiv-api:`` and ``arxiv-html:`` entries); a search it did not record
is answered from the dataset infos it holds.

Run it with ``oda hub serve PATH`` or, in tests, ``with serve_in_thread(path) as base_url: ...``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

from acquisition.atom import answer_query
from acquisition.snapshot import MANIFEST, Snapshot, canonical_url
from oda.errors import InputError
from standins.loopback import LoopbackServer, QuietHandler, running
from standins.world import World, WorldDataset, git_blob_sha

Reply = tuple[int, dict[str, str], bytes]
_JSON = "application/json; charset=utf-8"


def _json(status: int, data: Any, headers: dict[str, str] | None = None) -> Reply:
    return status, {"Content-Type": _JSON, **(headers or {})}, json.dumps(data).encode("utf-8")


def _error(status: int, message: str, code: str | None = None, error_message: str | None = None) -> Reply:
    headers = {"X-Error-Message": error_message or message}
    if code:
        headers["X-Error-Code"] = code
    return _json(status, {"error": message}, headers)


def _repo_not_found() -> Reply:
    return _error(404, "Repository not found", "RepoNotFound")


class WorldBackend:
    """Answers Hub and arXiv requests from a world folder."""

    def __init__(self, world: World, tokens: frozenset[str] = frozenset()) -> None:
        self.world = world
        self.tokens = tokens
        # Read the world's datasets and papers now, before the first request: the server answers from many
        # threads, and each of the first ones would otherwise read the whole world again (a cached_property
        # holds no lock since Python 3.12). A broken part is reported by each request that needs it (a 500
        # naming the file), as when read on first use.
        for part in ("datasets", "papers"):
            with suppress(InputError):
                getattr(world, part)

    def _dataset(self, org: str, name: str, token: str | None) -> tuple[WorldDataset | None, Reply | None]:
        dataset = self.world.datasets.get(f"{org}/{name}")
        if dataset is None:
            return None, _repo_not_found()
        if dataset.private and token not in self.tokens:
            return None, _error(401, "Repository not found", "RepoNotFound", "Invalid username or password.")
        if dataset.disabled:
            return None, _error(403, "Access to this resource is disabled.")
        return dataset, None

    def handle(
        self, method: str, raw_path: str, query: dict[str, list[str]], body: bytes, token: str | None
    ) -> Reply:
        parts = [unquote(p) for p in raw_path.split("/") if p]
        if parts[:2] == ["api", "datasets"]:
            if len(parts) == 2:
                return self._search(query)
            if len(parts) < 4:
                return _repo_not_found()
            dataset, refused = self._dataset(parts[2], parts[3], token)
            if refused:
                return refused
            assert dataset is not None
            rest = parts[4:]
            if not rest or rest[0] == "revision":
                return _json(200, dataset.api_json())
            if rest[0] == "tree" and len(rest) >= 2:
                return self._tree(
                    dataset,
                    "/".join(rest[2:]),
                    query.get("recursive", ["false"])[0] == "True"
                    or query.get("recursive", ["false"])[0] == "true",
                )
            if rest[0] == "paths-info" and method == "POST":
                form = parse_qs(body.decode("utf-8", "replace"))
                return self._paths_info(dataset, form.get("paths", []))
            return _error(404, "Not found")
        if parts[:1] == ["datasets"] and len(parts) >= 6 and parts[3] == "resolve":
            dataset, refused = self._dataset(parts[1], parts[2], token)
            if refused:
                return refused
            assert dataset is not None
            return self._resolve(dataset, "/".join(parts[5:]), parts[4], token)
        if parts[:3] == ["arxiv", "api", "query"]:
            params = {k: v[0] for k, v in query.items()}
            return (
                200,
                {"Content-Type": "application/atom+xml; charset=utf-8"},
                answer_query(self.world.papers, params),
            )
        if parts[:2] == ["arxiv", "html"] and len(parts) >= 3:
            page = self.world.paper_html("/".join(parts[2:]))
            if page is None:
                return 404, {"Content-Type": "text/plain"}, b"no HTML for this paper\n"
            return 200, {"Content-Type": "text/html; charset=utf-8"}, page
        return _error(404, "Not found")

    def _search(self, query: dict[str, list[str]]) -> Reply:
        text = query.get("search", [""])[0]
        try:
            limit = int(query.get("limit", ["1000"])[0])
        except ValueError:
            return _error(400, "limit must be an integer")
        found = self.world.search(text, limit)
        return _json(200, [d.api_json() for d in found])

    def _tree(self, dataset: WorldDataset, prefix: str, recursive: bool) -> Reply:
        files = dataset.files()
        prefix = prefix.strip("/")
        entries: dict[str, dict[str, Any]] = {}
        for name, path in files.items():
            if prefix and not name.startswith(prefix + "/"):
                continue
            rel = name[len(prefix) + 1 :] if prefix else name
            segments = rel.split("/")
            for depth in range(1, len(segments)):
                folder = "/".join(([prefix] if prefix else []) + segments[:depth])
                if recursive or depth == 1:
                    entries.setdefault(
                        folder,
                        {
                            "type": "directory",
                            "oid": git_blob_sha(folder.encode()),
                            "size": 0,
                            "path": folder,
                        },
                    )
            if recursive or len(segments) == 1:
                content = path.read_bytes()
                entries[name] = {
                    "type": "file",
                    "oid": git_blob_sha(content),
                    "size": len(content),
                    "path": name,
                }
        if prefix and not entries:
            return _error(404, f"{prefix} does not exist", "EntryNotFound")
        return _json(200, [entries[k] for k in sorted(entries)])

    def _paths_info(self, dataset: WorldDataset, paths: list[str]) -> Reply:
        files = dataset.files()
        out = []
        for path in paths:
            if path in files:
                content = files[path].read_bytes()
                out.append({"type": "file", "oid": git_blob_sha(content), "size": len(content), "path": path})
            elif any(name.startswith(path.rstrip("/") + "/") for name in files):
                out.append({"type": "directory", "oid": git_blob_sha(path.encode()), "size": 0, "path": path})
        return _json(200, out)

    def _resolve(self, dataset: WorldDataset, path: str, revision: str, token: str | None) -> Reply:
        if revision not in ("main", dataset.sha):
            return _error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        files = dataset.files()
        if path not in files:
            return _error(404, "Entry not found", "EntryNotFound")
        if dataset.gated and path != "README.md" and token not in self.tokens:
            return _error(
                403,
                "Access to this dataset is restricted: you must be authenticated and accept its conditions",
                "GatedRepo",
            )
        content = files[path].read_bytes()
        ctype = "text/markdown; charset=utf-8" if path.endswith(".md") else "application/octet-stream"
        return (
            200,
            {"Content-Type": ctype, "ETag": f'"{git_blob_sha(content)}"', "X-Repo-Commit": dataset.sha},
            content,
        )


class SnapshotBackend:
    """Answers from a snapshot's recorded ``hub:``/``arxiv-api:``/``arxiv-html:`` entries."""

    _ALIASES: ClassVar[dict[str, str]] = {
        "hub:": "http://stand-in",
        "arxiv-api:": "http://stand-in/arxiv/api/query",
        "arxiv-html:": "http://stand-in/arxiv/html",
    }

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def handle(
        self, method: str, raw_path: str, query: dict[str, list[str]], body: bytes, token: str | None
    ) -> Reply:
        flat = [(k, v) for k, values in query.items() for v in values]
        from urllib.parse import urlencode

        url = "http://stand-in" + raw_path + (f"?{urlencode(flat)}" if flat else "")
        key = f"{method} {canonical_url(url, self._ALIASES)}"
        for candidate in (key, key.replace("HEAD ", "GET ", 1)):
            if candidate in self.snapshot:
                found = self.snapshot.lookup(candidate)
                if found.error:
                    return 504, {"Content-Type": "text/plain"}, f"recorded {found.error} failure\n".encode()
                headers = dict(found.headers)
                if method != "HEAD" or candidate != key:
                    headers.pop("content-length", None)
                return found.status, headers, found.body
        parts = [unquote(p) for p in raw_path.split("/") if p]
        if parts == ["api", "datasets"]:
            return self._search(query)
        if parts[:2] == ["api", "datasets"]:
            return _repo_not_found()
        if parts[:1] == ["datasets"]:
            return _error(404, "Entry not found", "EntryNotFound")
        return _error(404, "Not found in this snapshot")

    def _search(self, query: dict[str, list[str]]) -> Reply:
        text = query.get("search", [""])[0].lower()
        limit = int(query.get("limit", ["1000"])[0]) if query.get("limit", ["x"])[0].isdigit() else 1000
        out = []
        for key in self.snapshot.request_keys():
            if not key.startswith("GET hub:/api/datasets/") or "?" in key or key.count("/") != 4:
                continue
            found = self.snapshot.lookup(key)
            if found.status != 200:
                continue
            try:
                data = json.loads(found.body)
            except ValueError:
                continue
            if text in str(data.get("id", "")).lower() and not data.get("private"):
                out.append(data)
        out.sort(key=lambda d: (-int(d.get("downloads") or 0), d.get("id", "")))
        return _json(200, out[:limit])


def open_backend(path: str | Path, tokens: frozenset[str] = frozenset()) -> WorldBackend | SnapshotBackend:
    """A snapshot directory (has manifest.json) or a world folder."""
    root = Path(path)
    if (root / MANIFEST).is_file():
        return SnapshotBackend(Snapshot(root))
    if not root.is_dir():
        raise InputError(f"not a directory: {root}")
    return WorldBackend(World(root), tokens)


class _Handler(QuietHandler):
    server: HubServer

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        auth = self.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        self.server.log_request_line(method, self.path)
        if self.server.latency_s:
            time.sleep(self.server.latency_s)
        try:
            status, headers, payload = self.server.backend.handle(method, parts.path, query, body, token)
        except Exception as exc:  # a broken world file: answer 500 and keep serving
            status, headers, payload = _error(500, f"{type(exc).__name__}: {exc}")
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if not any(k.lower() == "content-length" for k in headers):
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(payload)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")


class HubServer(LoopbackServer):
    """The stand-in server. ``requests`` lists ``(method, path)`` of every request, for tests."""

    allow_reuse_address = True

    def __init__(
        self,
        path: str | Path,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tokens: frozenset[str] | set[str] = frozenset(),
        latency_s: float = 0.0,
    ) -> None:
        self.backend = open_backend(path, frozenset(tokens))
        self.latency_s = latency_s
        self.requests: list[tuple[str, str]] = []
        self._log_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    def log_request_line(self, method: str, path: str) -> None:
        with self._log_lock:
            self.requests.append((method, path))

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"


@contextmanager
def serve_hub(
    path: str | Path,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    tokens: frozenset[str] | set[str] = frozenset(),
    latency_s: float = 0.0,
) -> Iterator[HubServer]:
    """Run a ``HubServer`` in a daemon thread; yields the server (``.base_url``, ``.requests``)."""
    server = HubServer(path, host, port, tokens=tokens, latency_s=latency_s)
    with running(server):
        yield server


@contextmanager
def serve_in_thread(
    path: str | Path, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> Iterator[str]:
    """Serve a world folder or snapshot in a background thread; yields its base URL (for ``HF_ENDPOINT``)."""
    with serve_hub(path, host, port, **options) as server:
        yield server.base_url
