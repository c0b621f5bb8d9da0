"""What a committed partition is: its manifest (``_SUCCESS.json``), its path, and the store's errors."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import socket
from dataclasses import asdict, dataclass

import pyarrow as pa

from mlops_platform.errors import InputError

MANIFEST = "_SUCCESS.json"


class StorageError(RuntimeError):
    """A partition or object is missing, unreadable or cannot be written; names the path."""


class OutsideLakeError(StorageError, InputError):
    """A path given to the store would lead outside its root (``..``, absolute, a symlink)."""


@dataclass(frozen=True)
class Manifest:
    """What a committed partition holds."""

    files: list[str]
    rows: int
    schema_hash: str
    writer: str
    written_at: str
    attempt: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes, where: str) -> Manifest:
        try:
            data = json.loads(text)
            return cls(
                files=[str(f) for f in data["files"]],
                rows=int(data["rows"]),
                schema_hash=str(data["schema_hash"]),
                writer=str(data["writer"]),
                written_at=str(data["written_at"]),
                attempt=str(data["attempt"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise StorageError(f"{where}: corrupt manifest ({exc})") from exc


def schema_hash(schema: pa.Schema) -> str:
    """A short, stable hash of column names and types (not metadata)."""
    text = ";".join(f"{f.name}:{f.type}" for f in schema)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def date_partition(dataset: str, day: dt.date) -> str:
    """The folder of one day of a dataset, e.g. ``raw/usage/date=2025-01-31``."""
    return f"{dataset.strip('/')}/date={day.isoformat()}"


def default_writer() -> str:
    return f"{os.environ.get('USER', 'mlops')}@{socket.gethostname()}:{os.getpid()}"
