"""One sample model for every dataset format: alpaca, sharegpt, OpenAI ``messages``, and long-CoT traces.

``normalize_record(record, index)`` turns one raw record (a dict from JSONL, JSON or Parquet) into a ``Sample``,
or a ``SampleError`` that says why it cannot be scored. Formats are detected per record, so a file that mixes
formats is fine; the detected format is kept on the sample.

Decisions where the spec is silent:

- Multi-turn conversations are scored on their first user turn and the assistant turn that answers it.
- ``response`` keeps the whole assistant text, ``<think>`` block included; ``think`` holds the trace alone
  (from a ``reasoning_content``/``reasoning``/``think`` field, else from the response's think tags by the rules of
  ``scoring.think``: a closed block, or everything before a lone ``</think>`` as in R1-distilled data; an empty
  block or an unclosed ``<think>`` gives an empty trace), and ``final_response`` is the response without it.
  ``think`` is None only when the sample carries no trace and no think tag.
- A record with an empty response is skipped (``kind="skip"``), a record with no instruction is an error.
- ``answer`` is a reference answer (``answer``, ``reference_answer``, ``ground_truth``, ``gold``…) when the record
  also has a response field; when ``answer`` is the only response-like field, it is the response.
- A sample's id is the record's ``id`` (or ``idx``, ``uid``, ``sample_id``…) when it has one, else its position
  in the source (``"#0"``, ``"#1"``…), which is stable for an unchanged file and so keys resumable runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scoring.think import split_think

ID_KEYS = ("id", "idx", "uid", "uuid", "sample_id", "example_id", "_id")
INSTRUCTION_KEYS = ("instruction", "prompt", "question", "problem", "query", "input_text")
INPUT_KEYS = ("input", "context")
RESPONSE_KEYS = ("output", "response", "completion", "solution", "generation", "chosen")
ANSWER_KEYS = ("answer", "reference_answer", "ground_truth", "gold", "final_answer", "expected_answer")
THINK_KEYS = ("reasoning_content", "reasoning", "think", "thinking")
USER_ROLES = frozenset({"user", "human", "prompter"})
ASSISTANT_ROLES = frozenset({"assistant", "gpt", "model", "bot", "chatgpt"})


@dataclass(slots=True)
class Sample:
    """One instruction–response pair, whatever format it came from."""

    id: str
    instruction: str
    response: str
    input: str = ""
    answer: str | None = None
    think: str | None = None
    format: str = "alpaca"
    system: str | None = None

    def __post_init__(self) -> None:
        if self.think is None:
            self.think = split_think(self.response).think

    @property
    def prompt(self) -> str:
        """The instruction with its input, as a model sees it."""
        return f"{self.instruction}\n\n{self.input}" if self.input else self.instruction

    @property
    def final_response(self) -> str:
        """The response without its think trace (see ``scoring.think``)."""
        return split_think(self.response).answer


@dataclass(slots=True)
class SampleError:
    """A record that could not become a sample: ``kind`` is ``error`` (bad data) or ``skip`` (nothing to score)."""

    id: str
    reason: str
    kind: str = "error"
    source: str | None = field(default=None, compare=False)


def _text(value: Any) -> str | None:
    """A string field, or the text parts of an OpenAI content list; None when absent or not text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = [p.get("text", "") for p in value if isinstance(p, dict) and p.get("type", "text") == "text"]
        if parts and all(isinstance(p, str) for p in parts):
            return "".join(parts)
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _first(record: dict[str, Any], keys: tuple[str, ...]) -> tuple[str | None, str | None]:
    for key in keys:
        if key in record and record[key] is not None:
            return key, _text(record[key])
    return None, None


def _sample_id(record: dict[str, Any], index: int) -> str:
    for key in ID_KEYS:
        value = record.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            return str(value)
    return f"#{index}"


def _from_turns(turns: list[Any], role_key: str, text_key: str) -> tuple[str | None, str | None, str | None]:
    """(system, first user text, the assistant reply to it) from a list of turns."""
    system = user = assistant = None
    for turn in turns:
        if not isinstance(turn, dict):
            continue
        role = str(turn.get(role_key, "")).lower()
        text = _text(turn.get(text_key))
        if role == "system" and system is None and user is None:
            system = text
        elif role in USER_ROLES and user is None:
            user = text
        elif role in ASSISTANT_ROLES and user is not None:
            assistant = text
            break
    return system, user, assistant


def normalize_record(record: Any, index: int) -> Sample | SampleError:
    """Normalize one raw record (see the module docstring for the rules)."""
    if not isinstance(record, dict):
        return SampleError(f"#{index}", f"record is a {type(record).__name__}, expected a JSON object")
    sid = _sample_id(record, index)
    think_explicit = _first(record, THINK_KEYS)[1]
    answer_key, answer = _first(record, ANSWER_KEYS)
    system: str | None = None
    instruction_input = ""

    turns = None
    for key, role_key, text_key, fmt in (
        ("messages", "role", "content", "messages"),
        ("conversations", "from", "value", "sharegpt"),
        ("conversation", "from", "value", "sharegpt"),
    ):
        value = record.get(key)
        if isinstance(value, list):
            turns = (value, role_key, text_key, fmt)
            break
    if turns is not None:
        items, role_key, text_key, fmt = turns
        if items and isinstance(items[0], dict) and role_key not in items[0]:
            # sharegpt files sometimes use role/content, messages files from/value
            role_key, text_key = ("role", "content") if "role" in items[0] else ("from", "value")
        system, instruction, response = _from_turns(items, role_key, text_key)
        if instruction is None:
            return SampleError(sid, f"{fmt}: no user turn with text")
        if response is None:
            response = ""
    else:
        ikey, instruction = _first(record, INSTRUCTION_KEYS)
        rkey, response = _first(record, RESPONSE_KEYS)
        if rkey is None and answer_key is not None:
            response, answer = answer, None
        if ikey is None:
            known = ", ".join(sorted(str(k) for k in record)[:8])
            return SampleError(
                sid, f"no instruction field (looked for {', '.join(INSTRUCTION_KEYS)}); has: {known}"
            )
        if instruction is None:
            return SampleError(sid, f"field {ikey!r} is not text")
        if rkey is not None and response is None:
            return SampleError(sid, f"field {rkey!r} is not text")
        instruction_input = _first(record, INPUT_KEYS)[1] or ""
        fmt = "alpaca"
        system = _text(record.get("system"))
    if not instruction.strip():
        return SampleError(sid, "empty instruction", kind="skip")
    if response is None or not response.strip():
        return SampleError(sid, "empty response", kind="skip")
    sample = Sample(
        id=sid,
        instruction=instruction,
        input=instruction_input,
        response=response,
        answer=answer,
        think=think_explicit or None,
        format=fmt,
        system=system,
    )
    if sample.think is not None:
        sample.format += "+think"
    return sample
