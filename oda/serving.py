"""Run an ASGI app under uvicorn and report the address it listens on once it accepts connections.

With ``--port 0`` the system picks the port, so the URL is known only after the socket is bound: the server reports it
then, which lets a caller start a server on any free port and read its address back without a race.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvicorn


class AnnouncingServer(uvicorn.Server):
    """A uvicorn server that calls ``announce`` with its base URL (bound port included) once it listens."""

    def __init__(self, config: uvicorn.Config, announce: Callable[[str], None]) -> None:
        super().__init__(config)
        self._announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._announce(self.base_url)

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` with the host as configured and the port the first listening socket got."""
        port = self.servers[0].sockets[0].getsockname()[1]
        host = self.config.host
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
