"""Pure renderers: a preset plus a dataset in, configuration text out. No I/O, no clock, no environment.

- ``train_config``: the LLaMA-Factory training arguments (``train.yaml``), Table 2's keys under LLaMA-Factory's names;
- ``dataset_info_entry``: the ``dataset_info.json`` entry of a normalized (alpaca-format) dataset;
- ``opencompass_config``: an OpenCompass config (Python) that evaluates a model served by vLLM or by any
  OpenAI-compatible endpoint on a benchmark suite;
- ``step_script``: the bash script of one step (train or eval) of one run, with completion markers;
- ``job_script``: a single sbatch-able script that runs train then eval for one dataset;
- ``sbatch_array_script``: the batch-level array job that dispatches one task per run.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from benchmarking.presets import BenchmarkSpec, InferencePreset, SuitePreset, TrainPreset
from benchmarking.states import BLOCKED_EXIT_CODE
from graph_store.models import is_hf_id

# Training keys that Table 2 does not fix; chosen for a standard full-parameter SFT run (see docs/benchmarking.md).
TRAIN_DEFAULTS: dict[str, Any] = {
    "stage": "sft",
    "do_train": True,
    "overwrite_cache": True,
    "bf16": True,
    "logging_steps": 10,
    "save_strategy": "epoch",
    "save_only_model": True,
    "plot_loss": False,
    "report_to": "none",
    "ddp_timeout": 180000000,
}

ALPACA_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output", "system": "system"}

DEFAULT_TRAIN_COMMAND = "FORCE_TORCHRUN=1 llamafactory-cli train {train_yaml}"
DEFAULT_EVAL_COMMAND = "opencompass {eval_config} --work-dir {eval_dir}"


def slugify(value: str) -> str:
    """A file-system and job-name safe slug: ``"org/Name v2"`` -> ``"org--name-v2"``."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", value.lower().replace("/", "--")).strip("-.")
    return slug[:120] or "dataset"


def dataset_slug(dataset: str) -> str:
    """The short, stable name of a dataset in run ids, folders and job names.

    A Hub id keeps its name (``"tatsu-lab/alpaca"`` -> ``"tatsu-lab--alpaca"``); a local path becomes its file
    stem plus a digest of its absolute path (``"/data/mix.jsonl"`` -> ``"mix-1a2b3c4d"``), so two files with the
    same name never share a run.
    """
    if dataset.startswith("ext:") or is_hf_id(dataset):
        return slugify(dataset)
    absolute = os.path.abspath(dataset)
    stem = os.path.basename(absolute.rstrip("/")).split(".")[0] or "dataset"
    digest = hashlib.sha1(absolute.encode("utf-8")).hexdigest()[:8]
    return slugify(f"{stem}-{digest}")


def train_config(
    preset: TrainPreset,
    *,
    dataset_name: str,
    dataset_dir: str,
    output_dir: str,
    deepspeed_path: str,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The LLaMA-Factory arguments of one SFT run, in a stable key order.

    Table 2's keys come from the preset unchanged; ``overrides`` (e.g. ``{"use_cpu": True, "max_steps": 2}`` for
    a CPU smoke run) win over everything.
    """
    hp = preset.hparams
    config: dict[str, Any] = {
        "model_name_or_path": preset.model_name_or_path,
        "stage": TRAIN_DEFAULTS["stage"],
        "do_train": TRAIN_DEFAULTS["do_train"],
        "finetuning_type": preset.finetuning_type,
        "deepspeed": deepspeed_path,
        "dataset": dataset_name,
        "dataset_dir": dataset_dir,
        "template": hp.template,
        "cutoff_len": hp.cutoff_len,
        "overwrite_cache": TRAIN_DEFAULTS["overwrite_cache"],
        "preprocessing_num_workers": hp.preprocessing_num_workers,
        "packing": hp.packing,
        "output_dir": output_dir,
        "logging_steps": TRAIN_DEFAULTS["logging_steps"],
        "save_strategy": TRAIN_DEFAULTS["save_strategy"],
        "save_only_model": TRAIN_DEFAULTS["save_only_model"],
        "plot_loss": TRAIN_DEFAULTS["plot_loss"],
        "report_to": TRAIN_DEFAULTS["report_to"],
        "per_device_train_batch_size": hp.per_device_train_batch_size,
        "gradient_accumulation_steps": hp.gradient_accumulation_steps,
        "learning_rate": hp.learning_rate,
        "num_train_epochs": hp.num_train_epochs,
        "lr_scheduler_type": hp.lr_scheduler_type,
        "warmup_ratio": hp.warmup_ratio,
        "use_liger_kernel": hp.use_liger_kernel,
        "bf16": TRAIN_DEFAULTS["bf16"],
        "ddp_timeout": TRAIN_DEFAULTS["ddp_timeout"],
    }
    config.update(hp.extra)
    if overrides:
        for key, value in overrides.items():
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value
    return config


def to_yaml(config: Mapping[str, Any]) -> str:
    """YAML text in the mapping's own key order."""
    return yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True, default_flow_style=False)


