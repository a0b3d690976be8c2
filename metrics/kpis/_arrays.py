"""Vectorised building blocks for the KPI engine: month keys, (force x month) panels,
stock counts at month ends, grouped medians and the Wilson interval over arrays.

Conventions used throughout ``metrics.kpis``:
- a *month index* is the number of whole months since 1970-01 (``1970-01`` is 0), as int64;
- a *panel* is a 2-D float array with one row per force (in the engine's force order) and
  one column per month of the requested range, holding additive monthly totals;
- missing dates map to the month index ``NO_MONTH`` (far outside any range).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.stats import normal_ppf

NO_MONTH = np.iinfo(np.int64).min // 2  # "no date": outside every range, safe to subtract from
UK_TZ = "Europe/London"
_DAY_NS = 86_400 * 10**9


def _as_ns(values: pd.Series | np.ndarray) -> np.ndarray:
    """Naive dates/timestamps as a ``datetime64[ns]`` numpy array (no copy when already so)."""
    if isinstance(values, np.ndarray) and values.dtype == "datetime64[ns]":
        return values
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if series.dtype != "datetime64[ns]":
        series = pd.to_datetime(series)
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert(UK_TZ).dt.tz_localize(None)
    return series.to_numpy(dtype="datetime64[ns]")


def _days_int(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(whole days since 1970-01-01 as int64, mask of missing values)."""
    raw = _as_ns(values).view(np.int64)
    missing = raw == np.iinfo(np.int64).min
    return raw // _DAY_NS, missing


def month_index(values: pd.Series | np.ndarray) -> np.ndarray:
    """Month index (months since 1970-01) of each date; ``NO_MONTH`` where the date is missing.

    Accepts naive dates (already UK local dates). Uses a day -> month lookup table over the
    span of the data, which is much faster than a ``datetime64[M]`` cast.
    """
    days, missing = _days_int(values)
    if missing.all():
        return np.full(days.shape, NO_MONTH, dtype=np.int64)
    any_missing = bool(missing.any())
    if any_missing:
        days[missing] = days[~missing][0]  # any present day; overwritten below
    lo, hi = int(days.min()), int(days.max())
    lut = np.arange(lo, hi + 1).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    days -= lo
    months = lut.take(days)
    if any_missing:
        months[missing] = NO_MONTH
    return months


_NAT_DAY = np.iinfo(np.int64).min // _DAY_NS  # NaT // one day: -106,752 (1677-09-21)


