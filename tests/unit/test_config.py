"""Typed settings: unknown keys, missing keys, bad values and env overrides are named."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from mlops_platform.config import ConfigError, load_platform_settings


def _config_copy(tmp_path: Path, config_dir: Path, edit=None) -> Path:
    target = tmp_path / "config"
    shutil.copytree(config_dir, target)
    if edit is not None:
        path = target / "platform.yaml"
        data = yaml.safe_load(path.read_text())
        edit(data)
        path.write_text(yaml.safe_dump(data))
    return target


def test_the_shipped_config_loads(config_dir: Path) -> None:
    settings = load_platform_settings(config_dir, env={})
    assert settings.storage.uri == "file://./lake"
    assert settings.features.arpu_bucket_edges == (50000, 100000, 200000)
    assert settings.dates.start == dt.date(2025, 1, 1)
    assert settings.labels.longest_horizon_days == 30


def test_an_unknown_key_is_named(tmp_path: Path, config_dir: Path) -> None:
    folder = _config_copy(tmp_path, config_dir, lambda d: d["features"].update(usage_window=3))
    with pytest.raises(ConfigError, match=r"features\.usage_window: unknown key"):
        load_platform_settings(folder, env={})


def test_a_missing_key_is_named(tmp_path: Path, config_dir: Path) -> None:
    folder = _config_copy(tmp_path, config_dir, lambda d: d["labels"].pop("churn_horizon_days"))
    with pytest.raises(ConfigError, match=r"labels\.churn_horizon_days: missing"):
        load_platform_settings(folder, env={})


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        pytest.param("storage", "uri", "ftp://x", r"storage\.uri: .*file:// or s3://", id="bad-scheme"),
        pytest.param("features", "rfm_window_days", -1, r"features\.rfm_window_days", id="negative-window"),
        pytest.param("features", "arpu_bucket_edges", [3, 2, 1], r"arpu_bucket_edges.*increasing", id="edges"),
        pytest.param("dates", "start", "yesterday", r"dates\.start", id="bad-date"),
        pytest.param("validation", "max_missing_share", 2, r"validation\.max_missing_share", id="share>1"),
    ],
)
def test_a_bad_value_is_named(tmp_path: Path, config_dir: Path, section: str, key: str, value, message: str) -> None:
    folder = _config_copy(tmp_path, config_dir, lambda d: d[section].update({key: value}))
    with pytest.raises(ConfigError, match=message):
        load_platform_settings(folder, env={})


def test_environment_variables_override_values(config_dir: Path) -> None:
    env = {
        "MLOPS_STORAGE_URI": "s3://bucket/prefix",
        "MLOPS_FEATURES_ARPU_BUCKET_EDGES": "[10, 20, 30]",
        "MLOPS_LABELS_CHURN_HORIZON_DAYS": "45",
        "MLOPS_CONFIG_DIR": str(config_dir),
    }
    settings = load_platform_settings(config_dir, env=env)
    assert settings.storage.uri == "s3://bucket/prefix"
    assert settings.features.arpu_bucket_edges == (10, 20, 30)
    assert settings.labels.churn_horizon_days == 45


def test_an_override_of_an_unknown_key_is_an_error(config_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"MLOPS_STORAGE_URL: storage\.url is not a known setting"):
        load_platform_settings(config_dir, env={"MLOPS_STORAGE_URL": "s3://x"})


def test_an_override_with_a_bad_value_is_named(config_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"labels\.churn_horizon_days"):
        load_platform_settings(config_dir, env={"MLOPS_LABELS_CHURN_HORIZON_DAYS": "soon"})


def test_a_missing_config_folder_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config folder .* not found"):
        load_platform_settings(tmp_path / "nowhere", env={})
