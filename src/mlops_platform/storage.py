"""The object store: a local folder (embedded default) or S3/MinIO, with atomic partitions.

A partition is a folder such as ``features/customer/date=2025-03-01``. Writing one puts the
parquet files under a fresh attempt id first and the manifest ``_SUCCESS.json`` last; readers
only take partitions that have a manifest and only read the files it names. A crash before
the manifest leaves nothing a reader would take, and a rerun writes a new attempt whose
manifest replaces the old one. Files that no manifest names are garbage, removed by
:meth:`ObjectStore.gc` once older than a grace period.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import socket
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

_logger = logging.getLogger(__name__)

MANIFEST = "_SUCCESS.json"
_DATE_DIR = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
_ROWS_PER_FILE = 4_000_000


class StorageError(RuntimeError):
    """A partition or object is missing, unreadable or cannot be written; names the path."""


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


def s3_filesystem() -> pafs.S3FileSystem:
    """An S3 filesystem configured from the standard AWS environment variables."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    kwargs: dict[str, object] = {"region": region}
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        if not host:
            scheme, host = "https", endpoint
        kwargs.update(endpoint_override=host.rstrip("/"), scheme=scheme)
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        kwargs.update(
            access_key=os.environ["AWS_ACCESS_KEY_ID"],
            secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
            session_token=os.environ.get("AWS_SESSION_TOKEN"),
        )
    return pafs.S3FileSystem(**kwargs)


