"""The one way the project talks to an OpenAI-compatible chat model: tracing (extraction, canonicalization) and the
LLM-as-judge scorers both go through here.

Any server that speaks the OpenAI chat API works: vLLM, a llama.cpp server, OpenAI itself. ``LLMConfig`` says how to
reach it; it is built from the ``[llm]`` table of the config file (a plain mapping) and the environment
(``ODA_LLM_BASE_URL``, ``ODA_LLM_MODEL``); the API key comes from the environment only (``ODA_LLM_API_KEY``, else
``OPENAI_API_KEY``).

``complete(config, prompt, parse)`` sends one user message and returns a value, never raises for what the model
or the server does:

- ``LLMReply(value, ...)``: ``parse`` accepted the reply's text;
- ``LLMFailure(kind, message, ...)``: the model refused (``refused``), the server rejected the request
  (``rejected``: a 4xx other than 408/409/429), the server asked to wait longer than ``max_backoff_s``
  (``rate_limited``), or every attempt failed (``exhausted``).

What is retried, at most ``max_retries`` times after the first attempt:

- timeouts, connection errors, 408, 409, 429 and 5xx replies, after a pause: the server's ``Retry-After`` (or
  ``retry-after-ms``) when it sends one, never less; otherwise exponential backoff (``backoff_s`` doubled on each
  retry, capped at ``max_backoff_s``) with jitter, so concurrent callers do not retry in step;
- an unusable reply (empty, truncated with ``finish_reason == "length"``, or one that ``parse`` rejects with a
  ``ValueError``), at once: the server is fine, the answer was not;
- a refusal only when the caller asks for it (``retry_refusals=True``); otherwise it ends the request at once.

With ``json_mode`` the request asks for ``response_format={"type": "json_object"}``; a server that rejects that
option is asked again without it (that request costs no attempt), and ``parse`` still reads the text.

The ``openai`` client's own retries are switched off (``max_retries=0``): they cover HTTP failures only, with a
fixed backoff, while an invalid or truncated answer must be retried too, within the same budget.
"""

from __future__ import annotations

import asyncio
import difflib
import email.utils
import json
import os
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from oda.errors import ConfigError
from oda.loops import PerLoop

if TYPE_CHECKING:
    import openai

T = TypeVar("T")

API_KEY_VARS = ("ODA_LLM_API_KEY", "OPENAI_API_KEY")
"""Where the API key is read from, first match wins (never from the config file)."""
BASE_URL_VAR = "ODA_LLM_BASE_URL"
MODEL_VAR = "ODA_LLM_MODEL"

RETRYABLE_STATUS = frozenset({408, 409, 429})
"""Client-error statuses worth another attempt (every 5xx is, too)."""

_REFUSAL_RE = re.compile(
    r"^\s*(?:i(?:'m| am)\s+sorry|i can(?:no|')t|i(?:'m| am) (?:not able|unable)|as an ai)", re.IGNORECASE
)
_jitter = random.Random()


def api_key_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """The API key from ``ODA_LLM_API_KEY``, else ``OPENAI_API_KEY`` (``None`` when neither is set)."""
    env = os.environ if env is None else env
    for name in API_KEY_VARS:
        if env.get(name):
            return env[name]
    return None


