"""The input layer: formats, streaming readers and bad data, each reported per record."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import scoring.inputs as inputs
from oda.errors import InputError
from scoring.inputs import iter_samples
from scoring.samples import Sample, SampleError, normalize_record
from standins.hub import serve_hub
from tests.scoring.conftest import write_jsonl


def test_alpaca_with_input_and_reference_answer() -> None:
    s = normalize_record({"instruction": "Add", "input": "2 and 3", "output": "It is 5.", "answer": "5"}, 0)
    assert isinstance(s, Sample)
    assert (s.id, s.instruction, s.input, s.response, s.answer, s.format) == (
        "#0",
        "Add",
        "2 and 3",
        "It is 5.",
        "5",
        "alpaca",
    )
    assert s.prompt == "Add\n\n2 and 3"


def test_question_answer_only_treats_answer_as_response() -> None:
    s = normalize_record({"id": 17, "question": "Capital of France?", "answer": "Paris"}, 3)
    assert isinstance(s, Sample)
    assert (s.id, s.response, s.answer) == ("17", "Paris", None)


def test_sharegpt_first_exchange_and_system() -> None:
    rec = {
        "conversations": [
            {"from": "system", "value": "Be brief."},
            {"from": "human", "value": "Hi?"},
            {"from": "gpt", "value": "Hello."},
            {"from": "human", "value": "More?"},
            {"from": "gpt", "value": "No."},
        ]
    }
    s = normalize_record(rec, 1)
    assert isinstance(s, Sample)
    assert (s.system, s.instruction, s.response, s.format) == ("Be brief.", "Hi?", "Hello.", "sharegpt")


def test_openai_messages_with_content_parts_and_think_block() -> None:
    rec = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "Solve "}, {"type": "text", "text": "1+1"}],
            },
            {"role": "assistant", "content": "<think>one plus one</think>\nThe answer is 2."},
        ]
    }
    s = normalize_record(rec, 0)
    assert isinstance(s, Sample)
    assert s.instruction == "Solve 1+1"
    assert s.think == "one plus one"
    assert s.final_response == "The answer is 2."
    assert s.format == "messages+think"


def test_separate_reasoning_field_is_the_think_trace() -> None:
    s = normalize_record({"prompt": "Q", "response": "A", "reasoning_content": "let me think"}, 0)
    assert isinstance(s, Sample) and s.think == "let me think" and s.format == "alpaca+think"


@pytest.mark.parametrize(
    ("record", "kind", "fragment"),
    [
        ({"instruction": "x", "output": ""}, "skip", "empty response"),
        ({"instruction": "   ", "output": "y"}, "skip", "empty instruction"),
        ({"output": "y", "title": "t"}, "error", "no instruction field"),
        ({"instruction": {"nested": 1}, "output": "y"}, "error", "not text"),
        ({"messages": [{"role": "assistant", "content": "orphan"}]}, "error", "no user turn"),
        (["a", "list"], "error", "expected a JSON object"),
    ],
)
def test_bad_records_get_a_clear_reason(record: object, kind: str, fragment: str) -> None:
    err = normalize_record(record, 5)
    assert isinstance(err, SampleError)
    assert err.kind == kind and fragment in err.reason


def test_jsonl_bad_data_is_reported_per_line_and_reading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    big = json.dumps({"instruction": "big", "output": "x" * (1024 * 1024)})
    with open(path, "wb") as fh:
        fh.write(json.dumps({"instruction": "a", "output": "b"}).encode() + b"\n")
        fh.write(b"\n")  # blank lines are ignored
        fh.write(b'{"instruction": "caf\xe9", "output": "latin-1 byte"}\n')
        fh.write(b"{not json\n")
        fh.write(big.encode() + b"\n")
        fh.write(
            json.dumps(
                {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "r"}]}
            ).encode()
            + b"\n"
        )
        fh.write(
            json.dumps(
                {"messages": [{"role": "user", "content": "q2"}, {"role": "assistant", "content": "r2"}]}
            ).encode()
            + b"\n"
        )
    items = list(iter_samples(path))
    assert len(items) == 6
    kinds = [type(i).__name__ for i in items]
    assert kinds == ["Sample", "SampleError", "SampleError", "SampleError", "Sample", "Sample"]
    errors = [i for i in items if isinstance(i, SampleError)]
    assert "not valid UTF-8" in errors[0].reason and "0xe9" in errors[0].reason
    assert "not valid JSON" in errors[1].reason
    assert "KiB; the limit is 512 KiB" in errors[2].reason
    assert [i.format for i in items if isinstance(i, Sample)] == ["alpaca", "sharegpt", "messages"]
    assert [i.id for i in items] == ["#0", "#1", "#2", "#3", "#4", "#5"]


def test_lone_surrogate_escape_is_a_record_error(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(
        '{"instruction": "a\\ud800b", "output": "x"}\n{"instruction": "ok \\u00e9", "output": "y"}\n'
    )
    items = list(iter_samples(path))
    assert isinstance(items[0], SampleError) and "surrogate" in items[0].reason
    assert isinstance(items[1], Sample) and items[1].instruction == "ok é"


def test_empty_file_yields_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "empty.json").write_bytes(b"  \n")
    assert list(iter_samples(tmp_path / "empty.jsonl")) == []
    assert list(iter_samples(tmp_path / "empty.json")) == []


def test_json_array_is_streamed_across_buffer_refills(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inputs, "_READ_CHUNK", 64)  # force many refills mid-record
    rows = [{"instruction": f"q{i} " * 5, "output": f"answer {i} " * 7} for i in range(50)]
    path = tmp_path / "data.json"
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    items = list(iter_samples(path))
    assert [s.instruction for s in items if isinstance(s, Sample)] == [r["instruction"] for r in rows]


def test_json_array_reports_bad_utf8_per_record(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_bytes(b'[{"instruction": "ok", "output": "fine"}, {"instruction": "bad \xff", "output": "x"}]')
    items = list(iter_samples(path))
    assert isinstance(items[0], Sample)
    assert isinstance(items[1], SampleError) and "not valid UTF-8" in items[1].reason


def test_truncated_json_array_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text('[{"instruction": "a", "output": "b"}, {"instruction": "c", "out', encoding="utf-8")
    with pytest.raises(InputError, match="record #1"):
        list(iter_samples(path))


def test_parquet_by_record_batches_and_folder_order(tmp_path: Path) -> None:
    table = pa.table(
        {"instruction": [f"q{i}" for i in range(2500)], "output": [f"a{i}" for i in range(2500)]}
    )
    pq.write_table(table, tmp_path / "b.parquet", row_group_size=1000)
    write_jsonl(tmp_path / "a.jsonl", [{"instruction": "first", "output": "one"}])
    items = list(iter_samples(tmp_path))
    assert len(items) == 2501
    assert items[0].instruction == "first"  # type: ignore[union-attr]
    assert items[-1].id == "#2500" and items[-1].response == "a2499"  # type: ignore[union-attr]


def test_limit_and_unknown_source(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"instruction": str(i), "output": "x"} for i in range(10)])
    assert len(list(iter_samples(path, limit=3))) == 3
    with pytest.raises(InputError, match="not a Hub dataset id"):
        list(iter_samples(tmp_path / "missing.txt"))


def _hub_world(root: Path) -> Path:
    ds = root / "datasets" / "org" / "tiny"
    (ds / "data").mkdir(parents=True)
    (ds / "README.md").write_text("---\nlicense: mit\n---\n# tiny\n", encoding="utf-8")
    write_jsonl(ds / "data" / "train.jsonl", [{"instruction": f"q{i}", "output": f"a{i}"} for i in range(3)])
    write_jsonl(ds / "data" / "test.jsonl", [{"instruction": "t", "output": "u"}])
    return root


def test_hub_dataset_through_huggingface_hub_and_hf_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_hub(_hub_world(tmp_path / "world")) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.base_url)
        items = list(iter_samples("org/tiny", split="train", cache_dir=tmp_path / "hf"))
        assert [s.instruction for s in items if isinstance(s, Sample)] == ["q0", "q1", "q2"]
        assert len(list(iter_samples("org/tiny", cache_dir=tmp_path / "hf"))) == 4  # both splits
        with pytest.raises(InputError, match="not found"):
            list(iter_samples("org/missing", cache_dir=tmp_path / "hf"))
        with pytest.raises(InputError, match="no data file for split"):
            list(iter_samples("org/tiny", split="validation", cache_dir=tmp_path / "hf"))