class ObjectStore:
    """A lake rooted at a ``file://`` or ``s3://`` URI.

    Paths given to the methods are relative to the root and use ``/``.
    """

    def __init__(self, uri: str) -> None:
        self.uri = uri
        if uri.startswith("s3://"):
            self.fs: pafs.FileSystem = s3_filesystem()
            self.root = uri[len("s3://") :].strip("/")
            self.is_local = False
        elif uri.startswith("file://"):
            self.fs = pafs.LocalFileSystem()
            self.root = str(Path(uri[len("file://") :]).expanduser().resolve())
            self.is_local = True
        else:
            raise StorageError(f"storage uri {uri!r} must start with file:// or s3://")

    def __repr__(self) -> str:
        return f"ObjectStore({self.uri!r})"

    # -- paths -----------------------------------------------------------------------------
    def full_path(self, path: str) -> str:
        """The filesystem path of ``path`` (relative to the root)."""
        return f"{self.root}/{path.strip('/')}" if path.strip("/") else self.root

    def url(self, path: str) -> str:
        """A user-facing URL of ``path``, for messages."""
        scheme = "file://" if self.is_local else "s3://"
        return scheme + self.full_path(path)

    def _ensure_dir(self, path: str) -> None:
        if self.is_local:
            self.fs.create_dir(self.full_path(path), recursive=True)

    # -- raw objects -----------------------------------------------------------------------
    def exists(self, path: str) -> bool:
        return self.fs.get_file_info(self.full_path(path)).type == pafs.FileType.File

    def get_bytes(self, path: str) -> bytes:
        try:
            with self.fs.open_input_stream(self.full_path(path)) as stream:
                return stream.read()
        except (FileNotFoundError, OSError) as exc:
            raise StorageError(f"cannot read {self.url(path)}: {exc}") from exc

    def put_bytes(self, path: str, data: bytes) -> None:
        """Write one object atomically (a temp file and a rename locally; one PUT on S3)."""
        parent = path.rsplit("/", 1)[0] if "/" in path.strip("/") else ""
        self._ensure_dir(parent)
        if self.is_local:
            tmp = self.full_path(f"{path}.tmp-{uuid.uuid4().hex[:8]}")
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.full_path(path))
        else:
            with self.fs.open_output_stream(self.full_path(path)) as stream:
                stream.write(data)

    def delete(self, path: str) -> None:
        self.fs.delete_file(self.full_path(path))

    def list_files(self, prefix: str = "") -> list[pafs.FileInfo]:
        """Every file under ``prefix`` (recursively); an absent prefix gives an empty list."""
        selector = pafs.FileSelector(self.full_path(prefix), recursive=True, allow_not_found=True)
        return [info for info in self.fs.get_file_info(selector) if info.type == pafs.FileType.File]

    def list_dirs(self, prefix: str) -> list[str]:
        """Names of the folders directly under ``prefix``."""
        selector = pafs.FileSelector(self.full_path(prefix), recursive=False, allow_not_found=True)
        return sorted(
            info.base_name for info in self.fs.get_file_info(selector) if info.type == pafs.FileType.Directory
        )

    # -- partitions --------------------------------------------------------------------------
    def write_partition(self, partition: str, table: pa.Table, writer: str | None = None) -> Manifest:
        """Write ``table`` as the new content of ``partition``; the manifest goes last.

        Returns:
            The manifest that now describes the partition.
        """
        attempt = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        self._ensure_dir(partition)
        files: list[str] = []
        n_files = max(1, -(-table.num_rows // _ROWS_PER_FILE))
        for index in range(n_files):
            name = f"part-{attempt}-{index:04d}.parquet"
            chunk = table.slice(index * _ROWS_PER_FILE, _ROWS_PER_FILE)
            try:
                pq.write_table(chunk, self.full_path(f"{partition}/{name}"), filesystem=self.fs)
            except OSError as exc:
                raise StorageError(f"cannot write {self.url(partition)}/{name}: {exc}") from exc
            files.append(name)
        manifest = Manifest(
            files=files,
            rows=table.num_rows,
            schema_hash=schema_hash(table.schema),
            writer=writer or default_writer(),
            written_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            attempt=attempt,
        )
        self.put_bytes(f"{partition}/{MANIFEST}", manifest.to_json().encode())
        _logger.info("wrote %s (%d rows, attempt %s)", self.url(partition), table.num_rows, attempt)
        return manifest

    def get_bytes_if_exists(self, path: str) -> bytes | None:
        """The object at ``path``, or None when there is none (one request, no existence probe)."""
        try:
            with self.fs.open_input_stream(self.full_path(path)) as stream:
                return stream.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            if self.fs.get_file_info(self.full_path(path)).type == pafs.FileType.NotFound:
                return None
            raise StorageError(f"cannot read {self.url(path)}: {exc}") from exc

    def manifest(self, partition: str) -> Manifest | None:
        """The committed manifest of ``partition``, or None if it has none."""
        path = f"{partition}/{MANIFEST}"
        data = self.get_bytes_if_exists(path)
        return None if data is None else Manifest.from_json(data, self.url(path))

    def has_partition(self, partition: str) -> bool:
        return self.exists(f"{partition}/{MANIFEST}")

    def partition_files(self, partition: str) -> list[str]:
        """Full filesystem paths of the files the manifest names; error if uncommitted."""
        manifest = self.manifest(partition)
        if manifest is None:
            raise StorageError(f"{self.url(partition)} has no committed partition ({MANIFEST} missing)")
        return [self.full_path(f"{partition}/{name}") for name in manifest.files]

    def read_partition(self, partition: str, columns: Sequence[str] | None = None) -> pa.Table:
        """Read the committed content of one partition."""
        return self.read_partitions([partition], columns)

    def read_partitions(self, partitions: Iterable[str], columns: Sequence[str] | None = None) -> pa.Table:
        """Read and concatenate several committed partitions (which must share a schema)."""
        dataset = self.dataset(partitions)
        try:
            return dataset.to_table(columns=list(columns) if columns is not None else None)
        except (pa.ArrowInvalid, OSError) as exc:
            raise StorageError(f"cannot read {self.url('')}: {exc}") from exc

    def dataset(self, partitions: Iterable[str]) -> ds.Dataset:
        """A lazy pyarrow dataset over the committed files of ``partitions``.

        DuckDB and polars scan it with column and filter push-down, on either backend.
        """
        files: list[str] = []
        for partition in partitions:
            files.extend(self.partition_files(partition))
        if not files:
            raise StorageError("no partitions to read")
        try:
            return ds.dataset(files, format="parquet", filesystem=self.fs)
        except (pa.ArrowInvalid, OSError) as exc:
            raise StorageError(f"corrupt or unreadable parquet among {files[:3]}: {exc}") from exc

    def list_dates(self, dataset: str) -> list[dt.date]:
        """Dates of the committed partitions of ``dataset``, oldest first."""
        base = self.full_path(dataset).rstrip("/") + "/"
        dates = set()
        for info in self.list_files(dataset):  # one listing instead of a probe per folder
            if info.base_name != MANIFEST or not info.path.startswith(base):
                continue
            folder = info.path[len(base) :].rsplit("/", 1)[0]
            match = _DATE_DIR.match(folder)
            if match:
                dates.add(dt.date.fromisoformat(match.group(1)))
        return sorted(dates)

    # -- garbage collection -----------------------------------------------------------------
    def gc(
        self, grace: dt.timedelta, prefix: str = "", dry_run: bool = False, now: dt.datetime | None = None
    ) -> list[str]:
        """Remove files under ``prefix`` that no manifest names and that are older than ``grace``.

        Only folders that hold parquet attempts are considered; a folder without a manifest
        (an interrupted first write) is collected the same way once old enough.

        Returns:
            The removed (or, with ``dry_run``, removable) paths, relative to the root.
        """
        now = now or dt.datetime.now(dt.UTC)
        files = self.list_files(prefix)
        by_dir: dict[str, list[pafs.FileInfo]] = {}
        for info in files:
            rel = info.path[len(self.root) :].lstrip("/")
            by_dir.setdefault(rel.rsplit("/", 1)[0] if "/" in rel else "", []).append(info)
        removed: list[str] = []
        for folder, infos in sorted(by_dir.items()):
            names = {i.base_name for i in infos}
            keep = set(self.manifest(folder).files) if MANIFEST in names else set()  # type: ignore[union-attr]
            for info in infos:
                name = info.base_name
                garbage = (name.startswith("part-") and name not in keep) or ".tmp-" in name
                if not garbage:
                    continue
                mtime = info.mtime
                if mtime is not None and mtime.tzinfo is None:
                    mtime = mtime.replace(tzinfo=dt.UTC)
                if mtime is not None and now - mtime < grace:
                    continue
                rel = f"{folder}/{name}" if folder else name
                if not dry_run:
                    self.delete(rel)
                removed.append(rel)
        return removed


def open_store(uri: str) -> ObjectStore:
    """Open the lake at ``uri`` (``file://`` or ``s3://``)."""
    return ObjectStore(uri)