def dataset_info_entry(dataset_name: str, file_name: str, *, has_system: bool = False) -> dict[str, Any]:
    """The ``dataset_info.json`` entry of an alpaca-format JSON file (instruction/input/output[/system])."""
    columns = {k: v for k, v in ALPACA_COLUMNS.items() if k != "system" or has_system}
    return {dataset_name: {"file_name": file_name, "formatting": "alpaca", "columns": columns}}


@dataclass(frozen=True, kw_only=True)
class EvalTarget:
    """What OpenCompass evaluates: a local checkpoint served by vLLM, or a model behind an OpenAI-compatible API."""

    backend: Literal["vllm", "openai"] = "vllm"
    abbr: str
    path: str = ""
    num_gpus: int = 1
    batch_size: int = 16
    api_base: str | None = None
    api_model: str | None = None
    tokenizer_path: str | None = None
    query_per_second: int = 8


def _py(value: Any) -> str:
    """A Python literal (repr) for a config value."""
    return repr(value)


def _generation_kwargs(inference: InferencePreset) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"temperature": inference.temperature}
    if inference.top_p is not None:
        kwargs["top_p"] = inference.top_p
    if inference.top_k is not None:
        kwargs["top_k"] = inference.top_k
    return kwargs


@dataclass
class RenderedEval:
    """An OpenCompass config and what it left out."""

    text: str
    benchmarks: list[BenchmarkSpec]
    skipped: list[str] = field(default_factory=list)


def opencompass_config(
    suite: SuitePreset,
    inference: InferencePreset,
    target: EvalTarget,
    *,
    work_dir: str,
    benchmarks: Sequence[str] | None = None,
    title: str = "",
) -> RenderedEval:
    """An OpenCompass config (Python source) for ``target`` on the suite's benchmarks (or the named subset).

    Benchmarks without a stock OpenCompass dataset config (``oc_module``) are left out and listed in ``skipped``
    and in a comment of the file.
    """
    chosen: list[BenchmarkSpec] = []
    if benchmarks:
        for name in benchmarks:
            spec = suite.lookup(name)
            if spec is None:
                from oda.errors import InputError

                raise InputError(f"benchmark {name!r} is not in suite {suite.name!r}")
            chosen.append(spec)
    else:
        chosen = list(suite.benchmarks)
    usable = [b for b in chosen if b.oc_module and b.oc_var]
    skipped = [b.name for b in chosen if not (b.oc_module and b.oc_var)]

    gen = _generation_kwargs(inference)
    lines = [f"# OpenCompass config rendered by `oda bench`. {title}".rstrip()]
    lines.append(
        f"# Inference preset {inference.name!r} ({inference.setting}): max_out_len={inference.max_out_len}, "
        f"{', '.join(f'{k}={v}' for k, v in gen.items())}."
    )
    if skipped:
        lines.append(f"# Not rendered (no stock OpenCompass dataset config): {', '.join(skipped)}.")
    lines.append("from mmengine.config import read_base")
    if target.backend == "vllm":
        lines.append("from opencompass.models import VLLMwithChatTemplate")
    else:
        lines.append("from opencompass.models import OpenAISDK")
    lines.append("")
    lines.append("with read_base():")
    if usable:
        for b in usable:
            lines.append(f"    from {b.oc_module} import {b.oc_var}  # {b.name}: {b.shots}-shot, {b.metric}")
    else:
        lines.append("    pass")
    lines.append("")
    lines.append("datasets = [" + ", ".join(f"*{b.oc_var}" for b in usable) + "]")
    lines.append("")
    if target.backend == "vllm":
        model = (
            "dict(\n"
            "        type=VLLMwithChatTemplate,\n"
            f"        abbr={_py(target.abbr)},\n"
            f"        path={_py(target.path)},\n"
            f"        model_kwargs=dict(tensor_parallel_size={target.num_gpus}),\n"
            f"        max_out_len={inference.max_out_len},\n"
            f"        batch_size={target.batch_size},\n"
            f"        generation_kwargs={_py(gen)},\n"
            f"        run_cfg=dict(num_gpus={target.num_gpus}),\n"
            "    )"
        )
    else:
        if not target.api_base:
            from oda.errors import InputError

            raise InputError("an OpenAI-compatible evaluation target needs api_base")
        extra = "".join(f"        {k}={_py(v)},\n" for k, v in gen.items() if k != "temperature")
        model = (
            "dict(\n"
            "        type=OpenAISDK,\n"
            f"        abbr={_py(target.abbr)},\n"
            f"        path={_py(target.api_model or target.abbr)},\n"
            "        key='ENV',\n"
            f"        openai_api_base={_py(target.api_base)},\n"
            f"        tokenizer_path={_py(target.tokenizer_path or target.path or None)},\n"
            f"        query_per_second={target.query_per_second},\n"
            f"        max_out_len={inference.max_out_len},\n"
            f"        batch_size={target.batch_size},\n"
            f"        temperature={_py(inference.temperature)},\n"
            f"{extra}"
            "        retry=3,\n"
            "    )"
        )
    lines.append(f"models = [\n    {model},\n]")
    lines.append(f"work_dir = {_py(work_dir)}")
    return RenderedEval(text="\n".join(lines) + "\n", benchmarks=usable, skipped=skipped)