@dataclass(kw_only=True)
class LLMConfig:
    """How to reach the LLM, and how hard to try.

    ``max_retries`` bounds the attempts after the first; ``backoff_s`` is the first pause after a server-side
    failure (doubled on each retry, capped at ``max_backoff_s``, which also bounds the ``Retry-After`` a server
    may ask for); ``max_concurrency`` bounds the requests in flight from one process; ``json_mode`` asks for
    ``response_format=json_object`` (servers that reject it are asked again without it).
    """

    base_url: str
    model: str
    api_key: str | None = field(default_factory=api_key_from_env, repr=False)
    timeout_s: float = 60.0
    max_retries: int = 2
    temperature: float = 0.0
    max_concurrency: int = 8
    max_tokens: int = 1024
    json_mode: bool = True
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0

    def __post_init__(self) -> None:
        if not self.base_url:
            raise ConfigError("llm.base_url must not be empty")
        if not self.model:
            raise ConfigError("llm.model must not be empty")
        if self.timeout_s <= 0:
            raise ConfigError("llm.timeout_s must be positive")
        if self.max_retries < 0:
            raise ConfigError("llm.max_retries must be >= 0")
        if self.max_concurrency < 1:
            raise ConfigError("llm.max_concurrency must be >= 1")
        if self.backoff_s < 0 or self.max_backoff_s < 0:
            raise ConfigError("llm.backoff_s and llm.max_backoff_s must be >= 0")

    @classmethod
    def table_keys(cls) -> tuple[str, ...]:
        """The keys an ``[llm]`` table may hold (everything but the key, which only the environment gives)."""
        return tuple(f.name for f in fields(cls) if f.name != "api_key")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> LLMConfig | None:
        """The LLM that ``values`` (the ``[llm]`` keys, already merged from the file, the environment and options)
        describe, or ``None`` when they name no base URL or model.

        Keys set to ``None`` keep the defaults. An unknown key is a ``ConfigError`` that names the closest known
        one; the API key is never among them (it comes from the environment).
        """
        known = cls.table_keys()
        for key in values:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
                raise ConfigError(f"[llm]: unknown key {key!r}{hint}")
        given = {k: v for k, v in values.items() if v is not None}
        if not given.get("base_url") or not given.get("model"):
            return None
        try:
            return cls(**given)
        except TypeError as exc:
            raise ConfigError(f"[llm]: {exc}") from exc

    @classmethod
    def from_table(
        cls, table: Mapping[str, Any], env: Mapping[str, str] | None = None, **overrides: Any
    ) -> LLMConfig | None:
        """The configured LLM, or ``None`` when no base URL or model is configured.

        Precedence: ``overrides`` (non-None values), then ``env`` (``ODA_LLM_BASE_URL``, ``ODA_LLM_MODEL``, the API
        key variables; the process environment when ``None``), then ``table`` (the ``[llm]`` table).
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = dict(table)
        values["base_url"] = env.get(BASE_URL_VAR) or table.get("base_url")
        values["model"] = env.get(MODEL_VAR) or table.get("model")
        values.update({k: v for k, v in overrides.items() if v is not None})
        config = cls.from_mapping(values)
        if config is not None:
            config.api_key = api_key_from_env(env)
        return config

    def client(self) -> openai.AsyncOpenAI:
        """A fresh async client; its own retries are off (``complete`` bounds every attempt itself)."""
        import openai

        return openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=self.api_key or "not-needed",
            timeout=self.timeout_s,
            max_retries=0,
            http_client=_aiohttp_client(self.timeout_s),
        )


def _aiohttp_client(timeout_s: float) -> Any:
    """openai's own HTTP client on its aiohttp transport, which parses HTTP in C: about a third less CPU per call
    than the default transport. ``None`` (the default transport) where this openai release has no such client or
    aiohttp is missing."""
    import openai

    factory = getattr(openai, "DefaultAioHttpClient", None)
    if factory is None:
        return None
    try:
        return factory(timeout=timeout_s)
    except RuntimeError:  # openai's placeholder when its aiohttp extra is not installed
        return None


class LoopClients(PerLoop["openai.AsyncOpenAI"]):
    """One client per running event loop, reused by every call made on that loop: building a client costs tens
    of milliseconds (its TLS context), and a client's connection pool belongs to the loop that opened it."""

    def __init__(self, config: LLMConfig) -> None:
        super().__init__(config.client)
        self.config = config

    async def aclose(self) -> None:
        """Close the running loop's client (the others belong to loops this one cannot await on)."""
        client = self.pop()
        if client is not None:
            await client.close()


# --- outcomes ---------------------------------------------------------------------------------------------------

FailureKind = Literal["refused", "rejected", "rate_limited", "exhausted"]


@dataclass(frozen=True)
class LLMReply(Generic[T]):
    """A usable answer: what ``parse`` made of the reply's text."""

    value: T
    attempts: int
    """Attempts it took (a request re-sent without ``response_format`` is not one)."""
    requests: int
    """HTTP requests sent."""


@dataclass(frozen=True)
class LLMFailure:
    """No usable answer. ``message`` is for people; ``last_error`` is what went wrong on the last attempt."""

    kind: FailureKind
    message: str
    last_error: str
    attempts: int
    requests: int

    def __str__(self) -> str:
        return self.message


def first_json_object(text: str) -> Any:
    """Parse the first JSON object in ``text`` (tolerates code fences and prose around it); ``ValueError`` if none."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
            return value
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
    raise ValueError("no complete JSON object in the reply")


def refusal_of(refusal: str | None, content: str | None) -> str | None:
    """The refusal in a reply: the API's ``refusal`` field, or content that opens like one and holds no JSON."""
    if refusal:
        return refusal
    if content and "{" not in content and _REFUSAL_RE.match(content):
        return content
    return None


def retry_after_s(headers: Mapping[str, str] | None) -> float | None:
    """The pause a server asks for: ``retry-after-ms``, or ``Retry-After`` in seconds or as an HTTP date."""
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_delay_s(config: LLMConfig, retry: int) -> float:
    """The pause before retry number ``retry`` (1, 2, ...) when the server named none: the capped exponential
    backoff, scaled by a random factor in [0.5, 1)."""
    ceiling = min(config.max_backoff_s, config.backoff_s * 2.0 ** (retry - 1))
    return ceiling * _jitter.uniform(0.5, 1.0)


def _rejects_json_mode(exc: openai.APIStatusError) -> bool:
    return exc.status_code in (400, 422) and "response_format" in str(exc).lower()


