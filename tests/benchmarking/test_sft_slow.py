"""One real LLaMA-Factory SFT run on CPU: a tiny Llama and tokenizer built here, the rendered train.yaml of a
Table 2 preset with CPU overrides, ``llamafactory-cli train`` in a subprocess, two optimizer steps."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarking import render
from benchmarking.prepare import prepare_dataset
from benchmarking.presets import PresetRegistry
from tests.support.tiny_llama import build_tiny_llama

pytestmark = pytest.mark.slow

pytest.importorskip(
    "llamafactory", reason="LLaMA-Factory is an optional extra: pip install 'oda-lineage[train]'"
)

# What a CPU smoke run must change in a GPU preset; everything else is the preset's own.
CPU_OVERRIDES = {
    "use_cpu": True,
    "bf16": None,
    "deepspeed": None,
    "use_liger_kernel": False,
    "max_steps": 2,
    "cutoff_len": 128,
    "preprocessing_num_workers": 1,
    "per_device_train_batch_size": 2,
    "gradient_accumulation_steps": 1,
    "logging_steps": 1,
    "save_strategy": "no",
    "ddp_timeout": None,
    "dataloader_num_workers": 0,
}


def test_one_real_sft_step_on_cpu(registry: PresetRegistry, tmp_path: Path) -> None:
    cli = shutil.which("llamafactory-cli") or str(Path(sys.executable).parent / "llamafactory-cli")
    rows = [{"instruction": f"Add {i} and {i + 1}.", "output": f"The sum is {2 * i + 1}."} for i in range(16)]
    source = tmp_path / "sums.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    prepared = prepare_dataset(source, tmp_path / "data", name="sums")
    assert prepared.n_samples == 16
    corpus = [r["instruction"] + " " + r["output"] for r in rows] * 4
    model = build_tiny_llama(tmp_path / "tiny", corpus)

    preset = registry.train("qwen2.5-7b").model_copy(update={"model_name_or_path": str(model)})
    config = render.train_config(
        preset,
        dataset_name="sums",
        dataset_dir=str(tmp_path / "data"),
        output_dir=str(tmp_path / "out"),
        deepspeed_path="unused",
        overrides=CPU_OVERRIDES,
    )
    from benchmarking.validate import validate_train_config

    assert validate_train_config(config)["learning_rate"] == preset.hparams.learning_rate
    yaml_path = tmp_path / "train.yaml"
    yaml_path.write_text(render.to_yaml(config))

    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
        "WANDB_DISABLED": "true",
        "DISABLE_VERSION_CHECK": "1",
    }
    proc = subprocess.run(
        [cli, "train", str(yaml_path)], capture_output=True, text=True, timeout=540, env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    out = tmp_path / "out"
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    assert any("loss" in entry for entry in state["log_history"])
    assert list(out.glob("*.safetensors"))
