"""Vectorised building blocks for the KPI engine, applied to the small aggregated tables
DuckDB returns: the distinct force names of a column, grouped medians with their
order-statistic interval, and the Wilson interval over arrays (``metrics.stats`` rules).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.stats import wilson_vec


def distinct_names(column: pd.Series) -> set[str]:
    """The distinct non-missing values of a (categorical or string) column, as str."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        used = np.unique(codes[codes >= 0])
        return {str(v) for v in column.cat.categories[used]}
    return {str(v) for v in pd.unique(column.dropna())}



def wilson_arrays(successes: np.ndarray, n: np.ndarray,
                  confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """``metrics.stats.wilson_vec`` (the Wilson score interval, element-wise, fractions), and
    NaN where ``n <= 0`` or the successes lie outside ``[0, n]``.
    """
    s = np.asarray(successes, dtype=np.float64)
    nn = np.asarray(n, dtype=np.float64)
    valid = (nn > 0) & (s >= 0) & (s <= nn)
    low, high = wilson_vec(s, nn, confidence)
    return np.where(valid, low, np.nan), np.where(valid, high, np.nan)


def group_medians(keys: np.ndarray, values: np.ndarray, n_keys: int,
                  rank_ci=None, values_sorted: bool = False,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Median of ``values`` within each group ``0 .. n_keys-1`` (items with NaN value or a key
    outside the range are dropped), by one sort.

    ``values_sorted``: the values are already in ascending order (NaN last), so one stable
    sort by key (a radix sort for small key ranges) replaces the two-key sort.
    ``rank_ci(sizes) -> (lo_ranks, hi_ranks)`` gives, for an array of group sizes, the 1-based
    (possibly fractional, linearly interpolated) positions of the median's interval ends among
    the sorted values; NaN for none. Returns ``(median, count, ci_low, ci_high)`` arrays of length
    ``n_keys``, in the units of ``values``.
    """
    keep = (keys >= 0) & (keys < n_keys) & ~np.isnan(values)
    k = keys[keep]
    v = values[keep]
    if values_sorted:  # a stable sort by key keeps values ascending within each key
        small = np.int16 if n_keys < 2**15 else np.int32 if n_keys < 2**31 else np.int64
        order = np.argsort(k.astype(small), kind="stable")  # radix sort for int16
    else:
        order = np.lexsort((v, k))
    sv = v[order]
    counts = np.bincount(k, minlength=n_keys)
    starts = np.cumsum(counts) - counts
    has = counts > 0
    med = np.full(n_keys, np.nan)
    lo_i = starts[has] + (counts[has] - 1) // 2
    hi_i = starts[has] + counts[has] // 2
    med[has] = (sv[lo_i] + sv[hi_i]) / 2.0
    ci_low = np.full(n_keys, np.nan)
    ci_high = np.full(n_keys, np.nan)
    if rank_ci is not None and has.any():
        idx = np.flatnonzero(has)
        lo_r, hi_r = rank_ci(counts[idx])
        ci_low[idx] = _at_rank(sv, starts[idx], counts[idx], np.asarray(lo_r, dtype=np.float64))
        ci_high[idx] = _at_rank(sv, starts[idx], counts[idx], np.asarray(hi_r, dtype=np.float64))
    return med, counts.astype(np.float64), ci_low, ci_high


def _at_rank(sorted_values: np.ndarray, starts: np.ndarray, counts: np.ndarray,
             ranks: np.ndarray) -> np.ndarray:
    """Values at 1-based, possibly fractional ranks within each group (linear interpolation)."""
    out = np.full(len(starts), np.nan)
    ok = ~np.isnan(ranks)
    if not ok.any():
        return out
    r = np.clip(ranks[ok], 1.0, counts[ok].astype(np.float64))
    base = np.floor(r).astype(np.int64)
    frac = r - base
    i0 = starts[ok] + base - 1
    i1 = starts[ok] + np.minimum(base, counts[ok] - 1)
    out[ok] = sorted_values[i0] + frac * (sorted_values[i1] - sorted_values[i0])
    return out
