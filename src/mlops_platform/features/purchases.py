"""Per-customer purchase features: RFM sums, last purchase, distinct products, favourite category.

Transactions stream chunk by chunk like the other tables. The spend of each (customer, product)
pair of the RFM window is summed by sorting packed integer keys (customer position x product
code), which gives the distinct products and, through the catalogue, the spend per category.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlops_platform.features.reduce import CustomerIndex, Sums, chunks, micros, numbers, spill, valid
from mlops_platform.features.windows import Scan, Windows
from mlops_platform.storage import ObjectStore

NO_PURCHASE = np.iinfo(np.int64).min
# Pairs are summed once this many rows are pending, to bound memory on transaction-heavy lakes.
_COMPACT_ROWS = 4_000_000
# Product ids below this are packed with the customer position into one sort key as they are.
_PRODUCT_SLOTS = 1 << 24
# Spend per customer and category is summed in a dense N x categories table up to this size.
_DENSE_CELLS = 1 << 25


@dataclass
class Pairs:
    """Spend per (customer position, product id): one row per pair once compacted."""

    pos: np.ndarray
    product: np.ndarray
    spend: np.ndarray

    @classmethod
    def concat(cls, parts: list[Pairs]) -> Pairs:
        return cls(*(np.concatenate([getattr(p, name) for p in parts]) for name in ("pos", "product", "spend")))

    def compact(self) -> Pairs:
        """Sum the spend of equal pairs (sorted by customer position, then product)."""
        small = len(self.product) == 0 or (self.product.min() >= 0 and self.product.max() < _PRODUCT_SLOTS)
        products, code = (None, self.product) if small else np.unique(self.product, return_inverse=True)
        width = _PRODUCT_SLOTS if products is None else max(len(products), 1)
        keys = self.pos * width + code
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.zeros(0, np.int64)
        spend = np.add.reduceat(self.spend[order], starts) if len(starts) else np.zeros(0)
        keys = keys[starts]
        product = keys % width if products is None else products[keys % width]
        return Pairs(keys // width, product, spend)


@dataclass
class Purchases:
    """What the transactions give per customer position."""

    sums: Sums  # frequency, monetary, arpu, active
    last_purchase: np.ndarray  # microseconds of the last purchase in the RFM window (NO_PURCHASE if none)
    pairs: Pairs  # compacted: the products each customer bought in the RFM window


def purchase_sums(store: ObjectStore, scan: Scan, index: CustomerIndex, w: Windows) -> Purchases:
    """Reduce the transactions of the window per customer."""
    sums, last = Sums(index.size), np.full(index.size + 1, NO_PURCHASE, dtype=np.int64)
    parts = [Pairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))]
    pending = 0
    for chunk in chunks(store, scan):
        ts = chunk.column("ts")
        stamp = numbers(ts, np.int64)
        keep = valid(ts) & (stamp >= micros(w.transactions_start)) & (stamp < micros(w.day))
        pos = spill(index.positions(chunk.column("customer_id")), keep, index.size)
        amount = numbers(chunk.column("amount_idr"))
        in_rfm = keep & (stamp >= micros(w.rfm))
        sums.add("frequency", pos, in_rfm)
        sums.add("monetary", pos, np.where(in_rfm, amount, 0.0))
        sums.add("arpu", pos, np.where(stamp >= micros(w.arpu), amount, 0.0))
        sums.add("active", pos, stamp >= micros(w.activity))
        np.maximum.at(last, pos[in_rfm], stamp[in_rfm])
        bought = in_rfm & valid(chunk.column("product_id")) & (pos < index.size)
        product = numbers(chunk.column("product_id"), np.int64)
        parts.append(Pairs(pos[bought], product[bought], amount[bought]))
        pending += int(bought.sum())
        if pending > _COMPACT_ROWS:
            parts, pending = [Pairs.concat(parts).compact()], 0
    return Purchases(sums, last[: index.size], Pairs.concat(parts).compact())


def distinct_products(purchases: Purchases, size: int) -> np.ndarray:
    """How many different products each customer bought in the RFM window."""
    return np.bincount(purchases.pairs.pos, minlength=size)


def favourite_categories(purchases: Purchases, catalogue: pa.Table, size: int) -> pa.Array:
    """The category with the most spend per customer (ties: first by name); null if none.

    Args:
        purchases: the reduced transactions.
        catalogue: the product catalogue in force (product_id, category).
        size: the number of customer positions.
    """
    categories = pc.unique(catalogue.column("category").drop_null()).sort()
    pairs = purchases.pairs
    if len(categories) == 0 or len(pairs.pos) == 0:
        return pa.nulls(size, pa.string())
    code_of_row = pc.index_in(catalogue.column("category"), value_set=categories)
    row = pc.index_in(pa.array(pairs.product), value_set=catalogue.column("product_id"))
    code = pc.take(code_of_row, pc.fill_null(row, 0))
    known = valid(row) & valid(code)
    width = len(categories)
    pos, codes, spend = pairs.pos[known], numbers(code, np.int64)[known], pairs.spend[known]
    favourite = _dense_favourite if size * width <= _DENSE_CELLS else _sparse_favourite
    chosen = favourite(pos, codes, spend, size, width)
    return pc.take(categories.cast(pa.string()), pa.array(chosen, mask=chosen < 0))


def _dense_favourite(pos: np.ndarray, codes: np.ndarray, spend: np.ndarray, size: int, width: int) -> np.ndarray:
    """The favourite category code per customer (-1 if none) from an N x categories table."""
    cells = pos * width + codes
    bought = np.bincount(cells, minlength=size * width).reshape(size, width) > 0
    total = np.bincount(cells, weights=spend, minlength=size * width).reshape(size, width)
    best = np.where(bought, total, -np.inf).argmax(axis=1)  # the first maximum: ties go to the first name
    return np.where(bought.any(axis=1), best, -1)


def _sparse_favourite(pos: np.ndarray, codes: np.ndarray, spend: np.ndarray, size: int, width: int) -> np.ndarray:
    """The same as ``_dense_favourite`` by sorting, for many categories."""
    keys, inverse = np.unique(pos * width + codes, return_inverse=True)
    total = np.bincount(inverse, weights=spend, minlength=len(keys))
    key_pos, key_code = keys // width, keys % width
    order = np.lexsort((key_code, -total, key_pos))  # per customer: most spend first, then by name
    first = order[np.r_[True, key_pos[order][1:] != key_pos[order][:-1]]] if len(order) else order
    chosen = np.full(size, -1, dtype=np.int64)
    chosen[key_pos[first]] = key_code[first]
    return chosen
