"""Presets: the paper's fixed training and evaluation settings, as declarative YAML loaded into typed models.

Three kinds of preset live in ``benchmarking/presets/*.yaml`` (one or more YAML documents per file, each with a
``kind``):

- ``train``: one column of the paper's Table 2 (base model, cutoff length, packing, batch size, ...). Keys under
  ``hparams`` use LLaMA-Factory's own argument names, so they go into ``train.yaml`` unchanged.
- ``inference``: one column of Table 3 (OpenCompass + vLLM inference settings of a model family).
- ``suite``: Table 4, the benchmarks per domain with their shots, metrics and evaluators.

A user adds presets from a file or a folder (``--presets PATH`` or ``[bench].presets`` in the config). A user
preset whose name collides with a loaded one is an error; an unknown name suggests the closest ones.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from oda.errors import ConfigError, InputError

PRESET_DIR = Path(__file__).parent / "presets"
DEEPSPEED_CONFIGS = {"ds_z3_config": PRESET_DIR / "ds_z3_config.json"}


class TrainHParams(BaseModel):
    """Table 2's hyperparameters, named as LLaMA-Factory names them. ``extra`` holds any further LLaMA-Factory key."""

    model_config = ConfigDict(extra="forbid")

    deepspeed: str = Field(description="a bundled DeepSpeed config name (ds_z3_config) or a path to one")
    template: str
    cutoff_len: int = Field(gt=0)
    preprocessing_num_workers: int = Field(gt=0)
    packing: bool
    per_device_train_batch_size: int = Field(gt=0)
    gradient_accumulation_steps: int = Field(gt=0)
    learning_rate: float = Field(gt=0)
    use_liger_kernel: bool
    num_train_epochs: float = Field(gt=0)
    lr_scheduler_type: str
    warmup_ratio: float = Field(ge=0, le=1)
    extra: dict[str, Any] = Field(
        default_factory=dict, description="more LLaMA-Factory arguments, passed through"
    )


class TrainPreset(BaseModel):
    """A full-SFT recipe for one base model (one column of Table 2)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["train"] = "train"
    name: str
    base_model: str = Field(description="the short key users pass as --base-model")
    long_cot: bool = False
    description: str = ""
    model_name_or_path: str
    gpus: int = Field(default=8, gt=0)
    gpu_type: str | None = None
    inference: str = Field(description="name of the inference preset (Table 3) used to evaluate the result")
    suite: str = "oda"
    finetuning_type: str = "full"
    hparams: TrainHParams


class InferencePreset(BaseModel):
    """Inference settings of one model family (one column of Table 3)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["inference"] = "inference"
    name: str
    description: str = ""
    setting: str = Field(description="the paper's OpenCompass model setting name")
    hf_type: str = "chat"
    max_out_len: int = Field(gt=0)
    accelerator: str = "vllm"
    temperature: float = Field(ge=0)
    top_p: float | None = None
    top_k: int | None = None


class BenchmarkSpec(BaseModel):
    """One benchmark of the suite (one row of Table 4)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    domain: str
    evaluator: str
    shots: int = Field(ge=0)
    metric: str
    hf_id: str | None = Field(
        default=None, description="the benchmark's Hub id, its node in the lineage graph"
    )
    node: str | None = Field(default=None, description="its lineage node id when it has no Hub id (ext:slug)")
    aliases: list[str] = Field(default_factory=list)
    n_runs: int = 1
    oc_module: str | None = None
    oc_var: str | None = None
    oc_prefix: str | None = None

    @property
    def node_id(self) -> str:
        """The id results on this benchmark are recorded under: its Hub id, else its ``ext:`` node, else its name."""
        return self.hf_id or self.node or self.name


class SuitePreset(BaseModel):
    """A benchmark suite (Table 4)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["suite"] = "suite"
    name: str
    description: str = ""
    benchmarks: list[BenchmarkSpec]

    @property
    def domains(self) -> list[str]:
        seen: list[str] = []
        for bench in self.benchmarks:
            if bench.domain not in seen:
                seen.append(bench.domain)
        return seen

    def lookup(self, name: str) -> BenchmarkSpec | None:
        """Find a benchmark by name, Hub id or alias, ignoring case and punctuation."""
        key = normalize_name(name)
        for bench in self.benchmarks:
            keys = {normalize_name(bench.name), *(normalize_name(a) for a in bench.aliases)}
            keys.update(normalize_name(i) for i in (bench.hf_id, bench.node) if i)
            if key in keys:
                return bench
        return None


Preset = TrainPreset | InferencePreset | SuitePreset
_KINDS: dict[str, type[BaseModel]] = {
    "train": TrainPreset,
    "inference": InferencePreset,
    "suite": SuitePreset,
}


def normalize_name(name: str) -> str:
    """``"MATH-500"``, ``"math_500"`` and ``"Math 500"`` all become ``"math500"``; ``+`` is kept (HumanEval+)."""
    return re.sub(r"[^a-z0-9+]", "", name.lower())


