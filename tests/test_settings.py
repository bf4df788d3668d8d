"""``oda.settings``: one typed object from the file, the environment and the command line, in that order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oda.errors import ConfigError
from oda.settings import TABLES, Settings, load_settings

os.environ["ODA_LEAK_PROBE"] = "set while the tests were collected"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "oda.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_suite_fixture_removes_oda_variables_set_outside_the_test() -> None:
    assert "ODA_LEAK_PROBE" not in os.environ


def test_defaults_without_a_file_or_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    assert settings == Settings()
    assert settings.source is None
    assert (settings.store.uri, settings.trace.max_depth, settings.trace.threshold) == (".oda/graph", 3, 0.7)
    assert not settings.llm.configured


def test_the_command_line_wins_over_the_environment_which_wins_over_the_file(tmp_path: Path) -> None:
    config = _write(
        tmp_path,
        '[llm]\nbase_url = "http://file/v1"\nmodel = "file-model"\nmax_tokens = 64\n'
        '[service]\nopenlineage_url = "http://file/ol"\n[trace]\nmax_depth = 5\n',
    )
    from_file = load_settings(config, env={})
    assert (from_file.llm.base_url, from_file.llm.model, from_file.llm.max_tokens) == (
        "http://file/v1",
        "file-model",
        64,
    )
    assert from_file.source == str(config)

    env = {"ODA_LLM_MODEL": "env-model", "ODA_OPENLINEAGE_URL": "http://env/ol", "ODA_LLM_BASE_URL": ""}
    with_env = load_settings(config, env=env)
    assert with_env.llm.model == "env-model"  # the environment over the file
    assert with_env.llm.base_url == "http://file/v1"  # an empty variable counts as unset
    assert with_env.service.openlineage_url == "http://env/ol"

    with_options = with_env.override("llm", model="option-model", max_tokens=None).override(
        "trace", max_depth=1
    )
    assert with_options.llm.model == "option-model"  # the command line over the environment
    assert with_options.llm.max_tokens == 64  # an option left out (None) keeps what was there
    assert with_options.trace.max_depth == 1 and with_env.trace.max_depth == 5  # settings are never changed
    assert with_options.source == str(config)


def test_the_config_file_is_found_by_option_then_variable_then_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, "[trace]\nmax_depth = 1\n")
    named = tmp_path / "named.toml"
    named.write_text("[trace]\nmax_depth = 2\n")
    explicit = tmp_path / "explicit.toml"
    explicit.write_text("[trace]\nmax_depth = 4\n")
    assert load_settings(env={}).trace.max_depth == 1
    assert load_settings(env={"ODA_CONFIG": str(named)}).trace.max_depth == 2
    assert load_settings(explicit, env={"ODA_CONFIG": str(named)}).trace.max_depth == 4
    with pytest.raises(ConfigError, match="ODA_CONFIG points at a missing file"):
        load_settings(env={"ODA_CONFIG": str(tmp_path / "gone.toml")})


@pytest.mark.parametrize(
    ("table", "typo", "meant"),
    [
        ("store", "urri", "uri"),
        ("trace", "max_dept", "max_depth"),
        ("llm", "modle", "model"),
        ("acquisition", "concurency", "concurrency"),
        ("scoring.judge", "base_ur", "base_url"),
        ("scoring.model", "devce", "device"),
        ("scoring.model.thinking_prob", "bakend", "backend"),
        ("service", "workerz", "workers"),
        ("review", "hub_ur", "hub_url"),
        ("bench", "work_dirr", "work_dir"),
    ],
)
def test_unknown_keys_are_errors_in_every_table_with_the_nearest_name(
    tmp_path: Path, table: str, typo: str, meant: str
) -> None:
    config = _write(tmp_path, f"[{table}]\n{typo} = 1\n")
    with pytest.raises(ConfigError, match=f"unknown key '{typo}'.*did you mean '{meant}'"):
        load_settings(config, env={})


def test_every_table_is_typed_and_known() -> None:
    assert set(TABLES) == set(Settings.model_fields) - {"source"}


def test_an_unknown_table_and_the_judge_table_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'tracing'.*did you mean 'trace'"):
        load_settings(_write(tmp_path, "[tracing]\nmax_depth = 1\n"), env={})
    with pytest.raises(ConfigError, match=r"unknown key 'judge'.*did you mean 'scoring\.judge'"):
        load_settings(_write(tmp_path, '[judge]\nmodel = "m"\n'), env={})
    settings = load_settings(_write(tmp_path, '[scoring.judge]\nmodel = "m"\ncache = "j.sqlite"\n'), env={})
    assert (settings.scoring.judge.model, settings.scoring.judge.cache) == ("m", "j.sqlite")


def test_bad_values_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"trace\.max_depth"):
        load_settings(_write(tmp_path, '[trace]\nmax_depth = "deep"\n'), env={})
    with pytest.raises(ConfigError, match="unknown extractor 'magic'"):
        load_settings(_write(tmp_path, '[trace]\nextractor = "magic"\n'), env={})
    with pytest.raises(ConfigError, match="unknown extractor 'magic'"):
        Settings().override("trace", extractor="magic")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(_write(tmp_path, "[trace\n"), env={})


def test_secrets_are_refused_in_the_file_and_never_held(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="environment only"):
        load_settings(_write(tmp_path, '[llm]\napi_key = "sk-x"\n'), env={})
    settings = load_settings(
        env={"ODA_LLM_API_KEY": "sk-secret", "HF_TOKEN": "hf-secret", "ODA_LLM_MODEL": "m"}
    )
    assert "secret" not in repr(settings.model_dump())


def test_model_scorer_tables_merge_shared_and_specific_keys(tmp_path: Path) -> None:
    config = _write(
        tmp_path,
        '[scoring.model]\npath = "shared"\ndevice = "cpu"\n[scoring.model.thinking_prob]\npath = "own"\nbatch_size = 4\n',
    )
    model = load_settings(config, env={}).scoring.model
    assert model.for_scorer("thinking_prob") == {"path": "own", "device": "cpu", "batch_size": 4}
    assert model.for_scorer("deita_quality") == {"path": "shared", "device": "cpu"}


def test_bench_presets_take_one_path_or_a_list(tmp_path: Path) -> None:
    assert load_settings(_write(tmp_path, '[bench]\npresets = "a.yaml"\n'), env={}).bench.presets == [
        "a.yaml"
    ]
    listed = load_settings(_write(tmp_path, '[bench]\npresets = ["a.yaml", "b"]\n'), env={})
    assert listed.bench.presets == ["a.yaml", "b"]


def test_the_oda_command_reports_a_config_mistake_in_one_line(tmp_path: Path) -> None:
    from oda.cli import app

    config = _write(tmp_path, "[store]\nurl = '.oda/graph'\n")
    result = CliRunner().invoke(app, ["--config", str(config), "stats"])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)
    assert "did you mean 'uri'" in str(result.exception)


def test_the_oda_command_reads_the_store_from_the_loaded_settings(tmp_path: Path) -> None:
    from oda.cli import app

    store = tmp_path / "configured-graph"
    config = _write(tmp_path, f"[store]\nuri = '{store}'\n")
    result = CliRunner().invoke(app, ["--config", str(config), "stats", "--json"])
    assert str(store) in str(result.exception or result.output)  # a missing store is named in the error


def test_the_oda_command_hands_the_string_limit_to_the_store_models(tmp_path: Path) -> None:
    from graph_store.models import DEFAULT_MAX_TEXT_CHARS, check_storable, max_text_chars
    from oda.cli import app

    assert max_text_chars() == DEFAULT_MAX_TEXT_CHARS  # reset for every test by the suite fixture
    config = _write(tmp_path, f"[store]\nuri = '{tmp_path / 'graph'}'\nmax_text_chars = 10\n")
    CliRunner().invoke(app, ["--config", str(config), "stats"])
    assert max_text_chars() == 10
    with pytest.raises(ValueError, match="the limit is 10"):
        check_storable("x" * 11)


def test_llm_table_and_client_config_agree_on_keys_and_defaults():
    """The ``[llm]`` table (read from the file) and the client config (used by the LLM layer) name the same keys
    with the same defaults, so a key the file accepts always reaches the client."""
    from dataclasses import MISSING, fields

    from oda.llm import LLMConfig
    from oda.settings import LLMSettings

    assert set(LLMSettings.model_fields) == set(LLMConfig.table_keys())
    client_defaults = {f.name: f.default for f in fields(LLMConfig) if f.default is not MISSING}
    for key, info in LLMSettings.model_fields.items():
        if key in client_defaults:
            assert info.default == client_defaults[key], key
