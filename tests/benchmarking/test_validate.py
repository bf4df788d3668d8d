"""LLaMA-Factory's own argument parser accepts every rendered preset (skipped when the extra is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarking import render
from benchmarking.presets import PresetRegistry, deepspeed_config_path
from oda.errors import BenchmarkError

pytest.importorskip(
    "llamafactory", reason="LLaMA-Factory is an optional extra: pip install 'oda-lineage[train]'"
)

from benchmarking.validate import check_deepspeed_config, validate_train_config

PRESETS = ["llama3.1-8b", "llama3.1-8b-long-cot", "qwen2.5-7b", "qwen2.5-7b-long-cot", "qwen3-8b-long-cot"]


def _config(registry: PresetRegistry, name: str, tmp_path: Path, **overrides: object) -> dict:
    preset = registry.train(name)
    return render.train_config(
        preset,
        dataset_name="d",
        dataset_dir=str(tmp_path),
        output_dir=str(tmp_path / "out"),
        deepspeed_path=str(deepspeed_config_path(preset.hparams.deepspeed)),
        overrides=overrides,
    )


@pytest.mark.parametrize("name", PRESETS)
def test_llamafactory_parser_accepts_the_preset(registry: PresetRegistry, name: str, tmp_path: Path) -> None:
    parsed = validate_train_config(_config(registry, name, tmp_path))
    hp = registry.train(name).hparams
    # LLaMA-Factory itself shortens cutoff_len by one token when packing (data_args.__post_init__)
    assert parsed["cutoff_len"] == hp.cutoff_len - (1 if hp.packing else 0)
    assert parsed["packing"] is hp.packing
    assert parsed["learning_rate"] == hp.learning_rate
    assert parsed["per_device_train_batch_size"] == hp.per_device_train_batch_size
    assert parsed["gradient_accumulation_steps"] == hp.gradient_accumulation_steps
    assert parsed["warmup_ratio"] == hp.warmup_ratio
    assert parsed["lr_scheduler_type"] == "cosine"
    assert parsed["use_liger_kernel"] is True
    assert parsed["stage"] == "sft" and parsed["finetuning_type"] == "full"


def test_parser_rejects_a_misspelled_key(registry: PresetRegistry, tmp_path: Path) -> None:
    config = _config(registry, "qwen2.5-7b", tmp_path, cutof_len=1024)
    with pytest.raises(BenchmarkError, match="cutof_len"):
        validate_train_config(config)


def test_parser_rejects_a_bad_value(registry: PresetRegistry, tmp_path: Path) -> None:
    config = _config(registry, "qwen2.5-7b", tmp_path, lr_scheduler_type="zigzag")
    with pytest.raises(BenchmarkError, match="rejected"):
        validate_train_config(config)


def test_deepspeed_config_must_be_zero3(tmp_path: Path) -> None:
    z2 = tmp_path / "z2.json"
    z2.write_text('{"zero_optimization": {"stage": 2}}')
    with pytest.raises(BenchmarkError, match="stage is 2"):
        check_deepspeed_config(z2)
