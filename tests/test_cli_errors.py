"""The command line's error contract, through the real entry point (``oda.cli.main`` in a subprocess): one line per
error and never a traceback (unless ``--debug``), documented exit codes, help text shown literally."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.oda_process import run_oda

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo"


def _oda(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return run_oda(args, cwd, timeout=300, **env)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    return errors[0]


def test_an_unexpected_error_is_one_line_with_a_pointer_to_debug(tmp_path: Path) -> None:
    broken = tmp_path / "runs.sqlite"
    broken.write_text("this is not an SQLite file\n" * 10, encoding="utf-8")
    result = _oda(["trace", "--resume", "trace-x", "--checkpoints", str(broken)], tmp_path)
    assert result.returncode == 3
    line = _one_error_line(result)
    assert "unexpected" in line and "--debug" in line
    assert len(result.stderr.strip().splitlines()) == 1

    debug = _oda(["--debug", "trace", "--resume", "trace-x", "--checkpoints", str(broken)], tmp_path)
    assert debug.returncode == 3 and "Traceback (most recent call last)" in debug.stderr
    by_env = _oda(["trace", "--resume", "trace-x", "--checkpoints", str(broken)], tmp_path, ODA_DEBUG="1")
    assert by_env.returncode == 3 and "Traceback (most recent call last)" in by_env.stderr


def test_a_user_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = _oda(["trace", str(tmp_path / "missing-queue.txt"), "--store", "g"], tmp_path)
    assert result.returncode == 2
    assert "queue file not found" in _one_error_line(result)


def test_a_file_that_cannot_be_written_is_one_line_and_exit_2(tmp_path: Path) -> None:
    queue = tmp_path / "q.txt"
    queue.write_text("org/name\n", encoding="utf-8")
    result = _oda(
        ["trace", str(queue), "--store", "g", "--checkpoints", str(tmp_path / "q.txt" / "runs.sqlite")],
        tmp_path,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    _one_error_line(result)


def test_score_with_the_hub_unreachable_is_one_line_and_non_zero(tmp_path: Path) -> None:
    result = _oda(["score", "tatsu-lab/alpaca"], tmp_path, HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}")
    assert result.returncode == 2
    line = _one_error_line(result)
    assert "tatsu-lab/alpaca" in line and "could not be reached" in line


def test_bench_config_with_the_hub_unreachable_writes_the_configs_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "job"
    result = _oda(
        ["bench", "config", "--base-model", "qwen2.5-7b", "--dataset", "tatsu-lab/alpaca", "-o", str(out)],
        tmp_path,
        HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    said = [line for line in result.stderr.splitlines() if "could not be fetched yet" in line]
    assert len(said) == 1 and "tatsu-lab/alpaca" in said[0]
    assert (out / "train.yaml").is_file() and (out / "eval_config.py").is_file()
    assert list(out.rglob("*.partial")) == []
    assert not (out / "data" / "tatsu-lab__alpaca.json").exists()


def _queue(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "queue.txt"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    "queue_text",
    [
        "legacy-nlp/OldQA\n",  # dropped: created before 2020
        "nope/not-in-the-snapshot\n",  # failed: the offline snapshot does not hold it
        "not an id\n!!\n",  # every line malformed
        "# only a comment\n",  # nothing to trace
    ],
)
def test_a_trace_that_traced_nothing_exits_1(tmp_path: Path, queue_text: str) -> None:
    queue = _queue(tmp_path, queue_text)
    result = _oda(
        ["trace", str(queue), "--snapshot", str(DEMO / "snapshot"), "--offline", "--store", "g", "--json"],
        tmp_path,
    )
    assert result.returncode == 1, result.stderr[-3000:]
    assert "nothing was traced" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_trace_that_traced_something_exits_0_and_lists_each_problem_once(tmp_path: Path) -> None:
    queue = _queue(tmp_path, "legacy-nlp/OldQA\nopenai/gsm8k\nnope/not-in-the-snapshot\nnot an id\n")
    result = _oda(
        ["trace", str(queue), "--snapshot", str(DEMO / "snapshot"), "--offline", "--store", "g"],
        tmp_path,
        COLUMNS="200",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = [line for line in result.stderr.splitlines() if re.match(r"run trace-\S+ finished", line)]
    assert len(summary) == 1
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (dropped|failed|queue line\(s\) skipped)", summary[0])}
    # each table is titled with its count, and that count is the summary's
    titles = dict(re.findall(r"^(dropped|failed|queue lines skipped) \((\d+)\)", result.stderr, flags=re.M))
    assert counts["dropped"] == int(titles["dropped"]) == 1
    assert counts["failed"] == int(titles["failed"]) == 1
    assert counts["queue line(s) skipped"] == int(titles["queue lines skipped"]) == 1
    # the summary line comes after the tables: it is what the user sees last (then the store's path)
    assert result.stderr.rstrip().splitlines()[-1].startswith("store:")


def test_help_shows_config_keys_literally_in_every_command() -> None:
    from oda.cli import app

    runner = CliRunner()
    import typer.main

    root = typer.main.get_command(app)
    checked = 0

    def walk(command: object, path: list[str]) -> None:
        nonlocal checked
        subcommands = dict(getattr(command, "commands", None) or {})
        for name, sub in subcommands.items():
            walk(sub, [*path, name])
        texts = [getattr(command, "help", None) or ""] + [
            getattr(p, "help", None) or "" for p in getattr(command, "params", [])
        ]
        keys = {k for text in texts for k in re.findall(r"\[[a-z_]+\]\.[a-z_]+", text.replace("\\[", "["))}
        if not keys:
            return
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"}, terminal_width=200)
        assert result.exit_code == 0, result.output
        for key in keys:
            assert key in result.output, f"oda {' '.join(path)} --help lost {key}"
            checked += 1

    walk(root, [])
    assert checked >= 3  # e.g. trace --store, trace --extractor, bench collect --store


def test_ctrl_c_exits_130_without_a_traceback(tmp_path: Path) -> None:
    import signal

    environ = dict(os.environ)
    environ.pop("ODA_DEBUG", None)
    environ["PYTHONPATH"] = str(ROOT)
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from oda.cli import main; main()",
            "hub",
            "serve",
            str(DEMO / "snapshot"),
            "--port",
            "0",
        ],
        cwd=tmp_path,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        started = process.stderr.readline()  # "Serving ... Ctrl-C stops."
        assert "Serving" in started, started
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err
