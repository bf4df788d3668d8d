"""The README as executable documentation: every command in its ``bash`` blocks is run here, against the demo.

How each command is exercised (every line of every ``bash`` block must fall in one of these, or the test fails):

- ``make demo``: the commands the README says it runs are checked against the Makefile's ``demo`` recipe, then run
  as written (in a temporary folder where ``examples/`` is the repository's);
- ``oda ...`` lines: run as written in that folder, after the demo, through the ``oda`` entry point; each must exit
  0 without a traceback;
- ``oda review serve`` and ``oda serve`` (over the embedded demo store): started as written plus ``--port 0`` (the
  system picks a free port, so a busy default port cannot fail the test), asked for ``/healthz`` at the address
  the server prints, then stopped;
- commands that need a service this test does not start (a Postgres queue, a Bolt server: ``postgresql://`` or
  ``bolt://`` in the line): only their options are checked, against the command's ``--help``;
- ``oda trace queue.txt ...`` (live tracing): run as written with ``queue.txt`` holding the demo queue, with the Hub
  played by the loopback Hub stand-in serving the demo world (``HF_ENDPOINT``) and every other host (web, arXiv)
  sent through ``HTTP(S)_PROXY`` to a closed loopback port, so no outside network is touched; an ``oda.toml``
  (``ODA_CONFIG``) shortens retries so that those unreachable reads fail fast;
- not run: ``NOT_RUN`` below (the test suite itself, linters, shell setup).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from standins.hub import serve_hub
from tests.support.server_output import ServerOutput

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK_RE = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
ENV_RE = re.compile(r"^[A-Z][A-Z0-9_]*=")

NOT_RUN = {
    "make test": "the whole test suite, of which this test is part",
    "make lint typecheck": "the linters; CI runs them",
    ". .venv/bin/activate": "shell setup; the test runs the project's own interpreter",
    '.venv/bin/python -m pytest -m "not slow and not integration"': "the quick part of the test suite",
    "sudo bash scripts/start_postgres.sh": "installs and starts a system service (needs root)",
}
EXTERNAL_SERVICES = ("postgresql://", "bolt://", "neo4j://")
SERVERS = (["oda", "review", "serve"], ["oda", "serve"])
LIVE_PREFIX = ("oda", "trace", "queue.txt")

pytestmark = pytest.mark.slow


def _readme_lines() -> list[str]:
    lines = []
    for block in BLOCK_RE.findall(README.read_text(encoding="utf-8")):
        for line in block.splitlines():
            if shlex.split(line, comments=True):
                lines.append(re.split(r"\s#\s", line, maxsplit=1)[0].strip())
    return lines


def _command(line: str) -> tuple[dict[str, str], list[str]]:
    """The environment assignments and the argv of a README line (its comment dropped)."""
    words = shlex.split(line, comments=True)
    env = {}
    while words and ENV_RE.match(words[0]):
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    return env, words


def _demo_lines() -> list[str]:
    text = README.read_text(encoding="utf-8")
    block = text.split("`make demo` runs", 1)[1]
    return [line.strip() for line in BLOCK_RE.findall(block)[0].splitlines() if line.strip()]


def _closed_port() -> int:
    """A loopback port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    assert argv[0] == "oda", argv
    environ = dict(os.environ)
    environ.pop("ODA_DEBUG", None)
    environ.update({"PYTHONPATH": str(ROOT), "ODA_LLM_BASE_URL": "", "ODA_LLM_MODEL": "", "COLUMNS": "200"})
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-c", "from oda.cli import main; main()", *argv[1:]],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _ok(result: subprocess.CompletedProcess[str], line: str) -> None:
    assert result.returncode == 0, f"{line}\n{result.stderr[-4000:]}"
    assert "Traceback" not in result.stderr, f"{line}\n{result.stderr[-4000:]}"


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, subprocess.CompletedProcess[str]]]:
    """A folder where ``make demo``'s commands ran, as the README lists them."""
    work = tmp_path_factory.mktemp("readme")
    (work / "examples").symlink_to(ROOT / "examples")
    results = {}
    for line in _demo_lines():
        env, argv = _command(line)
        results[line] = _run(argv, work, env)
        _ok(results[line], line)
    return work, results


