"""A real small model behind an OpenAI-compatible chat endpoint, in-process, for ``slow`` tests of LLM paths.

``serve_hf_chat(model_dir, gguf_file)`` loads a causal LM with ``transformers`` (a GGUF file is converted on load by
``gguf``), and serves ``GET /v1/models`` and ``POST /v1/chat/completions`` (non-streaming) on an ephemeral loopback
port, so the official ``openai`` client talks to it exactly as to vLLM or a llama.cpp server. Generation is greedy
and capped by the request's ``max_tokens``; ``finish_reason`` is ``length`` when the cap was hit. Requests are served
one at a time (one model, one CPU thread pool). ``response_format`` is accepted and ignored, as several servers do.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HFChatServer:
    """The server; use ``serve_hf_chat`` to run it."""

    def __init__(
        self, model_dir: str, gguf_file: str | None = None, *, model_name: str = "local-model"
    ) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        kwargs: dict[str, Any] = {"gguf_file": gguf_file} if gguf_file else {}
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, **kwargs)
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, **kwargs)
        self.model.eval()
        self.model_name = model_name
        self.port = _free_port()
        self.requests: list[dict[str, Any]] = []
        self._lock = asyncio.Lock()
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
        return f"http://127.0.0.1:{self.port}/v1"

    async def _models(self, _request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": self.model_name, "object": "model"}]})

    def _generate(self, messages: list[dict[str, str]], max_tokens: int) -> tuple[str, str, int, int]:
        import torch

        prompt = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        inputs = self.tokenizer(prompt, return_tensors="pt", truncation=True, max_length=1536)
        with torch.no_grad():
            output = self.model.generate(
                **inputs, max_new_tokens=max_tokens, do_sample=False, pad_token_id=self.tokenizer.eos_token_id
            )
        new = output[0][inputs["input_ids"].shape[1] :]
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        finish = "length" if len(new) >= max_tokens else "stop"
        return text, finish, int(inputs["input_ids"].shape[1]), len(new)

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        messages = [
            {"role": m["role"], "content": str(m.get("content") or "")} for m in body.get("messages", [])
        ]
        max_tokens = int(body.get("max_tokens") or 256)
        async with self._lock:
            text, finish, n_in, n_out = await asyncio.to_thread(self._generate, messages, max_tokens)
        seq = next(self._ids)
        return JSONResponse(
            {
                "id": f"chatcmpl-{seq}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model_name,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
                ],
                "usage": {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out},
            }
        )

    def start(self) -> None:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="hf-chat", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("hf chat server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


@contextmanager
def serve_hf_chat(model_dir: str, gguf_file: str | None = None) -> Iterator[HFChatServer]:
    """Load the model and serve it for the duration of the ``with`` block."""
    server = HFChatServer(model_dir, gguf_file)
    server.start()
    try:
        yield server
    finally:
        server.stop()
