"""Serve an app that writes root-relative links (``href="/queue"``) under a path prefix.

The review UI links to its pages from the root. Mounted at ``/review`` in the service, its HTML links, form
actions and redirects must point below ``/review``. ``PrefixedApp`` rewrites them in HTML responses and in
``Location`` headers; JSON and static files pass through unchanged.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

_ATTR_RE = re.compile(rb'((?:href|src|action|data-href)=")(/(?!/))')


class PrefixedApp:
    """ASGI wrapper: ``inner`` is mounted at ``prefix`` (Starlette strips the prefix before calling it)."""

    def __init__(self, inner: Any, prefix: str) -> None:
        self.inner = inner
        self.prefix = prefix.rstrip("/").encode()

    def _location(self, value: bytes) -> bytes:
        if (
            value.startswith(b"/")
            and not value.startswith(b"//")
            and not value.startswith(self.prefix + b"/")
        ):
            return self.prefix + value
        return value

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        start: dict[str, Any] | None = None
        body: list[bytes] = []
        is_html = False

        async def wrapped_send(message: dict[str, Any]) -> None:
            nonlocal start, is_html
            if message["type"] == "http.response.start":
                headers = [
                    (k, self._location(v) if k.lower() == b"location" else v)
                    for k, v in message.get("headers", [])
                ]
                is_html = any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
                message = {**message, "headers": headers}
                if not is_html:
                    await send(message)
                    return
                start = message
                return
            if message["type"] == "http.response.body" and is_html and start is not None:
                body.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                html = _ATTR_RE.sub(lambda m: m.group(1) + self.prefix + m.group(2), b"".join(body))
                headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(html)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": html, "more_body": False})
                return
            await send(message)

        await self.inner(scope, receive, wrapped_send)
