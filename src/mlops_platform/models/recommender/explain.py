"""Plain-language reasons from the ranker's feature contributions.

XGBoost's ``pred_contribs=True`` splits each score into additive per-feature contributions
(SHAP values of the trees). The features that pushed a recommendation up the most become short
sentences built from the customer's own values: "you used 9 GB in the last 7 days", "popular in
your segment". A feature whose value cannot be said simply (a missing value, a negative push) is
skipped; a row without any says "popular with customers like you".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

FALLBACK = "popular with customers like you"
Row = Mapping[str, object]


def _number(row: Row, name: str) -> float | None:
    value = row.get(name)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _days(n: float) -> str:
    n = round(n)
    return "1 day" if n == 1 else f"{n} days"


def _data_use(row: Row) -> str | None:
    mb = _number(row, "usage_data_mb")
    if mb is None or mb <= 0:
        return None
    amount = f"{mb / 1024:.0f} GB" if mb >= 1024 else f"{mb:.0f} MB"
    return f"you used {amount} in the last 7 days"


def _voice_use(row: Row) -> str | None:
    minutes = _number(row, "usage_voice_min")
    return None if minutes is None or minutes <= 0 else f"you talked {minutes:.0f} minutes in the last 7 days"


def _category_affinity(row: Row) -> str | None:
    share = _number(row, "category_affinity")
    if share is None or share <= 0:
        return None
    return f"you {'mostly' if share >= 0.5 else 'often'} buy {row.get('category')} packs"


def _days_since_category(row: Row) -> str | None:
    days = _number(row, "days_since_category")
    return None if days is None else f"you last bought a {row.get('category')} pack {_days(days)} ago"


def _expiry(row: Row) -> str | None:
    gap = _number(row, "expiry_gap")
    if gap is None:
        return None
    if gap < -0.5:
        return f"your current pack runs out in {_days(-gap)}"
    if gap <= 0.5:
        return "your current pack runs out today"
    return f"your last pack ran out {_days(gap)} ago"


def _validity(row: Row) -> str | None:
    validity = _number(row, "validity_days")
    if validity is None or _number(row, "validity_ratio") is None:
        return None
    return f"its {validity:.0f}-day validity fits how often you buy"


def _since_last(row: Row) -> str | None:
    days = _number(row, "days_since_last_purchase")
    return None if days is None else f"your last purchase was {_days(days)} ago"


def _bought_before(row: Row) -> str | None:
    count = _number(row, "item_affinity")
    return "you bought it before" if count is not None and count > 0 else None


def _item_recency(row: Row) -> str | None:
    days = _number(row, "days_since_item")
    return None if days is None else f"you bought it {_days(days)} ago"


def _shared_traits(row: Row) -> str | None:
    share = _number(row, "token_affinity")
    if share is None or share <= 0:
        return None
    return f"it shares traits with {'most' if share >= 0.5 else 'many'} of the things you chose"


def _mean_rating(row: Row) -> str | None:
    rating = _number(row, "item_mean_rating")
    return None if rating is None else f"rated {rating:.1f} on average by others"


def _new_customer(row: Row) -> str | None:
    tenure = _number(row, "tenure_days")
    return "picked for new customers" if tenure is not None and tenure <= 30 else None


def _similar(row: Row) -> str:
    """Why a collaborative or content score speaks for an item, by what is known of the customer."""
    if _number(row, "days_since_last_purchase") is not None:
        return "customers like you bought it"
    segment = row.get("segment")
    return FALLBACK if isinstance(segment, str) and segment else "one of the most popular choices right now"


def _fixed(text: str) -> Callable[[Row], str]:
    return lambda row: text


def _if_known(name: str, text: str) -> Callable[[Row], str | None]:
    return lambda row: None if _number(row, name) is None else text


REASONS: dict[str, Callable[[Row], str | None]] = {
    "usage_data_mb": _data_use,
    "data_fit": _data_use,
    "usage_voice_min": _voice_use,
    "voice_fit": _voice_use,
    "segment_popularity": _fixed("popular in your segment"),
    "item_popularity": _fixed("one of the most popular choices right now"),
    "candidate_score": _similar,
    "collaborative_score": _similar,
    "candidate_rank": _similar,
    "score_gap": _similar,
    "neighbour_score": _if_known("neighbour_score", "people who chose what you chose also chose it"),
    "peer_popularity": _if_known("peer_popularity", "popular with people like you"),
    "item_mean_rating": _mean_rating,
    "token_affinity": _shared_traits,
    "content_score": _similar,
    "item_affinity": _bought_before,
    "days_since_item": _item_recency,
    "category_affinity": _category_affinity,
    "days_since_category": _days_since_category,
    "expiry_gap": _expiry,
    "validity_ratio": _validity,
    "days_since_last_purchase": _since_last,
    "price_to_arpu": _if_known("price_to_arpu", "it fits your usual spend"),
    "tenure_days": _new_customer,
}


def reasons(contributions: pd.DataFrame, rows: pd.DataFrame, limit: int = 2) -> list[list[str]]:
    """Up to ``limit`` reasons per row, from its most positive contributions first.

    Args:
        contributions: per-feature contributions (as from ``Ranker.contributions``), aligned
            with ``rows``; a ``bias`` column is ignored.
        rows: the feature values and the ``category`` of each row.
    """
    names = [name for name in contributions.columns if name in REASONS]
    values = contributions[names].to_numpy(np.float64)
    order = np.argsort(-values, axis=1, kind="stable")
    records = rows.to_dict("records")
    out: list[list[str]] = []
    for i, record in enumerate(records):
        said: list[str] = []
        for j in order[i]:
            if len(said) >= limit or values[i, j] <= 0:
                break
            text = REASONS[names[j]](record)
            if text and text not in said:
                said.append(text)
        out.append(said or ([FALLBACK] if limit else []))
    return out


def cold_reasons(rows: pd.DataFrame, limit: int = 2) -> list[list[str]]:
    """Reasons for customers without history (ranked by the cold-start score, not the ranker)."""
    out: list[list[str]] = []
    for record in rows.to_dict("records"):
        segment = record.get("segment")
        said = ["popular in your segment" if isinstance(segment, str) and segment else _similar(record)]
        if _new_customer(record):
            said.append("picked for new customers")
        out.append(said[:limit])
    return out
