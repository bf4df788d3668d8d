"""Pure renderers: OpenCompass configs (vLLM and OpenAI-compatible), step scripts with markers, sbatch scripts."""

from __future__ import annotations

import ast
import os
import subprocess
from pathlib import Path

import pytest

from benchmarking import render
from benchmarking.executors.base import read_markers
from benchmarking.executors.slurm import array_spec
from benchmarking.presets import PresetRegistry
from oda.errors import ConfigError, InputError


def _models_call(text: str) -> ast.Call:
    tree = ast.parse(text)
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "models":
            call = node.value.elts[0]  # type: ignore[attr-defined]
            assert isinstance(call, ast.Call)
            return call
    raise AssertionError("no models = [...] in the config")


def _kwargs(call: ast.Call) -> dict[str, object]:
    out: dict[str, object] = {}
    for kw in call.keywords:
        try:
            out[kw.arg] = ast.literal_eval(kw.value)  # type: ignore[index]
        except ValueError:
            out[kw.arg] = ast.unparse(kw.value)  # type: ignore[index]
    return out


def test_vllm_config_carries_table_3_settings(registry: PresetRegistry) -> None:
    target = render.EvalTarget(abbr="qwen3-x", path="/ckpt/x", num_gpus=8)
    out = render.opencompass_config(
        registry.suite("oda"), registry.inference("qwen3-8b"), target, work_dir="/w"
    )
    compile(out.text, "eval_config.py", "exec")
    kw = _kwargs(_models_call(out.text))
    assert kw["type"] == "VLLMwithChatTemplate"
    assert kw["path"] == "/ckpt/x" and kw["max_out_len"] == 32768
    assert kw["generation_kwargs"] == {"temperature": 0.6, "top_p": 0.95, "top_k": 20}
    assert "from opencompass.configs.datasets.gsm8k.gsm8k_gen import gsm8k_datasets" in out.text
    assert set(out.skipped) == {"HMMT_Feb_2025", "CMIMC_2025", "BRUMO_2025"}
    assert len(out.benchmarks) == 19


def test_openai_compatible_config(registry: PresetRegistry) -> None:
    target = render.EvalTarget(
        backend="openai",
        abbr="served",
        api_base="http://127.0.0.1:8000/v1",
        api_model="my-model",
        tokenizer_path="/tok",
    )
    out = render.opencompass_config(
        registry.suite("oda"),
        registry.inference("llama3.1-8b"),
        target,
        work_dir="/w",
        benchmarks=["gsm8k", "HumanEval"],
    )
    compile(out.text, "eval_config.py", "exec")
    kw = _kwargs(_models_call(out.text))
    assert kw["type"] == "OpenAISDK"
    assert kw["openai_api_base"] == "http://127.0.0.1:8000/v1" and kw["path"] == "my-model"
    assert kw["temperature"] == 0 and kw["key"] == "ENV"
    assert [b.name for b in out.benchmarks] == ["GSM8K", "HumanEval"]
    with pytest.raises(InputError, match="not in suite"):
        render.opencompass_config(
            registry.suite("oda"),
            registry.inference("llama3.1-8b"),
            target,
            work_dir="/w",
            benchmarks=["NotABench"],
        )
    with pytest.raises(InputError, match="api_base"):
        render.opencompass_config(
            registry.suite("oda"),
            registry.inference("llama3.1-8b"),
            render.EvalTarget(backend="openai", abbr="x"),
            work_dir="/w",
        )


def _run(script: Path) -> int:
    return subprocess.run(["bash", str(script)], capture_output=True, timeout=30).returncode


def test_step_script_markers(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    flag = tmp_path / "fail"
    flag.write_text("")
    cmd = f"if [ -e {flag} ]; then rm {flag}; exit 7; fi; echo ok >> {tmp_path / 'count'}"
    train = run_dir / "train.sh"
    train.write_text(render.step_script(run_id="r", run_dir=str(run_dir), step="train", command=cmd))
    evals = run_dir / "eval.sh"
    evals.write_text(
        render.step_script(run_id="r", run_dir=str(run_dir), step="eval", command="true", requires="train")
    )
    assert _run(evals) == 3
    assert read_markers(run_dir, "eval").state == "blocked"
    assert _run(train) == 7
    m = read_markers(run_dir, "train")
    assert m.state == "failed" and "exit code 7" in m.detail and m.attempts == 1
    assert _run(train) == 0
    assert read_markers(run_dir, "train").state == "completed"
    assert _run(train) == 0  # skipped: completed
    assert (tmp_path / "count").read_text().count("ok") == 1
    assert read_markers(run_dir, "train").attempts == 2
    assert _run(evals) == 0 and read_markers(run_dir, "eval").state == "completed"


def test_step_script_records_a_sigterm_as_killed(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    script = run_dir / "train.sh"
    # The command runs only after the script has set its SIGTERM trap; it says so through a pipe the test reads.
    started = tmp_path / "started"
    os.mkfifo(started)
    command = f"echo started > {started}; exec sleep 30"
    script.write_text(render.step_script(run_id="r", run_dir=str(run_dir), step="train", command=command))
    proc = subprocess.Popen(["bash", str(script)])
    assert started.read_text().strip() == "started"
    proc.terminate()
    assert proc.wait(timeout=10) == 143
    m = read_markers(run_dir, "train")
    assert m.state == "killed" and "SIGTERM" in m.detail


def test_sbatch_array_script() -> None:
    res = render.SlurmResources(
        partition="gpu", gpus_per_node=8, cpus_per_task=32, mem="400G", time="48:00:00", max_parallel=4
    )
    text = render.sbatch_array_script(
        job_name="oda-eval-b1",
        step="eval",
        manifest="/b/manifest.txt",
        log_dir="/b/slurm",
        resources=res,
        array="0-2,5",
        dependency="aftercorr:123",
    )
    for line in (
        "#SBATCH --array=0-2,5%4",
        "#SBATCH --dependency=aftercorr:123",
        "#SBATCH --kill-on-invalid-dep=yes",
        "#SBATCH --gpus-per-node=8",
        "#SBATCH --partition=gpu",
        "#SBATCH --mem=400G",
        "#SBATCH --time=48:00:00",
        "#SBATCH --requeue",
        "#SBATCH --output=/b/slurm/%x-%A_%a.out",
    ):
        assert line in text
    assert 'exec bash "$RUN_DIR/eval.sh"' in text
    cpu = render.sbatch_array_script(
        job_name="j",
        step="train",
        manifest="/m",
        log_dir="/l",
        resources=render.SlurmResources(gpus_per_node=0),
        array="0",
    )
    assert "--gpus-per-node" not in cpu and "--dependency" not in cpu


def test_array_spec() -> None:
    assert array_spec([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"
    assert array_spec([3]) == "3"
    assert array_spec([]) == ""


def test_fill_command_quotes_and_rejects_unknown_placeholders() -> None:
    assert render.fill_command("run {train_yaml}", {"train_yaml": "/a b/t.yaml"}) == "run '/a b/t.yaml'"
    with pytest.raises(ConfigError, match="placeholder"):
        render.fill_command("run {nope}", {"train_yaml": "x"})


def test_dataset_info_entry() -> None:
    entry = render.dataset_info_entry("ds", "ds.json")
    assert entry == {
        "ds": {
            "file_name": "ds.json",
            "formatting": "alpaca",
            "columns": {"prompt": "instruction", "query": "input", "response": "output"},
        }
    }
