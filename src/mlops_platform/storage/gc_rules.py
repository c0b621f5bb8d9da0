"""Which files of a folder gc may consider, and when they were written (see :mod:`mlops_platform.storage`)."""

from __future__ import annotations

import datetime as dt
import re

import pyarrow.fs as pafs

ATTEMPT_FILE = re.compile(r"^part-(?P<attempt>.+)-\d{4}\.parquet$")
UNCOMMITTED_MIN_AGE = dt.timedelta(hours=6)
"""The least age of unnamed files no manifest supersedes: their writer may still be running."""


def attempt_units(infos: list[pafs.FileInfo]) -> dict[tuple[str, bool], list[pafs.FileInfo]]:
    """The gc candidates of a folder: parquet files by (attempt id, True), temp files one by one."""
    units: dict[tuple[str, bool], list[pafs.FileInfo]] = {}
    for info in infos:
        match = ATTEMPT_FILE.match(info.base_name)
        if match:
            units.setdefault((match.group("attempt"), True), []).append(info)
        elif ".tmp-" in info.base_name:
            units[(info.base_name, False)] = [info]
    return units


def modified_at(info: pafs.FileInfo) -> dt.datetime | None:
    """The modification time of a listed file, timezone-aware (None when the store has none)."""
    mtime = info.mtime
    if mtime is not None and mtime.tzinfo is None:
        mtime = mtime.replace(tzinfo=dt.UTC)
    return mtime
