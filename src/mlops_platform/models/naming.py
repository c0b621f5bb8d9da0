"""Readable segment names from standardised centroids.

Features are grouped by their names: recency (``days_since_last...``), spend (``spend``,
``revenue``, ``amount``, ...), data usage (``data_mb``, ...), other usage and frequency
(``minutes``, ``sessions``, ``orders``, ...). A group's level is the mean of its features'
standardised centroid values: above ``+0.5`` is high, below ``-0.5`` is low. The name combines an
activity word (``dormant``, ``high-data``, ``high-usage``, ``light-usage``, ``moderate-usage``,
``recently-active``, ``lapsing``) with a spend word (``premium``, ``mid-spender``,
``low-spender``), e.g. ``"high-data premium"`` or ``"dormant low-spender"``. Without such
features the name is the most distinctive feature (``"high tenure_days"``) or ``"average"``.
Duplicate names get the feature that best tells them apart, then a number.
"""

from __future__ import annotations

import re

import pandas as pd

HIGH, LOW = 0.5, -0.5

# The first group whose keyword occurs in a feature's snake_case name claims the feature.
GROUP_KEYWORDS: dict[str, tuple[str, ...]] = {
    "recency": ("recency", "days_since", "since_last", "inactive_days", "days_inactive"),
    "spend": ("spend", "revenue", "amount", "monetary", "arpu", "charge", "bill", "price"),
    "data": ("data_mb", "data_gb", "mb_", "_mb", "data_usage", "data"),
    "usage": (
        "usage", "minutes", "voice", "sms", "call", "session", "view", "click", "event",
        "duration", "page", "visit", "order", "transaction", "purchase", "frequency",
    ),
}  # fmt: skip


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def feature_groups(features: list[str]) -> dict[str, list[str]]:
    """The features claimed by each keyword group (groups without features are left out)."""
    groups: dict[str, list[str]] = {}
    for feature in features:
        snake = _snake(feature)
        group = next((g for g, words in GROUP_KEYWORDS.items() if any(w in snake for w in words)), None)
        if group is not None:
            groups.setdefault(group, []).append(feature)
    return groups


def _activity_word(levels: dict[str, float]) -> str | None:
    recency = levels.get("recency")
    usage_parts = [levels[g] for g in ("data", "usage") if g in levels]
    activity = sum(usage_parts) / len(usage_parts) if usage_parts else None
    if recency is not None and recency > HIGH and (activity is None or activity < 0):
        return "dormant"
    if activity is not None:
        if activity > HIGH:
            return "high-data" if levels.get("data", 0.0) > HIGH else "high-usage"
        return "light-usage" if activity < LOW else "moderate-usage"
    if recency is not None and recency < LOW:
        return "recently-active"
    return "lapsing" if recency is not None and recency > HIGH else None


def _spend_word(levels: dict[str, float]) -> str | None:
    spend = levels.get("spend")
    if spend is None:
        return None
    return "premium" if spend > HIGH else "low-spender" if spend < LOW else "mid-spender"


def _fallback(centroid: pd.Series) -> str:
    if centroid.empty or centroid.abs().max() < 0.25:
        return "average"
    top = centroid.abs().idxmax()
    return f"{'high' if centroid[top] > 0 else 'low'} {top}"


def centroid_name(centroid: pd.Series, groups: dict[str, list[str]]) -> str:
    """The name of one segment from its standardised centroid."""
    levels = {group: float(centroid[members].mean()) for group, members in groups.items()}
    activity, spend = _activity_word(levels), _spend_word(levels)
    if activity and spend:
        return f"{activity} {spend}"
    if activity:
        return f"{activity} customers"
    return spend or _fallback(centroid)


def _disambiguate(names: dict[int, str], centroids: pd.DataFrame) -> dict[int, str]:
    """Suffix duplicate names with their most distinctive feature, then with a number."""
    result = dict(names)
    for name in set(names.values()):
        clash = [k for k, other in names.items() if other == name]
        if len(clash) < 2:
            continue
        shared = centroids.loc[clash]
        for k in clash:
            difference = shared.loc[k] - shared.drop(index=k).mean()
            top = difference.abs().idxmax()
            result[k] = f"{name} ({'more' if difference[top] > 0 else 'less'} {top})"
    seen: dict[str, int] = {}
    for k in sorted(result):
        seen[result[k]] = seen.get(result[k], 0) + 1
        if seen[result[k]] > 1:
            result[k] = f"{result[k]} #{seen[result[k]]}"
    return result


def segment_names(centroids: pd.DataFrame) -> dict[int, str]:
    """Unique readable names of segments.

    Args:
        centroids: one row per segment (index = segment id), one column per feature, holding
            the segment's mean standardised value of the feature.

    Returns:
        Segment id to name, every name distinct.
    """
    groups = feature_groups(list(centroids.columns))
    names = {int(k): centroid_name(row, groups) for k, row in centroids.iterrows()}
    return _disambiguate(names, centroids.set_axis([int(k) for k in centroids.index]))
