"""Hand-written offline "worlds": datasets, pages and papers as plain files, and snapshots built from them.

Layout (documented in docs/acquisition.md)::

    WORLD/datasets/<org>/<name>/README.md   the card (YAML front matter + markdown body)
    WORLD/datasets/<org>/<name>/info.json   {"created_at", "downloads", "likes", "tags", "gated", "private"}
    WORLD/datasets/<org>/<name>/data/...    data files, served by ``resolve`` and listed by the tree API
    WORLD/pages.json                        {"<url>": {"file": "pages/x.html", "content_type": "text/html"}
                                             | {"status": 404} | {"redirect": "<url>"}}
    WORLD/pages/*                           page bodies
    WORLD/arxiv/<id>.json                   {"id", "title", "abstract", "authors", "published", "full_text"?}
    WORLD/searches.txt                      optional: extra Hub search queries to pre-record, one per line

A GitHub repository page ``https://github.com/o/r`` listed in pages.json with a markdown or plain-text body also
answers for its raw README (``https://raw.githubusercontent.com/o/r/HEAD/README.md``), which is what the acquirer
reads for GitHub links.
"""

from __future__ import annotations

import hashlib
import html
import json
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx

from acquisition.cards import split_card
from oda.errors import InputError

DEFAULT_CREATED = "2024-01-01T00:00:00.000Z"
_INFO_KEYS = {"created_at", "last_modified", "downloads", "likes", "tags", "gated", "private", "disabled"}


def git_blob_sha(content: bytes) -> str:
    """The git blob id of ``content`` (what the Hub uses as a regular file's ETag)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def _iso_z(value: Any) -> str:
    if value is None:
        return DEFAULT_CREATED
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"not an ISO 8601 date: {text!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class WorldDataset:
    """One dataset of a world."""

    id: str
    root: Path
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def card_path(self) -> Path:
        return self.root / "README.md"

    @property
    def has_card(self) -> bool:
        return self.card_path.is_file()

    @property
    def private(self) -> bool:
        return bool(self.info.get("private", False))

    @property
    def disabled(self) -> bool:
        return bool(self.info.get("disabled", False))

    @property
    def gated(self) -> str | bool:
        value = self.info.get("gated", False)
        if value is True:
            return "manual"
        return value if isinstance(value, str) else False

    def files(self) -> dict[str, Path]:
        """Repo path → file on disk: README.md and everything under data/ (as ``data/...``)."""
        out: dict[str, Path] = {}
        if self.has_card:
            out["README.md"] = self.card_path
        data = self.root / "data"
        if data.is_dir():
            for path in sorted(data.rglob("*")):
                if path.is_file() and not path.name.startswith("."):
                    out[path.relative_to(self.root).as_posix()] = path
        return out

    @cached_property
    def sha(self) -> str:
        """A deterministic commit id over the repo's files and info."""
        digest = hashlib.sha1(json.dumps(self.info, sort_keys=True).encode())
        for name, path in self.files().items():
            digest.update(name.encode() + b"\0" + git_blob_sha(path.read_bytes()).encode())
        return digest.hexdigest()

    def api_json(self) -> dict[str, Any]:
        """The dataset as ``GET /api/datasets/{id}`` returns it."""
        card_data: dict[str, Any] | None = None
        if self.has_card:
            front, _, error = split_card(self.card_path.read_text(encoding="utf-8", errors="replace"))
            card_data = front if error is None and front else None
        org = self.id.split("/")[0]
        data: dict[str, Any] = {
            "_id": self.sha[:24],
            "id": self.id,
            "author": org,
            "sha": self.sha,
            "createdAt": _iso_z(self.info.get("created_at")),
            "lastModified": _iso_z(self.info.get("last_modified") or self.info.get("created_at")),
            "private": self.private,
            "gated": self.gated,
            "disabled": self.disabled,
            "downloads": int(self.info.get("downloads", 0)),
            "likes": int(self.info.get("likes", 0)),
            "tags": list(self.info.get("tags", [])),
            "siblings": [{"rfilename": name} for name in self.files()],
        }
        if card_data is not None:
            data["cardData"] = card_data
        return data


