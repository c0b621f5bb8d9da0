"""The recommender's inputs as LightFM matrices: interactions, user and item features, id mappings.

Whatever the business, the recommender reads plain frames:

- events: ``user_id, item_id, ts, quantity`` (one row per purchase, rating or view);
- items: ``item_id, category`` and, where the business has them, ``price, validity_days,
  data_mb, voice_min``;
- users: ``user_id`` and, where known, ``segment, arpu, usage_data_mb, usage_voice_min,
  tenure_days``;
- tokens: long frames ``id, token`` of categorical side features (``segment:business``), so
  a multi-valued attribute (a film's genres) is simply several rows. An optional boolean column
  ``ranker_only`` keeps a token out of LightFM: the ranker still reads it (see
  :func:`lightfm_tokens`), so side information can inform the ranking without reshaping the
  collaborative model.

The ``telco_*`` adapters build these from the raw tables and a customer feature snapshot. Ids
map to rows through :class:`IdMap` (sorted, so the same ids give the same rows on every run);
an unknown id maps to -1 and never raises.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike

from mlops_platform.errors import InputError

_logger = logging.getLogger(__name__)

EVENT_COLUMNS = ("user_id", "item_id", "ts", "quantity")
DAY = np.timedelta64(1, "D")
# Fixed bands (stable across retrains, readable in a reason): upper edges, inclusive.
TENURE_BANDS = ((7, "0-7"), (30, "8-30"), (90, "31-90"), (365, "91-365"))
DATA_USE_MB = ((0, "none"), (1024, "light"), (5 * 1024, "medium"), (15 * 1024, "heavy"))
VOICE_USE_MIN = ((0, "none"), (30, "light"), (120, "medium"), (300, "heavy"))
PRICE_TIERS_IDR = ((15_000, "budget"), (50_000, "standard"), (100_000, "plus"))
DATA_TIERS_MB = ((0, "none"), (2 * 1024, "small"), (10 * 1024, "medium"), (30 * 1024, "large"))


@dataclass(frozen=True)
class IdMap:
    """External ids <-> rows 0..n-1, in sorted id order."""

    ids: np.ndarray

    @classmethod
    def fit(cls, *columns: object) -> IdMap:
        """The distinct ids of every column given (nulls dropped)."""
        parts = [pd.Series(np.asarray(column)).dropna().to_numpy() for column in columns]
        values = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return cls(np.unique(values))

    def __len__(self) -> int:
        return len(self.ids)

    def index(self, values: ArrayLike) -> np.ndarray:
        """Row of every value; -1 for an id never seen (or of another type)."""
        values = np.atleast_1d(np.asarray(values))
        if len(self.ids) == 0 or len(values) == 0:
            return np.full(len(values), -1, dtype=np.int64)
        if self.ids.dtype.kind not in "iuf":  # text ids: a hash lookup copes with any mix of types
            return pd.Index(self.ids).get_indexer(pd.Index(values, dtype=object)).astype(np.int64)
        if values.dtype.kind not in "iufb":
            values = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(np.float64)
        pos = np.minimum(np.searchsorted(self.ids, values), len(self.ids) - 1)
        return np.where(self.ids[pos] == values, pos, -1).astype(np.int64)


@dataclass(frozen=True)
class Interactions:
    """Users x items: a binary matrix and, in the same entry order, the weights."""

    matrix: sp.coo_matrix
    weights: sp.coo_matrix


def events_before(events: pd.DataFrame, cut_off: object | None) -> pd.DataFrame:
    """The events strictly before ``cut_off`` (all of them when it is None)."""
    missing = [name for name in EVENT_COLUMNS if name not in events.columns]
    if missing:
        raise InputError(f"recommender events: missing column(s) {', '.join(missing)}")
    if cut_off is None:
        return events
    return events.loc[events["ts"] < pd.Timestamp(cut_off)]


def build_interactions(
    events: pd.DataFrame, users: IdMap, items: IdMap, half_life_days: float, as_of: object | None = None
) -> Interactions:
    """The interaction matrix of ``events``, weighted by count and recency.

    A pair's weight is ``log2(1 + sum of quantity * 0.5 ** (age_days / half_life_days))``: one
    fresh purchase weighs 1, repeats add less and less, old ones fade. Events of unknown users
    or items are dropped (and counted in the log).

    Args:
        events: ``user_id, item_id, ts, quantity`` (already cut at the cut-off).
        users, items: the row mappings.
        half_life_days: the age at which an event counts half.
        as_of: the date ages are counted from; the day after the newest event when None.
    """
    if half_life_days <= 0:
        raise InputError(f"half_life_days must be positive, got {half_life_days}")
    rows, cols = users.index(events["user_id"].to_numpy()), items.index(events["item_id"].to_numpy())
    known = (rows >= 0) & (cols >= 0)
    if not known.all():
        _logger.info("interactions: %d event(s) of unknown users or items dropped", int((~known).sum()))
    ts = pd.to_datetime(events["ts"]).to_numpy()[known]
    reference = np.datetime64(pd.Timestamp(as_of)) if as_of is not None else (ts.max() + DAY if len(ts) else None)
    age = (reference - ts) / DAY if len(ts) else np.zeros(0)
    decayed = events["quantity"].to_numpy(np.float64)[known] * 0.5 ** (np.maximum(age, 0.0) / half_life_days)
    pairs = pd.DataFrame({"row": rows[known], "col": cols[known], "w": decayed})
    summed = pairs.groupby(["row", "col"], sort=True)["w"].sum()
    r = summed.index.get_level_values("row").to_numpy()
    c = summed.index.get_level_values("col").to_numpy()
    shape = (len(users), len(items))
    weights = np.log2(1.0 + summed.to_numpy()).astype(np.float32)
    ones = np.ones(len(r), dtype=np.float32)
    return Interactions(sp.coo_matrix((ones, (r, c)), shape=shape), sp.coo_matrix((weights, (r, c)), shape=shape))


def lightfm_tokens(tokens: pd.DataFrame | None) -> pd.DataFrame | None:
    """The rows of a tokens frame LightFM uses: all but those flagged ``ranker_only``."""
    if tokens is None or "ranker_only" not in tokens.columns:
        return tokens
    return tokens.loc[~tokens["ranker_only"].eq(True).to_numpy()]


@dataclass(frozen=True)
class FeatureSpace:
    """Columns of a LightFM feature matrix: one identity column per known id, then the tokens."""

    ids: IdMap
    tokens: np.ndarray

    @classmethod
    def fit(cls, ids: IdMap, tokens: pd.DataFrame) -> FeatureSpace:
        """The vocabulary of ``tokens`` (a frame ``id, token``; ``ranker_only`` rows left out)."""
        used = lightfm_tokens(tokens)
        assert used is not None
        return cls(ids, np.unique(used["token"].dropna().astype(str).to_numpy()))

    @property
    def n_features(self) -> int:
        return len(self.ids) + len(self.tokens)

    def matrix(self, row_ids: object, tokens: pd.DataFrame | None, identity: bool = True) -> sp.csr_matrix:
        """One row per id of ``row_ids``: its identity column (when known and asked) and tokens.

        Rows are normalised to sum to 1, as LightFM's own ``Dataset`` does. Unknown tokens are
        ignored, and so are ``ranker_only`` ones; an unknown id without tokens gets an empty row
        (LightFM then scores it by the item biases alone).
        """
        tokens = lightfm_tokens(tokens)
        row_ids = np.atleast_1d(np.asarray(row_ids))
        n = len(row_ids)
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        if identity:
            pos = self.ids.index(row_ids)
            rows.append(np.flatnonzero(pos >= 0))
            cols.append(pos[pos >= 0])
        if tokens is not None and len(tokens) and len(self.tokens):
            lookup = pd.Index(row_ids)
            if not lookup.is_unique:
                raise InputError("feature rows: the ids repeat")
            at = lookup.get_indexer(tokens.iloc[:, 0].to_numpy())
            word = tokens["token"].astype(str).to_numpy()
            code = np.minimum(np.searchsorted(self.tokens, word), len(self.tokens) - 1)
            keep = (at >= 0) & (self.tokens[code] == word)
            rows.append(at[keep])
            cols.append(len(self.ids) + code[keep])
        r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
        m = sp.csr_matrix((np.ones(len(r), dtype=np.float32), (r, c)), shape=(n, self.n_features))
        m.sum_duplicates()
        m.data[:] = 1.0
        totals = np.asarray(m.sum(axis=1)).ravel()
        scale = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
        return sp.csr_matrix(sp.diags(scale.astype(np.float32)) @ m)


def _band(values: pd.Series, bands: tuple[tuple[float, str], ...], top: str, prefix: str) -> pd.Series:
    """``prefix:label`` of the first band whose upper edge holds the value; missing -> ``unknown``."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
    labels = np.full(len(numbers), top, dtype=object)
    for edge, label in reversed(bands):
        labels[numbers <= edge] = label
    labels[np.isnan(numbers)] = "unknown"
    return pd.Series([f"{prefix}:{label}" for label in labels], index=values.index)