def test_every_readme_command_is_covered() -> None:
    lines = _readme_lines()
    assert "make demo" in lines
    for line in lines:
        _env, argv = _command(line)
        assert line in NOT_RUN or argv[0] in ("oda", "make"), (
            f"README line not exercised by this test: {line}"
        )
        if argv[0] == "make":
            assert line == "make demo" or line in NOT_RUN, line


def test_make_demo_runs_what_the_readme_says() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    oda_lines = [line.strip().replace("$(BIN)/", "") for line in recipe.splitlines() if "$(BIN)/oda" in line]
    assert oda_lines == _demo_lines()


def test_the_demo_ends_with_the_summary_and_a_contamination_sample(demo) -> None:
    work, results = demo
    trace, export, query = (results[line] for line in _demo_lines())
    assert re.search(r"run trace-\S+ finished", trace.stderr)
    assert export.stdout.strip() == ""  # the JSON went to the file, not to the terminal
    lineage = json.loads((work / ".oda" / "demo" / "lineage.json").read_text(encoding="utf-8"))
    assert lineage["edges"] and lineage["nodes"]
    shown = query.stdout + query.stderr
    assert "northwind-ai/Helios-Reasoning-200K" in shown
    assert len(shown.splitlines()) < 60


def _runnable_lines() -> list[str]:
    return [
        line
        for line in _readme_lines()
        if line not in NOT_RUN and _command(line)[1][0] == "oda" and line not in _demo_lines()
    ]


@pytest.mark.parametrize("line", _runnable_lines())
def test_readme_command(line: str, demo, tmp_path: Path) -> None:
    work, _ = demo
    env, argv = _command(line)
    if any(service in line for service in EXTERNAL_SERVICES):
        _options_exist(argv, work)
        return
    if any(argv[: len(server)] == server for server in SERVERS):
        _serve_and_stop(argv, work, env)
        return
    if tuple(argv[:3]) == LIVE_PREFIX:
        _run_live(line, argv, work, env, tmp_path)
        return
    result = _run(argv, work, env)
    _ok(result, line)
    if "--json" in argv:
        json.loads(result.stdout)
    if argv[:3] == ["oda", "query", "contamination"]:
        assert json.loads(result.stdout), "the demo's benchmark reaches no dataset"


def _options_exist(argv: list[str], work: Path) -> None:
    command = [word for word in argv if not word.startswith("-")][:2]
    shown = _run([*command, "--help"], work, {"COLUMNS": "200"})
    _ok(shown, " ".join(command))
    for option in (word.split("=", 1)[0] for word in argv if word.startswith("--")):
        assert option in shown.stdout, f"{' '.join(command)} has no {option}"


def _serve_and_stop(argv: list[str], work: Path, env: dict[str, str]) -> None:
    environ = dict(os.environ)
    environ.update({"PYTHONPATH": str(ROOT), **env})
    process = subprocess.Popen(
        [sys.executable, "-c", "from oda.cli import main; main()", *argv[1:], "--port", "0"],
        cwd=work,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output = ServerOutput(process.stdout)
    try:
        answered = httpx.get(f"{output.url()}/healthz", timeout=10)
        assert answered.status_code == 200, output.text()
    finally:
        process.terminate()
        process.wait(timeout=30)
        output.close()


def _run_live(line: str, argv: list[str], work: Path, env: dict[str, str], tmp_path: Path) -> None:
    queue = work / "queue.txt"
    queue.write_text((ROOT / "examples" / "demo" / "queue.txt").read_text(encoding="utf-8"), encoding="utf-8")
    config = tmp_path / "oda.toml"
    config.write_text("[acquisition]\nretries = 1\nbackoff_base_s = 0.05\ntimeout_s = 5\n", encoding="utf-8")
    closed = f"http://127.0.0.1:{_closed_port()}"
    with serve_hub(ROOT / "examples" / "demo" / "world") as hub:
        live_env = {
            **env,
            "HF_ENDPOINT": hub.base_url,
            "ODA_CONFIG": str(config),
            "HTTP_PROXY": closed,
            "HTTPS_PROXY": closed,
            "http_proxy": closed,
            "https_proxy": closed,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
        result = _run(argv, work, live_env)
    _ok(result, line)
    assert re.search(r"run trace-\S+ finished in [\d.]+s: [1-9]\d* dataset\(s\) traced", result.stderr), (
        result.stderr[-3000:]
    )
    if "--record" in argv:
        snapshot = work / argv[argv.index("--record") + 1]
        assert (snapshot / "manifest.json").is_file()
