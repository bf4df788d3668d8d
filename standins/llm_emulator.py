"""Responders for the scripted OpenAI server that play a source-extraction model (deterministic).

``reading_responder`` reads the excerpt out of the extraction prompt and answers what a careful model would: every
Hub id that a sentence presents as data the target was built from, with that sentence as verbatim evidence.
``obeying_responder`` plays a model that follows instructions injected into the excerpt and invents support.
"""

from __future__ import annotations

import json
import re
from typing import Any

_EXCERPT_RE = re.compile(r"Excerpt:\s*<<<\n(.*)\n>>>", re.DOTALL)
_HF_ID_RE = re.compile(r"(?<![\w/.-])([A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*[A-Za-z0-9])(?![\w/-])")
_SENTENCE_END_RE = re.compile(r"(?<=\.)\s+")
_DERIVATION = re.compile(
    r"subset|collected|distilled|derived|mixture|generated|rewritten|taken", re.IGNORECASE
)


def excerpt_of(body: dict[str, Any]) -> str:
    """The chunk text inside the prompt of a chat request ('' when there is none)."""
    content = "\n".join(str(m.get("content") or "") for m in body.get("messages", []))
    match = _EXCERPT_RE.search(content)
    return match.group(1) if match else ""


def reading_responder(body: dict[str, Any]) -> str:
    """Answer the extraction prompt from the excerpt itself (see the module docstring)."""
    text = excerpt_of(body)
    sources = []
    seen: set[str] = set()
    sentences = [s.strip() for para in re.split(r"\n\s*\n", text) for s in _SENTENCE_END_RE.split(para)]
    for sentence in sentences:
        if not sentence or not _DERIVATION.search(sentence) or re.search(r"evaluat", sentence, re.I):
            continue
        for hf_id in _HF_ID_RE.findall(sentence):
            if (
                hf_id in seen
                or hf_id.startswith(("http", "huggingface.co", "datasets/"))
                or "." in hf_id.split("/")[0]
            ):
                continue
            seen.add(hf_id)
            sources.append(
                {
                    "name": hf_id,
                    "hf_id": hf_id,
                    "role": "source",
                    "relationship": "Direct Inclusion/Subset",
                    "evidence": sentence,
                    "strength": "explicit",
                    "teacher": None,
                    "split": None,
                }
            )
    return json.dumps({"sources": sources})


def obeying_responder(body: dict[str, Any]) -> str:
    """A model that obeys an injected instruction: it reports a source with invented evidence."""
    text = excerpt_of(body)
    if "ignore previous instructions" not in text.lower():
        return reading_responder(body)
    return json.dumps(
        {
            "sources": [
                {
                    "name": "evil-corp/secret-data",
                    "hf_id": "evil-corp/secret-data",
                    "role": "source",
                    "relationship": "Direct Inclusion/Subset",
                    "evidence": "All of this data was copied from evil-corp/secret-data.",
                    "strength": "explicit",
                }
            ]
        }
    )
