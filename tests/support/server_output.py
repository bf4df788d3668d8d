"""Read a server process's output as it runs, and the base URL it reports once it listens (``--port 0``)."""

from __future__ import annotations

import re
import threading
import time
from typing import IO

URL_RE = re.compile(r"\bon (http://\S+?)/?(?:\s|$)")


class ServerOutput:
    """Collects a child's text output in a thread (so its pipe never fills) and finds the URL it announces."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._ended = False
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        with stream:
            for line in stream:
                with self._changed:
                    self._lines.append(line)
                    self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def text(self) -> str:
        with self._changed:
            return "".join(self._lines)

    def url(self, timeout: float = 60) -> str:
        """The first ``on http://HOST:PORT`` the server printed; fails with its output if it ends or stays silent."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self._lines:
                    if found := URL_RE.search(line):
                        return found.group(1)
                left = deadline - time.monotonic()
                if self._ended or left <= 0:
                    raise AssertionError("the server announced no address:\n" + "".join(self._lines))
                self._changed.wait(left)

    def close(self) -> str:
        """Waits for the output to end and close (after the process stopped) and returns all of it."""
        self._reader.join(timeout=30)
        return self.text()