class PresetRegistry:
    """All known presets by kind and name. Registering a name twice is an error."""

    def __init__(self) -> None:
        self._presets: dict[str, dict[str, Any]] = {kind: {} for kind in _KINDS}
        self._origin: dict[tuple[str, str], str] = {}

    def register(self, preset: Preset, origin: str) -> None:
        """Add one preset; a name already taken for its kind raises ``ConfigError``."""
        key = (preset.kind, preset.name)
        if key in self._origin:
            raise ConfigError(
                f"{origin}: {preset.kind} preset {preset.name!r} is already defined in {self._origin[key]}; "
                "choose another name"
            )
        self._presets[preset.kind][preset.name] = preset
        self._origin[key] = origin

    def load_file(self, path: Path) -> list[Preset]:
        """Load every preset document of one YAML file. Bad documents raise ``ConfigError`` naming the file."""
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
        except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read presets: {exc}") from exc
        loaded: list[Preset] = []
        for i, doc in enumerate(docs):
            where = f"{path} (document {i + 1})"
            if not isinstance(doc, dict):
                raise ConfigError(f"{where}: a preset must be a mapping")
            kind = doc.get("kind")
            if kind not in _KINDS:
                raise ConfigError(f"{where}: 'kind' must be one of {sorted(_KINDS)}, got {kind!r}")
            try:
                preset = _KINDS[kind].model_validate(doc)
            except ValidationError as exc:
                raise ConfigError(f"{where}: invalid {kind} preset: {exc}") from exc
            self.register(preset, str(path))  # type: ignore[arg-type]
            loaded.append(preset)  # type: ignore[arg-type]
        return loaded

    def load_path(self, path: str | Path) -> list[Preset]:
        """Load a preset file, or every ``*.yaml``/``*.yml`` file of a folder (sorted)."""
        p = Path(path)
        if p.is_dir():
            files = sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
        elif p.is_file():
            files = [p]
        else:
            raise ConfigError(f"preset path not found: {p}")
        loaded: list[Preset] = []
        for f in files:
            loaded.extend(self.load_file(f))
        return loaded

    def names(self, kind: str) -> list[str]:
        return sorted(self._presets[kind])

    def _get(self, kind: str, name: str) -> Any:
        try:
            return self._presets[kind][name]
        except KeyError:
            close = difflib.get_close_matches(name, self.names(kind), n=3, cutoff=0.5)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise InputError(
                f"unknown {kind} preset {name!r}{hint} (known: {', '.join(self.names(kind)) or 'none'})"
            ) from None

    def train(self, name: str) -> TrainPreset:
        return self._get("train", name)

    def inference(self, name: str) -> InferencePreset:
        return self._get("inference", name)

    def suite(self, name: str) -> SuitePreset:
        return self._get("suite", name)

    def for_base_model(self, base_model: str, *, long_cot: bool = False) -> TrainPreset:
        """The training preset for ``--base-model KEY [--long-cot]`` (a preset name is accepted too)."""
        matches = [
            p
            for p in self._presets["train"].values()
            if p.base_model == base_model and p.long_cot == long_cot
        ]
        if not matches and base_model in self._presets["train"]:
            return self.train(base_model)
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ConfigError(
                f"several training presets match base model {base_model!r}: {', '.join(p.name for p in matches)}"
            )
        other = [p.name for p in self._presets["train"].values() if p.base_model == base_model]
        if other:
            flag = "without --long-cot" if long_cot else "with --long-cot"
            raise InputError(
                f"no {'long-CoT ' if long_cot else ''}training preset for base model {base_model!r}; "
                f"it has {', '.join(repr(o) for o in other)} (run {flag})"
            )
        bases = sorted({p.base_model for p in self._presets["train"].values()})
        close = difflib.get_close_matches(base_model, bases, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise InputError(f"unknown base model {base_model!r}{hint} (known: {', '.join(bases)})")


def load_registry(
    extra: Iterable[str | Path] | str | Path | None = None, *, configured: Iterable[str | Path] = ()
) -> PresetRegistry:
    """The built-in presets plus user presets from ``configured`` (``[bench].presets``) and ``extra``."""
    registry = PresetRegistry()
    registry.load_path(PRESET_DIR)
    paths: list[str | Path] = list(configured)
    if extra is not None:
        paths.extend([extra] if isinstance(extra, str | Path) else list(extra))
    for p in paths:
        registry.load_path(p)
    return registry


def deepspeed_config_path(name_or_path: str) -> Path:
    """Resolve a bundled DeepSpeed config name (``ds_z3_config``) or a user path."""
    if name_or_path in DEEPSPEED_CONFIGS:
        return DEEPSPEED_CONFIGS[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        raise ConfigError(
            f"DeepSpeed config {name_or_path!r} is neither a bundled one ({', '.join(DEEPSPEED_CONFIGS)}) nor a file"
        )
    return path
