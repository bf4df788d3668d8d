"""The curated catalog: well-known datasets and benchmarks with their aliases, and the model-name patterns."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, field_validator

from catalog.names import QUALIFIER, normalize_name
from graph_store.models import is_hf_id, validate_node_id
from oda.errors import ConfigError

CATALOG_PATH = Path(__file__).with_name("catalog.yaml")


class CatalogEntry(BaseModel):
    """One curated dataset or benchmark."""

    id: str
    name: str
    aliases: list[str] = Field(default_factory=list)
    also_ids: list[str] = Field(default_factory=list)
    is_benchmark: bool = False
    domains: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _check_id(cls, v: str) -> str:
        return validate_node_id(v)

    @field_validator("also_ids")
    @classmethod
    def _check_also_ids(cls, v: list[str]) -> list[str]:
        for repo in v:
            if not is_hf_id(repo):
                raise ValueError(f"also_ids: {repo!r} is not an org/name Hub id")
        return v

    @property
    def on_hub(self) -> bool:
        return not self.id.startswith("ext:")


@dataclass
class Catalog:
    """Curated entries indexed by normalized alias and by Hub id, plus the model-name patterns."""

    entries: list[CatalogEntry]
    model_patterns: list[re.Pattern[str]]
    by_key: dict[str, CatalogEntry] = field(default_factory=dict)
    by_id: dict[str, CatalogEntry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for entry in self.entries:
            for repo in [entry.id, *entry.also_ids]:
                if repo.lower() in self.by_id:
                    raise ConfigError(f"catalog: id {repo} is listed twice")
                self.by_id[repo.lower()] = entry
            for key in {normalize_name(entry.name), *(normalize_name(a) for a in entry.aliases)}:
                other = self.by_key.get(key)
                if other is not None and other.id != entry.id:
                    raise ConfigError(f"catalog: alias {key!r} names both {other.id} and {entry.id}")
                self.by_key[key] = entry
        # The repo part of each id is an implicit alias, unless an explicit alias already claims it or it is a
        # plain word ("camel-ai/physics" must not turn every "Physics" into a dataset).
        for entry in self.entries:
            for repo in [entry.id, *entry.also_ids] if entry.on_hub else []:
                part = repo.split("/", 1)[1]
                if not re.fullmatch(r"[A-Za-z]+", part):
                    self.by_key.setdefault(normalize_name(part), entry)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Catalog:
        """Load the shipped catalog (or the YAML file at ``path``)."""
        return _load_catalog(str(path or CATALOG_PATH))

    def lookup(self, name: str) -> CatalogEntry | None:
        """The entry whose name or alias matches ``name`` once normalized, also with a generic qualifier
        removed ("GSM8K problems", "MATH (train)", "stackexchange (cooking)")."""
        entry = self.by_key.get(normalize_name(name))
        if entry is not None:
            return entry
        bare = QUALIFIER.sub("", name).strip()
        return self.by_key.get(normalize_name(bare)) if bare and bare != name else None

    def by_hub_id(self, repo_id: str) -> CatalogEntry | None:
        """The entry that lists ``repo_id`` as its id or one of its ``also_ids``."""
        return self.by_id.get(repo_id.lower())

    def is_model_name(self, name: str) -> bool:
        """True when ``name`` (or the repo part of an ``org/name`` id) is a model, not a dataset."""
        text = name.strip()
        if self.lookup(text) is not None or self.by_hub_id(text) is not None:
            return False
        candidates = [text]
        if "/" in text:
            candidates.append(text.rsplit("/", 1)[1])
        return any(p.fullmatch(c.lower()) for p in self.model_patterns for c in candidates)

    @property
    def benchmark_ids(self) -> set[str]:
        """Every id (canonical and alternative) of a benchmark entry."""
        return {repo for e in self.entries if e.is_benchmark for repo in [e.id, *e.also_ids]}


@lru_cache(maxsize=4)
def _load_catalog(path: str) -> Catalog:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read catalog {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise ConfigError(f"catalog {path}: expected a mapping with an 'entries' list")
    try:
        entries = [CatalogEntry.model_validate(e) for e in data["entries"]]
        patterns = [re.compile(p, re.IGNORECASE) for p in data.get("models", [])]
    except (ValueError, re.error) as exc:
        raise ConfigError(f"catalog {path}: {exc}") from exc
    return Catalog(entries=entries, model_patterns=patterns)
