"""The service's settings: one typed object, read once from the config file, the environment and the command line.

``load_settings`` reads the TOML file (``--config PATH``, else ``$ODA_CONFIG``, else ``./oda.toml`` when it exists),
lays the environment over it, and validates the result into a frozen ``Settings``. Command-line options are laid
over that with ``Settings.override``. One rule of precedence holds everywhere: a command-line option wins over the
environment, the environment over the file, the file over the built-in defaults.

The environment names that set values:

    ODA_LLM_BASE_URL       [llm].base_url
    ODA_LLM_MODEL          [llm].model
    ODA_OPENLINEAGE_URL    [service].openlineage_url

An empty variable counts as unset. Secrets never live in the file (``oda.config`` refuses them) nor in
``Settings``: they are read from the environment by the part that uses them.

Every table refuses keys it does not know, naming the nearest known key. The judge's table is ``[scoring.judge]``;
a top-level ``[judge]`` is refused with a pointer to it.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from oda.config import check_no_secrets, find_config_file
from oda.errors import ConfigError

DEFAULT_STORE_URI = ".oda/graph"
DEFAULT_EXTRACTOR = "auto"
EXTRACTORS = ("rules", "llm", "auto")
DEFAULT_MAX_DEPTH = 3
DEFAULT_MAX_BRANCHING = 20
DEFAULT_THRESHOLD = 0.7
DEFAULT_MIN_YEAR = 2020
DEFAULT_CHECKPOINTS = ".oda/trace-runs.sqlite"
DEFAULT_JUDGE_CACHE = ".oda/cache/judge.sqlite"
DEFAULT_BENCH_DIR = ".oda/bench"

ENVIRONMENT: dict[str, tuple[str, str]] = {
    "ODA_LLM_BASE_URL": ("llm", "base_url"),
    "ODA_LLM_MODEL": ("llm", "model"),
    "ODA_OPENLINEAGE_URL": ("service", "openlineage_url"),
}
"""Environment variables that set a value, and the ``(table, key)`` each sets."""


class Table(BaseModel):
    """One table of the config file: typed, frozen, and closed to unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreSettings(Table):
    uri: str = DEFAULT_STORE_URI
    query_timeout_s: float | None = None
    """``None``: the engine's own default limit (as for the two below)."""
    query_max_rows: int | None = None
    query_max_memory_mb: int | None = None
    max_text_chars: int | None = None


class TraceSettings(Table):
    extractor: str = DEFAULT_EXTRACTOR
    max_depth: int = DEFAULT_MAX_DEPTH
    max_branching: int = DEFAULT_MAX_BRANCHING
    threshold: float = DEFAULT_THRESHOLD
    min_year: int = DEFAULT_MIN_YEAR
    checkpoints: str = DEFAULT_CHECKPOINTS

    @field_validator("extractor")
    @classmethod
    def _known_extractor(cls, value: str) -> str:
        if value not in EXTRACTORS:
            raise ValueError(
                f"unknown extractor {value!r}; expected {', '.join(EXTRACTORS[:-1])} or {EXTRACTORS[-1]}"
            )
        return value


class LLMSettings(Table):
    """The OpenAI-compatible server of tracing (and of the judge unless ``[scoring.judge]`` says otherwise)."""

    base_url: str | None = None
    model: str | None = None
    timeout_s: float = 60.0
    max_retries: int = 2
    temperature: float = 0.0
    max_concurrency: int = 8
    max_tokens: int = 1024
    json_mode: bool = True
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0

    @property
    def configured(self) -> bool:
        return bool(self.base_url and self.model)


class AcquisitionSettings(Table):
    """``[acquisition]``: every field is optional; unset ones keep ``AcquisitionConfig``'s defaults."""

    hf_endpoint: str | None = None
    arxiv_endpoint: str | None = None
    arxiv_html_base: str | None = None
    snapshot_dir: str | None = None
    offline: bool | None = None
    record_dir: str | None = None
    concurrency: int | None = None
    per_host_rate: float | None = None
    timeout_s: float | None = None
    max_bytes: int | None = None
    retries: int | None = None
    backoff_base_s: float | None = None
    max_backoff_s: float | None = None
    user_agent: str | None = None

    def values(self) -> dict[str, Any]:
        """The keys that were set, for ``AcquisitionConfig(**values)``."""
        return self.model_dump(exclude_none=True)


class JudgeSettings(Table):
    """``[scoring.judge]``: the judge's server where it differs from ``[llm]``, and its cache."""

    base_url: str | None = None
    model: str | None = None
    cache: str | None = None
    """``None``: ``DEFAULT_JUDGE_CACHE``."""


class ModelScorerSettings(Table):
    """``[scoring.model]`` (and ``[scoring.model.<scorer>]``): the model and its backend's options."""

    path: str | None = None
    backend: str | None = None
    device: str | None = None
    dtype: str | None = None
    batch_size: int | None = None
    max_length: int | None = None
    allow_download: bool | None = None
    gpu_memory_utilization: float | None = None


class ModelTable(ModelScorerSettings):
    scorers: dict[str, ModelScorerSettings] = {}

    def for_scorer(self, name: str) -> dict[str, Any]:
        """The shared keys merged with ``[scoring.model.<name>]``'s, unset keys left out."""
        merged = ModelScorerSettings.model_validate(self.model_dump(exclude={"scorers"})).model_dump(
            exclude_none=True
        )
        specific = self.scorers.get(name)
        if specific is not None:
            merged.update(specific.model_dump(exclude_none=True))
        return merged


