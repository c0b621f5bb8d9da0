"""Casts to the contracts' floating-point types that never turn a number into inf unnoticed.

Arrow casts float64 (or text) to float32 without complaint, so ``1e300`` becomes ``inf``; these
helpers find the values that overflow so the caller can refuse them, naming the column.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def float_overflow(source: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray | None:
    """True where a finite value of ``source`` becomes inf once cast to the floating ``target``.

    None when no such cast happens (same type, a non-floating target) or ``source`` cannot be
    read as numbers (the column types rule reports that).
    """
    if source.type == target or not pa.types.is_floating(target):
        return None
    try:
        wide = source.cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return pc.fill_null(pc.and_(pc.is_finite(wide), pc.invert(pc.is_finite(wide.cast(target)))), False)


def overflow_count(source: pa.ChunkedArray, target: pa.DataType) -> int:
    """How many finite values of ``source`` become inf once cast to ``target`` (see :func:`float_overflow`)."""
    mask = float_overflow(source, target)
    return 0 if mask is None else int(pc.sum(mask).as_py() or 0)