class World:
    """A world folder, read lazily. Malformed parts raise ``InputError`` naming the file."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"world folder not found: {self.root}")
        if not any((self.root / part).exists() for part in ("datasets", "pages.json", "arxiv")):
            raise InputError(f"{self.root} is not a world folder (no datasets/, pages.json or arxiv/)")

    @cached_property
    def datasets(self) -> dict[str, WorldDataset]:
        out: dict[str, WorldDataset] = {}
        base = self.root / "datasets"
        if not base.is_dir():
            return out
        for org in sorted(p for p in base.iterdir() if p.is_dir()):
            for repo in sorted(p for p in org.iterdir() if p.is_dir()):
                info_path = repo / "info.json"
                info: dict[str, Any] = {}
                if info_path.is_file():
                    try:
                        info = json.loads(info_path.read_text(encoding="utf-8"))
                    except ValueError as exc:
                        raise InputError(f"{info_path}: invalid JSON: {exc}") from exc
                    if not isinstance(info, dict):
                        raise InputError(f"{info_path}: expected a JSON object")
                    unknown = set(info) - _INFO_KEYS
                    if unknown:
                        raise InputError(
                            f"{info_path}: unknown key(s) {sorted(unknown)}; known: {sorted(_INFO_KEYS)}"
                        )
                dataset = WorldDataset(id=f"{org.name}/{repo.name}", root=repo, info=info)
                if dataset.has_card or info_path.is_file():
                    out[dataset.id] = dataset
        return out

    @cached_property
    def pages(self) -> dict[str, dict[str, Any]]:
        path = self.root / "pages.json"
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise InputError(f"{path}: invalid JSON: {exc}") from exc
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise InputError(f"{path}: expected {{url: {{file|status|redirect: ...}}}}")
        return data

    @cached_property
    def papers(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        base = self.root / "arxiv"
        if not base.is_dir():
            return out
        for path in sorted(base.glob("*.json")):
            try:
                paper = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise InputError(f"{path}: invalid JSON: {exc}") from exc
            if not isinstance(paper, dict) or not {"id", "title"} <= set(paper):
                raise InputError(f"{path}: a paper needs at least 'id' and 'title'")
            out[str(paper["id"])] = paper
        return out

    def searches(self) -> list[str]:
        path = self.root / "searches.txt"
        if not path.is_file():
            return []
        return [
            line.strip()
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        ]

    def search(self, query: str, limit: int) -> list[WorldDataset]:
        """Datasets whose id contains ``query`` (case-insensitive), public ones only, most downloaded first."""
        q = query.lower()
        found = [d for d in self.datasets.values() if q in d.id.lower() and not d.private]
        found.sort(key=lambda d: (-int(d.info.get("downloads", 0)), d.id))
        return found[:limit]

    # ---- pages -------------------------------------------------------------------------------------------------

    def page(self, url: str) -> tuple[int, dict[str, str], bytes]:
        """``(status, headers, body)`` for a page URL of this world (404 for anything it does not list)."""
        entry = self._page_entry(url)
        if entry is None:
            return 404, {"content-type": "text/plain; charset=utf-8"}, b"not in this world\n"
        if "redirect" in entry:
            return int(entry.get("status", 301)), {"location": str(entry["redirect"])}, b""
        if "file" not in entry:
            status = int(entry.get("status", 404))
            return status, {"content-type": "text/plain; charset=utf-8", **entry.get("headers", {})}, b""
        body_path = (self.root / str(entry["file"])).resolve()
        if not body_path.is_relative_to(self.root.resolve()) or not body_path.is_file():
            raise InputError(f"pages.json: {url}: file not found in the world: {entry['file']}")
        ctype = entry.get("content_type") or _guess_type(body_path)
        return (
            int(entry.get("status", 200)),
            {"content-type": ctype, **entry.get("headers", {})},
            body_path.read_bytes(),
        )

    def _page_entry(self, url: str) -> dict[str, Any] | None:
        pages = self.pages
        for candidate in (url, url.rstrip("/"), url.rstrip("/") + "/"):
            if candidate in pages:
                return pages[candidate]
        raw = re.match(r"^https://raw\.githubusercontent\.com/([^/]+)/([^/]+)/[^/]+/README\.md$", url)
        if raw:
            for candidate in (
                f"https://github.com/{raw.group(1)}/{raw.group(2)}",
                f"https://github.com/{raw.group(1)}/{raw.group(2)}/",
            ):
                entry = pages.get(candidate)
                if entry and "file" in entry:
                    ctype = entry.get("content_type") or _guess_type(Path(str(entry["file"])))
                    if not ctype.startswith("text/html"):
                        return entry
        return None

    def page_urls(self) -> list[str]:
        return sorted(self.pages)

    def paper_html(self, arxiv_id: str) -> bytes | None:
        """A paper's ``full_text`` as an HTML page (``# Heading`` lines become headings), or ``None``."""
        return self.paper_html_of(self.papers.get(arxiv_id))

    @staticmethod
    def paper_html_of(paper: dict[str, Any] | None) -> bytes | None:
        """``paper_html`` for a paper record."""
        if not paper or not paper.get("full_text"):
            return None
        text = str(paper["full_text"])
        if text.lstrip().startswith("<"):
            return text.encode("utf-8")
        parts = [
            f"<html><head><title>{html.escape(str(paper.get('title', '')))}</title></head><body><article>"
        ]
        for block in re.split(r"\n\s*\n", text):
            block = block.strip()
            heading = re.match(r"^(#{1,6})\s+(.*)$", block)
            if heading and "\n" not in block:
                level = min(6, len(heading.group(1)) + 1)
                parts.append(f"<h{level}>{html.escape(heading.group(2))}</h{level}>")
            elif block:
                parts.append(f"<p>{html.escape(block)}</p>")
        parts.append("</article></body></html>")
        return "\n".join(parts).encode("utf-8")


def _guess_type(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".md", ".markdown"):
        return "text/markdown; charset=utf-8"
    guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return guessed + ("; charset=utf-8" if guessed.startswith("text/") else "")


class WorldTransport(httpx.AsyncBaseTransport):
    """Answers web requests from a world's pages; hosts in ``passthrough`` go to the network."""

    def __init__(self, world: World, passthrough: tuple[str, ...] = ()) -> None:
        self.world = world
        self.passthrough = passthrough
        self._network = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        netloc = request.url.netloc.decode("ascii")
        if netloc in self.passthrough:
            return await self._network.handle_async_request(request)
        status, headers, body = self.world.page(str(request.url))
        return httpx.Response(status, headers=headers, content=body, request=request)

    async def aclose(self) -> None:
        await self._network.aclose()
