"""Presets: golden tests of the rendered training YAML against the paper's Table 2, Tables 3-4, and the registry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from benchmarking import render
from benchmarking.presets import PresetRegistry, deepspeed_config_path, load_registry
from oda.errors import ConfigError, InputError

# Table 2 of the paper, column by column (base model, cutoff_len, packing, batch, grad acc, lr, warmup).
TABLE_2 = {
    "llama3.1-8b": ("meta-llama/Llama-3.1-8B", 4096, False, 4, 4, 2.0e-5, 0.03),
    "llama3.1-8b-long-cot": ("meta-llama/Llama-3.1-8B", 32768, True, 2, 2, 3.0e-5, 0.03),
    "qwen2.5-7b": ("Qwen/Qwen2.5-7B", 4096, False, 4, 4, 5.0e-6, 0.1),
    "qwen2.5-7b-long-cot": ("Qwen/Qwen2.5-7B", 32768, True, 2, 2, 5.0e-5, 0.1),
    "qwen3-8b-long-cot": ("Qwen/Qwen3-8B-Base", 32768, True, 2, 2, 5.0e-5, 0.1),
}


def rendered_yaml(registry: PresetRegistry, name: str, tmp_path: Path) -> dict:
    preset = registry.train(name)
    config = render.train_config(
        preset,
        dataset_name="d",
        dataset_dir=str(tmp_path),
        output_dir=str(tmp_path / "out"),
        deepspeed_path=str(deepspeed_config_path(preset.hparams.deepspeed)),
    )
    return yaml.safe_load(render.to_yaml(config))


@pytest.mark.parametrize("name", sorted(TABLE_2))
def test_rendered_train_yaml_matches_table_2(registry: PresetRegistry, name: str, tmp_path: Path) -> None:
    model, cutoff, packing, batch, accum, lr, warmup = TABLE_2[name]
    y = rendered_yaml(registry, name, tmp_path)
    assert y["model_name_or_path"] == model
    assert y["cutoff_len"] == cutoff
    assert y["packing"] is packing
    assert y["per_device_train_batch_size"] == batch
    assert y["gradient_accumulation_steps"] == accum
    assert y["learning_rate"] == pytest.approx(lr, rel=0, abs=1e-12)
    assert y["warmup_ratio"] == pytest.approx(warmup)
    # the same in every column of Table 2
    assert y["template"] == "default"
    assert y["preprocessing_num_workers"] == 16
    assert y["use_liger_kernel"] is True
    assert y["num_train_epochs"] == 3.0
    assert y["lr_scheduler_type"] == "cosine"
    assert y["stage"] == "sft" and y["do_train"] is True and y["finetuning_type"] == "full"
    ds = yaml.safe_load(Path(y["deepspeed"]).read_text())
    assert ds["zero_optimization"]["stage"] == 3


def test_base_model_keys_and_long_cot(registry: PresetRegistry) -> None:
    assert registry.for_base_model("llama3.1-8b").name == "llama3.1-8b"
    assert registry.for_base_model("llama3.1-8b", long_cot=True).name == "llama3.1-8b-long-cot"
    assert registry.for_base_model("qwen2.5-7b", long_cot=True).name == "qwen2.5-7b-long-cot"
    assert registry.for_base_model("qwen3-8b", long_cot=True).name == "qwen3-8b-long-cot"
    with pytest.raises(InputError, match="--long-cot"):
        registry.for_base_model("qwen3-8b")


def test_unknown_preset_suggests_the_closest(registry: PresetRegistry) -> None:
    with pytest.raises(InputError, match=re.escape("did you mean 'qwen2.5-7b'")):
        registry.for_base_model("qwen2.5-7")
    with pytest.raises(InputError, match=re.escape("did you mean 'llama3.1-8b'")):
        registry.train("llama3.1-8")
    with pytest.raises(InputError, match="unknown base model 'gpt2'"):
        registry.for_base_model("gpt2")


def test_inference_presets_match_table_3(registry: PresetRegistry) -> None:
    for name in ("llama3.1-8b", "qwen2.5-7b"):
        p = registry.inference(name)
        assert (p.max_out_len, p.hf_type, p.temperature, p.top_p, p.top_k) == (32768, "chat", 0, None, None)
    q3 = registry.inference("qwen3-8b")
    assert (q3.max_out_len, q3.temperature, q3.top_p, q3.top_k) == (32768, 0.6, 0.95, 20)
    assert q3.setting == "vllm_qwen3_8b_instruct"


def test_suite_matches_table_4(registry: PresetRegistry) -> None:
    suite = registry.suite("oda")
    by_domain: dict[str, list[str]] = {}
    for b in suite.benchmarks:
        by_domain.setdefault(b.domain, []).append(b.name)
    assert {d: len(v) for d, v in by_domain.items()} == {"General": 4, "Math": 9, "Code": 4, "Reasoning": 5}
    shots = {b.name: b.shots for b in suite.benchmarks}
    assert shots["DROP"] == 3 and shots["AGIEval"] == 5 and shots["MMLU-PRO"] == 5 and shots["MBPP"] == 3
    assert sum(shots.values()) == 16  # every other benchmark is 0-shot
    assert suite.lookup("Omni-MATH").evaluator == "Omni-Judge"  # type: ignore[union-attr]
    assert suite.lookup("LCB(v5)").name == "LiveCodeBench(v5)"  # type: ignore[union-attr]
    assert suite.lookup("humaneval+").name == "HumanEval+"  # type: ignore[union-attr]
    assert suite.lookup("humaneval").name == "HumanEval"  # type: ignore[union-attr]
    assert suite.lookup("nonexistent") is None


def test_user_preset_file_adds_a_preset(tmp_path: Path) -> None:
    user = tmp_path / "mine.yaml"
    text = (Path(__file__).parents[2] / "benchmarking" / "presets" / "qwen2.5-7b.yaml").read_text()
    user.write_text(
        text.replace("name: qwen2.5-7b", "name: qwen2.5-7b-lr1e-5")
        .replace("base_model: qwen2.5-7b", "base_model: my-qwen")
        .replace("learning_rate: 5.0e-6", "learning_rate: 1.0e-5")
    )
    reg = load_registry(user)
    assert reg.train("qwen2.5-7b-lr1e-5").hparams.learning_rate == 1.0e-5
    assert reg.for_base_model("my-qwen").name == "qwen2.5-7b-lr1e-5"


def test_user_preset_collision_and_bad_file_are_errors(tmp_path: Path) -> None:
    clash = tmp_path / "clash.yaml"
    clash.write_text((Path(__file__).parents[2] / "benchmarking" / "presets" / "qwen2.5-7b.yaml").read_text())
    with pytest.raises(ConfigError, match="already defined"):
        load_registry(clash)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "kind: train\nname: x\nbase_model: y\nmodel_name_or_path: z\ninference: q\nhparams: {cutoff_len: -1}\n"
    )
    with pytest.raises(ConfigError, match="invalid train preset"):
        load_registry(bad)
    with pytest.raises(ConfigError, match="kind"):
        (tmp_path / "k.yaml").write_text("kind: nope\nname: x\n")
        load_registry(tmp_path / "k.yaml")
    with pytest.raises(ConfigError, match="not found"):
        load_registry(tmp_path / "missing.yaml")


def test_suite_benchmarks_are_the_lineage_catalogs_benchmark_nodes(registry: PresetRegistry) -> None:
    """Results are recorded under the same node ids that tracing gives benchmarks, so contamination joins work."""
    catalog_file = Path(__file__).parents[2] / "catalog" / "catalog.yaml"
    if not catalog_file.exists():
        pytest.skip("the lineage catalog is not present")
    entries = yaml.safe_load(catalog_file.read_text())["entries"]
    benchmark_ids = {e["id"] for e in entries if e.get("is_benchmark")}
    missing = [b.name for b in registry.suite("oda").benchmarks if b.node_id not in benchmark_ids]
    assert missing == []


@pytest.mark.parametrize("name", sorted(TABLE_2))
def test_rendered_train_yaml_matches_the_golden_file(registry: PresetRegistry, name: str) -> None:
    """The whole rendered text, key order included, as reviewed against Table 2 (tests/benchmarking/golden/)."""
    golden = Path(__file__).parent / "golden" / f"{name}.train.yaml"
    expected = "".join(
        line for line in golden.read_text().splitlines(keepends=True) if not line.startswith("#")
    )
    config = render.train_config(
        registry.train(name),
        dataset_name="my_dataset",
        dataset_dir="/runs/x/data",
        output_dir="/runs/x/model",
        deepspeed_path="/presets/ds_z3_config.json",
    )
    assert render.to_yaml(config) == expected
