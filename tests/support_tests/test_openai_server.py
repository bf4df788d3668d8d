"""The scripted OpenAI-compatible server answers the official client as the real API would."""

import openai
import pytest

from standins.openai_compat import Reply, serve_openai


def test_scripted_replies_in_order_and_requests_recorded() -> None:
    with serve_openai(["first", Reply(content='{"ok": true}')]) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        a = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "1"}])
        b = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "2"}])
        c = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "3"}])
        assert [a.choices[0].message.content, b.choices[0].message.content, c.choices[0].message.content] == [
            "first",
            '{"ok": true}',
            '{"ok": true}',
        ]
        assert [r["messages"][0]["content"] for r in server.requests] == ["1", "2", "3"]
        assert [m.id for m in client.models.list()] == ["scripted-model"]


def test_errors_and_timeouts_reach_the_client_as_typed_errors() -> None:
    replies = [Reply(status=429, headers={"Retry-After": "0"}), Reply(status=500), Reply(delay_s=2.0)]
    with serve_openai(replies) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0, timeout=0.5)
        msgs = [{"role": "user", "content": "x"}]
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="m", messages=msgs)
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="m", messages=msgs)
        with pytest.raises(openai.APITimeoutError):
            client.chat.completions.create(model="m", messages=msgs)


def test_refusal_and_truncation_are_reported() -> None:
    with serve_openai(
        [Reply(refusal="I can't help"), Reply(content='{"a": ', finish_reason="length")]
    ) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        msgs = [{"role": "user", "content": "x"}]
        refused = client.chat.completions.create(model="m", messages=msgs).choices[0]
        assert refused.message.refusal == "I can't help" and refused.message.content is None
        cut = client.chat.completions.create(model="m", messages=msgs).choices[0]
        assert cut.finish_reason == "length"
