"""Cached reads of the raw lake for one validation run.

A validation run over many days compares each day with reference data (customers signed up
so far, the product catalogue in force, keys used on earlier days); :class:`LakeView` reads
each partition (or the projection it needs) at most once per run. A file that a manifest
names but that is not readable parquet is reported with its path, not as a traceback.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from mlops_platform.config import ValidationSettings
from mlops_platform.data.rules import R_READABLE
from mlops_platform.data.schemas import CONTRACTS, contract
from mlops_platform.errors import DataValidationError
from mlops_platform.storage import Manifest, ObjectStore, date_partition

# Bump when the rules change so that cached verdicts are not trusted any more.
RULES_VERSION = "2"


class UnreadablePartition(DataValidationError):
    """A file named by a partition's manifest is not readable parquet."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: not a readable parquet file (rule: {R_READABLE}): {reason}")
        self.url = url
        self.reason = reason


def read_manifest_files(
    store: ObjectStore, partition: str, manifest: Manifest, columns: Sequence[str] | None = None
) -> pa.Table:
    """Read the files ``manifest`` names, keeping only those of ``columns`` that exist.

    Raises:
        UnreadablePartition: a file is missing or not parquet; the message names it.
    """
    tables = []
    for name in manifest.files:
        path = f"{partition}/{name}"
        try:
            with store.fs.open_input_file(store.full_path(path)) as handle:
                parquet = pq.ParquetFile(handle)
                names = parquet.schema_arrow.names
                wanted = None if columns is None else [c for c in columns if c in names]
                tables.append(parquet.read(columns=wanted))
        except (pa.ArrowInvalid, OSError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise UnreadablePartition(store.url(path), reason) from None
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="permissive")


def _column(table: pa.Table, name: str, type_: pa.DataType) -> pa.ChunkedArray | None:
    """``table[name]`` cast to ``type_``; None if absent or not castable (its own day reports it)."""
    if name not in table.column_names:
        return None
    try:
        return table.column(name).cast(type_)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _concat(arrays: list[pa.ChunkedArray], type_: pa.DataType) -> pa.ChunkedArray:
    chunks = [chunk for array in arrays for chunk in array.chunks]
    return pa.chunked_array(chunks, type=type_)


_CUSTOMERS = pa.schema([("customer_id", pa.int64()), ("part_day", pa.date32()), ("known_from", pa.date32())])