def fill_command(template: str, values: Mapping[str, str]) -> str:
    """Substitute ``{train_yaml}``-style placeholders with shell-quoted values."""
    quoted = {k: shlex.quote(v) for k, v in values.items()}
    try:
        return template.format(**quoted)
    except (KeyError, IndexError) as exc:
        from oda.errors import ConfigError

        raise ConfigError(
            f"unknown placeholder {exc} in command {template!r}; known: {sorted(values)}"
        ) from None


def step_script(
    *,
    run_id: str,
    run_dir: str,
    step: str,
    command: str,
    requires: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """The bash script of one step of one run, with completion markers under ``RUN_DIR/markers``.

    - ``STEP.done`` exists: the step completed earlier; the script exits 0 without running anything again.
    - ``requires`` (e.g. ``train``) is not done: the script records ``STEP.failed`` with ``BLOCKED_EXIT_CODE``
      and exits with it.
    - each attempt appends one line to ``STEP.attempts``; ``STEP.running`` holds the attempt while it runs.
    - success writes ``STEP.done``; failure writes the exit code to ``STEP.failed``; SIGTERM (scheduler kill,
      time limit, scancel) writes ``STEP.killed`` and stops the command.
    """
    q = shlex.quote
    env_lines = "".join(f"export {k}={q(v)}\n" for k, v in (env or {}).items())
    require_block = ""
    if requires:
        require_block = (
            f'if [ ! -e "$MARKERS/{requires}.done" ]; then\n'
            f'  echo "oda: {requires} of $RUN_ID has not completed; not running {step}" >&2\n'
            f'  echo {BLOCKED_EXIT_CODE} > "$MARKERS/$STEP.failed"\n'
            f"  exit {BLOCKED_EXIT_CODE}\n"
            "fi\n"
        )
    return (
        "#!/usr/bin/env bash\n"
        f"# Step {step!r} of run {run_id!r}, rendered by `oda bench`. Safe to run again: a completed step is skipped.\n"
        "set -u\n"
        f"RUN_ID={q(run_id)}\n"
        f"RUN_DIR={q(run_dir)}\n"
        f"STEP={q(step)}\n"
        'MARKERS="$RUN_DIR/markers"\n'
        'mkdir -p "$MARKERS" "$RUN_DIR/logs"\n'
        'if [ -e "$MARKERS/$STEP.done" ]; then\n'
        '  echo "oda: $STEP of $RUN_ID already completed; skipping" >&2\n'
        "  exit 0\n"
        "fi\n"
        f"{require_block}"
        'ATTEMPT="${SLURM_JOB_ID:-local-$$}"\n'
        'if [ -n "${SLURM_ARRAY_JOB_ID:-}" ]; then ATTEMPT="${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"; fi\n'
        'echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $ATTEMPT $(hostname)" >> "$MARKERS/$STEP.attempts"\n'
        'rm -f "$MARKERS/$STEP.failed" "$MARKERS/$STEP.killed"\n'
        'echo "$ATTEMPT" > "$MARKERS/$STEP.running"\n'
        "child=''\n"
        "on_term() {\n"
        '  echo "SIGTERM $(date -u +%Y-%m-%dT%H:%M:%SZ) $ATTEMPT" > "$MARKERS/$STEP.killed"\n'
        '  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; fi\n'
        '  rm -f "$MARKERS/$STEP.running"\n'
        "  exit 143\n"
        "}\n"
        "trap on_term TERM INT\n"
        'cd "$RUN_DIR"\n'
        f"{env_lines}"
        f'( {command} ) >> "$RUN_DIR/logs/$STEP.log" 2>&1 &\n'
        "child=$!\n"
        'wait "$child"\n'
        "rc=$?\n"
        'rm -f "$MARKERS/$STEP.running"\n'
        'if [ "$rc" -eq 0 ]; then touch "$MARKERS/$STEP.done"; else echo "$rc" > "$MARKERS/$STEP.failed"; fi\n'
        'exit "$rc"\n'
    )


@dataclass(frozen=True, kw_only=True)
class SlurmResources:
    """The usual sbatch resource options. ``gpus_per_node=0`` omits the GPU request (CPU-only clusters)."""

    partition: str | None = None
    gpus_per_node: int = 8
    cpus_per_task: int = 16
    mem: str | None = None
    time: str | None = None
    account: str | None = None
    qos: str | None = None
    max_parallel: int | None = None
    extra: tuple[str, ...] = ()


def sbatch_directives(
    *,
    job_name: str,
    resources: SlurmResources,
    output: str,
    array: str | None = None,
    dependency: str | None = None,
) -> list[str]:
    """``#SBATCH`` lines for one job (or array job)."""
    lines = [f"#SBATCH --job-name={job_name}", "#SBATCH --nodes=1", "#SBATCH --ntasks=1"]
    lines.append(f"#SBATCH --cpus-per-task={resources.cpus_per_task}")
    if resources.gpus_per_node:
        lines.append(f"#SBATCH --gpus-per-node={resources.gpus_per_node}")
    for opt, value in (
        ("partition", resources.partition),
        ("mem", resources.mem),
        ("time", resources.time),
        ("account", resources.account),
        ("qos", resources.qos),
    ):
        if value:
            lines.append(f"#SBATCH --{opt}={value}")
    if array is not None:
        throttle = f"%{resources.max_parallel}" if resources.max_parallel else ""
        lines.append(f"#SBATCH --array={array}{throttle}")
    if dependency:
        lines.append(f"#SBATCH --dependency={dependency}")
        lines.append("#SBATCH --kill-on-invalid-dep=yes")
    lines.append(f"#SBATCH --output={output}")
    lines.append("#SBATCH --requeue")
    lines.extend(f"#SBATCH {e}" for e in resources.extra)
    return lines


def sbatch_array_script(
    *,
    job_name: str,
    step: str,
    manifest: str,
    log_dir: str,
    resources: SlurmResources,
    array: str,
    dependency: str | None = None,
) -> str:
    """An array job whose task ``i`` runs ``STEP.sh`` in the run folder on line ``i + 1`` of ``manifest``."""
    directives = sbatch_directives(
        job_name=job_name,
        resources=resources,
        output=f"{log_dir}/%x-%A_%a.out",
        array=array,
        dependency=dependency,
    )
    return (
        "#!/usr/bin/env bash\n"
        + "\n".join(directives)
        + "\n"
        + f"# Task i runs {step}.sh of the run on line i+1 of the manifest. Rendered by `oda bench submit`.\n"
        + "set -u\n"
        + f"MANIFEST={shlex.quote(manifest)}\n"
        + 'RUN_DIR=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" "$MANIFEST")\n'
        + 'if [ -z "$RUN_DIR" ]; then echo "oda: no run for task $SLURM_ARRAY_TASK_ID in $MANIFEST" >&2; exit 2; fi\n'
        + f'exec bash "$RUN_DIR/{step}.sh"\n'
    )


def sbatch_single_script(
    *, job_name: str, script: str, log_dir: str, resources: SlurmResources, dependency: str | None = None
) -> str:
    """A plain (non-array) job that runs one step script."""
    directives = sbatch_directives(
        job_name=job_name, resources=resources, output=f"{log_dir}/%x-%j.out", dependency=dependency
    )
    return "#!/usr/bin/env bash\n" + "\n".join(directives) + "\n" + f"exec bash {shlex.quote(script)}\n"


def job_script(*, job_name: str, run_dir: str, resources: SlurmResources) -> str:
    """One sbatch-able script that runs a run's train step and then its eval step (``oda bench config``)."""
    directives = sbatch_directives(job_name=job_name, resources=resources, output=f"{run_dir}/logs/%x-%j.out")
    q = shlex.quote
    return (
        "#!/usr/bin/env bash\n"
        + "\n".join(directives)
        + "\n"
        + "# Fine-tune, then evaluate. Submit with `sbatch job.sh` or run with `bash job.sh`.\n"
        + "set -eu\n"
        + f"bash {q(run_dir + '/train.sh')}\n"
        + f"bash {q(run_dir + '/eval.sh')}\n"
    )