@dataclass
class _Attempts:
    """The bookkeeping of one ``complete`` call."""

    config: LLMConfig
    attempts: int = 0
    requests: int = 0
    retries: int = 0
    errors: list[str] = field(default_factory=list)

    def failure(self, kind: FailureKind, message: str, last_error: str) -> LLMFailure:
        return LLMFailure(kind, message, last_error, self.attempts, self.requests)

    def exhausted(self) -> LLMFailure:
        plural = "" if self.attempts == 1 else "s"
        message = f"no valid answer after {self.attempts} attempt{plural}: " + "; ".join(self.errors[-3:])
        return self.failure("exhausted", message, self.errors[-1] if self.errors else "")

    async def pause(self, headers: Mapping[str, str] | None) -> LLMFailure | None:
        """Wait before the next attempt after a server-side failure (not after the last one); a failure when the
        server asks for a longer wait than ``max_backoff_s``."""
        if self.attempts > self.config.max_retries:
            return None
        self.retries += 1
        asked = retry_after_s(headers)
        if asked is None:
            await asyncio.sleep(backoff_delay_s(self.config, self.retries))
            return None
        if asked > self.config.max_backoff_s:
            message = (
                f"the LLM server asks to retry after {asked:g}s, more than max_backoff_s "
                f"({self.config.max_backoff_s:g}s)"
            )
            return self.failure("rate_limited", message, self.errors[-1] if self.errors else message)
        await asyncio.sleep(asked * _jitter.uniform(1.0, 1.1))  # never sooner than asked
        return None


async def complete(
    config: LLMConfig,
    prompt: str,
    parse: Callable[[str], T],
    *,
    client: openai.AsyncOpenAI | None = None,
    retry_refusals: bool = False,
) -> LLMReply[T] | LLMFailure:
    """Send ``prompt`` as one user message and ``parse`` the reply's text (see the module docstring).

    ``parse`` raises ``ValueError`` for an unusable reply (that attempt is retried). ``client`` is reused when
    given (and left open); otherwise one is made and closed here.
    """
    import openai
    from openai.types.chat import ChatCompletion

    own_client = client is None
    active = client if client is not None else config.client()
    state = _Attempts(config)
    json_mode = config.json_mode
    try:
        while state.attempts <= config.max_retries:
            state.attempts += 1
            state.requests += 1
            request: dict[str, Any] = {
                "model": config.model,
                "messages": [{"role": "user", "content": prompt}],
                "temperature": config.temperature,
                "max_tokens": config.max_tokens,
            }
            if json_mode:
                request["response_format"] = {"type": "json_object"}
            try:
                # ``request`` is plain JSON already: posted as it is (the client's generic ``post``), since the
                # typed ``create`` would walk it through the SDK's parameter transform, with nothing to convert
                response = await active.post("/chat/completions", body=request, cast_to=ChatCompletion)
            except (openai.APIConnectionError, TimeoutError) as exc:  # a timeout is a connection error too
                timed_out = isinstance(exc, (openai.APITimeoutError, TimeoutError))
                described = f"{type(exc).__name__}: {str(exc)[:200]}"
                state.errors.append(f"timed out after {config.timeout_s:g}s" if timed_out else described)
                if (stop := await state.pause(None)) is not None:
                    return stop
                continue
            except openai.APIStatusError as exc:
                described = f"{type(exc).__name__}: {str(exc)[:200]}"
                if json_mode and _rejects_json_mode(exc):
                    json_mode = False  # asked again without it; that costs no attempt
                    state.attempts -= 1
                    continue
                if exc.status_code not in RETRYABLE_STATUS and exc.status_code < 500:
                    state.errors.append(described)
                    return state.failure("rejected", f"the LLM rejected the request: {exc}", described)
                state.errors.append(described)
                if (stop := await state.pause(exc.response.headers)) is not None:
                    return stop
                continue
            if not response.choices:
                state.errors.append("empty reply")
                continue
            choice = response.choices[0]
            refused = refusal_of(choice.message.refusal, choice.message.content)
            if refused is not None:
                described = f"refused: {refused[:200]}"
                state.errors.append(described)
                if retry_refusals:
                    continue
                return state.failure("refused", f"the LLM refused: {refused[:200]}", described)
            if choice.finish_reason == "length":
                state.errors.append("truncated reply (finish_reason=length)")
                continue
            try:
                value = parse(choice.message.content or "")
            except ValueError as exc:
                state.errors.append(f"invalid reply: {str(exc)[:300]}")
                continue
            return LLMReply(value, state.attempts, state.requests)
    finally:
        if own_client:
            await active.close()
    return state.exhausted()


async def complete_json(
    config: LLMConfig, prompt: str, *, client: openai.AsyncOpenAI | None = None
) -> LLMReply[Any] | LLMFailure:
    """``complete`` that reads the first JSON object of the reply (code fences and chatter around it are fine)."""
    return await complete(config, prompt, first_json_object, client=client)
