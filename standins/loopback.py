"""What the loopback stand-in servers (Hub, pages, arXiv) share: a quiet HTTP/1.1 handler, a threading server
that takes a client hanging up early in its stride, and running a server in a daemon thread."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 (keep-alive), no Nagle delay and no access log on stderr."""

    protocol_version = "HTTP/1.1"
    # headers and body go out in separate writes: with Nagle on, the body waits for the client's delayed ACK
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LoopbackServer(ThreadingHTTPServer):
    """A threading server for many concurrent clients."""

    daemon_threads = True
    request_queue_size = 128  # many concurrent clients connect at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up early (timeouts, size caps) is normal here; anything else is reported."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


ServerT = TypeVar("ServerT", bound=LoopbackServer)


@contextmanager
def running(server: ServerT) -> Iterator[ServerT]:
    """Serve in a daemon thread for the duration of the ``with`` block, then shut down and close."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
