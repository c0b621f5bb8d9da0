"""A copy of the config folder with one YAML file edited, for tests of bad settings."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml


def config_with(tmp_path: Path, config_dir: Path, edit: Callable[[dict[str, Any]], None], file: str) -> Path:
    """Copy ``config_dir`` under ``tmp_path``, apply ``edit`` to the parsed ``file``; return the copy."""
    target = tmp_path / "config"
    shutil.copytree(config_dir, target)
    path = target / file
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data))
    return target
