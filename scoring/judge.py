"""LLM-as-judge scorers through the ``openai`` client, against any OpenAI-compatible server.

``judge_q`` rates the instruction alone (Difficulty, Clarity, Coherence, Completeness, Complexity, Correctness,
Meaningfulness); ``judge_qa`` rates the pair (Relevance, Clarity, Coherence, Completeness, Complexity,
Correctness, Meaningfulness). One request per sample asks for every axis of its family, on the paper's 1–10
scale, with the rubric prompt ``prompts/judge_q.vN.md`` / ``judge_qa.vN.md``.

- **Structured output.** The reply must be one JSON object ``{axis: {"score": int 1..10, "reason": str}}``,
  validated with pydantic. Malformed JSON, a missing axis, an out-of-range score, a refusal or a truncated reply
  is retried; so are timeouts, connection errors, 429 and 5xx. The requests go through the project's LLM layer
  (``oda.llm``): retries are bounded (``max_retries``), server-side failures wait for the server's
  ``Retry-After`` or an exponential backoff with jitter, and a server that rejects JSON mode is asked again
  without it. After the last attempt the sample gets an error on every axis, never a zero. A 4xx other than
  408/409/429 is not retried.
- **Bounded, high concurrency.** ``concurrency`` workers (default 64) on one event loop take the samples of a
  batch in turn; ``AsyncOpenAI`` clients are reused across batches, one per eight workers.
- **Cache.** Each valid rating is stored in SQLite keyed by (sample hash, axis, model, prompt version). The hash
  covers only what the judge sees (the instruction for Q, the pair for QA), so a rerun, or another dataset with
  the same sample, costs no request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, Field, ValidationError

from oda.errors import ConfigError
from oda.llm import LLMConfig, LLMFailure, api_key_from_env, complete
from oda.settings import DEFAULT_JUDGE_CACHE
from prompts import load_prompt
from scoring.base import Axis, Family, Metric, MetricScores, Score, Scorer, register
from scoring.samples import Sample

T = TypeVar("T")

RUBRICS: dict[str, str] = {
    "Difficulty": "how hard the instruction is for a typical advanced LLM to answer well",
    "Relevance": "how directly the response addresses the instruction, without extraneous content",
    "Clarity": "how clear and unambiguous the text is",
    "Coherence": "how logical, consistent and well-structured the text is",
    "Completeness": "whether the instruction gives all needed information / the response answers every part",
    "Complexity": "how complex the concepts and tasks involved are",
    "Correctness": "factual accuracy and logical soundness",
    "Meaningfulness": "how purposeful, useful and non-generic the content is",
}
Q_AXES = ("Difficulty", "Clarity", "Coherence", "Completeness", "Complexity", "Correctness", "Meaningfulness")
QA_AXES = ("Relevance", "Clarity", "Coherence", "Completeness", "Complexity", "Correctness", "Meaningfulness")
SCALE = (1, 10)
#: one client (and connection pool) per this many concurrent requests: httpcore's pool scans every connection
#: on each request, so one pool of 64 connections costs more CPU than eight pools of eight
REQUESTS_PER_CLIENT = 8
_INSTRUCTION_SLOT = "\x00INSTRUCTION\x00"
_RESPONSE_SLOT = "\x00RESPONSE\x00"


class AxisRating(BaseModel):
    """One axis of a judge's reply."""

    score: int = Field(ge=SCALE[0], le=SCALE[1], description="integer rating on the 1-10 scale")
    reason: str = Field(default="", max_length=4000, description="one short sentence")


class JudgeReplyError(ValueError):
    """The judge answered, but not with a valid rating object."""


