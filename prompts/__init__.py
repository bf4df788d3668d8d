"""Versioned prompt templates, stored as files and loaded by name.

A prompt lives at ``prompts/<name>.<version>.md`` (e.g. ``extract_sources.v1.md``). ``load_prompt(name)`` returns
the newest version; ``load_prompt(name, "v1")`` a given one. The version is part of every cache key and of every
record an LLM produced, so results stay traceable to the exact prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

PROMPT_DIR = Path(__file__).parent
_NAME_RE = re.compile(r"^(?P<name>[a-z0-9_]+)\.(?P<version>v\d+)\.md$")


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.name}.{self.version}"

    def render(self, **values: str) -> str:
        """Fill ``{{key}}`` placeholders; unknown placeholders are an error."""
        out = self.text
        for key, value in values.items():
            out = out.replace("{{" + key + "}}", value)
        missing = re.findall(r"\{\{([a-z_]+)\}\}", out)
        if missing:
            raise KeyError(f"prompt {self.id} needs values for: {', '.join(sorted(set(missing)))}")
        return out


def available() -> dict[str, list[str]]:
    """Prompt name -> versions, oldest first."""
    found: dict[str, list[str]] = {}
    for path in PROMPT_DIR.glob("*.md"):
        m = _NAME_RE.match(path.name)
        if m:
            found.setdefault(m["name"], []).append(m["version"])
    return {k: sorted(v, key=lambda s: int(s[1:])) for k, v in found.items()}


def load_prompt(name: str, version: str | None = None) -> Prompt:
    versions = available().get(name)
    if not versions:
        raise KeyError(f"no prompt named {name!r}; known: {', '.join(sorted(available())) or 'none'}")
    chosen = version or versions[-1]
    if chosen not in versions:
        raise KeyError(f"prompt {name!r} has no version {chosen!r}; known: {', '.join(versions)}")
    text = (PROMPT_DIR / f"{name}.{chosen}.md").read_text(encoding="utf-8")
    return Prompt(name=name, version=chosen, text=text)