class ScoringSettings(Table):
    judge: JudgeSettings = JudgeSettings()
    model: ModelTable = ModelTable()


class ServiceSettings(Table):
    """``[service]``: unset keys keep ``ServiceConfig``'s defaults."""

    queue: str | None = None
    concurrency: int | None = None
    workers: int | None = None
    lease_s: float | None = None
    open_reads: bool | None = None
    openlineage_url: str | None = None
    heartbeat_s: float | None = None
    stalled_after_s: float | None = None
    llm_concurrency: int | None = None
    hub_rate: float | None = None

    def values(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v not in (None, "")}


class ReviewSettings(Table):
    hub_url: str | None = None


class BenchSettings(Table):
    work_dir: str = DEFAULT_BENCH_DIR
    partition: str | None = None
    gpus_per_node: int | None = None
    cpus_per_task: int = 16
    mem: str | None = None
    time: str | None = None
    train_command: str | None = None
    eval_command: str | None = None
    executor: str = "local"
    presets: list[str] = []

    @field_validator("presets", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Settings(Table):
    """Everything the config file, the environment and the command line set (no secrets)."""

    store: StoreSettings = StoreSettings()
    trace: TraceSettings = TraceSettings()
    llm: LLMSettings = LLMSettings()
    acquisition: AcquisitionSettings = AcquisitionSettings()
    scoring: ScoringSettings = ScoringSettings()
    service: ServiceSettings = ServiceSettings()
    review: ReviewSettings = ReviewSettings()
    bench: BenchSettings = BenchSettings()

    source: str | None = None
    """The config file read, if any."""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "config") -> Settings:
        """Validate nested tables (as TOML reads them) into ``Settings``; every problem is a ``ConfigError``."""
        if "source" in data:
            raise ConfigError(f"{where}: unknown key 'source' at the top level (known: {', '.join(TABLES)})")
        return _validate(cls, _nest_model_scorers(data), where)

    def override(self, table: str, **options: Any) -> Settings:
        """A copy with ``options`` (those not ``None``) set in ``table``: the command line over everything else."""
        given = {k: v for k, v in options.items() if v is not None}
        if not given:
            return self
        data = self.model_dump(exclude={"source"})
        data[table] = {**data[table], **given}
        return _validate(type(self), data, "options").model_copy(update={"source": self.source})


TABLES = ("store", "trace", "llm", "acquisition", "scoring", "service", "review", "bench")


def _nest_model_scorers(data: Mapping[str, Any]) -> dict[str, Any]:
    """``[scoring.model.<scorer>]`` sub-tables move under ``scorers`` so the shared keys stay closed."""
    out = dict(data)
    scoring = out.get("scoring")
    if isinstance(scoring, Mapping) and isinstance(scoring.get("model"), Mapping):
        model = dict(scoring["model"])
        scorers = {k: model.pop(k) for k in [k for k, v in model.items() if isinstance(v, Mapping)]}
        if scorers:
            model["scorers"] = {**dict(model.get("scorers") or {}), **scorers}
        out["scoring"] = {**scoring, "model": model}
    return out


def _known_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys the table at ``loc`` (without the unknown key itself) accepts."""
    current: Any = model
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        field = current.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return []
        annotation = field.annotation
        if get_origin(annotation) is dict:  # ``scorers``: a table of tables, keyed by name
            annotation = get_args(annotation)[1]
            if parts:
                parts.pop(0)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        current = annotation
    return sorted(current.model_fields)


def _table_name(loc: tuple[int | str, ...]) -> str:
    """``scoring.model.<scorer>`` as the file spells it (the ``scorers`` level is internal)."""
    return ".".join(str(part) for part in loc if part != "scorers")


def _validate(model: type[Settings], data: Mapping[str, Any], where: str) -> Settings:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            dotted = _table_name(loc)
            if error["type"] == "extra_forbidden":
                table, key = loc[:-1], str(loc[-1])
                known = [k for k in _known_keys(model, table) if table or k != "source"]
                if not table and key == "judge":
                    close = ["scoring.judge"]
                else:
                    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                place = f"in [{_table_name(table)}]" if table else "at the top level"
                problems.append(f"unknown key {key!r} {place}{hint} (known: {', '.join(known)})")
            else:
                problems.append(f"{dotted}: {error['msg']}")
        raise ConfigError(f"{where}: " + "; ".join(problems)) from None


def _environment_layer(env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    layer: dict[str, dict[str, str]] = {}
    for name, (table, key) in ENVIRONMENT.items():
        value = env.get(name, "").strip()
        if value:
            layer.setdefault(table, {})[key] = value
    return layer


def read_config_file(path: Path) -> dict[str, Any]:
    """The TOML file's tables, refused when invalid or when it holds a secret."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    check_no_secrets(data, path.name)
    return data


def load_settings(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """The settings from the config file (see ``oda.config.find_config_file``) with the environment over it."""
    environ = os.environ if env is None else env
    found = find_config_file(path, environ)
    data: dict[str, Any] = read_config_file(found) if found is not None else {}
    for table, values in _environment_layer(environ).items():
        current = data.get(table, {})
        if not isinstance(current, Mapping):
            raise ConfigError(f"[{table}] must be a table")
        data[table] = {**current, **values}
    settings = Settings.from_mapping(data, where=found.name if found is not None else "environment")
    return settings.model_copy(update={"source": str(found)}) if found is not None else settings
