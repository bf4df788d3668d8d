"""The shared LLM layer (``oda.llm``) against the scripted OpenAI-compatible server on loopback: backoff and
``Retry-After``, JSON-mode fallback, refusals and rejections as values, and the ``[llm]`` table."""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import time
import weakref

import pytest

from oda.errors import ConfigError
from oda.llm import (
    LLMConfig,
    LLMFailure,
    LLMReply,
    LoopClients,
    backoff_delay_s,
    complete,
    complete_json,
    first_json_object,
    retry_after_s,
)
from oda.loops import PerLoop
from standins.openai_compat import Reply, serve_openai

OK = json.dumps({"answer": 42})


def config(server, **kw) -> LLMConfig:
    values = dict(base_url=server.base_url, model="scripted", api_key="test", timeout_s=5, max_retries=2)
    values.update(kw)
    return LLMConfig(**values)


def gaps(server) -> list[float]:
    """Seconds between consecutive requests, as the server saw them arrive."""
    times = server.received_at
    return [b - a for a, b in itertools.pairwise(times)]


# --- backoff ------------------------------------------------------------------------------------------------


async def test_a_429_waits_as_long_as_retry_after_says():
    replies = [Reply(status=429, headers={"Retry-After": "1"}), Reply(content=OK)]
    with serve_openai(replies) as server:
        started = time.monotonic()
        reply = await complete_json(config(server, backoff_s=0.0), "q")
        elapsed = time.monotonic() - started
    assert isinstance(reply, LLMReply) and reply.value == {"answer": 42}
    assert (reply.attempts, reply.requests) == (2, 2)
    assert gaps(server)[0] >= 1.0 and elapsed >= 1.0


async def test_retry_after_in_milliseconds_is_honoured_too():
    replies = [Reply(status=503, headers={"retry-after-ms": "400"}), Reply(content=OK)]
    with serve_openai(replies) as server:
        reply = await complete_json(config(server, backoff_s=0.0), "q")
    assert isinstance(reply, LLMReply)
    assert gaps(server)[0] >= 0.4


async def test_a_wait_longer_than_max_backoff_is_a_failure_not_a_hang():
    with serve_openai([Reply(status=429, headers={"Retry-After": "120"})]) as server:
        started = time.monotonic()
        reply = await complete_json(config(server, max_backoff_s=5.0), "q")
        elapsed = time.monotonic() - started
    assert isinstance(reply, LLMFailure) and reply.kind == "rate_limited"
    assert "retry after 120s" in reply.message and "max_backoff_s" in reply.message
    assert len(server.requests) == 1 and elapsed < 5.0


async def test_server_errors_back_off_exponentially():
    replies = [Reply(status=500), Reply(status=502), Reply(content=OK)]
    with serve_openai(replies) as server:
        reply = await complete_json(config(server, backoff_s=0.3, max_backoff_s=10.0), "q")
    assert isinstance(reply, LLMReply) and reply.attempts == 3
    first, second = gaps(server)
    # jitter scales each pause by [0.5, 1): at least half of 0.3 s, then at least half of 0.6 s
    assert first >= 0.15 and second >= 0.3


def test_backoff_is_capped_and_jittered():
    cfg = LLMConfig(base_url="http://x/v1", model="m", backoff_s=1.0, max_backoff_s=3.0)
    first = [backoff_delay_s(cfg, 1) for _ in range(200)]
    assert all(0.5 <= d < 1.0 for d in first)
    assert len({round(d, 6) for d in first}) > 100  # spread out, so concurrent callers do not retry in step
    assert all(1.5 <= backoff_delay_s(cfg, 5) < 3.0 for _ in range(50))  # 16 s capped at 3 s