def long_tokens(frame: pd.DataFrame, id_column: str, token_columns: dict[str, pd.Series]) -> pd.DataFrame:
    """A long ``id, token`` frame from token columns aligned with ``frame``."""
    parts = [
        pd.DataFrame({"id": frame[id_column].to_numpy(), "token": col.to_numpy()}) for col in token_columns.values()
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"id": [], "token": []})


# -- telco adapters ------------------------------------------------------------------------------


def telco_events(transactions: pd.DataFrame) -> pd.DataFrame:
    """``transactions`` as recommender events."""
    return pd.DataFrame(
        {
            "user_id": transactions["customer_id"].to_numpy(),
            "item_id": transactions["product_id"].to_numpy(),
            "ts": pd.to_datetime(transactions["ts"]).to_numpy(),
            "quantity": transactions["quantity"].fillna(1).to_numpy(np.float64),
        }
    )


def telco_items(products: pd.DataFrame) -> pd.DataFrame:
    """``products`` as recommender items."""
    return pd.DataFrame(
        {
            "item_id": products["product_id"].to_numpy(),
            "category": products["category"].astype(str).to_numpy(),
            "name": products["name"].astype(str).to_numpy() if "name" in products else None,
            "price": products["price_idr"].to_numpy(np.float64),
            "validity_days": products["validity_days"].to_numpy(np.float64),
            "data_mb": products["data_mb"].to_numpy(np.float64),
            "voice_min": products["voice_min"].to_numpy(np.float64),
        }
    )


