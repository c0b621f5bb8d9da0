"""Ranking metrics for the recommender: precision, recall, NDCG, MAP and hit rate at k, catalogue
coverage and the cold-start hit rate.

Recommendations are a mapping ``user -> ordered item ids`` or a 2-d array of item ids with one
row per user (``users`` names the rows; row positions by default; every cell is a real item, so
ragged lists belong in the mapping form). Relevant items are a mapping ``user -> set of item ids``
(for an array, also a sequence of sets aligned with the rows). A list that repeats an item is an
error. The protocol, for every metric:

- ``exclude`` (``user -> items already bought or seen``) removes those items from a user's list
  *before* it is cut at ``k``, so the items behind them move up ("train items excluded").
- A user without relevant items is skipped and counted (``n_skipped_users``); a user with
  relevant items but no recommendation list counts as all misses.
- precision@k divides by ``k`` even when a list is shorter than ``k``. NDCG@k (binary relevance,
  ``log2`` discount) and MAP@k both normalise by ``min(k, |relevant|)``: AP@k is the sum of the
  precisions at the ranks of the hits divided by ``min(k, |relevant|)``, so a top-k made only of
  relevant items scores 1 even when the user has more than ``k`` relevant items.
- Each metric is the mean over the evaluated users, ``nan`` when there is none. Keys of
  :func:`ranking_report` read ``precision_at_10`` (MLflow metric names allow no ``@``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

NAN = float("nan")

Recs = Mapping[Hashable, Sequence[Hashable]] | np.ndarray
ItemSets = Mapping[Hashable, Collection[Hashable]] | Sequence[Collection[Hashable]]
Exclude = ItemSets | None
Users = Sequence[Hashable] | None


@dataclass(frozen=True)
class _Hits:
    """The evaluated users' top-k hits and every user's top-k items, after exclusion."""

    hits: np.ndarray  # (evaluated users, k) bool: is the item at this rank relevant
    n_relevant: np.ndarray  # (evaluated users,) int
    users: list[Hashable]  # the evaluated users, in the order of ``hits``
    top: np.ndarray  # (users with a list, k) item codes, -1 where the list ran out
    n_skipped: int  # users with a list but no relevant item


def _check_k(k: int, name: str = "k") -> int:
    """``k`` as an int, or a ValueError naming the argument."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k <= 0:
        raise ValueError(f"{name} must be a positive integer, got {k!r}")
    return int(k)


def _aligned(sets: ItemSets | None, name: str, users: list[Hashable]) -> list[Collection[Hashable]]:
    """One collection per row of an array of recommendations."""
    if sets is None:
        return [()] * len(users)
    if isinstance(sets, Mapping):
        rows = [sets.get(user, ()) for user in users]
    elif len(sets) != len(users):
        raise ValueError(f"{name} has {len(sets)} rows but recs has {len(users)}")
    else:
        rows = list(sets)
    return [row if isinstance(row, set | frozenset) else set(row) for row in rows]


def _missing_users(relevant: ItemSets, known: Collection[Hashable]) -> list[tuple[Hashable, int]]:
    """Users with relevant items but no recommendation list: they count as all misses."""
    if not isinstance(relevant, Mapping):
        return []
    return [(user, len(set(items))) for user, items in relevant.items() if items and user not in known]


def _from_mapping(recs: Mapping, relevant: ItemSets, k: int, exclude: Exclude) -> _Hits:
    """Hits from ``user -> list`` recommendations (a loop per user)."""
    for name, value in (("relevant", relevant), ("exclude", exclude)):
        if value is not None and not isinstance(value, Mapping):
            raise ValueError(f"{name} must be a mapping user -> items when recs is a mapping")
    codes: dict[Hashable, int] = {}
    top = np.full((len(recs), k), -1, dtype=np.int64)
    rows, n_relevant, users, skipped = [], [], [], 0
    for r, (user, items) in enumerate(recs.items()):
        items = list(items)
        if len(set(items)) != len(items):
            raise ValueError(f"recs: the list of user {user!r} repeats an item")
        seen = set(cast(Mapping, exclude).get(user, ())) if exclude else set()
        kept = [item for item in items if item not in seen][:k]
        top[r, : len(kept)] = [codes.setdefault(item, len(codes)) for item in kept]
        wanted = set(cast(Mapping, relevant).get(user, ()))
        if not wanted:
            skipped += 1
            continue
        row = np.zeros(k, dtype=bool)
        row[: len(kept)] = [item in wanted for item in kept]
        rows.append(row)
        n_relevant.append(len(wanted))
        users.append(user)
    for user, count in _missing_users(relevant, recs):
        rows.append(np.zeros(k, dtype=bool))
        n_relevant.append(count)
        users.append(user)
    hits = np.array(rows, dtype=bool).reshape(len(rows), k)
    return _Hits(hits, np.array(n_relevant, dtype=np.int64), users, top, skipped)