def month_and_day(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(month_index(values), day_number(values))`` from one pass over the dates.

    Branch-free: a missing date (NaT) divides to the earliest day of all, which looks up
    ``NO_MONTH`` / NaN from slot 0 of small per-day tables (a real date on that day, 1677-09-21,
    takes the exact, slower path).
    """
    raw = _as_ns(values).view(np.int64)
    day = raw // _DAY_NS
    if len(day) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    if np.count_nonzero(day == _NAT_DAY) != np.count_nonzero(raw == np.iinfo(np.int64).min):
        return month_index(values), day_number(values)
    hi = int(day.max())
    if hi == _NAT_DAY:  # all missing
        return np.full(day.shape, NO_MONTH, dtype=np.int64), np.full(day.shape, np.nan)
    # the earliest present day: missing ones wrap round to the largest unsigned value
    lo = int((day - (_NAT_DAY + 1)).view(np.uint64).min()) + _NAT_DAY + 1
    span = np.arange(lo, hi + 1)
    month_lut = np.concatenate((np.array([NO_MONTH], dtype=np.int64), span.astype(
        "datetime64[D]").astype("datetime64[M]").astype(np.int64)))
    day_lut = np.concatenate(([np.nan], span.astype(np.float64)))
    day -= lo - 1  # slot of each day in the tables; missing ones negative, clipped to slot 0
    return month_lut.take(day, mode="clip"), day_lut.take(day, mode="clip")


def day_number(values: pd.Series | np.ndarray) -> np.ndarray:
    """Whole days since 1970-01-01 of each naive date, as float64 (NaN where missing)."""
    days, missing = _days_int(values)
    out = days.astype(np.float64)
    out[missing] = np.nan
    return out


def uk_local(ts: pd.Series) -> pd.Series:
    """A timestamp column as Europe/London wall-clock time, tz-aware.

    The loader delivers ``datetime64[ns, Europe/London]``; naive input is read as UK local time
    (ambiguous autumn hour taken as the first, summer-time, occurrence; non-existent spring
    hour shifted forward), as the data contract says.
    """
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        ts = pd.to_datetime(ts)
        if not isinstance(ts.dtype, pd.DatetimeTZDtype):
            return ts.dt.tz_localize(UK_TZ, ambiguous=True, nonexistent="shift_forward")
    return ts.dt.tz_convert(UK_TZ)


def local_date(ts: pd.Series) -> np.ndarray:
    """UK local date (``datetime64[ns]`` at midnight, NaT where missing) of a timestamp."""
    wall = uk_local(ts).dt.tz_localize(None)
    return wall.values.astype("datetime64[D]").astype("datetime64[ns]")


def elapsed_hours(later: pd.Series, earlier: pd.Series) -> np.ndarray:
    """Real elapsed time ``later - earlier`` in hours (float; NaN where either is missing).

    Both are converted to UTC first, so a clock change in between counts correctly.
    """
    a = uk_local(later).dt.tz_convert("UTC").dt.tz_localize(None).values.astype("datetime64[ns]")
    b = uk_local(earlier).dt.tz_convert("UTC").dt.tz_localize(None).values.astype("datetime64[ns]")
    out = (a.astype(np.int64) - b.astype(np.int64)).astype(np.float64) / 3.6e12
    out[np.isnat(a) | np.isnat(b)] = np.nan
    return out


def codes_for(column: pd.Series, names: pd.Index) -> np.ndarray:
    """Position of each value of ``column`` in ``names`` (-1 where absent or missing)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        cat_pos = names.get_indexer(column.cat.categories.astype(object))
        codes = column.cat.codes.to_numpy()
        out = np.where(codes >= 0, cat_pos[np.maximum(codes, 0)], -1)
        return out.astype(np.int64)
    return names.get_indexer(column.astype(object)).astype(np.int64)


def distinct_names(column: pd.Series) -> set[str]:
    """The distinct non-missing values of a (categorical or string) column, as str."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        used = np.unique(codes[codes >= 0])
        return {str(v) for v in column.cat.categories[used]}
    return {str(v) for v in pd.unique(column.dropna())}


def panel(force: np.ndarray, month: np.ndarray, n_forces: int, m0: int, n_months: int,
          weights: np.ndarray | None = None, mask: np.ndarray | None = None) -> np.ndarray:
    """Additive (force x month) totals: rows are forces, columns months ``m0 .. m0+n_months-1``.

    Each item adds its weight (1 when ``weights`` is None) to its force's cell for its month;
    items with no force, a month outside the range, or ``mask`` False are ignored.
    Returns float64 of shape ``(n_forces, n_months)``.
    """
    rel = month - m0
    keep = (force >= 0) & (rel >= 0) & (rel < n_months)
    if mask is not None:
        keep &= mask
    key = force[keep] * n_months + rel[keep]
    w = None if weights is None else np.asarray(weights, dtype=np.float64)[keep]
    counts = np.bincount(key, weights=w, minlength=n_forces * n_months)
    return counts.astype(np.float64).reshape(n_forces, n_months)


def stock_panel(force: np.ndarray, start_month: np.ndarray, stop_month: np.ndarray,
                n_forces: int, m0: int, n_months: int,
                mask: np.ndarray | None = None) -> np.ndarray:
    """Items in stock at each month end: an item counts at the end of month ``w`` when
    ``start_month <= w < stop_month`` (``stop_month`` = the month of the event that removes it,
    a very large number when it has not happened). Returns float64 ``(n_forces, n_months)``.

    One pass: +1 at the (clipped) start month, -1 at the (clipped) stop month, then a cumulative
    sum along months.
    """
    keep = force >= 0
    if mask is not None:
        keep &= mask
    f = force[keep]
    start = np.clip(start_month[keep] - m0, 0, n_months)
    stop = np.clip(stop_month[keep] - m0, 0, n_months)
    live = start < stop
    width = n_months + 1
    plus = np.bincount(f[live] * width + start[live], minlength=n_forces * width)
    minus = np.bincount(f[live] * width + stop[live], minlength=n_forces * width)
    diff = (plus - minus).reshape(n_forces, width)
    return np.cumsum(diff, axis=1)[:, :n_months].astype(np.float64)


_Z95 = normal_ppf(0.975)


def wilson_arrays(successes: np.ndarray, n: np.ndarray,
                  confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised ``metrics.stats.wilson``: element-wise Wilson score interval (fractions).

    NaN where ``n <= 0`` or the successes lie outside ``[0, n]``.
    """
    s = np.asarray(successes, dtype=np.float64)
    nn = np.asarray(n, dtype=np.float64)
    z = _Z95 if confidence == 0.95 else normal_ppf(1 - (1 - confidence) / 2)
    valid = (nn > 0) & (s >= 0) & (s <= nn)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = s / nn
        denom = 1 + z * z / nn
        centre = (p + z * z / (2 * nn)) / denom
        half = z * np.sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn)) / denom
    low = np.where(valid, np.maximum(0.0, centre - half), np.nan)
    high = np.where(valid, np.minimum(1.0, centre + half), np.nan)
    return low, high


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
