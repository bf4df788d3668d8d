"""A scripted OpenAI-compatible chat server on loopback, for deterministic tests and benchmarks of LLM paths.

It speaks enough of the API for the official ``openai`` client: ``GET /v1/models`` and
``POST /v1/chat/completions`` (non-streaming). What it answers is decided by a *responder*: a function that
receives the request's JSON body and returns a ``Reply`` (or a plain string, the assistant's content)::

    from standins.openai_compat import Reply, serve_openai, scripted

    def responder(body: dict) -> Reply:
        prompt = body["messages"][-1]["content"]
        if "broken" in prompt:
            return Reply(content='{"sources": [')           # truncated JSON
        return Reply(content='{"sources": []}')

    with serve_openai(responder, latency_s=0.05) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test")
        ...
        assert len(server.requests) == 1

``scripted([...])`` turns a list of replies into a responder that answers them in order (the last one repeats).
A ``Reply`` can also fail on purpose: ``status=500``/``429`` (with ``headers={"Retry-After": "1"}``), a refusal,
``finish_reason="length"`` for truncated output, or ``delay_s`` longer than the client's timeout.

Everything is deterministic: no randomness; latency is a fixed sleep. The server runs uvicorn in a daemon thread
on an ephemeral port and handles many concurrent requests (asyncio), so it also serves as the emulated LLM for
throughput benchmarks.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Reply:
    """One scripted answer."""

    content: str | None = ""
    status: int = 200
    delay_s: float = 0.0
    finish_reason: str = "stop"
    refusal: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error_message: str = "scripted error"
    prompt_tokens: int = 10
    completion_tokens: int = 10


Responder = Callable[[dict[str, Any]], "Reply | str"]


def scripted(replies: Sequence[Reply | str]) -> Responder:
    """A responder answering ``replies`` in order; the last one repeats forever."""
    if not replies:
        raise ValueError("scripted() needs at least one reply")
    lock = threading.Lock()
    it = itertools.chain(replies, itertools.repeat(replies[-1]))

    def respond(_body: dict[str, Any]) -> Reply | str:
        with lock:
            return next(it)

    return respond


class ScriptedOpenAIServer:
    """The server; use ``serve_openai`` to run it."""

    def __init__(
        self,
        responder: Responder,
        *,
        latency_s: float = 0.0,
        model: str = "scripted-model",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.responder = responder
        self.latency_s = latency_s
        self.model = model
        self.host = host
        self.port = port  # 0: the server binds a free port and ``start`` reads it back
        self.requests: list[dict[str, Any]] = []
        self.received_at: list[float] = []
        """``time.monotonic()`` when each request of ``requests`` arrived (to measure a client's pauses)."""
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = Starlette(
            routes=[
                Route("/v1/models", self._models, methods=["GET"]),
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
            ]
        )

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    async def _models(self, _request: Request) -> Response:
        return JSONResponse(
            {"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "test"}]}
        )

    async def _chat(self, request: Request) -> Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return JSONResponse(
                {"error": {"message": "invalid JSON body", "type": "invalid_request_error"}}, 400
            )
        with self._lock:
            self.requests.append(body)
            self.received_at.append(time.monotonic())
            seq = next(self._ids)
        # A responder may block (a real model generating): keep the event loop free for other requests.
        reply = await asyncio.to_thread(self.responder, body)
        if isinstance(reply, str):
            reply = Reply(content=reply)
        delay = self.latency_s + reply.delay_s
        if delay > 0:
            await asyncio.sleep(delay)
        if reply.status != 200:
            return JSONResponse(
                {"error": {"message": reply.error_message, "type": "server_error", "code": reply.status}},
                status_code=reply.status,
                headers=reply.headers,
            )
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.refusal is not None:
            message["refusal"] = reply.refusal
            message["content"] = None
        payload = {
            "id": f"chatcmpl-{seq}",
            "object": "chat.completion",
            "created": 1_700_000_000 + seq,
            "model": body.get("model", self.model),
            "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
            "usage": {
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "total_tokens": reply.prompt_tokens + reply.completion_tokens,
            },
        }
        return JSONResponse(payload, headers=reply.headers)

    def start(self) -> None:
        config = uvicorn.Config(
            self.app, host=self.host, port=self.port, log_level="warning", lifespan="off", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="scripted-openai", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("scripted OpenAI server did not start")
            time.sleep(0.01)
        self.port = int(self._server.servers[0].sockets[0].getsockname()[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


@contextmanager
def serve_openai(
    responder: Responder | Sequence[Reply | str] | None = None,
    *,
    latency_s: float = 0.0,
    model: str = "scripted-model",
) -> Iterator[ScriptedOpenAIServer]:
    """Run a scripted server for the duration of the ``with`` block. ``responder`` may be a list of replies."""
    if responder is None:
        responder = scripted([Reply(content="{}")])
    elif not callable(responder):
        responder = scripted(list(responder))
    server = ScriptedOpenAIServer(responder, latency_s=latency_s, model=model)
    server.start()
    try:
        yield server
    finally:
        server.stop()
