"""The object store: a local folder (embedded default) or S3/MinIO, with atomic partitions.

A partition is a folder such as ``features/customer/date=2025-03-01``. Writing one puts the
parquet files under a fresh attempt id first and the manifest ``_SUCCESS.json`` last; readers
only take partitions that have a manifest and only read the files it names. A crash before
the manifest leaves nothing a reader would take, and a rerun writes a new attempt whose
manifest replaces the old one. Files that no manifest names are garbage, removed by
:meth:`ObjectStore.gc`.

Paths. Every path a method takes is relative to the root and must stay inside it: ``..``
segments, absolute paths, URIs and (locally) symlinks that lead out of the root are refused
with :class:`OutsideLakeError`, which names the path.

Garbage collection and writers. gc cannot tell a crashed attempt from one whose writer is
about to commit it, so it only trusts what a manifest proves. An attempt is *superseded* when
the folder's committed manifest names another attempt, the manifest is at least as new as
every file of the attempt (storage mtimes: one clock per store) and the attempt id (writer
start time, microseconds) sorts before the manifest's. A writer commits attempts in order, so
a superseded attempt can never be committed again: gc removes it once its newest file is older
than the grace period, which may be 0. Any other unnamed attempt (a folder without a manifest,
or files newer than its manifest) may still be in flight; gc waits until it is older than both
the grace period and ``UNCOMMITTED_MIN_AGE``. The manifest is read after the folder is
listed, so an attempt committed meanwhile is named and kept. Files vanishing under gc are
skipped. As a second line, a writer lists its partition after committing and rewrites any of
its files that are missing (two writers racing on one partition are last-writer-wins).
A plain parquet reader of a folder (pandas, DuckDB, Spark) sees every attempt still there;
once gc has run past the grace period it sees exactly the committed files.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from mlops_platform.storage.gc_rules import UNCOMMITTED_MIN_AGE, attempt_units, modified_at
from mlops_platform.storage.manifest import (
    MANIFEST,
    Manifest,
    OutsideLakeError,
    StorageError,
    date_partition,
    default_writer,
    schema_hash,
)
from mlops_platform.storage.s3 import s3_filesystem

__all__ = [
    "MANIFEST",
    "UNCOMMITTED_MIN_AGE",
    "Manifest",
    "ObjectStore",
    "OutsideLakeError",
    "StorageError",
    "date_partition",
    "default_writer",
    "open_store",
    "s3_filesystem",
    "schema_hash",
]

_logger = logging.getLogger(__name__)

_DATE_DIR = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
_ROWS_PER_FILE = 4_000_000


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
        """The filesystem path of ``path`` (relative to the root); refuses paths leading out."""
        if "\x00" in path or "://" in path or path.startswith(("/", "~")):
            raise self._outside(path, "only paths relative to the lake root are allowed")
        parts = [part for part in path.split("/") if part not in ("", ".")]
        if ".." in parts:
            raise self._outside(path, "'..' is not allowed")
        full = "/".join([self.root, *parts])
        if self.is_local and parts:
            real = os.path.realpath(full)
            if real != self.root and not real.startswith(self.root.rstrip("/") + "/"):
                raise self._outside(path, f"it resolves to {real}")
        return full

    def _outside(self, path: str, reason: str) -> OutsideLakeError:
        return OutsideLakeError(f"path {path!r} is outside the lake {self.uri}: {reason}")

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
        attempt = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
        self._ensure_dir(partition)
        n_files = max(1, -(-table.num_rows // _ROWS_PER_FILE))
        chunks = {
            f"part-{attempt}-{index:04d}.parquet": table.slice(index * _ROWS_PER_FILE, _ROWS_PER_FILE)
            for index in range(n_files)
        }
        for name, chunk in chunks.items():
            self._write_parquet(f"{partition}/{name}", chunk)
        manifest = Manifest(
            files=list(chunks),
            rows=table.num_rows,
            schema_hash=schema_hash(table.schema),
            writer=writer or default_writer(),
            written_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            attempt=attempt,
        )
        self.put_bytes(f"{partition}/{MANIFEST}", manifest.to_json().encode())
        self._restore_missing(partition, chunks)
        _logger.info("wrote %s (%d rows, attempt %s)", self.url(partition), table.num_rows, attempt)
        return manifest

    def _write_parquet(self, path: str, table: pa.Table) -> None:
        try:
            pq.write_table(table, self.full_path(path), filesystem=self.fs)
        except OSError as exc:
            raise StorageError(f"cannot write {self.url(path)}: {exc}") from exc

    def _restore_missing(self, partition: str, chunks: dict[str, pa.Table]) -> None:
        """Rewrite any file of a just-committed attempt that vanished (a foreign gc or writer)."""
        present = {info.base_name for info in self.list_files(partition)}
        for name in sorted(set(chunks) - present):
            _logger.warning("%s/%s vanished before its manifest was committed; rewriting it", partition, name)
            self._write_parquet(f"{partition}/{name}", chunks[name])

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
        """Remove files under ``prefix`` that no manifest names and that are safe to remove.

        Parquet attempts (``part-*``) and temp files (``*.tmp-*``) are considered; the rules
        that keep a writer's attempt safe are in the module docstring. Files that vanish while
        gc runs are skipped.

        Returns:
            The removed (or, with ``dry_run``, removable) paths, relative to the root.
        """
        now = now or dt.datetime.now(dt.UTC)
        by_dir: dict[str, list[pafs.FileInfo]] = {}
        for info in self.list_files(prefix):
            rel = info.path[len(self.root) :].lstrip("/")
            by_dir.setdefault(rel.rsplit("/", 1)[0] if "/" in rel else "", []).append(info)
        removed: list[str] = []
        for folder, infos in sorted(by_dir.items()):
            for rel in self._garbage(folder, infos, grace, now):
                if dry_run or self._delete_if_present(rel):
                    removed.append(rel)
        return removed

    def _garbage(self, folder: str, infos: list[pafs.FileInfo], grace: dt.timedelta, now: dt.datetime) -> list[str]:
        """The removable files of one folder (relative paths); see the module docstring."""
        units = attempt_units(infos)
        listed = next((info for info in infos if info.base_name == MANIFEST), None)
        if not units:
            return []
        try:
            self.full_path(folder)
            manifest = self.manifest(folder) if listed is not None else None  # read after listing
        except StorageError as exc:
            _logger.warning("gc skips %s: %s", folder or "/", exc)
            return []
        named = set(manifest.files) if manifest is not None else set()
        committed_at = modified_at(listed) if listed is not None and manifest is not None else None
        found: list[str] = []
        for (unit, is_attempt), files in sorted(units.items()):
            times = [t for t in map(modified_at, files) if t is not None]
            if len(times) < len(files) or named.intersection(info.base_name for info in files):
                continue
            newest = max(times)
            superseded = (
                is_attempt
                and committed_at is not None
                and manifest is not None
                and unit < manifest.attempt
                and newest <= committed_at
            )
            if now - newest >= (grace if superseded else max(grace, UNCOMMITTED_MIN_AGE)):
                found.extend(f"{folder}/{info.base_name}" if folder else info.base_name for info in files)
        return found

    def _delete_if_present(self, path: str) -> bool:
        """Delete one file for gc; False when it is already gone or leads out of the lake."""
        try:
            self.delete(path)
        except OutsideLakeError as exc:
            _logger.warning("gc skips %s", exc)
            return False
        except FileNotFoundError:
            return False
        except OSError as exc:
            if self.fs.get_file_info(self.full_path(path)).type == pafs.FileType.NotFound:
                return False
            raise StorageError(f"cannot delete {self.url(path)}: {exc}") from exc
        return True


def open_store(uri: str) -> ObjectStore:
    """Open the lake at ``uri`` (``file://`` or ``s3://``)."""
    return ObjectStore(uri)