def telco_profiles(snapshot: pd.DataFrame, customers: pd.DataFrame | None = None, day: object = None) -> pd.DataFrame:
    """The snapshot plus, for customers it lacks (new, or inactive), their segment and tenure.

    A customer who signed up after the snapshot's activity window has no snapshot row yet, but
    the ``customers`` table already knows their segment and signup date; ``tenure_days`` is
    counted to ``day`` (the scoring date). Other feature columns stay empty for them.
    """
    if customers is None or customers.empty:
        return snapshot
    if day is None:
        raise InputError("telco profiles: a day is needed to count the tenure of customers without a snapshot row")
    extra = customers.loc[~customers["customer_id"].isin(snapshot["customer_id"])]
    signup = pd.to_datetime(extra["signup_date"])
    tenure = (pd.Timestamp(day).normalize() - signup).dt.days.clip(lower=0)
    added = pd.DataFrame({"customer_id": extra["customer_id"].to_numpy(), "segment": extra["segment"].to_numpy()})
    added["tenure_days"] = tenure.to_numpy()
    return pd.concat([snapshot, added], ignore_index=True)


def telco_users(snapshot: pd.DataFrame) -> pd.DataFrame:
    """A feature snapshot (see ``features/definitions.py``) as recommender users."""
    columns = {
        "segment": "segment",
        "arpu": "arpu_30d",
        "usage_data_mb": "usage_7d_data_mb",
        "usage_voice_min": "usage_7d_voice_min",
        "tenure_days": "tenure_days",
    }
    users = pd.DataFrame({"user_id": snapshot["customer_id"].to_numpy()})
    for name, source in columns.items():
        users[name] = snapshot[source].to_numpy() if source in snapshot else np.nan
    return users


def telco_user_tokens(snapshot: pd.DataFrame) -> pd.DataFrame:
    """User features of LightFM: segment, ARPU bucket, data and voice use bands, tenure band."""
    empty = pd.Series(np.nan, index=snapshot.index)
    columns = {
        "segment": "segment:" + snapshot.get("segment", empty).fillna("unknown").astype(str),
        "arpu": "arpu:" + snapshot.get("arpu_bucket", empty).fillna("unknown").astype(str),
        "data": _band(snapshot.get("usage_7d_data_mb", empty), DATA_USE_MB, "very_heavy", "data_use"),
        "voice": _band(snapshot.get("usage_7d_voice_min", empty), VOICE_USE_MIN, "very_heavy", "voice_use"),
        "tenure": _band(snapshot.get("tenure_days", empty), TENURE_BANDS, "365+", "tenure"),
    }
    return long_tokens(snapshot, "customer_id", columns)


def telco_item_tokens(products: pd.DataFrame) -> pd.DataFrame:
    """Item features of LightFM: category, price tier, data tier, validity."""
    columns = {
        "category": "category:" + products["category"].astype(str),
        "price": _band(products["price_idr"], PRICE_TIERS_IDR, "premium", "price"),
        "data": _band(products["data_mb"], DATA_TIERS_MB, "huge", "data"),
        "validity": "validity:" + products["validity_days"].astype(int).astype(str) + "d",
    }
    return long_tokens(products, "product_id", columns)
