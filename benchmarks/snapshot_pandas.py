"""The baseline of the feature-snapshot benchmark: the same features in plain pandas.

It reads the same partitions as the platform build (pyarrow -> ``to_pandas``), each table's
window once with every column its features use, and computes every feature with boolean masks
and ``groupby`` per customer, the way a data scientist would write it in a notebook. (The build
reads the older part of the activity window with fewer columns: that pruning is part of what
is measured.) Variances use sums of squares with the missing days as zeros.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from mlops_platform.config import FeatureSettings
from mlops_platform.data.raw import raw_dataset, read_customers, read_products
from mlops_platform.data.schemas import contract
from mlops_platform.features.windows import Scan, Windows, scan_plan
from mlops_platform.storage import ObjectStore


def _read(store: ObjectStore, table: str, scans: list[Scan]) -> pd.DataFrame:
    """The whole window of ``table`` the build reads, once, with every column a feature uses."""
    mine = [scan for scan in scans if scan.table == table]
    columns = list(dict.fromkeys(c for scan in mine for c in scan.columns))
    dataset = raw_dataset(store, table, min(s.start for s in mine), max(s.end for s in mine))
    empty = dataset is None
    arrow = contract(table).schema.empty_table().select(columns) if empty else dataset.to_table(columns)
    return arrow.to_pandas(date_as_object=False, strings_to_categorical=True)


def _ts(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(day)


def _used(df: pd.DataFrame) -> pd.Series:
    return (df["data_mb"] > 0) | (df["voice_min"] > 0) | (df["sms"] > 0)


def _usage(df: pd.DataFrame, w: Windows, s: FeatureSettings) -> pd.DataFrame:
    mb = df["data_mb"].astype("float64")
    short, long = df["date"] >= _ts(w.short), df["date"] >= _ts(w.long)
    used = _used(df)
    parts = pd.DataFrame(
        {
            "customer_id": df["customer_id"],
            "mb_short": mb.where(short, 0.0),
            "voice_short": df["voice_min"].astype("float64").where(short, 0.0),
            "sms_short": df["sms"].where(short, 0),
            "mb_long": mb.where(long, 0.0),
            "mb_long_sq": (mb * mb).where(long, 0.0),
            "active": used & (df["date"] >= _ts(w.activity)),
        }
    )
    out = parts.groupby("customer_id").sum()
    mean_long = out["mb_long"] / s.usage_long_days
    variance = (out["mb_long_sq"] / s.usage_long_days - mean_long**2).clip(lower=0)
    has = mean_long > 0
    out["usage_trend"] = ((out["mb_short"] / s.usage_short_days) / mean_long).where(has)
    out["usage_stability"] = (np.sqrt(variance) / mean_long).where(has)
    return out


def _transactions(df: pd.DataFrame, w: Windows, categories: pd.Series) -> pd.DataFrame:
    rfm = df[df["ts"] >= _ts(w.rfm)]
    out = rfm.groupby("customer_id").agg(
        frequency_90d=("amount_idr", "size"),
        monetary_90d=("amount_idr", "sum"),
        last_ts=("ts", "max"),
        distinct_products_90d=("product_id", "nunique"),
    )
    arpu = df[df["ts"] >= _ts(w.arpu)].groupby("customer_id")["amount_idr"].sum()
    out = out.join(arpu.rename("arpu_30d"), how="outer")
    spend = rfm.assign(category=rfm["product_id"].map(categories)).dropna(subset=["category"])
    by_cat = spend.groupby(["customer_id", "category"])["amount_idr"].sum().reset_index()
    by_cat = by_cat.sort_values(["customer_id", "amount_idr", "category"], ascending=[True, False, True])
    favourite = by_cat.drop_duplicates("customer_id").set_index("customer_id")["category"]
    out["favourite_category"] = favourite
    active = df.loc[df["ts"] >= _ts(w.activity), "customer_id"].unique()
    out["active"] = out.index.isin(active)
    return out


def _events(df: pd.DataFrame, w: Windows) -> pd.DataFrame:
    recent = df[df["ts"] >= _ts(w.events)]
    counts = recent.groupby(["customer_id", "event_type"], observed=True).size().unstack(fill_value=0)
    out = pd.DataFrame(index=pd.Index(df["customer_id"].unique(), name="customer_id"))
    for column, event_type in (
        ("sessions_7d", "session"),
        ("impressions_7d", "offer_impression"),
        ("clicks_7d", "click"),
    ):
        out[column] = counts.get(event_type, 0)
    out = out.fillna(0)
    out["active"] = out.index.isin(df.loc[df["ts"] >= _ts(w.activity), "customer_id"].unique())
    return out


def _bucket(arpu: pd.Series, edges: tuple[float, float, float]) -> pd.Series:
    labels = np.array(["low", "medium", "high", "premium"])
    return pd.Series(labels[np.searchsorted(np.asarray(edges), arpu.to_numpy(), side="right")], index=arpu.index)


def pandas_snapshot(store: ObjectStore, settings: FeatureSettings, day: dt.date) -> pd.DataFrame:
    """The snapshot of ``day`` computed in pandas (one row per customer, sorted by id)."""
    w = Windows.of(settings, day)
    scans = scan_plan(settings, day)
    customers = read_customers(store, day).to_pandas(date_as_object=False).set_index("customer_id")
    categories = read_products(store, day - dt.timedelta(days=1)).to_pandas().set_index("product_id")["category"]
    u = _usage(_read(store, "usage", scans), w, settings)
    t = _transactions(_read(store, "transactions", scans), w, categories)
    e = _events(_read(store, "events", scans), w)
    active = pd.Index(u.index[u["active"] > 0]).union(t.index[t["active"]]).union(e.index[e["active"]])
    df = customers.loc[customers.index.isin(active), ["signup_date", "segment"]].sort_index()
    df = df.join(u.drop(columns="active")).join(t.drop(columns="active")).join(e.drop(columns="active"))
    zero = ["frequency_90d", "monetary_90d", "arpu_30d", "distinct_products_90d", "mb_short", "voice_short"]
    zero += ["sms_short", "sessions_7d", "impressions_7d", "clicks_7d"]
    df[zero] = df[zero].fillna(0)
    snapshot = _ts(day)
    out = pd.DataFrame(index=df.index)
    out["segment"] = df["segment"]
    out["tenure_days"] = (snapshot - df["signup_date"]).dt.days
    out["recency_days"] = (snapshot - df["last_ts"].dt.normalize()).dt.days
    out["frequency_90d"] = df["frequency_90d"]
    out["monetary_90d"] = df["monetary_90d"]
    out["arpu_30d"] = df["arpu_30d"]
    out["arpu_bucket"] = _bucket(df["arpu_30d"], settings.arpu_bucket_edges)
    out["usage_7d_data_mb"] = df["mb_short"]
    out["usage_7d_voice_min"] = df["voice_short"]
    out["usage_7d_sms"] = df["sms_short"]
    out["usage_trend"] = df["usage_trend"]
    out["usage_stability"] = df["usage_stability"]
    out["distinct_products_90d"] = df["distinct_products_90d"]
    out["favourite_category"] = df["favourite_category"].astype("object")
    for column in ("sessions_7d", "impressions_7d", "clicks_7d"):
        out[column] = df[column]
    impressions = df["impressions_7d"]
    out["ctr_7d"] = (df["clicks_7d"] / impressions.where(impressions > 0)).clip(upper=1.0)
    return out.reset_index()
