"""``AcquisitionConfig`` from ``[acquisition]`` in the config file; explicit values win."""

from __future__ import annotations

from pathlib import Path

import pytest

import oda.config
from acquisition import AcquisitionConfig
from oda.errors import ConfigError


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    monkeypatch.setattr(oda.config, "_loaded", None)
    monkeypatch.setattr(oda.config, "_loaded_from", None)

    def write(text: str) -> Path:
        path = tmp_path / "oda.toml"
        path.write_text(text)
        oda.config.load_config(path)
        return path

    return write


def test_from_settings_reads_the_table_and_overrides_win(config_file, tmp_path):
    config_file('[acquisition]\nconcurrency = 3\ntimeout_s = 7.5\nsnapshot_dir = "snap"\n')
    cfg = AcquisitionConfig.from_settings(timeout_s=2.0, record_dir=tmp_path / "rec", hf_endpoint=None)
    assert cfg.concurrency == 3
    assert cfg.timeout_s == 2.0
    assert cfg.snapshot_dir == Path("snap") and cfg.record_dir == tmp_path / "rec"
    assert cfg.hf_endpoint is None


def test_unknown_keys_and_bad_values_are_config_errors(config_file):
    config_file("[acquisition]\nconcurency = 3\n")
    with pytest.raises(ConfigError, match="concurency"):
        AcquisitionConfig.from_settings()
    config_file("[acquisition]\nconcurrency = 0\n")
    with pytest.raises(ConfigError, match="concurrency"):
        AcquisitionConfig.from_settings()


def test_token_is_never_read_from_the_file(config_file):
    with pytest.raises(ConfigError, match="environment"):
        config_file('[acquisition]\nhf_token = "x"\n')


def test_token_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "from-env")
    assert AcquisitionConfig().hf_token == "from-env"
    assert "from-env" not in repr(AcquisitionConfig())
