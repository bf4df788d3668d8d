"""``AcquisitionConfig`` from the ``[acquisition]`` settings of the config file; explicit values win."""

from __future__ import annotations

from pathlib import Path

import pytest

from acquisition import AcquisitionConfig
from oda.errors import ConfigError
from oda.settings import AcquisitionSettings, Settings, load_settings


@pytest.fixture
def config_file(tmp_path):
    def write(text: str) -> Settings:
        path = tmp_path / "oda.toml"
        path.write_text(text)
        return load_settings(path, env={})

    return write


def test_from_settings_reads_the_table_and_overrides_win(config_file, tmp_path):
    settings = config_file('[acquisition]\nconcurrency = 3\ntimeout_s = 7.5\nsnapshot_dir = "snap"\n')
    cfg = AcquisitionConfig.from_settings(
        settings.acquisition, timeout_s=2.0, record_dir=tmp_path / "rec", hf_endpoint=None
    )
    assert cfg.concurrency == 3
    assert cfg.timeout_s == 2.0
    assert cfg.snapshot_dir == Path("snap") and cfg.record_dir == tmp_path / "rec"
    assert cfg.hf_endpoint is None


def test_unknown_keys_and_bad_values_are_config_errors(config_file):
    with pytest.raises(ConfigError, match=r"concurency.*did you mean 'concurrency'"):
        config_file("[acquisition]\nconcurency = 3\n")
    settings = config_file("[acquisition]\nconcurrency = 0\n")
    with pytest.raises(ConfigError, match="concurrency"):
        AcquisitionConfig.from_settings(settings.acquisition)


def test_the_settings_table_names_every_configurable_field():
    from dataclasses import fields

    assert set(AcquisitionSettings.model_fields) == {f.name for f in fields(AcquisitionConfig)} - {"hf_token"}


def test_token_is_never_read_from_the_file(config_file):
    with pytest.raises(ConfigError, match="environment"):
        config_file('[acquisition]\nhf_token = "x"\n')


def test_token_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "from-env")
    assert AcquisitionConfig().hf_token == "from-env"
    assert "from-env" not in repr(AcquisitionConfig())