def _encoder(recs: np.ndarray) -> tuple[np.ndarray, int, Callable[[np.ndarray], np.ndarray]]:
    """Item codes ``0 <= code < size`` for ``recs``, and the code of any item (-1 if never recommended)."""
    if np.issubdtype(recs.dtype, np.integer) and recs.size:
        low, size = int(recs.min()), int(recs.max()) - int(recs.min()) + 1
        if size * len(recs) < 2**62:  # integer ids: the offset is the code, no sort needed
            return (
                recs.astype(np.int64) - low,
                size,
                lambda items: np.where((items >= low) & (items < low + size), items.astype(np.int64) - low, -1),
            )
    vocab = np.unique(recs)

    def encode(items: np.ndarray) -> np.ndarray:
        code = np.minimum(np.searchsorted(vocab, items), vocab.size - 1)
        return np.where(vocab[code] == items, code, -1)

    return np.searchsorted(vocab, recs), vocab.size, encode


def _pair_keys(rows: list[Collection[Hashable]], size: int, encode: Callable, dtype: np.dtype) -> np.ndarray:
    """Sorted ``row * size + item code`` of every item of ``rows`` that was ever recommended."""
    counts = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
    items = [item for row in rows for item in row]
    if not items:
        return np.empty(0, dtype=np.int64)
    code = encode(np.asarray(items, dtype=dtype))
    keys = np.repeat(np.arange(len(rows), dtype=np.int64), counts) * size + code
    return np.sort(keys[code >= 0])


