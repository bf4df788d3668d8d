"""The loopback stand-ins' shared server and handler (``standins.loopback``)."""

from __future__ import annotations

import socket

import httpx

from standins.loopback import LoopbackServer, QuietHandler, running


class _NoDelayReport(QuietHandler):
    """Answers with the TCP_NODELAY setting of the connection it serves, in two writes as every stand-in does."""

    def do_GET(self) -> None:
        nodelay = self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        body = str(int(bool(nodelay))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_a_stand_in_sends_its_answers_without_waiting_for_the_clients_ack():
    """Headers and body go out in separate writes: with Nagle's algorithm on, the body would wait for the
    client's delayed ACK (about 40 ms per request on Linux)."""
    with running(LoopbackServer(("127.0.0.1", 0), _NoDelayReport)) as server:
        host, port = server.server_address[:2]
        with httpx.Client(base_url=f"http://{host}:{port}") as client:
            answers = [client.get("/").text for _ in range(3)]  # one kept-alive connection
    assert answers == ["1", "1", "1"]
