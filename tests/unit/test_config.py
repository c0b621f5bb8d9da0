"""Typed settings: unknown keys, missing keys, bad values and env overrides are named."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml
from config_copy import config_with

from mlops_platform.config import (
    ConfigError,
    load_drift_settings,
    load_models_settings,
    load_orchestration_settings,
    load_platform_settings,
)


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


def _config_with_text(tmp_path: Path, config_dir: Path, file: str, extra: str) -> Path:
    """A copy of the config folder with ``extra`` YAML text appended to ``file``."""
    target = tmp_path / "config"
    shutil.copytree(config_dir, target)
    with (target / file).open("a") as handle:
        handle.write(extra)
    return target


@pytest.mark.parametrize(
    ("file", "loader", "extra", "message"),
    [
        pytest.param(
            "platform.yaml",
            load_platform_settings,
            "stroage: 3\n",
            r"platform\.yaml: unknown section 'stroage' \(did you mean 'storage'\?\); known sections: storage, dates,",
            id="platform-scalar",
        ),
        pytest.param(
            "platform.yaml",
            load_platform_settings,
            "lake: {uri: file://x}\n",
            r"unknown section 'lake'; known sections: storage, dates, generator, features, labels, validation$",
            id="platform-mapping",
        ),
        pytest.param(
            "models.yaml", load_models_settings, "chrun: {}\n", r"models\.yaml: unknown section 'chrun'", id="models"
        ),
        pytest.param("drift.yaml", load_drift_settings, "decisions: 1\n", r"unknown section 'decisions'", id="drift"),
        pytest.param(
            "orchestration.yaml",
            load_orchestration_settings,
            "runers: x\n",
            r"unknown section 'runers'",
            id="orchestration",
        ),
    ],
)
def test_an_unknown_top_level_key_is_named_with_the_known_sections(
    tmp_path: Path, config_dir: Path, file: str, loader, extra: str, message: str
) -> None:
    folder = _config_with_text(tmp_path, config_dir, file, extra)
    with pytest.raises(ConfigError, match=message):
        loader(folder, env={})


def test_a_section_that_is_not_a_mapping_is_named(tmp_path: Path, config_dir: Path) -> None:
    folder = _config_copy(tmp_path, config_dir, lambda d: d.update(storage="file://./lake"))
    with pytest.raises(ConfigError, match=r"section 'storage' must be a mapping of keys, got 'file://./lake'"):
        load_platform_settings(folder, env={})


@pytest.mark.parametrize(
    "loader", [load_platform_settings, load_models_settings, load_drift_settings, load_orchestration_settings]
)
def test_a_variable_of_no_known_section_is_an_error_in_every_file(config_dir: Path, loader) -> None:
    with pytest.raises(
        ConfigError, match=r"^MLOPS_STORGE_URI: no config section matches \(did you mean MLOPS_STORAGE_"
    ) as caught:
        loader(config_dir, env={"MLOPS_STORGE_URI": "s3://typo"})
    message = str(caught.value)
    assert "\n" not in message
    assert "SECTION one of airflow_api, churn," in message  # the sections of all four files
    assert "MLOPS_CONFIG_DIR" in message  # and the names that are not overrides


def test_a_variable_of_another_files_section_and_the_reserved_names_are_accepted(config_dir: Path) -> None:
    env = {
        "MLOPS_RUNNER_BACKEND": "docker",  # orchestration.yaml
        "MLOPS_TRACKING_URI": "sqlite:///x.db",  # models.yaml
        "MLOPS_DECISION_SEED": "3",  # drift.yaml
        "MLOPS_CONFIG_DIR": str(config_dir),
        "MLOPS_EXECUTION_BACKEND": "container",
        "MLOPS_CODE_VERSION": "abc123",
        "MLOPS_WEBHOOK_SECRET": "s",
        "MLOPS_AIRFLOW_USERNAME": "admin",
        "MLOPS_AIRFLOW_PASSWORD": "p",
        "MLOPS_SHARED_DATA": "/data",
    }
    assert load_platform_settings(config_dir, env=env).storage.uri == "file://./lake"
    assert load_orchestration_settings(config_dir, env=env).runner.backend == "docker"


def test_an_unknown_key_of_a_known_section_lists_the_known_keys(config_dir: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"storage\.url is not a known setting; known keys of storage: uri, gc_grace_hours$"
    ):
        load_platform_settings(config_dir, env={"MLOPS_STORAGE_URL": "s3://x"})


def test_a_secret_looking_name_in_the_plain_runner_env_is_refused(tmp_path: Path, config_dir: Path) -> None:
    folder = config_with(
        tmp_path, config_dir, lambda d: d["runner"]["env"].append("MLOPS_API_TOKEN"), "orchestration.yaml"
    )
    with pytest.raises(
        ConfigError, match=r"runner\.env: .*MLOPS_API_TOKEN looks secret: list it under runner\.secret_env"
    ):
        load_orchestration_settings(folder, env={})


def test_the_cli_reports_an_unknown_top_level_key_in_one_line(tmp_path: Path, config_dir: Path) -> None:
    from typer.testing import CliRunner

    from mlops_platform.cli.app import app

    folder = _config_with_text(tmp_path, config_dir, "platform.yaml", "stroage: 3\n")
    result = CliRunner().invoke(app, ["--config-dir", str(folder), "lake", "ls", "raw/usage"], env={})
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith("error: ") and "unknown section 'stroage'" in result.output


def test_the_cli_reports_a_mistyped_variable_in_one_line(config_dir: Path) -> None:
    from typer.testing import CliRunner

    from mlops_platform.cli.app import app

    result = CliRunner().invoke(
        app, ["--config-dir", str(config_dir), "lake", "ls", "raw/usage"], env={"MLOPS_STORGE_URI": "s3://typo"}
    )
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith("error: MLOPS_STORGE_URI: no config section matches")
