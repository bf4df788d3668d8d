"""Run one user query on the embedded store in a child process that opens the database read-only.

The child (``python -m graph_store.sandbox``) opens the database with ``read_only=True``, so the engine itself
refuses any write; it prepares the statement (the engine refuses a second statement there), sets the engine's
query timeout, and sends back at most ``max_rows`` rows. The parent watches it and kills it (its process id only)
when it runs past the time limit, when its resident memory passes the memory limit, when its answer grows past
that size, or on Ctrl-C. Killing a reader loses nothing: it never held a write transaction.

The engine cannot bound everything itself (``UNWIND range(1, 10^9)`` builds its list outside the buffer pool and
checks the timeout only after), which is why the query runs in a process the parent can stop.

Protocol: the parent writes one pickled request on the child's stdin; the child writes one pickled answer on its
stdout: ``{"columns": [...], "rows": [[...], ...]}`` or ``{"error": kind, "message": text}``.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from graph_store.readonly import QueryLimits
from oda.errors import StoreError

# Seconds past the time limit the parent waits for the engine's own timeout before it kills the child.
KILL_GRACE_S = 2.0
POLL_S = 0.02
OPEN_ATTEMPTS = 20


class QueryLimitError(StoreError):
    """A user query ran past its time, row or memory limit (or was interrupted) and was stopped."""


def _rss_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def run_read_only(
    path: str | os.PathLike[str], query: str, params: dict[str, Any], limits: QueryLimits
) -> tuple[list[str], list[list[Any]]]:
    """``(columns, rows)`` of ``query`` on the embedded database at ``path``, opened read-only in a child."""
    request = pickle.dumps(
        {"path": str(Path(path).resolve()), "query": query, "params": params, "limits": limits},
        protocol=pickle.HIGHEST_PROTOCOL,
    )
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("OMP_NUM_THREADS", "1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "graph_store.sandbox"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=root,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    cap = limits.max_memory_mb * 1024 * 1024
    answer = bytearray()
    too_big = threading.Event()

    def read_answer() -> None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read(1 << 16):
            answer.extend(chunk)
            if len(answer) > cap:
                too_big.set()
                return

    errors: list[bytes] = []
    reader = threading.Thread(target=read_answer, daemon=True)
    err_reader = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    err_reader.start()
    deadline = time.monotonic() + limits.timeout_s + KILL_GRACE_S
    try:
        try:
            proc.stdin.write(request)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        while reader.is_alive():
            reader.join(POLL_S)
            if too_big.is_set():
                _kill(proc)
                raise QueryLimitError(
                    f"the answer passed the {limits.max_memory_mb} MB memory limit; the query was stopped"
                )
            if time.monotonic() > deadline:
                _kill(proc)
                raise QueryLimitError(
                    f"the query ran past the {limits.timeout_s:g} s time limit and was stopped"
                )
            rss = _rss_bytes(proc.pid)
            if rss is not None and rss > cap:
                _kill(proc)
                raise QueryLimitError(
                    f"the query passed the {limits.max_memory_mb} MB memory limit and was stopped"
                )
        proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    except KeyboardInterrupt:
        _kill(proc)
        raise
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise QueryLimitError(
            f"the query ran past the {limits.timeout_s:g} s time limit and was stopped"
        ) from None
    finally:
        if proc.poll() is None:
            _kill(proc)
        reader.join(1.0)
        err_reader.join(1.0)
        proc.stdout.close()  # the child has ended: its pipes are at their end, or no longer read
        proc.stderr.close()
    if not answer:
        detail = b"".join(errors).decode("utf-8", "replace").strip().splitlines()
        raise StoreError(
            f"query failed: the reader process ended with code {proc.returncode}"
            + (f": {detail[-1]}" if detail else "")
        )
    reply = pickle.loads(bytes(answer))
    if "error" in reply:
        kind, message = reply["error"], reply["message"]
        if kind == "limit":
            raise QueryLimitError(message)
        raise StoreError(f"query failed: {message}")
    return reply["columns"], reply["rows"]


# --- the child ----------------------------------------------------------------------------------------------


def _open_read_only(path: str, pool: int) -> Any:
    import ladybug

    for attempt in range(OPEN_ATTEMPTS):
        try:
            return ladybug.Database(path, read_only=True, buffer_pool_size=pool)
        except RuntimeError as exc:
            # a writer is checkpointing right now: wait for it
            if "recovery is pending" not in str(exc) or attempt == OPEN_ATTEMPTS - 1:
                raise
            time.sleep(0.1)
    raise AssertionError("unreachable")


def _answer(request: dict[str, Any]) -> dict[str, Any]:
    import warnings

    import ladybug

    limits: QueryLimits = request["limits"]
    pool = max(32, limits.max_memory_mb // 2) * 1024 * 1024
    try:
        db = _open_read_only(request["path"], pool)
    except RuntimeError as exc:
        return {"error": "open", "message": f"cannot open the store read-only: {exc}"}
    conn = ladybug.Connection(db)
    conn.set_query_timeout(max(1, int(limits.timeout_s * 1000)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            # prepare: the engine refuses a second statement here
            prepared = conn.prepare(request["query"])
        result = conn.execute(prepared, dict(request["params"] or {}))
        assert not isinstance(result, list), "one statement"
        columns = result.get_column_names()
        rows: list[list[Any]] = []
        while result.has_next():
            if len(rows) >= limits.max_rows:
                return {
                    "error": "limit",
                    "message": f"the query returned more than {limits.max_rows} rows (the row limit); "
                    "add LIMIT or raise [store].query_max_rows",
                }
            rows.append(list(result.get_next()))
        result.close()
    except RuntimeError as exc:
        message = str(exc)
        if "interrupted" in message.lower():
            return {"error": "limit", "message": f"the query ran past the {limits.timeout_s:g} s time limit"}
        if "buffer pool is full" in message.lower():
            return {
                "error": "limit",
                "message": f"the query passed the {limits.max_memory_mb} MB memory limit",
            }
        return {"error": "query", "message": message}
    finally:
        conn.close()
        db.close()
    return {"columns": columns, "rows": rows}


def main() -> None:
    request = pickle.load(sys.stdin.buffer)
    reply = _answer(request)
    try:
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError) as exc:
        data = pickle.dumps({"error": "query", "message": f"cannot return the rows: {exc}"})
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