def parse_reply(content: str | None, axes: Sequence[str]) -> dict[str, AxisRating]:
    """Validate a judge's reply; raise ``JudgeReplyError`` saying what is wrong."""
    if content is None or not content.strip():
        raise JudgeReplyError("empty reply")
    text = content.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text[text.find("{") :] if "{" in text else text
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise JudgeReplyError(f"no JSON object in reply: {content[:80]!r}")
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError as exc:
        raise JudgeReplyError(f"malformed JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise JudgeReplyError("reply is not a JSON object")
    lowered = {str(k).strip().lower(): v for k, v in data.items()}
    out: dict[str, AxisRating] = {}
    for axis in axes:
        raw = lowered.get(axis.lower())
        if raw is None:
            raise JudgeReplyError(f"axis {axis!r} missing from reply")
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            raw = {"score": raw}
        try:
            out[axis] = AxisRating.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise JudgeReplyError(f"axis {axis!r}: {first['msg']} (got {first.get('input')!r})") from exc
    return out


class JudgeCache:
    """SQLite cache of valid ratings keyed by (sample hash, axis, model, prompt version)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS judge_cache (sample_hash TEXT, axis TEXT, model TEXT, prompt TEXT,"
                " score REAL NOT NULL, reason TEXT, PRIMARY KEY (sample_hash, axis, model, prompt))"
            )

    def get_many(
        self, hashes: Sequence[str], model: str, prompt: str
    ) -> dict[tuple[str, str], tuple[float, str]]:
        found: dict[tuple[str, str], tuple[float, str]] = {}
        unique = list(dict.fromkeys(hashes))
        with self._lock:
            for i in range(0, len(unique), 500):
                chunk = unique[i : i + 500]
                rows = self._db.execute(
                    f"SELECT sample_hash, axis, score, reason FROM judge_cache WHERE model=? AND prompt=?"
                    f" AND sample_hash IN ({','.join('?' * len(chunk))})",
                    [model, prompt, *chunk],
                ).fetchall()
                for h, axis, score, reason in rows:
                    found[(h, axis)] = (score, reason or "")
        return found

    def put_many(self, rows: Sequence[tuple[str, str, str, str, float, str]]) -> None:
        if not rows:
            return
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO judge_cache VALUES (?, ?, ?, ?, ?, ?)", rows)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class JudgeScorer(Scorer):
    """Shared machinery of ``judge_q`` and ``judge_qa``; see the module docstring."""

    family = Family.JUDGE
    requires = ("openai",)
    axis: ClassVar[Axis]
    axes: ClassVar[tuple[str, ...]]
    prompt_name: ClassVar[str]
    batch_size = 512

    @classmethod
    def axes_for(cls, axis: str) -> tuple[str, ...]:
        return Q_AXES if axis == "Q" else QA_AXES

    def __init__(
        self,
        *,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        concurrency: int = 64,
        max_retries: int = 3,
        timeout_s: float = 60.0,
        backoff_s: float = 0.5,
        temperature: float = 0.0,
        max_tokens: int = 1024,
        max_chars: int = 24_000,
        prompt_version: str | None = None,
        cache_path: str | os.PathLike[str] | None = None,
        axes: Sequence[str] | None = None,
    ) -> None:
        if not base_url or not model:
            raise ConfigError(
                f"scorer {self.name!r} needs an OpenAI-compatible server: pass --base-url and --judge-model, "
                "or set [llm] base_url and model in the config"
            )
        self.base_url: str = base_url
        self.model: str = model
        if concurrency < 1 or max_retries < 0:
            raise ConfigError("concurrency must be >= 1 and max_retries >= 0")
        self.llm = LLMConfig(
            base_url=self.base_url,
            model=self.model,
            api_key=api_key or api_key_from_env() or "none",
            timeout_s=timeout_s,
            max_retries=max_retries,
            temperature=temperature,
            max_concurrency=concurrency,
            max_tokens=max_tokens,
            backoff_s=backoff_s,
        )
        self.concurrency, self.max_chars = concurrency, max_chars
        self.prompt = load_prompt(self.prompt_name, prompt_version)
        if axes:
            unknown = [a for a in axes if a not in self.axes]
            if unknown:
                raise ConfigError(f"{self.name}: unknown axes {unknown}; known: {', '.join(self.axes)}")
            self.selected = tuple(a for a in self.axes if a in axes)
        else:
            self.selected = self.axes
        names = {metric_name(a) for a in self.selected}
        self.metrics = tuple(m for m in type(self).metrics if m.name in names)  # type: ignore[misc]
        self.cache = JudgeCache(cache_path or DEFAULT_JUDGE_CACHE)
        self.requests_sent = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"{self.name}-loop", daemon=True)
        self._thread.start()
        self._clients: dict[int, Any] = {}

    def cache_key(self) -> str:
        return f"{self.name}:{self.model}:{self.prompt.id}"

    # --- prompt -----------------------------------------------------------------------------------------
    def _clip(self, text: str) -> str:
        if len(text) <= self.max_chars:
            return text
        return text[: self.max_chars] + "\n[... truncated]"

    def render(self, sample: Sample) -> str:
        """The user message for one sample."""
        rubric = "\n".join(f"- {a}: {RUBRICS[a]}" for a in self.selected)
        schema = json.dumps({a: {"score": "<1-10>", "reason": "<one sentence>"} for a in self.selected})
        values = {"rubric": rubric, "schema": schema, "instruction": _INSTRUCTION_SLOT}
        if self.axis is Axis.QA:
            values["response"] = _RESPONSE_SLOT
        text = self.prompt.render(**values)
        text = text.replace(_INSTRUCTION_SLOT, self._clip(sample.prompt))
        return text.replace(_RESPONSE_SLOT, self._clip(sample.response))

    def sample_hash(self, sample: Sample) -> str:
        h = hashlib.sha256(sample.prompt.encode("utf-8", "surrogatepass"))
        if self.axis is Axis.QA:
            h.update(b"\x00" + sample.response.encode("utf-8", "surrogatepass"))
        return h.hexdigest()

    # --- requests ---------------------------------------------------------------------------------------
    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result()

    def _get_client(self, index: int) -> Any:
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self.llm.client()
        return client

    async def _rate(self, sample: Sample, client: Any) -> dict[str, AxisRating] | str:
        """The sample's ratings, or the error that every one of its axes gets.

        A refusal is retried like any unusable reply: another attempt may rate the sample."""
        reply = await complete(
            self.llm,
            self.render(sample),
            lambda text: parse_reply(text, self.selected),
            client=client,
            retry_refusals=True,
        )
        self.requests_sent += reply.requests
        if not isinstance(reply, LLMFailure):
            return reply.value
        if reply.kind == "exhausted":
            return f"judge failed after {reply.attempts} attempts: {reply.last_error}"
        return f"judge request failed: {reply.last_error if reply.kind == 'rejected' else reply.message}"

    async def _rate_all(self, samples: Sequence[Sample]) -> list[dict[str, AxisRating] | str]:
        """``concurrency`` workers take samples in turn; every ``REQUESTS_PER_CLIENT`` workers share a client."""
        results: list[dict[str, AxisRating] | str] = [""] * len(samples)
        pending = iter(enumerate(samples))

        async def worker(slot: int) -> None:
            client = self._get_client(slot // REQUESTS_PER_CLIENT)
            for i, sample in pending:
                results[i] = await self._rate(sample, client)

        await asyncio.gather(*(worker(slot) for slot in range(min(self.concurrency, len(samples)))))
        return results

    def score_batch(self, samples: Sequence[Sample]) -> list[MetricScores]:
        hashes = [self.sample_hash(s) for s in samples]
        cached = self.cache.get_many(hashes, self.model, self.prompt.id)
        todo = [i for i, h in enumerate(hashes) if any((h, a) not in cached for a in self.selected)]
        fresh = self._run(self._rate_all([samples[i] for i in todo])) if todo else []
        results: dict[int, dict[str, AxisRating] | str] = dict(zip(todo, fresh, strict=True))
        rows = []
        out: list[MetricScores] = []
        for i, h in enumerate(hashes):
            scores: MetricScores = {}
            got = results.get(i)
            for a in self.selected:
                metric = metric_name(a)
                if got is None:
                    value, reason = cached[(h, a)]
                    scores[metric] = Score(value, reason=reason or None)
                elif isinstance(got, str):
                    scores[metric] = Score.failed(got)
                else:
                    rating = got[a]
                    scores[metric] = Score(float(rating.score), reason=rating.reason or None)
                    rows.append((h, a, self.model, self.prompt.id, float(rating.score), rating.reason))
            out.append(scores)
        self.cache.put_many(rows)
        return out

    def close(self) -> None:
        for client in self._clients.values():
            # closing a client whose server is gone is not worth failing a run for
            with contextlib.suppress(Exception):
                self._run(client.close())
        self._clients.clear()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():  # a loop still running cannot be closed; it ends with the process
            self._loop.close()
        self.cache.close()


def metric_name(axis_name: str) -> str:
    """``"Clarity"`` -> ``"judge_clarity"``."""
    return f"judge_{axis_name.lower()}"


@register
class JudgeQScorer(JudgeScorer):
    """LLM-as-judge on the instruction alone."""

    name = "judge_q"
    axis = Axis.Q
    axes = Q_AXES
    prompt_name = "judge_q"
    description = "LLM-as-judge on the instruction (1-10): " + ", ".join(Q_AXES)
    metrics = tuple(Metric(metric_name(a), Axis.Q, f"{a} (Q): {RUBRICS[a]}", scale=SCALE) for a in Q_AXES)


@register
class JudgeQAScorer(JudgeScorer):
    """LLM-as-judge on the instruction–response pair."""

    name = "judge_qa"
    axis = Axis.QA
    axes = QA_AXES
    prompt_name = "judge_qa"
    description = "LLM-as-judge on the pair (1-10): " + ", ".join(QA_AXES)
    metrics = tuple(Metric(metric_name(a), Axis.QA, f"{a} (QA): {RUBRICS[a]}", scale=SCALE) for a in QA_AXES)