def _member(keys: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """``keys`` found in the sorted ``pool`` (a binary search per key)."""
    if pool.size == 0:
        return np.zeros(keys.shape, dtype=bool)
    return pool[np.minimum(np.searchsorted(pool, keys), pool.size - 1)] == keys


def _from_array(recs: np.ndarray, relevant: ItemSets, k: int, exclude: Exclude, users: Users) -> _Hits:
    """Hits from a 2-d array of item ids, vectorised over the users."""
    if recs.ndim != 2 or recs.shape[1] == 0:
        raise ValueError(f"recs must be a 2-d array with at least one column, got shape {recs.shape}")
    n, m = recs.shape
    names: list[Hashable] = list(range(n)) if users is None else list(users)
    if len(names) != n:
        raise ValueError(f"users has {len(names)} entries but recs has {n} rows")
    wanted = _aligned(relevant, "relevant", names)
    n_relevant = np.fromiter((len(row) for row in wanted), dtype=np.int64, count=n)
    codes, size, encode = _encoder(recs)
    if m > 1 and np.any(np.diff(np.sort(codes, axis=1), axis=1) == 0):
        raise ValueError("recs: a row repeats an item")
    # A (user, item) pair as one integer, so "is this item in the user's set" is a binary search.
    keys = np.arange(n, dtype=np.int64)[:, None] * size + codes
    hit = _member(keys, _pair_keys(wanted, size, encode, recs.dtype))
    gone = _member(keys, _pair_keys(_aligned(exclude, "exclude", names), size, encode, recs.dtype))
    # The rank of a kept item is its position among the kept items of its row.
    rank = np.cumsum(~gone, axis=1) - 1
    row, col = np.nonzero(~gone & (rank < k))
    top = np.full((n, k), -1, dtype=np.int64)
    hits = np.zeros((n, k), dtype=bool)
    top[row, rank[row, col]] = codes[row, col]
    hits[row, rank[row, col]] = hit[row, col]
    evaluated = n_relevant > 0
    missing = _missing_users(relevant, set(names))
    hits = np.vstack([hits[evaluated], np.zeros((len(missing), k), dtype=bool)])
    n_relevant = np.concatenate([n_relevant[evaluated], np.array([c for _, c in missing], dtype=np.int64)])
    evaluated_users = [name for name, keep in zip(names, evaluated, strict=True) if keep]
    return _Hits(hits, n_relevant, evaluated_users + [u for u, _ in missing], top, int(n - evaluated.sum()))


def _collect(recs: Recs, relevant: ItemSets | None, k: int, exclude: Exclude, users: Users) -> _Hits:
    """Validate the inputs and find the hits in every user's top-k."""
    k = _check_k(k)
    relevant = {} if relevant is None else relevant
    if isinstance(recs, Mapping):
        if users is not None:
            raise ValueError("users names the rows of an array and must be None when recs is a mapping")
        return _from_mapping(recs, relevant, k, exclude)
    return _from_array(np.asarray(recs), relevant, k, exclude, users)


def _mean(values: np.ndarray) -> float:
    """The mean, or ``nan`` for no values."""
    return float(np.mean(values)) if values.size else NAN


def _scores(found: _Hits, k: int) -> dict[str, np.ndarray]:
    """Per-user precision, recall, NDCG, AP and hit at ``k`` (``k`` at most the collected k)."""
    hits = found.hits[:, :k]
    n_hits = hits.sum(axis=1)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.minimum(k, found.n_relevant)
    precision_at_rank = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    return {
        "precision": n_hits / k,
        "recall": n_hits / found.n_relevant,
        "ndcg": (hits @ discount) / np.cumsum(discount)[ideal - 1],
        "map": (precision_at_rank * hits).sum(axis=1) / ideal,
        "hit_rate": (n_hits > 0).astype(float),
    }


def _coverage(found: _Hits, k: int, catalogue_size: int) -> float:
    """Distinct items in every user's top-k over the catalogue size."""
    catalogue_size = _check_k(catalogue_size, "catalogue_size")
    top = found.top[:, :k]
    distinct = np.unique(top[top >= 0]).size
    if distinct > catalogue_size:
        raise ValueError(f"catalogue_size {catalogue_size} is smaller than the {distinct} distinct items recommended")
    return distinct / catalogue_size


def _metric(name: str, recs: Recs, relevant: ItemSets, k: int, exclude: Exclude, users: Users) -> float:
    """One metric, averaged over the evaluated users."""
    return _mean(_scores(_collect(recs, relevant, k, exclude, users), k)[name])


def precision_at_k(recs: Recs, relevant: ItemSets, k: int = 10, exclude: Exclude = None, users: Users = None) -> float:
    """Mean share of the top-k that is relevant (divided by ``k`` even for shorter lists)."""
    return _metric("precision", recs, relevant, k, exclude, users)


def recall_at_k(recs: Recs, relevant: ItemSets, k: int = 10, exclude: Exclude = None, users: Users = None) -> float:
    """Mean share of a user's relevant items found in the top-k."""
    return _metric("recall", recs, relevant, k, exclude, users)


def ndcg_at_k(recs: Recs, relevant: ItemSets, k: int = 10, exclude: Exclude = None, users: Users = None) -> float:
    """Mean NDCG@k: binary relevance, ``1 / log2(rank + 1)`` discount, ideal DCG of ``min(k, |relevant|)`` hits."""
    return _metric("ndcg", recs, relevant, k, exclude, users)


def map_at_k(recs: Recs, relevant: ItemSets, k: int = 10, exclude: Exclude = None, users: Users = None) -> float:
    """Mean AP@k: precisions at the ranks of the hits, summed, over ``min(k, |relevant|)``."""
    return _metric("map", recs, relevant, k, exclude, users)


def hit_rate_at_k(recs: Recs, relevant: ItemSets, k: int = 10, exclude: Exclude = None, users: Users = None) -> float:
    """Share of users with at least one relevant item in their top-k."""
    return _metric("hit_rate", recs, relevant, k, exclude, users)


def coverage(recs: Recs, catalogue_size: int, k: int = 10, exclude: Exclude = None, users: Users = None) -> float:
    """Distinct items in the top-k of every user with a list (relevant or not) over ``catalogue_size``."""
    return _coverage(_collect(recs, None, k, exclude, users), k, catalogue_size)


def cold_start_hit_rate(
    recs: Recs,
    relevant: ItemSets,
    cold_users: Iterable[Hashable],
    k: int = 10,
    exclude: Exclude = None,
    users: Users = None,
) -> float:
    """Share of the cold-start users (no history before the cut-off) who bought within the
    horizon (have relevant items) with at least one hit in their top-k; ``nan`` if there is none."""
    found = _collect(recs, relevant, k, exclude, users)
    cold = set(cold_users)
    is_cold = np.fromiter((user in cold for user in found.users), dtype=bool, count=len(found.users))
    return _mean(found.hits[is_cold].any(axis=1).astype(float))


def ranking_report(
    recs: Recs,
    relevant: ItemSets,
    ks: Sequence[int] = (5, 10),
    catalogue_size: int | None = None,
    exclude: Exclude = None,
    users: Users = None,
) -> dict[str, float]:
    """Every metric at every ``k`` in ``ks``, from one pass over the recommendations.

    Returns:
        ``precision_at_<k>``, ``recall_at_<k>``, ``ndcg_at_<k>``, ``map_at_<k>``,
        ``hit_rate_at_<k>``, ``coverage_at_<k>`` (only with ``catalogue_size``), ``n_users``
        (evaluated) and ``n_skipped_users`` (with a list but no relevant item).
    """
    ks = [_check_k(k, "ks") for k in ks]
    if not ks:
        raise ValueError("ks must name at least one k")
    # Exclusion comes before the cut, so the top-k is a prefix of the top-max(ks).
    found = _collect(recs, relevant, max(ks), exclude, users)
    report: dict[str, float] = {}
    for k in ks:
        for name, values in _scores(found, k).items():
            report[f"{name}_at_{k}"] = _mean(values)
        if catalogue_size is not None:
            report[f"coverage_at_{k}"] = _coverage(found, k, catalogue_size)
    report["n_users"] = float(len(found.users))
    report["n_skipped_users"] = float(found.n_skipped)
    return report