class LakeView:
    """The committed raw partitions, read lazily and cached for one run."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._dates: dict[str, list[dt.date]] = {}
        self._manifests: dict[tuple[str, dt.date], Manifest | None] = {}
        self._keys: dict[tuple[str, dt.date], pa.ChunkedArray] = {}
        self._customers_table = _CUSTOMERS.empty_table()
        self._customers_read = dt.date.min
        self._prefixes: dict[str, tuple[list[dt.date], list[str]]] = {}
        self._repeated: dict[str, pa.Table] = {}

    # -- partitions -------------------------------------------------------------------------
    def dates(self, table: str) -> list[dt.date]:
        """Committed partition dates of raw ``table``, oldest first."""
        if table not in self._dates:
            self._dates[table] = self.store.list_dates(contract(table).dataset)
        return self._dates[table]

    def all_dates(self) -> list[dt.date]:
        """Every date on which any raw table has a committed partition."""
        return sorted({day for table in CONTRACTS for day in self.dates(table)})

    def partition(self, table: str, day: dt.date) -> str:
        return date_partition(contract(table).dataset, day)

    def manifest(self, table: str, day: dt.date) -> Manifest | None:
        """The manifest of ``table`` on ``day`` (None if that partition is not committed)."""
        key = (table, day)
        if key not in self._manifests:
            found = day in self.dates(table)
            self._manifests[key] = self.store.manifest(self.partition(table, day)) if found else None
        return self._manifests[key]

    def read(self, table: str, day: dt.date, columns: Sequence[str] | None = None) -> pa.Table:
        """The committed content of one partition (only the ``columns`` that exist, if given)."""
        manifest = self.manifest(table, day)
        if manifest is None:
            raise DataValidationError(f"{table}: no committed partition on {day.isoformat()}")
        return read_manifest_files(self.store, self.partition(table, day), manifest, columns)

    # -- reference data ---------------------------------------------------------------------
    def keys(self, table: str, day: dt.date) -> pa.ChunkedArray:
        """The key column of one partition, cast to its contract type (empty if unusable)."""
        if (table, day) not in self._keys:
            spec = contract(table)
            key_type = spec.schema.field(spec.key).type
            column = _column(self.read(table, day, [spec.key]), spec.key, key_type)
            self._keys[(table, day)] = column if column is not None else pa.chunked_array([], key_type)
        return self._keys[(table, day)]

    def keys_before(self, table: str, day: dt.date) -> pa.ChunkedArray:
        """Every key of ``table`` in the partitions before ``day``."""
        spec = contract(table)
        key_type = spec.schema.field(spec.key).type
        return _concat([self.keys(table, d) for d in self.dates(table) if d < day], key_type)

    def repeated_keys_before(self, table: str, day: dt.date) -> pa.ChunkedArray:
        """Keys of ``table`` that appear on more than one day, first on a day before ``day``.

        One group-by over the keys of every partition, cached: cheap for a run over many days.
        """
        if table not in self._repeated:
            every = self._keys_with_days(table)
            stats = every.group_by("key").aggregate([("day", "min"), ("key", "count")])
            self._repeated[table] = stats.filter(pc.greater(stats["key_count"], 1))
        repeated = self._repeated[table]
        return repeated.filter(pc.less(repeated["day_min"], pa.scalar(day, pa.date32()))).column("key")

    def _keys_with_days(self, table: str) -> pa.Table:
        """(key, day) of every committed partition of ``table``: one scan, or one read per
        partition if the scan fails (a corrupt file or a partition with another key type)."""
        spec = contract(table)
        key_type = spec.schema.field(spec.key).type
        schema = pa.schema([("key", key_type), ("day", pa.date32())])
        days = self.dates(table)
        if not days:
            return schema.empty_table()
        try:
            files = [
                self.store.full_path(f"{self.partition(table, d)}/{name}")
                for d in days
                for name in self.manifest(table, d).files  # type: ignore[union-attr]
            ]
            partitioning = ds.partitioning(pa.schema([("date", pa.date32())]), flavor="hive")
            dataset = ds.dataset(
                files,
                format="parquet",
                filesystem=self.store.fs,
                partitioning=partitioning,
                partition_base_dir=self.store.full_path(spec.dataset),
            )
            scanned = dataset.to_table(columns=[spec.key, "date"])
            return pa.table({"key": scanned.column(spec.key).cast(key_type), "day": scanned.column("date")})
        except (pa.ArrowInvalid, pa.ArrowTypeError, OSError):
            parts = [self._keys_with_day(table, d) for d in days]
            return pa.concat_tables(parts).cast(schema)

    def _keys_with_day(self, table: str, day: dt.date) -> pa.Table:
        keys = self.keys(table, day)
        days = pa.nulls(len(keys), pa.date32()).fill_null(pa.scalar(day, pa.date32()))
        return pa.table({"key": keys, "day": pa.chunked_array([days])})

    def _customers_upto(self, day: dt.date) -> pa.Table:
        """(customer_id, part_day, known_from) of the customers partitions up to ``day``.

        ``known_from`` is the later of the partition date and the signup date: the first day a
        customer may appear in the facts. The table grows as later days are asked for.
        """
        new = [d for d in self.dates("customers") if self._customers_read < d <= day]
        if new:
            parts = [self._customers_table] + [self._customer_part(d) for d in new]
            self._customers_table = pa.concat_tables(parts).combine_chunks()
            self._customers_read = new[-1]
        return self._customers_table

    def _customer_part(self, day: dt.date) -> pa.Table:
        table = self.read("customers", day, ["customer_id", "signup_date"])
        ids = _column(table, "customer_id", pa.int64())
        ids = ids if ids is not None else pa.chunked_array([pa.nulls(table.num_rows, pa.int64())])
        when = pa.nulls(table.num_rows, pa.date32()).fill_null(pa.scalar(day, pa.date32()))
        signup = _column(table, "signup_date", pa.date32())
        known = when if signup is None else pc.max_element_wise(signup, when)
        return pa.table({"customer_id": ids, "part_day": when, "known_from": known}, schema=_CUSTOMERS)

    def customer_ids(self, day: dt.date) -> pa.ChunkedArray:
        """Ids of the customers signed up on or before ``day`` (partitions up to and including it)."""
        table = self._customers_upto(day)
        return table.filter(pc.less_equal(table["known_from"], pa.scalar(day, pa.date32()))).column("customer_id")

    def customer_ids_before(self, day: dt.date) -> pa.ChunkedArray:
        """Ids in the customers partitions before ``day`` (whatever their signup date)."""
        table = self._customers_upto(day)
        return table.filter(pc.less(table["part_day"], pa.scalar(day, pa.date32()))).column("customer_id")

    def catalogue_day(self, day: dt.date) -> dt.date | None:
        """The date of the products partition in force on ``day`` (the newest on or before it)."""
        days = [d for d in self.dates("products") if d <= day]
        return days[-1] if days else None

    def product_ids(self, day: dt.date) -> pa.ChunkedArray | None:
        """Ids of the catalogue in force on ``day``; None if there is no catalogue yet."""
        in_force = self.catalogue_day(day)
        return None if in_force is None else self.keys("products", in_force)

    # -- cache key --------------------------------------------------------------------------
    def _attempts(self, table: str, day: dt.date | None, inclusive: bool = True) -> str:
        """A digest of the attempts of ``table``'s partitions up to ``day`` (cumulative, cached)."""
        if table not in self._prefixes:
            days, digests, running = self.dates(table), [], ""
            for d in days:
                manifest = self.manifest(table, d)
                attempt = manifest.attempt if manifest else ""
                running = hashlib.sha256(f"{running}|{d}:{attempt}".encode()).hexdigest()[:16]
                digests.append(running)
            self._prefixes[table] = (days, digests)
        days, digests = self._prefixes[table]
        if day is None:
            return ""
        index = (bisect.bisect_right if inclusive else bisect.bisect_left)(days, day)
        return digests[index - 1] if index else ""

    def fingerprint(self, day: dt.date, settings: ValidationSettings) -> str:
        """A hash of everything a day's verdict depends on: its partitions, the reference
        partitions (customers so far, the catalogue in force, earlier transactions), the
        validation settings and the rules version."""
        own = {t: m.attempt for t in CONTRACTS if (m := self.manifest(t, day)) is not None}
        catalogue = self.catalogue_day(day)
        inputs = {
            "rules": RULES_VERSION,
            "settings": settings.model_dump(mode="json"),
            "own": own,
            "customers": self._attempts("customers", day),
            "catalogue": [str(catalogue), self._attempts("products", catalogue)],
            "earlier": self._attempts("transactions", day, inclusive=False),
        }
        return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:24]
