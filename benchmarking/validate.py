"""Check a rendered training config with LLaMA-Factory's own argument parser (extra ``benchmarking[train]``).

``HfArgumentParser`` over LLaMA-Factory's argument dataclasses rejects unknown keys and ill-typed values. Two
settings depend on the machine the job will run on, not on the config: ``deepspeed`` (needs the DeepSpeed package
and a GPU launcher) and ``bf16`` (needs a GPU). When this machine cannot honour them, the check parses the config
with them neutralized (DeepSpeed's JSON is checked separately: it must load and set ZeRO stage 3).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from oda.errors import BenchmarkError


def llamafactory_available() -> bool:
    """True when LLaMA-Factory (and so torch and transformers) can be imported."""
    return importlib.util.find_spec("llamafactory") is not None


def _machine_can(feature: str) -> bool:
    if feature == "deepspeed":
        return importlib.util.find_spec("deepspeed") is not None
    if feature == "bf16":
        import torch

        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return False


def check_deepspeed_config(path: str | Path) -> dict[str, Any]:
    """Load a DeepSpeed JSON and require ZeRO stage 3 (Table 2: ``ds_z3_config``)."""
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BenchmarkError(f"DeepSpeed config {path}: {exc}") from exc
    stage = config.get("zero_optimization", {}).get("stage")
    if stage != 3:
        raise BenchmarkError(f"DeepSpeed config {path}: ZeRO stage is {stage!r}, expected 3")
    return dict(config)


def validate_train_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Parse ``config`` with LLaMA-Factory's argument parser; raise ``BenchmarkError`` with its message.

    Returns a summary of the parsed values of the keys the presets fix (as LLaMA-Factory understood them).
    """
    if not llamafactory_available():
        raise BenchmarkError(
            "LLaMA-Factory is not installed; install the extra: pip install 'oda-lineage[train]'"
        )
    from llamafactory.hparams.parser import _TRAIN_ARGS
    from transformers import HfArgumentParser

    args = dict(config)
    neutralized: list[str] = []
    if args.get("deepspeed"):
        check_deepspeed_config(args["deepspeed"])
        if not _machine_can("deepspeed"):
            args.pop("deepspeed")
            neutralized.append("deepspeed")
    if args.get("bf16") and not _machine_can("bf16"):
        args["bf16"] = False
        args["use_cpu"] = True
        neutralized.append("bf16")
    parser = HfArgumentParser(_TRAIN_ARGS)
    try:
        model_args, data_args, training_args, finetuning_args, _ = parser.parse_dict(args)
    except (ValueError, TypeError) as exc:
        raise BenchmarkError(f"LLaMA-Factory rejected the training config: {exc}") from exc
    return {
        "model_name_or_path": model_args.model_name_or_path,
        "stage": finetuning_args.stage,
        "finetuning_type": finetuning_args.finetuning_type,
        "template": data_args.template,
        "cutoff_len": data_args.cutoff_len,
        "packing": data_args.packing,
        "per_device_train_batch_size": training_args.per_device_train_batch_size,
        "gradient_accumulation_steps": training_args.gradient_accumulation_steps,
        "learning_rate": training_args.learning_rate,
        "num_train_epochs": training_args.num_train_epochs,
        "lr_scheduler_type": str(
            getattr(training_args.lr_scheduler_type, "value", training_args.lr_scheduler_type)
        ),
        "warmup_ratio": training_args.warmup_ratio,
        "use_liger_kernel": training_args.use_liger_kernel,
        "neutralized": neutralized,
    }
