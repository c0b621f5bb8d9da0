"""``mlops data import``: a real transactions file becomes customers, products and transactions."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from mlops_platform.cli import app
from mlops_platform.config import load_platform_settings
from mlops_platform.data.importers import ColumnMapping, import_file, read_source, to_raw_tables
from mlops_platform.data.raw import read_products, read_raw
from mlops_platform.data.validate import ensure_valid
from mlops_platform.errors import InputError
from mlops_platform.storage import ObjectStore

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
ROWS = [
    "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom",
    "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom",
    "536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28:00,1.85,12583.0,France",
    "C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527.0,United Kingdom",
    "536380,22633,HAND WARMER UNION JACK,2,2010-12-01 10:00:00,1.85,,United Kingdom",
    "536381,85123A,WHITE HANGING HEART T-LIGHT HOLDER,4,2010-12-02 11:00:00,2.95,17850.0,United Kingdom",
    "536382,85123A,WHITE HANGING HEART T-LIGHT HOLDER,1,2010-12-02 12:00:00,2.55,12431.0,Australia",
    "536383,90000,BIG VASE,1,2010-12-02 12:30:00,20.00,12431.0,Australia",
    "536384,22633,HAND WARMER UNION JACK,-3,2010-12-02 13:00:00,1.85,12583.0,France",
]


def write_source(path: Path, header: str = HEADER, rows: list[str] = ROWS) -> Path:
    text = "\n".join([header, *rows]) + "\n"
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def test_a_small_csv_becomes_raw_tables(tmp_path: Path) -> None:
    raw = to_raw_tables(read_source(write_source(tmp_path / "retail.csv"), ColumnMapping()))
    counts = raw.counts
    assert (counts.rows_read, counts.cancelled, counts.missing_customer, counts.invalid) == (9, 2, 1, 0)
    assert (counts.rows_written, counts.customers, counts.products, counts.days) == (6, 3, 4, 2)
    assert (counts.first_day, counts.last_day) == (dt.date(2010, 12, 1), dt.date(2010, 12, 2))

    products = raw.products.to_pylist()
    assert [p["name"] for p in products] == [
        "HAND WARMER UNION JACK",
        "WHITE METAL LANTERN",
        "WHITE HANGING HEART T-LIGHT HOLDER",  # the most frequent description of 85123A
        "BIG VASE",
    ]
    assert [p["product_id"] for p in products] == [1, 2, 3, 4]  # rank of 22633 < 71053 < 85123A < 90000
    assert products[2]["price_idr"] == 2.55  # median of 2.55, 2.95, 2.55
    assert [p["category"] for p in products] == ["data", "voice", "data", "combo"]  # ties: lower third

    customers = {c["customer_id"]: c for c in raw.customers.to_pylist()}
    assert set(customers) == {17850, 12583, 12431}
    assert customers[12431]["signup_date"] == dt.date(2010, 12, 2)
    assert customers[12431]["region"] == "Australia"
    assert customers[17850]["segment"] == "premium"  # 15.30 + 20.34 on the first day: the top third

    transactions = raw.transactions.to_pylist()
    assert [t["transaction_id"] for t in transactions] == [1, 2, 3, 6, 7, 8]  # the lines of the file
    assert transactions[0]["amount_idr"] == pytest.approx(6 * 2.55)
    assert transactions[0]["product_id"] == 3


def test_an_import_writes_one_partition_per_day_and_validates(tmp_path: Path, config_dir: Path) -> None:
    store = ObjectStore(f"file://{tmp_path / 'lake'}")
    counts = import_file(store, write_source(tmp_path / "retail.csv.gz"))
    assert counts.rows_written == 6
    days = [dt.date(2010, 12, 1), dt.date(2010, 12, 2)]
    assert store.list_dates("raw/transactions") == days
    assert store.list_dates("raw/customers") == days
    assert store.list_dates("raw/products") == days[:1]
    assert read_raw(store, "customers", None, dt.date(2011, 1, 1)).num_rows == 3
    assert read_products(store, days[1]).num_rows == 4
    settings = load_platform_settings(config_dir, env={})
    assert ensure_valid(store, settings, days).validated == days


def test_renamed_columns_and_mapping_errors(tmp_path: Path) -> None:
    header = HEADER.replace("CustomerID", "Customer ID").replace("InvoiceDate", "When")
    path = write_source(tmp_path / "renamed.csv", header=header)
    with pytest.raises(InputError, match=r"'InvoiceDate' \(mapping key invoice_date\).*rename with --mapping"):
        read_source(path, ColumnMapping())
    mapping = ColumnMapping().with_overrides(["customer_id=Customer ID", "invoice_date = When"])
    assert to_raw_tables(read_source(path, mapping)).counts.rows_written == 6
    with pytest.raises(InputError, match="unknown key 'client'; keys: invoice, stock_code"):
        ColumnMapping().with_overrides(["client=Customer ID"])
    with pytest.raises(InputError, match="expected key=column"):
        ColumnMapping().with_overrides(["customer_id"])


def test_cli_import(tmp_path: Path, config_dir: Path) -> None:
    path = write_source(tmp_path / "retail.csv")
    env = {"MLOPS_STORAGE_URI": f"file://{tmp_path / 'lake'}"}
    args = ["--config-dir", str(config_dir), "data", "import", "--source", "online_retail", str(path)]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    for expected in ("rows read", "cancellations", "missing customer", "transactions written", "days"):
        assert expected in result.output
    unknown = CliRunner().invoke(app, [*args[:4], "--source", "shopify", str(path)], env=env)
    assert unknown.exit_code == 1 and "known sources: online_retail" in unknown.output
    remapped = CliRunner().invoke(app, [*args, "--mapping", "country=Land"], env=env)
    assert remapped.exit_code == 1 and "'Land' (mapping key country) not in the file" in remapped.output


def test_the_real_online_retail_file(shared_data: Path, tmp_path: Path, config_dir: Path) -> None:
    path = shared_data / "online_retail" / "online_retail.parquet"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    store = ObjectStore(f"file://{tmp_path / 'lake'}")
    counts = import_file(store, path)
    assert counts.rows_read == 541_909
    assert counts.rows_written == 397_924  # SOURCE.md: customer present, not cancelled, quantity > 0
    assert (counts.customers, counts.products, counts.days) == (4_339, 3_665, 305)
    assert counts.cancelled + counts.missing_customer + counts.invalid == 541_909 - 397_924
    days = store.list_dates("raw/transactions")
    # every calendar day from the first to the last invoice is committed; 305 of them had sales
    assert (days[0], days[-1], len(days)) == (dt.date(2010, 12, 1), dt.date(2011, 12, 9), 374)
    empty = [d for d in days if store.manifest(f"raw/transactions/date={d}").rows == 0]
    assert len(empty) == 374 - 305
    customers = read_raw(store, "customers", None, days[-1] + dt.timedelta(days=1))
    assert customers.num_rows == 4_339
    assert pc.count_distinct(customers["segment"]).as_py() == 3
    settings = load_platform_settings(config_dir, env={})
    assert ensure_valid(store, settings, days[:5] + days[-5:]).validated == days[:5] + days[-5:]