def test_retry_after_header_forms():
    assert retry_after_s({"retry-after": "2"}) == 2.0
    assert retry_after_s({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= (retry_after_s({"retry-after": later}) or 0) <= 31
    assert retry_after_s({"retry-after": "soon"}) is None
    assert retry_after_s({}) is None


async def test_an_unusable_reply_is_retried_at_once():
    """Invalid JSON is the answer's fault, not the server's: no backoff before asking again."""
    with serve_openai([Reply(content="no json here"), Reply(content=OK)]) as server:
        started = time.monotonic()
        reply = await complete_json(config(server, backoff_s=5.0), "q")
        elapsed = time.monotonic() - started
    assert isinstance(reply, LLMReply) and reply.attempts == 2
    assert elapsed < 4.0


async def test_every_attempt_failing_is_one_failure_value():
    replies = [Reply(content='{"a": '), Reply(content="{}", finish_reason="length"), Reply(status=500)]
    with serve_openai(replies) as server:
        reply = await complete_json(config(server, max_retries=2, backoff_s=0.0), "q")
    assert isinstance(reply, LLMFailure) and reply.kind == "exhausted"
    assert (reply.attempts, reply.requests, len(server.requests)) == (3, 3, 3)
    assert reply.message.startswith("no valid answer after 3 attempts: ")
    assert "invalid reply" in reply.message and "truncated" in reply.message
    assert reply.last_error.startswith("InternalServerError")


async def test_timeouts_are_retried():
    with serve_openai([Reply(content=OK, delay_s=2), Reply(content=OK)]) as server:
        reply = await complete_json(config(server, timeout_s=0.3, backoff_s=0.0), "q")
    assert isinstance(reply, LLMReply) and reply.attempts == 2


# --- JSON mode, refusals, rejections ------------------------------------------------------------------------


async def test_a_server_without_json_mode_is_asked_again_without_it():
    def responder(body):
        if "response_format" in body:
            return Reply(status=400, error_message="response_format is not supported by this server")
        return Reply(content="Sure!\n```json\n" + OK + "\n```")

    with serve_openai(responder) as server:
        reply = await complete_json(config(server, max_retries=0), "q")
    assert isinstance(reply, LLMReply) and reply.value == {"answer": 42}
    assert (reply.attempts, reply.requests) == (1, 2)
    assert [("response_format" in body) for body in server.requests] == [True, False]


async def test_json_mode_off_never_sends_response_format():
    with serve_openai([Reply(content=OK)]) as server:
        reply = await complete_json(config(server, json_mode=False), "q")
    assert isinstance(reply, LLMReply)
    assert "response_format" not in server.requests[0]


@pytest.mark.parametrize(
    "refusal",
    [
        Reply(refusal="I can't help with that."),
        Reply(content="I'm sorry, but I cannot assist with this request."),
    ],
    ids=["refusal-field", "refusal-text"],
)
async def test_a_refusal_is_a_clear_failure_value(refusal):
    with serve_openai([refusal, Reply(content=OK)]) as server:
        reply = await complete_json(config(server), "q")
    assert isinstance(reply, LLMFailure) and reply.kind == "refused"
    assert reply.message.startswith("the LLM refused: I")
    assert str(reply) == reply.message
    assert len(server.requests) == 1


async def test_refusals_are_retried_when_the_caller_asks():
    with serve_openai([Reply(refusal="no"), Reply(content=OK)]) as server:
        reply = await complete(config(server), "q", first_json_object, retry_refusals=True)
    assert isinstance(reply, LLMReply) and reply.attempts == 2


@pytest.mark.parametrize("status", [400, 401, 404])
async def test_a_rejected_request_is_not_retried(status):
    with serve_openai([Reply(status=status, error_message="no such model")]) as server:
        reply = await complete_json(config(server), "q")
    assert isinstance(reply, LLMFailure) and reply.kind == "rejected"
    assert reply.message.startswith("the LLM rejected the request:") and "no such model" in reply.message
    assert len(server.requests) == 1


async def test_parse_decides_what_a_usable_reply_is():
    def parse(text: str) -> int:
        value = first_json_object(text)["answer"]
        if value != 42:
            raise ValueError(f"answer {value} is not the answer")
        return int(value)

    with serve_openai([Reply(content='{"answer": 41}'), Reply(content=OK)]) as server:
        reply = await complete(config(server), "q", parse)
    assert isinstance(reply, LLMReply) and reply.value == 42 and reply.attempts == 2


async def test_a_given_client_is_reused_and_left_open():
    with serve_openai([Reply(content=OK)]) as server:
        cfg = config(server)
        client = cfg.client()
        try:
            for _ in range(2):
                assert isinstance(await complete_json(cfg, "q", client=client), LLMReply)
            assert not client.is_closed()
        finally:
            await client.close()
    assert len(server.requests) == 2


def test_loop_clients_keep_one_client_per_event_loop_and_close_it():
    with serve_openai([Reply(content=OK)]) as server:
        clients = LoopClients(config(server))

        async def use() -> object:
            first = clients.get()
            assert clients.get() is first  # reused by every call on this loop
            assert isinstance(await complete_json(clients.config, "q", client=first), LLMReply)
            await clients.aclose()
            assert first.is_closed()
            assert clients.get() is not first  # closed: the next call on this loop makes a new one
            return clients.get()

        # a client is never handed to another loop, even one that takes the id of a loop gone meanwhile
        assert asyncio.run(use()) is not asyncio.run(use())
    assert len(server.requests) == 2


def test_per_loop_values_of_closed_loops_are_let_go():
    """A process that runs one loop after another holds the values of the loops still open, not of every loop
    it ever ran."""
    made: list[weakref.ref[object]] = []

    class Value:
        pass

    def make() -> Value:
        value = Value()
        made.append(weakref.ref(value))
        return value

    per_loop: PerLoop[Value] = PerLoop(make)

    async def use() -> None:
        assert per_loop.get() is per_loop.get()

    for _ in range(5):
        asyncio.run(use())
    gc.collect()
    assert len(made) == 5
    assert [ref() is None for ref in made] == [
        True,
        True,
        True,
        True,
        False,
    ]  # the last loop's, until a new one


# --- configuration ------------------------------------------------------------------------------------------


def test_config_from_the_llm_table_and_the_environment():
    assert LLMConfig.from_table({}, env={}) is None
    table = {"base_url": "http://file/v1", "model": "from-file", "max_retries": 4}
    from_file = LLMConfig.from_table(table, env={})
    assert from_file is not None
    assert (from_file.base_url, from_file.model, from_file.max_retries, from_file.api_key) == (
        "http://file/v1",
        "from-file",
        4,
        None,
    )
    env = {
        "ODA_LLM_BASE_URL": "http://127.0.0.1:9/v1",
        "ODA_LLM_MODEL": "tiny",
        "OPENAI_API_KEY": "secret-key",
    }
    cfg = LLMConfig.from_table(table, env=env, timeout_s=3.0, max_retries=None)
    assert cfg is not None
    assert (cfg.base_url, cfg.model, cfg.api_key, cfg.timeout_s, cfg.max_retries) == (
        "http://127.0.0.1:9/v1",
        "tiny",
        "secret-key",
        3.0,
        4,
    )
    assert "secret-key" not in repr(cfg)
    both = {**env, "ODA_LLM_API_KEY": "oda-key"}
    assert LLMConfig.from_table(table, env=both).api_key == "oda-key"  # type: ignore[union-attr]


def test_config_errors_are_config_errors():
    with pytest.raises(ConfigError, match="did you mean 'max_retries'"):
        LLMConfig.from_table({"base_url": "http://x/v1", "model": "m", "max_retry": 3}, env={})
    with pytest.raises(ConfigError, match="unknown key 'api_key'"):
        LLMConfig.from_table({"base_url": "http://x/v1", "model": "m", "api_key": "k"}, env={})
    with pytest.raises(ConfigError, match="max_retries"):
        LLMConfig(base_url="http://x", model="m", max_retries=-1)
    with pytest.raises(ConfigError, match="backoff"):
        LLMConfig(base_url="http://x", model="m", backoff_s=-1)
    with pytest.raises(ConfigError, match="base_url"):
        LLMConfig(base_url="", model="m")


def test_first_json_object():
    assert first_json_object('x {"a": 1} y {"b": 2}') == {"a": 1}
    assert first_json_object('{"a": {"b": [1, 2]}}') == {"a": {"b": [1, 2]}}
    assert first_json_object('```json\n{"a": "}"}\n```') == {"a": "}"}
    with pytest.raises(ValueError):
        first_json_object('{"a": ')


def test_config_from_merged_settings_values(monkeypatch):
    monkeypatch.setenv("ODA_LLM_API_KEY", "env-key")
    values = {
        "base_url": "http://x/v1",
        "model": "m",
        "timeout_s": None,
        "max_retries": 0,
        "json_mode": False,
    }
    cfg = LLMConfig.from_mapping(values)
    assert cfg is not None
    assert (cfg.timeout_s, cfg.max_retries, cfg.json_mode, cfg.api_key) == (60.0, 0, False, "env-key")
    assert LLMConfig.from_mapping({"base_url": "http://x/v1", "model": None}) is None
    with pytest.raises(ConfigError, match="did you mean 'timeout_s'"):
        LLMConfig.from_mapping({"base_url": "http://x/v1", "model": "m", "timeout": 5})
