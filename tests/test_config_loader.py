from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from config import ConfigError, load_config


class Inner(BaseModel):
    port: int = 1


class Sample(BaseModel):
    host: str = "0.0.0.0"
    inner: Inner = Inner()


def test_defaults_when_file_missing(tmp_path: Path) -> None:
    cfg = load_config(Sample, "sample", env={"HOTLINE_CONFIG_DIR": str(tmp_path)})
    assert cfg.host == "0.0.0.0" and cfg.inner.port == 1


def test_file_and_env_override(tmp_path: Path) -> None:
    (tmp_path / "sample.yaml").write_text("host: 127.0.0.1\ninner:\n  port: 7\n")
    env = {"HOTLINE_CONFIG_DIR": str(tmp_path), "HOTLINE_SAMPLE__INNER__PORT": "9"}
    cfg = load_config(Sample, "sample", env=env)
    assert cfg.host == "127.0.0.1" and cfg.inner.port == 9


def test_broken_yaml_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "sample.yaml").write_text("host: a\ninner: [1,\n")
    with pytest.raises(ConfigError, match=r"sample\.yaml:\d+:\d+: invalid YAML"):
        load_config(Sample, "sample", env={"HOTLINE_CONFIG_DIR": str(tmp_path)})


def test_invalid_value_names_field(tmp_path: Path) -> None:
    (tmp_path / "sample.yaml").write_text("inner:\n  port: notanumber\n")
    with pytest.raises(ConfigError, match=r"inner\.port"):
        load_config(Sample, "sample", env={"HOTLINE_CONFIG_DIR": str(tmp_path)})
