"""The store commands on the paths users take first: a missing store, a bad output path, unknown or catalog
names, JSON that must stay JSON, and secrets in the config file."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from oda.config import check_no_secrets
from oda.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def oda(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oda.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def meta(confidence: float) -> str:
    return json.dumps({"confidence": confidence, "relationship": "subset", "evidence": "e", "exists": True})


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    lineage = folder / "lineage.jsonl"
    rows = [
        {"target": "org/mix", "source": "openai/gsm8k", "meta_info": meta(0.9)},
        {"target": "org/derived", "source": "org/mix", "meta_info": meta(0.8)},
    ]
    lineage.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    path = folder / "graph"
    done = oda("import", str(lineage), "--store", str(path))
    assert done.returncode == 0, done.stderr
    return path


@pytest.mark.parametrize(
    "command",
    [
        ["stats"],
        ["query", "contamination", "GSM8K"],
        ["query", "upstream", "org/a"],
        ["query", "downstream", "org/a"],
        ["query", "flagged"],
        ["query", "cypher", "RETURN 1"],
        ["export", "--format", "json"],
        ["review", "export"],
    ],
)
def test_a_read_command_on_a_missing_store_exits_2_and_creates_nothing(
    command: list[str], tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "graph"
    done = oda(*command, "--store", str(missing))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(missing) in lines[0] and "Traceback" not in done.stderr
    assert not missing.exists() and not missing.parent.exists()


def test_export_to_a_missing_folder_is_one_line_and_an_earlier_file_survives(
    store: Path, tmp_path: Path
) -> None:
    done = oda("export", "-o", "/no/such/dir/x.json", "--store", str(store))
    assert done.returncode == 2 and "/no/such/dir" in done.stderr and "Traceback" not in done.stderr
    target = tmp_path / "backup.json"
    target.write_text("earlier backup", encoding="utf-8")
    ok = oda("export", "-o", str(target), "--store", str(store))
    assert ok.returncode == 0 and json.loads(target.read_text())["edges"]
    assert [p.name for p in tmp_path.iterdir()] == ["backup.json"]  # no temporary file left behind


def test_benchmarks_resolve_by_catalog_name_and_unknown_ids_fail(store: Path) -> None:
    by_name = oda("query", "contamination", "GSM8K", "--store", str(store), "--json")
    assert by_name.returncode == 0, by_name.stderr
    assert {hit["dataset"] for hit in json.loads(by_name.stdout)} == {"org/mix", "org/derived"}
    unknown = oda("query", "contamination", "nobody/nothing", "--store", str(store), "--json")
    assert unknown.returncode == 2 and "nobody/nothing" in unknown.stderr and unknown.stdout == ""
    up = oda("query", "upstream", "nobody/nothing", "--store", str(store))
    assert up.returncode == 2


def test_cypher_json_is_always_valid_json(store: Path) -> None:
    done = oda(
        "query",
        "cypher",
        "RETURN 1.0/0.0 AS inf, 0.0/0.0 AS nan, [1.5, -1.0/0.0] AS xs",
        "--store",
        str(store),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert "NaN" not in done.stdout and "Infinity" not in done.stdout
    assert json.loads(done.stdout, parse_constant=lambda c: pytest.fail(f"bare {c}")) == [
        {"inf": None, "nan": None, "xs": [1.5, None]}
    ]


def test_a_write_through_the_string_comment_trick_is_refused(store: Path) -> None:
    done = oda(
        "query",
        "cypher",
        "RETURN '//' AS x; MATCH (n) DETACH DELETE n; COMMIT",
        "--store",
        str(store),
        "--json",
    )
    assert done.returncode == 2 and done.stdout == ""
    stats = oda("stats", "--store", str(store), "--json")
    assert json.loads(stats.stdout)["nodes"] == 3


def test_a_runaway_query_is_stopped(store: Path) -> None:
    done = oda(
        "query",
        "cypher",
        "UNWIND range(1, 100000000000) AS x RETURN count(x)",
        "--timeout",
        "5",
        "--store",
        str(store),
    )
    assert done.returncode == 2 and "limit" in done.stderr


@pytest.mark.parametrize(
    "text",
    [
        '[llm.headers]\nAuthorization = "Bearer x"',
        '[llm]\nkey = "x"',
        '[store]\ncredentials = "a"',
        '[x]\npwd = "1"',
        '[x]\nitems = [{name = "a", hf_token = "t"}]',
        'x = {inner = {openai_key = "k"}}',
        '[[servers]]\npassword = "p"',
        '[x]\nnested = [[{secret = "s"}]]',
        '[llm]\napi_key = "k"',
        '[llm]\napiKey = "k"',
    ],
)
def test_the_secrets_check_finds_keys_in_arrays_and_inline_tables(text: str) -> None:
    with pytest.raises(ConfigError, match="environment"):
        check_no_secrets(tomllib.loads(text), "oda.toml")


def test_the_secrets_check_leaves_ordinary_keys_alone() -> None:
    text = '[store]\nuri = "g"\nquery_max_rows = 5\n[llm]\nmax_tokens = 5\ntokenizer = "t"\n[x]\nkeywords = ["a"]'
    check_no_secrets(tomllib.loads(text), "oda.toml")


def test_ctrl_c_stops_a_long_query(store: Path) -> None:
    import signal
    import time

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "oda.cli",
            "query",
            "cypher",
            "UNWIND range(1, 100000) AS x UNWIND range(1, 100000) AS y WITH x + y AS z WHERE z % 7 = 3 RETURN count(z)",
            "--timeout",
            "300",
            "--store",
            str(store),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(4)
    assert process.poll() is None, "the query ended before Ctrl-C"
    process.send_signal(signal.SIGINT)
    start = time.monotonic()
    process.communicate(timeout=30)
    assert time.monotonic() - start < 10 and process.returncode != 0
