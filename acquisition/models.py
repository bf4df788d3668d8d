"""What the acquisition layer returns: plain pydantic models, JSON-serializable, equal across record and replay."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

PageKind = Literal["github", "blog", "hf_dataset", "other"]
LinkKind = Literal["arxiv", "hf_paper", "github", "blog", "hf_dataset"]


class DatasetInfo(BaseModel):
    """A Hub dataset's metadata, as ``huggingface_hub`` reports it."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Canonical repo id, org/name")
    created_at: datetime | None = Field(default=None, description="When the repo was created")
    last_modified: datetime | None = Field(default=None, description="Last commit time")
    downloads: int | None = Field(default=None, description="Downloads over the last 30 days")
    likes: int | None = None
    tags: list[str] = Field(default_factory=list)
    card_data: dict[str, Any] = Field(default_factory=dict, description="The card's YAML metadata")
    gated: bool = False
    private: bool = False
    sha: str | None = Field(default=None, description="Head commit")


class Card(BaseModel):
    """A dataset card (README.md): raw text, YAML front matter and markdown body.

    Broken YAML is not an exception: ``front_matter`` is then empty, ``yaml_error`` says why and ``body`` is the text
    after the front matter block.
    """

    repo_id: str
    url: str
    raw: str
    front_matter: dict[str, Any] = Field(default_factory=dict)
    body: str = ""
    yaml_error: str | None = None


class Page(BaseModel):
    """A fetched web page, pruned to its main text."""

    url: str = Field(description="The URL that was asked for")
    final_url: str = Field(description="Where the content came from, after redirects (raw README for GitHub)")
    kind: PageKind
    title: str | None = None
    text: str = Field(description="Main text: navigation, scripts and markdown code blocks dropped")
    content_type: str
    status: int


class Paper(BaseModel):
    """An arXiv paper's metadata, and optionally its data-construction sections."""

    arxiv_id: str
    title: str
    abstract: str
    authors: list[str] = Field(default_factory=list)
    published: datetime
    url: str
    text: str | None = Field(default=None, description="Full text pruned to data-construction sections")


class Link(BaseModel):
    """A link found in a card."""

    model_config = ConfigDict(frozen=True)

    kind: LinkKind
    url: str
    ref: str = Field(description="arXiv id, GitHub owner/repo, dataset id, or the URL for blogs")
    origin: Literal["front_matter", "body"]


class AcquisitionStats(BaseModel):
    """Counters for a run summary. Updated from the event loop and from the Hub/arXiv worker threads."""

    requests: int = Field(default=0, description="Requests sent to a server")
    retries: int = Field(default=0, description="Attempts repeated after a retryable failure")
    replayed: int = Field(default=0, description="Answers taken from a snapshot")
    recorded: int = Field(default=0, description="Answers written to a snapshot")
    failures: dict[str, int] = Field(default_factory=dict, description="Failures per error kind")
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def bump(self, counter: Literal["requests", "retries", "replayed", "recorded"]) -> None:
        """Add one to a counter."""
        with self._lock:
            setattr(self, counter, getattr(self, counter) + 1)

    def fail(self, kind: str) -> None:
        """Count one failure of ``kind`` (an error class name)."""
        with self._lock:
            self.failures[kind] = self.failures.get(kind, 0) + 1
