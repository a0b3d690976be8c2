"""Statistics for the flight deck: intervals, SPC (XmR), funnel limits, before/after.

Pure functions over numbers and pandas objects; no Streamlit. Every function states what it
returns and in which units. The methods, and how to read them, are described in plain English
in ``docs/methods.md``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

# scipy.stats costs seconds to import (scipy.special 0.15 s), which every new process would pay
# on its first page or KPI run: the hot paths use the standard library's normal and the
# binomial below instead, and the rarer tests (Fisher, Mann-Whitney) import scipy where they
# are used.
_STANDARD_NORMAL = NormalDist()
_ERFC = np.frompyfunc(lambda x: math.erfc(x) if x == x else math.nan, 1, 1)


def normal_ppf(q: float) -> float:
    """The standard normal quantile (z) with lower-tail probability ``q`` in (0, 1)."""
    return _STANDARD_NORMAL.inv_cdf(q)


# Stirling's error log(n!) - log(sqrt(2 pi n) (n/e)^n) for n = 0..15 (Loader 2000, as R's
# dbinom): beyond 15 its series is exact to double precision
_STIRLING_ERROR = np.array([
    0.0, 0.0810614667953272582196702, 0.0413406959554092940938221,
    0.02767792568499833914878929, 0.02079067210376509311152277, 0.01664469118982119216319487,
    0.01387612882307074799874573, 0.01189670994589177009505572, 0.010411265261972096497478567,
    0.009255462182712732917728637, 0.008330563433362871256469318,
    0.007573675487951840794972024, 0.006942840107209529865664152,
    0.006408994188004207068439631, 0.005951370112758847735624416,
    0.005554733551962801371038690])


def _stirling_error(n: np.ndarray) -> np.ndarray:
    """Stirling's error of whole numbers ``n`` >= 0 (Loader's table and series)."""
    n = np.asarray(n, dtype=float)
    small = n <= 15
    out = _STIRLING_ERROR[np.where(small, n, 0).astype(np.int64)]
    big = np.where(small, 16.0, n)
    nn = big * big
    s0, s1, s2, s3, s4 = 1 / 12, 1 / 360, 1 / 1260, 1 / 1680, 1 / 1188
    series = np.where(
        big > 500, (s0 - s1 / nn) / big, np.where(
            big > 80, (s0 - (s1 - s2 / nn) / nn) / big, np.where(
                big > 35, (s0 - (s1 - (s2 - s3 / nn) / nn) / nn) / big,
                (s0 - (s1 - (s2 - (s3 - s4 / nn) / nn) / nn) / nn) / big)))
    return np.where(small, out, series)


def _deviance(x: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Loader's bd0: x log(x / mean) + mean - x, without cancellation when x is near mean."""
    with np.errstate(divide="ignore", invalid="ignore"):
        plain = x * np.log(x / mean) + mean - x
        near = np.abs(x - mean) < 0.1 * (x + mean)
        v = np.where(near, (x - mean) / (x + mean), 0.0)
        total = (x - mean) * v
        term = 2 * x * v
        v2 = v * v
        for j in range(1, 200):
            term = term * v2
            step = term / (2 * j + 1)
            total = total + step
            if not np.any(near & (np.abs(step) > 1e-17 * np.abs(total))):
                break
    return np.where(near, total, plain)


def _binom_pmf(k: np.ndarray, n: np.ndarray, p: float) -> np.ndarray:
    """P(B = k) for B ~ Binomial(n, p) with whole 0 <= k <= n and 0 < p < 1, to full
    relative precision (Loader's saddle-point form, as R's dbinom)."""
    q = 1.0 - p
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = (_stirling_error(n) - _stirling_error(k) - _stirling_error(n - k)
                 - _deviance(k, n * p) - _deviance(n - k, n * q))
        log_pmf = inner - 0.5 * (math.log(2 * math.pi) + np.log(k) + np.log1p(-k / n))
        zero = np.where(p < 0.1, -_deviance(n, n * q) - n * p, n * math.log(q))
        full = np.where(q < 0.1, -_deviance(n, n * p) - n * q, n * math.log(p))
    log_pmf = np.where(k == 0, zero, np.where(k == n, full, log_pmf))
    return np.where(n == 0, 1.0, np.exp(log_pmf))


def _beta_fraction(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The continued fraction of the regularised incomplete beta function (modified Lentz,
    Numerical Recipes' betacf), elementwise; converges quickly for x < (a + 1)/(a + b + 2)."""
    tiny = 1e-300
    c = np.ones_like(x)
    d = 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / np.where(np.abs(d) < tiny, tiny, d)
    h = d.copy()
    active = np.arange(x.size)
    for m in range(1, 100_000):
        if active.size == 0:
            break
        aa_, bb_, xx_ = a[active], b[active], x[active]
        cc, dd, hh = c[active], d[active], h[active]
        for coef in (m * (bb_ - m) * xx_ / ((aa_ - 1 + 2 * m) * (aa_ + 2 * m)),
                     -(aa_ + m) * (aa_ + bb_ + m) * xx_ / ((aa_ + 2 * m) * (aa_ + 1 + 2 * m))):
            dd = 1.0 + coef * dd
            dd = 1.0 / np.where(np.abs(dd) < tiny, tiny, dd)
            cc = 1.0 + coef / cc
            cc = np.where(np.abs(cc) < tiny, tiny, cc)
            delta = dd * cc
            hh = hh * delta
        c[active], d[active], h[active] = cc, dd, hh
        active = active[np.abs(delta - 1.0) > 3e-16]
    return h


def binom_cdf(k: np.ndarray | float, n: np.ndarray | float, p: float) -> np.ndarray:
    """P(B <= k) for B ~ Binomial(n, p), elementwise (k, n whole numbers; k < 0 gives 0, a
    missing n counts as 0), as floats. The regularised incomplete beta I_(1-p)(n - k, k + 1)
    by its continued fraction, with the binomial term to full precision: agrees with scipy's
    ``bdtr`` to about 1e-12 (numpy only: scipy costs 0.15 s of every process's start)."""
    k = np.asarray(k, dtype=float)
    n = np.nan_to_num(np.asarray(n, dtype=float), nan=0.0)
    shape = np.broadcast_shapes(k.shape, n.shape)
    k = np.floor(np.broadcast_to(k, shape).ravel())
    n = np.floor(np.broadcast_to(n, shape).ravel())  # whole numbers, as scipy takes them
    out = np.where(k < 0, 0.0, 1.0)
    inside = (k >= 0) & (k < n)
    if p <= 0.0 or p >= 1.0 or not inside.any():
        if p >= 1.0:
            out = np.where(inside, 0.0, out)
        return out.reshape(shape)
    kk, nn = k[inside], n[inside]
    a, b = nn - kk, kk + 1.0
    x = np.full(kk.shape, 1.0 - p)
    direct = x < (a + 1.0) / (a + b + 2.0)
    cdf = np.empty_like(kk)
    if direct.any():  # I_x(a, b) = P(B = k) p cf(a, b, x)
        i = direct
        cdf[i] = _binom_pmf(kk[i], nn[i], p) * p * _beta_fraction(a[i], b[i], x[i])
    if (~direct).any():  # 1 - I_(1-x)(b, a) = 1 - P(B = k + 1) (1 - p) cf(b, a, 1 - x)
        i = ~direct
        cdf[i] = 1.0 - (_binom_pmf(kk[i] + 1.0, nn[i], p) * (1.0 - p)
                        * _beta_fraction(b[i], a[i], 1.0 - x[i]))
    out[inside] = np.clip(cdf, 0.0, 1.0)
    return out.reshape(shape)


def binom_ppf(q: np.ndarray | float, n: np.ndarray | float, p: float) -> np.ndarray:
    """The smallest whole k in [0, n] with P(B <= k) >= q, B ~ Binomial(n, p), elementwise,
    as floats (NaN for a missing n): the same as scipy's binomial ppf for 0 < q < 1."""
    q = np.asarray(q, dtype=float)
    n = np.asarray(n, dtype=float)
    shape = np.broadcast_shapes(q.shape, n.shape)
    q = np.broadcast_to(q, shape).ravel()
    n = np.broadcast_to(n, shape).ravel()
    missing = np.isnan(n)
    top = np.floor(np.maximum(np.where(missing, 0.0, n), 0.0))
    # start near the answer (normal quantile with Cornish-Fisher's skew term), then step
    z = np.array([_STANDARD_NORMAL.inv_cdf(min(max(v, 1e-300), 1 - 1e-16)) for v in q.tolist()])
    sd = np.sqrt(top * p * (1.0 - p))
    skew = (1.0 - 2.0 * p) / np.where(sd > 0, sd, 1.0)
    start = top * p + sd * (z + skew * (z * z - 1.0) / 6.0) - 0.5
    k = np.clip(np.ceil(start), 0.0, top)
    # An exact tie (P(B <= k) == q, e.g. 0.5 for odd n at p = 1/2) can come out a few ulps
    # low; the relative tolerance keeps such ties on the lower k, as scipy.stats does.
    reach = q * (1.0 - 1e-12)
    for step, moves in ((-1.0, lambda k: (k > 0) & (binom_cdf(k - 1, n, p) >= reach)),
                        (1.0, lambda k: (k < top) & (binom_cdf(k, n, p) < reach))):
        for _ in range(100_000):
            move = moves(k)
            if not move.any():
                break
            k = k + step * move
    return np.where(missing, np.nan, k).reshape(shape)

# ---------------------------------------------------------------------------------------------
# Wilson score interval
# ---------------------------------------------------------------------------------------------


def wilson(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """95% (by default) Wilson score interval for a proportion, as fractions in [0, 1].

    Returns (nan, nan) when n is 0. Accepts non-integer counts (e.g. rounded panel counts).
    No successes give a lower bound of exactly 0 and all successes an upper bound of exactly 1
    (the formula's value; in floating point it comes out a few 1e-18 away, as scipy avoids).
    """
    if n <= 0:
        return (math.nan, math.nan)
    low, high = wilson_vec(np.array([successes]), np.array([n]), confidence)
    return (float(low[0]), float(high[0]))


# ---------------------------------------------------------------------------------------------
# SPC: XmR chart with the NHS "Making Data Count" rules (as NHSRplotthedots implements them)
# ---------------------------------------------------------------------------------------------

#: Limits are centre ± LIMIT × mean moving range (2.66 = 3 / d2, d2 = 1.128 for n = 2).
XMR_LIMIT = 2.66
#: Moving ranges above SCREEN × mean moving range are excluded when screening outliers.
XMR_SCREEN = 3.267
#: Points needed in a run (one side of the mean) or a trend (strictly rising/falling).
XMR_RUN = 7
#: Fewer limit-setting points than this make the limits provisional ("trial limits").
XMR_MIN_POINTS = 12

COMMON_CAUSE = "common_cause"
SPECIAL_IMPROVEMENT = "special_cause_improvement"
SPECIAL_CONCERN = "special_cause_concern"
SPECIAL_NEUTRAL_HIGH = "special_cause_neutral_high"
SPECIAL_NEUTRAL_LOW = "special_cause_neutral_low"
POINT_TYPES = (
    COMMON_CAUSE,
    SPECIAL_IMPROVEMENT,
    SPECIAL_CONCERN,
    SPECIAL_NEUTRAL_HIGH,
    SPECIAL_NEUTRAL_LOW,
)
ASSURANCE_TYPES = ("consistent_pass", "consistent_fail", "inconsistent")

_IMPROVEMENT_SIGN = {"increase": 1, "decrease": -1, "neutral": 0}
# code -> label, for improvement directions +1/-1 (code = signal direction × improvement sign)
_LABELS_DIRECTED = np.array(
    [SPECIAL_CONCERN, COMMON_CAUSE, SPECIAL_IMPROVEMENT, None], dtype=object
)
# code -> label for neutral measures (code = signal direction: -1 low, +1 high)
_LABELS_NEUTRAL = np.array(
    [SPECIAL_NEUTRAL_LOW, COMMON_CAUSE, SPECIAL_NEUTRAL_HIGH, None], dtype=object
)
_MISSING_CODE = 2  # index 3 after the +1 shift below: a NaN value has no point type


def _segment_starts(n: int, index: pd.Index, rebase: Any) -> list[int]:
    """Row positions where segments start (always includes 0), sorted, unique."""
    starts = {0}
    if rebase is None:
        return [0]
    items = rebase if isinstance(rebase, list | tuple | set | np.ndarray | pd.Index) else [rebase]
    for item in items:
        pos = _rebase_position(item, index)
        if pos is not None and 0 < pos < n:
            starts.add(pos)
    return sorted(starts)


def _rebase_position(item: Any, index: pd.Index) -> int | None:
    """Row position of one rebase point (an int position, or a label/date in the index).

    Integers (not bool) are row positions. Anything else is looked up in the index: exact
    label, the period containing a date (PeriodIndex), or the first row on or after a date
    (DatetimeIndex). Dates before the first or after the last row give None (no rebase).
    """
    if isinstance(item, int | np.integer) and not isinstance(item, bool):
        return int(item)
    try:
        loc = index.get_loc(item)
        if isinstance(loc, slice):
            return int(loc.start)
        if isinstance(loc, np.ndarray):
            hits = np.flatnonzero(loc)
            return int(hits[0]) if hits.size else None
        return int(loc)
    except (KeyError, TypeError, ValueError):
        pass
    if isinstance(index, pd.PeriodIndex):
        try:
            p = pd.Period(item, freq=index.freq)
        except (TypeError, ValueError):
            return None
        pos = int(index.searchsorted(p))
        return pos if pos < len(index) else None
    if isinstance(index, pd.DatetimeIndex):
        try:
            ts = item.start_time if isinstance(item, pd.Period) else pd.Timestamp(item)
        except (TypeError, ValueError):
            return None
        pos = int(index.searchsorted(ts))
        return pos if pos < len(index) else None
    return None


def _run_lengths(key: np.ndarray, new_group: np.ndarray) -> np.ndarray:
    """Length of the run of equal ``key`` values ending at each position (1-D).

    A run restarts where the key changes or where ``new_group`` is True.
    """
    m = key.shape[0]
    idx = np.arange(m)
    new_run = new_group.copy()
    new_run[1:] |= key[1:] != key[:-1]
    start = np.maximum.accumulate(np.where(new_run, idx, 0))
    return idx - start + 1


def _mark_runs(end: np.ndarray, run: int = XMR_RUN) -> np.ndarray:
    """Given run-end flags (each end closes ``run`` points), mark every point of those runs."""
    m = end.shape[0]
    cs = np.concatenate(([0], np.cumsum(end, dtype=np.int64)))
    j = np.arange(m)
    return (cs[np.minimum(j + run, m)] - cs[j]) > 0


def _xmr_core(
    y: np.ndarray,
    starts: Sequence[Sequence[int]],
    improvement_sign: int,
    screen_outliers: bool,
    baseline: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The numeric core of :func:`xmr`, vectorised over many series at once.

    ``y`` is a 2-D float array (series × time, NaN = missing); ``starts[i]`` lists the column
    positions where series i's segments start (0 first). Every segment of every series is
    handled in one pass of flat NumPy operations (group sums with ``bincount``; run lengths
    with a running maximum), so no Python loop runs per point or per series.

    Returns (centre, upper, lower, code, seg): the first four are arrays shaped like ``y``;
    ``code`` is int8: +1 improvement (or neutral high), -1 concern (or neutral low), 0 common
    cause, 2 missing value. ``seg`` holds per-segment arrays (series, start, stop, n_fix,
    centre, upper, lower, amr, degenerate) in series-then-time order.
    """
    n_series, n = y.shape
    if n == 0 or n_series == 0:
        empty = np.empty((n_series, n))
        seg = {k: np.empty(0) for k in ("series", "start", "stop", "n_fix", "centre", "upper",
                                         "lower", "amr", "degenerate")}
        return empty, empty.copy(), empty.copy(), np.full((n_series, n), 2, np.int8), seg
    cols = np.arange(n)
    is_start = np.zeros((n_series, n), dtype=bool)
    is_start[:, 0] = True
    for i, st in enumerate(starts):
        for s in st:
            if 0 < s < n:
                is_start[i, s] = True
    seg_per_series, g, n_groups, seg_start_col = _segments(is_start)
    valid = ~np.isnan(y)
    fix = valid if baseline is None else valid & (cols - seg_start_col < baseline)

    # centre: mean of the limit-setting points of each segment
    n_fix = np.bincount(g[fix], minlength=n_groups)
    sum_fix = np.bincount(g[fix], weights=y[fix], minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n_fix > 0, sum_fix / np.maximum(n_fix, 1), np.nan)
    # moving ranges between consecutive limit-setting points of the same segment
    mr_ok = fix[:, 1:] & fix[:, :-1] & ~is_start[:, 1:]
    mr = np.abs(np.diff(y, axis=1))[mr_ok]
    g_mr = g[:, 1:][mr_ok]
    amr = _average_moving_range(mr, g_mr, n_groups, screen_outliers)
    degenerate = ~(amr > 0)
    half = np.where(amr == 0, 0.0, XMR_LIMIT * amr)  # NaN stays NaN (no moving range)
    upper_g = mean + half
    lower_g = mean - half

    centre = mean[g]
    upper = upper_g[g]
    lower = lower_g[g]
    code = np.full((n_series, n), 2, dtype=np.int8)

    # the rules run over the non-missing points of each segment, in order (flat, row-major)
    yf = y[valid]
    gf = g[valid]
    m = yf.shape[0]
    if m:
        cf = centre[valid]
        with np.errstate(invalid="ignore"):
            near = XMR_LIMIT * 2.0 / 3.0 * amr[gf]
            near_lo, near_hi = cf - near, cf + near
        code[valid] = _rule_codes(yf, gf, cf, upper[valid], lower[valid], near_lo, near_hi,
                                  degenerate[gf], improvement_sign)

    series_of = np.repeat(np.arange(n_series), seg_per_series)
    start_cols = np.flatnonzero(is_start.ravel()) % n
    stop_cols = np.where(
        np.concatenate((series_of[1:] != series_of[:-1], [True])),
        n,
        np.concatenate((start_cols[1:], [n])),
    )
    seg = {
        "series": series_of,
        "start": start_cols,
        "stop": stop_cols,
        "n_fix": n_fix,
        "centre": mean,
        "upper": upper_g,
        "lower": lower_g,
        "amr": amr,
        "degenerate": degenerate,
    }
    return centre, upper, lower, code, seg


def _labels(code: np.ndarray, improvement_sign: int) -> np.ndarray:
    table = _LABELS_NEUTRAL if improvement_sign == 0 else _LABELS_DIRECTED
    return table[code.astype(np.int64) + 1]


def assurance_type(
    target: float | None, upper: float, lower: float, improvement: str
) -> str | None:
    """The assurance verdict of the current limits against a target (NHSRplotthedots rules).

    Returns ``consistent_pass`` when every point the process produces is expected to meet the
    target (the whole band between the limits is on the good side of it), ``consistent_fail``
    when none is, ``inconsistent`` when the target lies within the limits (hit and miss), and
    None when there is no target, the measure is neutral or the limits are undefined.
    A target exactly on a limit counts as inside (``inconsistent``).
    """
    if target is None or improvement == "neutral":
        return None
    if target is not None and isinstance(target, float) and math.isnan(target):
        return None
    if math.isnan(upper) or math.isnan(lower):
        return None
    increasing = improvement == "increase"
    if target > upper:
        return "consistent_fail" if increasing else "consistent_pass"
    if target < lower:
        return "consistent_pass" if increasing else "consistent_fail"
    return "inconsistent"


def xmr(
    values: Iterable[float] | pd.Series | np.ndarray,
    improvement: str = "increase",
    screen_outliers: bool = True,
    baseline: int | None = None,
    rebase: Any = None,
    target: float | None = None,
    warn: bool = False,
) -> pd.DataFrame:
    """XmR (individuals) SPC chart with the NHS "Making Data Count" special-cause rules.

    Follows NHSRplotthedots (``ptd_spc``): per segment, the centre line is the mean of the
    limit-setting points; the limits are centre ± 2.66 × mean moving range; with
    ``screen_outliers`` (default) moving ranges at or above 3.267 × the mean moving range are
    dropped and the mean recomputed. A point is special cause when it is outside the limits,
    part of a run of 7 on one side of the mean (a point exactly on the mean breaks the run),
    part of a trend of 7 each strictly higher (or lower) than the one before, or one of 2 out
    of 3 consecutive points beyond two-thirds of the way to a limit (inside it) with all three
    on the same side of the mean. Precedence for the direction of a point caught by several
    rules: outside limits, trend, 2 of 3, run.

    Parameters
    ----------
    values : the series, in time order. A pandas Series keeps its index (e.g. a monthly
        PeriodIndex); anything else gets a RangeIndex. NaN values are skipped in every
        computation (they are not bridged by moving ranges; the rules run over the remaining
        points in order) and their rows are kept, with point type None.
    improvement : "increase" (higher is better), "decrease" (lower is better) or "neutral".
    screen_outliers : exclude moving ranges ≥ 3.267 × mean moving range (off matches the
        NHS Excel tool).
    baseline : number of leading rows of each segment whose values fix the centre and limits
        (NHSRplotthedots' ``fix_after_n_points``); None uses every row of the segment.
    rebase : row positions (ints) or index labels/dates where a new segment starts and the
        limits are recomputed (e.g. a force's Soteria adoption month). With a PeriodIndex a
        date maps to the period containing it; with a DatetimeIndex to the first row on or after
        it. Points outside the series are ignored.
    target : optional target in the value's units, for the assurance verdict.
    warn : when True, ``warnings.warn`` if the limits are provisional. Off by default: the flag
        is always in ``attrs["provisional"]`` and warnings are unwelcome in the KPI hot path.

    Returns
    -------
    DataFrame indexed like the input with columns ``value``, ``centre``, ``upper``, ``lower``
    (all in the value's units; limits are NaN when fewer than two consecutive limit-setting
    points exist, and equal the centre when the mean moving range is 0, in which case no
    limit-based rule fires; a segment whose limit-setting rows are all missing has no centre
    and its points are common cause) and ``point_type`` (one of ``POINT_TYPES``, or None for a
    missing value). ``attrs`` holds:

    - ``variation``: the point type of the last non-missing point (the chart's verdict), or None;
    - ``assurance``: ``consistent_pass`` / ``consistent_fail`` / ``inconsistent`` from the last
      segment's limits against ``target`` (None without a target or for neutral measures);
    - ``provisional``: True when fewer than 12 non-missing points set the last segment's limits;
    - ``improvement``, ``target``, and ``segments`` (a list of dicts: start, stop row positions,
      n_limit_points, centre, upper, lower, mean_moving_range, degenerate, provisional).
    """
    if improvement not in _IMPROVEMENT_SIGN:
        raise ValueError(f"improvement must be one of {sorted(_IMPROVEMENT_SIGN)}")
    if baseline is not None and baseline < 1:
        raise ValueError("baseline must be a positive number of points or None")
    if isinstance(values, pd.Series):
        index = values.index
        if values.dtype == np.float64:
            y = values.to_numpy(copy=True)
        else:
            y = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    else:
        y = np.asarray(list(values) if not isinstance(values, np.ndarray) else values,
                       dtype=float)
        index = pd.RangeIndex(y.shape[0])
    sign = _IMPROVEMENT_SIGN[improvement]
    starts = _segment_starts(y.shape[0], index, rebase)
    centre, upper, lower, code, seg = _xmr_core(
        y[None, :], [starts], sign, screen_outliers, baseline
    )
    code = code[0]
    labels = _labels(code, sign)
    df = pd.DataFrame(
        {
            "value": y,
            "centre": centre[0],
            "upper": upper[0],
            "lower": lower[0],
            "point_type": labels,
        },
        index=index,
        copy=False,
    )
    present = np.flatnonzero(code != _MISSING_CODE)
    variation = labels[int(present[-1])] if present.size else None
    segments = [
        {
            "start": int(seg["start"][k]),
            "stop": int(seg["stop"][k]),
            "n_limit_points": int(seg["n_fix"][k]),
            "centre": float(seg["centre"][k]),
            "upper": float(seg["upper"][k]),
            "lower": float(seg["lower"][k]),
            "mean_moving_range": float(seg["amr"][k]),
            "degenerate": bool(seg["degenerate"][k]),
            "provisional": bool(seg["n_fix"][k] < XMR_MIN_POINTS),
        }
        for k in range(len(seg["start"]))
    ]
    last = segments[-1] if segments else None
    provisional = bool(last is None or last["provisional"])
    assurance = (
        assurance_type(target, last["upper"], last["lower"], improvement) if last else None
    )
    df.attrs.update(
        {
            "variation": variation,
            "assurance": assurance,
            "provisional": provisional,
            "improvement": improvement,
            "target": target,
            "segments": segments,
        }
    )
    if warn and provisional:
        warnings.warn(
            f"SPC limits are provisional: fewer than {XMR_MIN_POINTS} points set them",
            stacklevel=2,
        )
    return df


def _batch_starts(n_series: int, n: int, rebase: Any) -> list[list[int]]:
    if rebase is None or isinstance(rebase, int | np.integer):
        per: list[Any] = [rebase] * n_series
    else:
        per = list(rebase)
        if len(per) != n_series:
            raise ValueError("rebase needs one entry per series")
    out: list[list[int]] = []
    for r in per:
        rs = [] if r is None else ([r] if isinstance(r, int | np.integer) else list(r))
        out.append([0] + sorted({int(p) for p in rs if 0 < int(p) < n}))
    return out


def xmr_batch(
    values: np.ndarray | pd.DataFrame,
    improvement: str = "increase",
    screen_outliers: bool = True,
    baseline: int | None = None,
    rebase: Any = None,
    target: float | None = None,
) -> dict[str, np.ndarray]:
    """:func:`xmr` for many series at once (rows = series, columns = months), no DataFrames.

    ``values`` is a 2-D float array (or a DataFrame, used as its values) with NaN for missing
    months. ``rebase`` is None, one column position for every series, or a sequence with one
    entry per series (None, a position, or a list of positions). Returns a dict of arrays:
    ``centre``, ``upper``, ``lower`` (float, shaped like ``values``, in the values' units),
    ``point_type`` (object, point-type strings or None where the value is missing), and per
    series (1-D): ``variation`` (last non-missing point's type or None), ``provisional`` (bool:
    fewer than 12 points set the last segment's limits) and ``assurance`` (verdict or None).
    """
    arr = np.asarray(values.to_numpy() if isinstance(values, pd.DataFrame) else values,
                     dtype=float)
    if arr.ndim != 2:
        raise ValueError("values must be 2-D: one row per series")
    if improvement not in _IMPROVEMENT_SIGN:
        raise ValueError(f"improvement must be one of {sorted(_IMPROVEMENT_SIGN)}")
    if baseline is not None and baseline < 1:
        raise ValueError("baseline must be a positive number of points or None")
    sign = _IMPROVEMENT_SIGN[improvement]
    n_series, n = arr.shape
    starts = _batch_starts(n_series, n, rebase)
    centre, upper, lower, code, seg = _xmr_core(arr, starts, sign, screen_outliers, baseline)
    types = _labels(code, sign)
    present = code != _MISSING_CODE
    any_present = present.any(axis=1)
    last_col = n - 1 - np.argmax(present[:, ::-1], axis=1) if n else np.zeros(n_series, int)
    variation = np.full(n_series, None, dtype=object)
    rows = np.flatnonzero(any_present)
    variation[rows] = types[rows, last_col[rows]]
    last_seg = np.full(n_series, -1)
    if len(seg["series"]):
        last_seg[seg["series"]] = np.arange(len(seg["series"]))  # last write wins
    provisional = np.ones(n_series, dtype=bool)
    assurance = np.full(n_series, None, dtype=object)
    for i in range(n_series):
        k = last_seg[i]
        if k < 0:
            continue
        provisional[i] = seg["n_fix"][k] < XMR_MIN_POINTS
        if target is not None:
            assurance[i] = assurance_type(
                target, float(seg["upper"][k]), float(seg["lower"][k]), improvement
            )
    return {
        "centre": centre,
        "upper": upper,
        "lower": lower,
        "point_type": types,
        "variation": variation,
        "provisional": provisional,
        "assurance": assurance,
    }


def xmr_point_types_batch(
    values: np.ndarray | pd.DataFrame,
    improvement: str = "increase",
    screen_outliers: bool = True,
    baseline: int | None = None,
    rebase: Any = None,
) -> np.ndarray:
    """Point types for many series at once (rows = series, columns = months).

    Same arguments as :func:`xmr_batch`; returns only its ``point_type``: a 2-D object array of
    point-type strings (None where the value is missing), shaped like ``values``.
    """
    return xmr_batch(values, improvement, screen_outliers, baseline, rebase)["point_type"]


# ---------------------------------------------------------------------------------------------
# Funnel plots for proportions (Spiegelhalter 2005; NHS-R FunnelPlotR for overdispersion)
# ---------------------------------------------------------------------------------------------

#: Position labels of a unit on a funnel plot (with the default 95% and 99.8% levels).
FUNNEL_OUTSIDE = "outside_998"
FUNNEL_BETWEEN = "between_95_998"
FUNNEL_INSIDE = "inside_95"


def _exact_binomial_limit(theta: float, n: np.ndarray, p: float) -> np.ndarray:
    """Spiegelhalter (2005, appendix) interpolated binomial p-quantile, as a proportion.

    r_p is the smallest count r with P(R <= r) >= p for R ~ Binomial(n, theta); the limit is
    (r_p - a) / n with a = (P(R <= r_p) - p) / (P(R <= r_p) - P(R <= r_p - 1)), which moves the
    step function of integer counts onto a smooth curve. Clipped to [0, 1].
    """
    n = np.asarray(n, dtype=float)
    rp = binom_ppf(p, n, theta)
    f_rp = binom_cdf(rp, n, theta)
    f_below = binom_cdf(rp - 1, n, theta)
    step = f_rp - f_below
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(step > 0, (f_rp - p) / np.where(step > 0, step, 1.0), 0.0)
        limit = (rp - a) / n
    return np.clip(limit, 0.0, 1.0)


def funnel_limits(
    target: float,
    n: float | Iterable[float] | np.ndarray,
    levels: Sequence[float] = (0.95, 0.998),
    method: str = "exact",
    tau2: float = 0.0,
) -> pd.DataFrame:
    """Funnel-plot control limits for a proportion around ``target`` at each denominator ``n``.

    ``method="exact"`` (default): binomial limits with Spiegelhalter's (2005) interpolation
    between integer counts (a fractional n is rounded to the nearest whole number of cases).
    ``method="normal"``: target ± z × sqrt(target (1 - target) / n).
    With ``tau2 > 0`` (from :func:`funnel_overdispersion`) the limits are overdispersed, on the
    arcsine-square-root scale as in FunnelPlotR: sin²(asin(√target) ± z × √(1/(4n) + tau2)),
    whatever ``method`` says. ``levels`` are two-sided coverages (0.95 puts 2.5% in each tail).

    Returns a DataFrame with one row per n and level (n-major order) and the columns ``n``,
    ``level``, ``lower``, ``upper``: limits are proportions in [0, 1] (NaN where n <= 0).
    """
    if not 0.0 <= target <= 1.0:
        raise ValueError("target must be a proportion in [0, 1]")
    if method not in ("exact", "normal"):
        raise ValueError("method must be 'exact' or 'normal'")
    ns = np.atleast_1d(np.asarray(n, dtype=float)).ravel()
    lv = np.asarray(list(levels), dtype=float)
    if np.any((lv <= 0) | (lv >= 1)):
        raise ValueError("levels must be in (0, 1)")
    pos = ns > 0
    safe_n = np.where(pos, ns, 1.0)
    lows, highs = [], []
    for level in lv:
        tail = (1.0 - level) / 2.0
        z = normal_ppf(1.0 - tail)
        if tau2 > 0:
            centre = math.asin(math.sqrt(target))
            half = z * np.sqrt(1.0 / (4.0 * safe_n) + tau2)
            lo = np.sin(np.clip(centre - half, 0.0, math.pi / 2)) ** 2
            hi = np.sin(np.clip(centre + half, 0.0, math.pi / 2)) ** 2
        elif method == "normal":
            half = z * np.sqrt(target * (1.0 - target) / safe_n)
            lo = np.clip(target - half, 0.0, 1.0)
            hi = np.clip(target + half, 0.0, 1.0)
        else:  # the binomial needs whole numbers of cases: fractional n is rounded
            whole = np.maximum(np.round(safe_n), 1.0)
            lo = _exact_binomial_limit(target, whole, tail)
            hi = _exact_binomial_limit(target, whole, 1.0 - tail)
        lows.append(np.where(pos, lo, np.nan))
        highs.append(np.where(pos, hi, np.nan))
    lower = np.stack(lows, axis=1).ravel()  # n-major: for each n, every level
    upper = np.stack(highs, axis=1).ravel()
    return pd.DataFrame(
        {
            "n": np.repeat(ns, lv.size),
            "level": np.tile(lv, ns.size),
            "lower": lower,
            "upper": upper,
        }
    )


def funnel_overdispersion(
    successes: Iterable[float] | np.ndarray,
    n: Iterable[float] | np.ndarray,
    target: float | None = None,
    trim: float = 0.1,
) -> dict[str, Any]:
    """Overdispersion of proportions around a target (Spiegelhalter 2005; FunnelPlotR "PR").

    Each unit's z-score is taken on the arcsine-square-root scale,
    z = (asin(√(y/n)) − asin(√target)) / (1 / (2√n)); z-scores are winsorised at the ``trim``
    and 1 − ``trim`` quantiles (10%/90% by default; linear interpolation, R's type 7); the
    dispersion ratio is phi = mean(z_w²); with k units and weights w = 4n, the additive
    between-unit variance is tau2 = max(0, (k·phi − (k − 1)) / (Σw − Σw²/Σw)), and 0 when
    k·phi < k − 1. ``target`` defaults to the pooled proportion Σy / Σn. Units with n <= 0 or
    missing values are left out.

    Returns a dict: ``phi`` (dispersion ratio, 1 = as chance predicts), ``tau2`` (between-unit
    variance on the arcsine scale; 0 = no overdispersion adjustment), ``k`` (units used),
    ``target`` (proportion), ``overdispersed`` (True when tau2 > 0), ``z`` and ``z_winsorised``
    (arrays aligned with the input; NaN for units left out).
    """
    y = np.asarray(list(successes) if not isinstance(successes, np.ndarray) else successes,
                   dtype=float)
    d = np.asarray(list(n) if not isinstance(n, np.ndarray) else n, dtype=float)
    if y.shape != d.shape:
        raise ValueError("successes and n must have the same length")
    use = ~np.isnan(y) & ~np.isnan(d) & (d > 0)
    k = int(use.sum())
    if target is None:
        target = float(y[use].sum() / d[use].sum()) if k and d[use].sum() > 0 else math.nan
    z = np.full(y.shape, np.nan)
    zw = np.full(y.shape, np.nan)
    result: dict[str, Any] = {"phi": math.nan, "tau2": 0.0, "k": k, "target": target,
                              "overdispersed": False, "z": z, "z_winsorised": zw}
    if k == 0 or math.isnan(target):
        return result
    p = np.clip(y[use] / d[use], 0.0, 1.0)
    s = 1.0 / (2.0 * np.sqrt(d[use]))
    zu = (np.arcsin(np.sqrt(p)) - math.asin(math.sqrt(target))) / s
    lo, hi = np.quantile(zu, [trim, 1.0 - trim])
    zwu = np.clip(zu, lo, hi)
    z[use] = zu
    zw[use] = zwu
    phi = float(np.mean(zwu**2))
    w = 1.0 / s**2
    denom = float(w.sum() - (w**2).sum() / w.sum())
    if k * phi < k - 1 or denom <= 0:
        tau2 = 0.0
    else:
        tau2 = max(0.0, (k * phi - (k - 1)) / denom)
    result.update({"phi": phi, "tau2": tau2, "overdispersed": tau2 > 0})
    return result


def funnel_flags(
    successes: Iterable[float] | np.ndarray | pd.Series,
    n: Iterable[float] | np.ndarray | pd.Series,
    target: float | None = None,
    levels: Sequence[float] = (0.95, 0.998),
    method: str = "exact",
    overdispersion: bool | str = "auto",
) -> pd.DataFrame:
    """Each unit's position on a funnel plot: flag only outside the outer (99.8%) limits.

    ``target`` defaults to the pooled proportion Σsuccesses / Σn. ``overdispersion``: False
    uses the plain limits, True the overdispersed limits (tau2 from
    :func:`funnel_overdispersion`), "auto" (default) the overdispersed ones only when tau2 > 0,
    "phi" only when the dispersion ratio phi > 1 as well (the flight deck's rule,
    ``metrics.verdicts.funnel_points``).
    ``levels`` = (inner, outer) coverages.

    Returns a DataFrame indexed like ``successes`` (when it is a Series) with the columns
    ``successes``, ``n``, ``proportion`` (fraction), ``inner_lower``, ``inner_upper``,
    ``outer_lower``, ``outer_upper`` (limits as fractions at the unit's n), ``position``
    (``outside_998`` = flagged, ``between_95_998`` = worth a look, ``inside_95``; None when
    n <= 0) and ``side`` (``high`` / ``low`` outside the inner limits, else None). A point
    exactly on a limit counts as inside it. ``attrs`` holds target, tau2, phi, levels, method.
    """
    index = successes.index if isinstance(successes, pd.Series) else None
    y = np.asarray(successes, dtype=float)
    d = np.asarray(n, dtype=float)
    if y.shape != d.shape:
        raise ValueError("successes and n must have the same length")
    if len(levels) != 2 or not levels[0] < levels[1]:
        raise ValueError("levels must be (inner, outer) with inner < outer")
    od = funnel_overdispersion(y, d, target)
    theta = od["target"]
    use_od = overdispersion is True or (overdispersion in ("auto", "phi") and od["tau2"] > 0
                                        and (overdispersion == "auto" or od["phi"] > 1))
    tau2 = od["tau2"] if use_od else 0.0
    if math.isnan(theta):
        lim = np.full((y.size, 4), np.nan)
    else:
        fl = funnel_limits(theta, d, levels, method=method, tau2=tau2)
        lim = np.column_stack(
            [
                fl["lower"].to_numpy()[0::2],
                fl["upper"].to_numpy()[0::2],
                fl["lower"].to_numpy()[1::2],
                fl["upper"].to_numpy()[1::2],
            ]
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        prop = np.where(d > 0, y / np.where(d > 0, d, 1.0), np.nan)
    outer_out = (prop < lim[:, 2]) | (prop > lim[:, 3])
    inner_out = (prop < lim[:, 0]) | (prop > lim[:, 1])
    valid = ~np.isnan(prop) & ~np.isnan(lim[:, 0])
    position = np.where(
        outer_out, FUNNEL_OUTSIDE, np.where(inner_out, FUNNEL_BETWEEN, FUNNEL_INSIDE)
    ).astype(object)
    position[~valid] = None
    side = np.where(prop > lim[:, 1], "high", np.where(prop < lim[:, 0], "low", None))
    side = side.astype(object)
    side[~valid | ~inner_out] = None
    df = pd.DataFrame(
        {
            "successes": y,
            "n": d,
            "proportion": prop,
            "inner_lower": lim[:, 0],
            "inner_upper": lim[:, 1],
            "outer_lower": lim[:, 2],
            "outer_upper": lim[:, 3],
            "position": position,
            "side": side,
        },
        index=index,
    )
    df.attrs.update({"target": theta, "tau2": tau2, "phi": od["phi"],
                     "levels": tuple(levels), "method": method,
                     "overdispersion_used": bool(use_od)})
    return df


# ---------------------------------------------------------------------------------------------
# Intervals and tests
# ---------------------------------------------------------------------------------------------


def median_ci(
    values: Iterable[float] | np.ndarray, confidence: float = 0.95
) -> tuple[float, float]:
    """Distribution-free interval for a median from order statistics (binomial based).

    With the n non-missing values sorted x(1) <= ... <= x(n), the interval is [x(l), x(n−l+1)]
    where l is the largest rank with P(B <= l − 1) <= (1 − confidence)/2, B ~ Binomial(n, ½);
    its actual coverage, 1 − 2·P(B <= l − 1), is at least ``confidence``. No interpolation:
    the ends are observed values, in the values' units (e.g. days).

    Returns (low, high); (nan, nan) when n is too small to reach the confidence (fewer than 6
    values for 95%).
    """
    x = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float)
    x = np.sort(x[~np.isnan(x)])
    n = x.size
    if n == 0:
        return (math.nan, math.nan)
    tail = (1.0 - confidence) / 2.0
    c = int(binom_ppf(tail, n, 0.5))  # smallest c with P(B <= c) >= tail
    # largest l - 1 with P(B <= l - 1) <= tail
    l_minus_1 = c if float(binom_cdf(c, n, 0.5)) <= tail else c - 1
    rank_low = l_minus_1 + 1
    if rank_low < 1:
        return (math.nan, math.nan)
    rank_high = n - rank_low + 1
    return (float(x[rank_low - 1]), float(x[rank_high - 1]))


def newcomb_diff(
    x1: float, n1: float, x2: float, n2: float, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Difference of two independent proportions, p1 − p2, with Newcombe's hybrid score interval.

    Newcombe (1998) method 10: with Wilson intervals (l1, u1) and (l2, u2),
    low = d − √((p1 − l1)² + (u2 − p2)²), high = d + √((u1 − p1)² + (p2 − l2)²), d = p1 − p2.
    The direction is first minus second: for before/after pass the after group first.

    Returns (diff, low, high) as differences of fractions in [−1, 1]; all NaN when n1 or n2
    is 0.
    """
    if n1 <= 0 or n2 <= 0:
        return (math.nan, math.nan, math.nan)
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, confidence)
    l2, u2 = wilson(x2, n2, confidence)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return (d, max(-1.0, low), min(1.0, high))


def two_proportion_p(x1: float, n1: float, x2: float, n2: float) -> tuple[float, str]:
    """Two-sided p-value for H0: p1 = p2 (independent groups).

    Uses Fisher's exact test when any expected cell count of the 2×2 table is below 5, else
    the pooled two-proportion z-test (the same as Pearson's chi-squared without continuity
    correction). Counts are rounded to integers for Fisher's test.

    Returns (p_value, test) with test ``"fisher"`` or ``"z"``; (nan, "none") when n1 or n2
    is 0.
    """
    from scipy.stats import fisher_exact

    if n1 <= 0 or n2 <= 0:
        return (math.nan, "none")
    pooled = (x1 + x2) / (n1 + n2)
    expected = [n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled)]
    if min(expected) < 5:
        table = [[round(x1), round(n1 - x1)], [round(x2), round(n2 - x2)]]
        return (float(fisher_exact(table, alternative="two-sided").pvalue), "fisher")
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return (1.0, "z")
    zval = (x1 / n1 - x2 / n2) / se
    return (float(2 * _STANDARD_NORMAL.cdf(-abs(zval))), "z")


def benjamini_hochberg(
    pvalues: Iterable[float] | np.ndarray, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini–Hochberg false discovery rate control over many tests.

    Adjusted p-values q(i) = min over j >= i of p(j)·m/j (sorted ascending), capped at 1;
    a test is rejected (a "discovery") when q <= ``alpha``, which keeps the expected share of
    false discoveries among them at or below ``alpha``. Missing p-values stay NaN, are never
    rejected and do not count in m.

    Returns (adjusted, reject): a float array of adjusted p-values and a bool array, in the
    input order.
    """
    p = np.asarray(list(pvalues) if not isinstance(pvalues, np.ndarray) else pvalues,
                   dtype=float)
    adjusted = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m:
        pv = p[ok]
        order = np.argsort(pv, kind="mergesort")
        ranked = pv[order] * m / np.arange(1, m + 1)
        q = np.minimum.accumulate(ranked[::-1])[::-1]
        q = np.minimum(q, 1.0)
        out = np.empty(m)
        out[order] = q
        adjusted[ok] = out
    reject = ok & (np.nan_to_num(adjusted, nan=2.0) <= alpha)
    return adjusted, reject


def hodges_lehmann(
    before: Iterable[float] | np.ndarray,
    after: Iterable[float] | np.ndarray,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """Hodges–Lehmann shift (after − before) with its distribution-free (Moses) interval.

    The estimate is the median of all m·n pairwise differences after_j − before_i; the
    interval runs from the k-th smallest to the k-th largest difference, with
    k = floor(m·n/2 − z·√(m·n·(m + n + 1)/12)) (the normal approximation to the Mann–Whitney
    distribution; no bootstrap). Units are those of the values (e.g. days).

    Returns (shift, low, high); (nan, nan, nan) if either side is empty, and NaN ends when
    the samples are too small for the confidence (k < 1).
    """
    a = np.asarray(list(before) if not isinstance(before, np.ndarray) else before, dtype=float)
    b = np.asarray(list(after) if not isinstance(after, np.ndarray) else after, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    m, n = a.size, b.size
    if m == 0 or n == 0:
        return (math.nan, math.nan, math.nan)
    diffs = (b[None, :] - a[:, None]).ravel()
    shift = float(np.median(diffs))
    z = normal_ppf(1 - (1 - confidence) / 2)
    k = int(math.floor(m * n / 2 - z * math.sqrt(m * n * (m + n + 1) / 12)))
    if k < 1:
        return (shift, math.nan, math.nan)
    total = diffs.size
    part = np.partition(diffs, [k - 1, total - k])
    return (shift, float(part[k - 1]), float(part[total - k]))


def proportion_change(
    x_before: float, n_before: float, x_after: float, n_after: float,
    confidence: float = 0.95, min_n: int = 1,
) -> dict[str, Any]:
    """Before/after comparison of a proportion.

    Returns a dict: ``before``, ``after`` (fractions), ``diff`` (after − before, a difference
    of fractions), ``low``, ``high`` (Newcombe hybrid score interval), ``p_value`` and ``test``
    (see :func:`two_proportion_p`), ``n_before``, ``n_after`` and ``status``: ``ok``, or
    ``insufficient`` when either side has fewer than ``min_n`` in its denominator (then the
    estimates are NaN but the counts are kept).
    """
    out: dict[str, Any] = {"kind": "proportion", "n_before": n_before, "n_after": n_after,
                           "x_before": x_before, "x_after": x_after}
    gate = max(min_n, 1)
    if not (n_before >= gate and n_after >= gate):  # also catches missing (NaN) counts
        out.update({"before": math.nan, "after": math.nan, "diff": math.nan, "low": math.nan,
                    "high": math.nan, "p_value": math.nan, "test": "none",
                    "status": "insufficient"})
        return out
    diff, low, high = newcomb_diff(x_after, n_after, x_before, n_before, confidence)
    p, test = two_proportion_p(x_after, n_after, x_before, n_before)
    out.update({"before": x_before / n_before, "after": x_after / n_after, "diff": diff,
                "low": low, "high": high, "p_value": p, "test": test, "status": "ok"})
    return out


def median_change(
    before: Iterable[float] | np.ndarray,
    after: Iterable[float] | np.ndarray,
    confidence: float = 0.95,
    min_n: int = 1,
) -> dict[str, Any]:
    """Before/after comparison of a typical value (e.g. days to charge).

    Returns a dict: ``before``, ``after`` (medians), ``diff`` (Hodges–Lehmann shift,
    after − before, in the values' units), ``low``, ``high`` (its distribution-free interval,
    see :func:`hodges_lehmann`), ``p_value`` (two-sided Mann–Whitney U), ``test``
    (``"mann_whitney"``), ``n_before``, ``n_after``, ``status`` (``ok`` or ``insufficient``
    when either side has fewer than ``min_n`` values).
    """
    from scipy.stats import mannwhitneyu

    a = np.asarray(list(before) if not isinstance(before, np.ndarray) else before, dtype=float)
    b = np.asarray(list(after) if not isinstance(after, np.ndarray) else after, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    out: dict[str, Any] = {"kind": "median", "n_before": int(a.size), "n_after": int(b.size)}
    if a.size < max(min_n, 1) or b.size < max(min_n, 1):
        out.update({"before": math.nan, "after": math.nan, "diff": math.nan, "low": math.nan,
                    "high": math.nan, "p_value": math.nan, "test": "none",
                    "status": "insufficient"})
        return out
    shift, low, high = hodges_lehmann(a, b, confidence)
    p = float(mannwhitneyu(b, a, alternative="two-sided").pvalue)
    out.update({"before": float(np.median(a)), "after": float(np.median(b)), "diff": shift,
                "low": low, "high": high, "p_value": p, "test": "mann_whitney",
                "status": "ok"})
    return out


def before_after(
    dates: Iterable[Any] | pd.Series,
    values: Iterable[float] | pd.Series,
    at: Any,
    kind: str = "proportion",
    months: int | None = None,
    confidence: float = 0.95,
    min_n: int = 1,
) -> dict[str, Any]:
    """Compare records dated before ``at`` with those dated on or after it.

    ``dates`` and ``values`` are aligned per record (e.g. one row per case or survey answer).
    ``kind="proportion"``: values are 1/0 (or True/False) outcomes, missing ones ignored, and
    the result is :func:`proportion_change`. ``kind="median"``: values are numbers (e.g.
    days) and the result is :func:`median_change`. ``months`` restricts both sides to that
    many calendar months either side of ``at`` (before: [at − months, at); after:
    [at, at + months)); None uses everything. ``min_n`` is the gate on each side (30 for survey
    items). The returned dict also carries ``at`` (a Timestamp) and ``months``.
    """
    when = pd.to_datetime(pd.Series(list(dates) if not isinstance(dates, pd.Series) else dates)
                          .reset_index(drop=True))
    vals = pd.to_numeric(pd.Series(list(values) if not isinstance(values, pd.Series) else values)
                         .reset_index(drop=True).astype("float64"), errors="coerce")
    if len(when) != len(vals):
        raise ValueError("dates and values must have the same length")
    cut = pd.Timestamp(at)
    keep = when.notna() & vals.notna()
    if months is not None:
        keep &= (when >= cut - pd.DateOffset(months=months)) & (
            when < cut + pd.DateOffset(months=months))
    is_after = (when >= cut) & keep
    is_before = (when < cut) & keep
    if kind == "proportion":
        xb, nb = float(vals[is_before].sum()), float(is_before.sum())
        xa, na = float(vals[is_after].sum()), float(is_after.sum())
        out = proportion_change(xb, nb, xa, na, confidence, min_n)
    elif kind == "median":
        out = median_change(vals[is_before].to_numpy(), vals[is_after].to_numpy(), confidence,
                            min_n)
    else:
        raise ValueError("kind must be 'proportion' or 'median'")
    out.update({"at": cut, "months": months})
    return out


# ---------------------------------------------------------------------------------------------
# Monitoring SPC (issue 12): fixed baselines, excluded (provisional) months, Laney p′ charts
# ---------------------------------------------------------------------------------------------

#: Each segment's limits come from its first this many points, then stay fixed.
SPC_BASELINE = 24
#: A segment whose limits rest on fewer points than this has provisional limits.
SPC_MIN_POINTS = 13
#: Laney's d2 for moving ranges of two points.
D2 = 1.128


def _segments(is_start: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Segment bookkeeping for a (series × time) mask of segment starts (column 0 True).

    Returns (seg_per_series, g, n_groups, seg_start_col): segments per series (int array),
    the global segment id of every cell (series-then-time order), the number of segments,
    and the column where each cell's segment starts.
    """
    cols = np.arange(is_start.shape[1])
    seg_per_series = is_start.sum(axis=1)
    offset = np.concatenate(([0], np.cumsum(seg_per_series)[:-1]))
    g = np.cumsum(is_start, axis=1) - 1 + offset[:, None]  # global segment id per cell
    n_groups = int(seg_per_series.sum())
    seg_start_col = np.maximum.accumulate(np.where(is_start, cols, 0), axis=1)
    return seg_per_series, g, n_groups, seg_start_col


def _average_moving_range(mr: np.ndarray, g_mr: np.ndarray, n_groups: int,
                          screen_outliers: bool) -> np.ndarray:
    """Each segment's average moving range (in the units of the values; NaN for a segment
    with none) from the moving ranges ``mr`` of segments ``g_mr``; with ``screen_outliers``
    the ranges of ``XMR_SCREEN`` times the first average or more are left out and the
    average recomputed."""
    n_mr = np.bincount(g_mr, minlength=n_groups)
    amr = np.full(n_groups, np.nan)
    has_mr = n_mr > 0
    amr[has_mr] = np.bincount(g_mr, weights=mr, minlength=n_groups)[has_mr] / n_mr[has_mr]
    if screen_outliers and mr.size:
        a = amr[g_mr]
        keep = ~(a > 0) | (mr < XMR_SCREEN * a)
        n_keep = np.bincount(g_mr[keep], minlength=n_groups)
        s_keep = np.bincount(g_mr[keep], weights=mr[keep], minlength=n_groups)
        amr = np.where(n_keep > 0, s_keep / np.maximum(n_keep, 1), np.nan)
    return amr


def _rule_codes(
    yf: np.ndarray, gf: np.ndarray, cf: np.ndarray, upper_f: np.ndarray, lower_f: np.ndarray,
    near_lo: np.ndarray, near_hi: np.ndarray, degen_f: np.ndarray, improvement_sign: int,
) -> np.ndarray:
    """The Making Data Count rules over flat, in-order points (NHSRplotthedots precedence).

    ``yf`` values, ``gf`` segment ids (consecutive points of one segment are adjacent), ``cf``
    centre, ``upper_f``/``lower_f`` limits, ``near_lo``/``near_hi`` the two-thirds lines,
    ``degen_f`` True where the segment's limits are undefined or zero-width (no limit rule).
    Returns int8 codes: +1 improvement (neutral: high), −1 concern (neutral: low), 0 common.
    """
    m = yf.shape[0]
    if m == 0:
        return np.zeros(0, dtype=np.int8)
    has_centre = ~np.isnan(cf)
    rtm = np.where(has_centre, np.sign(np.where(has_centre, yf - cf, 0.0)), 0).astype(np.int8)
    with np.errstate(invalid="ignore"):
        outside = ~degen_f & ((yf > upper_f) | (yf < lower_f))
        close = ~degen_f & ~outside & ((yf < near_lo) | (yf > near_hi))
    new_group = np.ones(m, dtype=bool)
    new_group[1:] = gf[1:] != gf[:-1]
    run_end = (_run_lengths(rtm, new_group) >= XMR_RUN) & (rtm != 0)
    run_part = _mark_runs(run_end)
    step = np.zeros(m, dtype=np.int8)
    step[1:] = np.sign(yf[1:] - yf[:-1]).astype(np.int8)
    step[new_group] = 0
    trend_end = (_run_lengths(step, new_group) >= XMR_RUN - 1) & (step != 0)
    trend_part = _mark_runs(trend_end)
    two_part = np.zeros(m, dtype=bool)
    if m >= 3:
        c8 = close.astype(np.int8)
        wc = c8[:-2] + c8[1:-1] + c8[2:]
        wr = rtm[:-2].astype(np.int16) + rtm[1:-1] + rtm[2:]
        win = (wc >= 2) & (np.abs(wr) == 3) & (gf[:-2] == gf[2:])
        inwin = np.zeros(m, dtype=bool)
        inwin[:-2] |= win
        inwin[1:-1] |= win
        inwin[2:] |= win
        two_part = inwin & close
    next_part = np.zeros(m, dtype=bool)
    next_part[:-1] = trend_part[1:] & ~new_group[1:]
    step_out = np.zeros(m, dtype=np.int8)
    step_out[:-1] = step[1:]
    sdy = np.where(next_part & trend_part, step_out, step)
    trend_dir = np.where(sdy == 1, 1, -1)
    side = np.where(rtm > 0, 1, -1)
    direction = np.where(
        outside,
        np.where(rtm == 1, 1, -1),
        np.where(trend_part, trend_dir, np.where(two_part | run_part, side, 0)),
    ).astype(np.int8)
    if improvement_sign != 0:
        direction = direction * np.int8(improvement_sign)
    return direction


def spc_monitor(
    values: np.ndarray,
    *,
    numerators: np.ndarray | None = None,
    denominators: np.ndarray | None = None,
    exclude: np.ndarray | None = None,
    rebase: Any = None,
    improvement: str = "increase",
    method: str = "xmr",
    baseline: int | None = SPC_BASELINE,
    screen_outliers: bool = True,
) -> dict[str, np.ndarray]:
    """Monitoring SPC for many monthly series at once (rows = series, columns = months).

    Per segment (a new one starts at each ``rebase`` column, e.g. the Soteria adoption month)
    the centre and limits are set from the segment's first ``baseline`` non-missing,
    non-excluded points (all of them when fewer; None: all) and then stay fixed.

    - ``method="xmr"`` (medians, counts, workforce ratios): centre = mean of the limit-setting
      points, limits = centre ± 2.66 × mean moving range (moving ranges ≥ 3.267 × the mean
      screened out when ``screen_outliers``), as :func:`xmr`.
    - ``method="laney"`` (proportions, Laney 2002 p′ as qicharts2's ``qic(chart = "pp")``):
      p̄ = Σ numerators / Σ denominators of the limit-setting points; σᵢ = √(p̄(1 − p̄)/nᵢ);
      zᵢ = (pᵢ − p̄)/σᵢ; σ_z = mean moving range of the limit-setting zᵢ ÷ 1.128 (no screening,
      qicharts2's default); limits p̄ ± 3·σᵢ·σ_z clipped to [0, 1], varying with each month's
      nᵢ; the two-thirds lines are p̄ ± 2·σᵢ·σ_z.

    ``exclude`` (bool, like ``values``): months left out of the limits and of every rule
    (provisional, i.e. still maturing, months); like missing values they get no point type,
    and no moving range bridges them (a moving range needs two adjacent months, as in
    :func:`xmr`). The rules (outside the limits, run of 7, trend of 7, 2 of 3 beyond
    two-thirds) run over each segment's remaining points in order.

    Returns a dict of arrays shaped like ``values``: ``centre``, ``upper``, ``lower`` (value
    units; NaN where undefined), ``point_type`` (object: a ``POINT_TYPES`` string, None where
    missing or excluded), ``limits_provisional`` (bool: the month's segment rests on fewer
    than 13 limit-setting points), ``segment_points`` (int: that number), and ``segment_start``
    (int: the column where the month's segment starts).
    """
    if improvement not in _IMPROVEMENT_SIGN:
        raise ValueError(f"improvement must be one of {sorted(_IMPROVEMENT_SIGN)}")
    if method not in ("xmr", "laney"):
        raise ValueError("method must be 'xmr' or 'laney'")
    y = np.atleast_2d(np.asarray(values, dtype=float)).copy()
    n_series, n = y.shape
    out_shape = (n_series, n)
    if exclude is not None:
        y[np.atleast_2d(np.asarray(exclude, dtype=bool))] = np.nan
    if method == "laney":
        if numerators is None or denominators is None:
            raise ValueError("the Laney p′ chart needs numerators and denominators")
        num = np.atleast_2d(np.asarray(numerators, dtype=float))
        den = np.atleast_2d(np.asarray(denominators, dtype=float))
        y[~(den > 0) | np.isnan(num)] = np.nan
    sign = _IMPROVEMENT_SIGN[improvement]
    if n == 0 or n_series == 0:
        empty = np.empty(out_shape)
        return {"centre": empty, "upper": empty.copy(), "lower": empty.copy(),
                "point_type": np.full(out_shape, None, dtype=object),
                "limits_provisional": np.ones(out_shape, dtype=bool),
                "segment_points": np.zeros(out_shape, dtype=np.int64),
                "segment_start": np.zeros(out_shape, dtype=np.int64)}
    starts = _batch_starts(n_series, n, rebase)
    is_start = np.zeros(out_shape, dtype=bool)
    is_start[:, 0] = True
    for i, st in enumerate(starts):
        is_start[i, st] = True
    seg_per_series, g, n_groups, seg_start_col = _segments(is_start)
    valid = ~np.isnan(y)
    # rank of each valid point within its segment (0 = first)
    csum = np.cumsum(valid, axis=1)
    before_seg = np.take_along_axis(csum - valid, seg_start_col, axis=1)
    rank = csum - 1 - before_seg
    fix = valid if baseline is None else valid & (rank < baseline)
    n_fix = np.bincount(g[fix], minlength=n_groups)
    # moving ranges between limit-setting points of adjacent months of the same segment: a
    # missing or excluded month is not bridged (as :func:`xmr` and qicharts2 treat NA)
    flat_fix = fix.ravel()
    fix_idx = np.flatnonzero(flat_fix)
    gfix = g.ravel()[fix_idx]
    pair = (gfix[1:] == gfix[:-1]) & (np.diff(fix_idx) == 1)

    if method == "xmr":
        yfix = y.ravel()[fix_idx]
        sum_fix = np.bincount(gfix, weights=yfix, minlength=n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            centre_g = np.where(n_fix > 0, sum_fix / np.maximum(n_fix, 1), np.nan)
        mr = np.abs(np.diff(yfix))[pair]
        g_mr = gfix[1:][pair]
        amr = _average_moving_range(mr, g_mr, n_groups, screen_outliers)
        half_g = XMR_LIMIT * amr
        centre = centre_g[g]
        half = half_g[g]
        near = half * 2.0 / 3.0
        upper, lower = centre + half, centre - half
        degenerate = ~(amr > 0)
    else:
        numf = num.ravel()[fix_idx]
        denf = den.ravel()[fix_idx]
        s_num = np.bincount(gfix, weights=numf, minlength=n_groups)
        s_den = np.bincount(gfix, weights=denf, minlength=n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            pbar_g = np.where(s_den > 0, s_num / np.where(s_den > 0, s_den, 1.0), np.nan)
            pbar_fix = pbar_g[gfix]
            sd_fix = np.sqrt(pbar_fix * (1.0 - pbar_fix) / denf)
            z = (numf / denf - pbar_fix) / sd_fix
        mr = np.abs(np.diff(z))[pair]
        g_mr = gfix[1:][pair]
        ok_mr = ~np.isnan(mr)
        n_mr = np.bincount(g_mr[ok_mr], minlength=n_groups)
        s_mr = np.bincount(g_mr[ok_mr], weights=mr[ok_mr], minlength=n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            sigma_z = np.where(n_mr > 0, s_mr / np.maximum(n_mr, 1) / D2, np.nan)
            centre = pbar_g[g]
            sd = np.sqrt(centre * (1.0 - centre) / np.where(den > 0, den, np.nan))
            half = 3.0 * sd * sigma_z[g]
        near = half * 2.0 / 3.0
        upper = np.minimum(centre + half, 1.0)
        lower = np.maximum(centre - half, 0.0)
        degenerate = ~(sigma_z > 0) | ~(pbar_g > 0) | ~(pbar_g < 1)

    code = np.full(out_shape, _MISSING_CODE, dtype=np.int8)
    if valid.any():
        degen_cell = degenerate[g] | np.isnan(half)
        codes = _rule_codes(
            y[valid], g[valid], centre[valid], upper[valid], lower[valid],
            (centre - near)[valid], (centre + near)[valid], degen_cell[valid], sign,
        )
        code[valid] = codes
    types = _labels(code, sign)
    seg_points = n_fix[g]
    return {
        "centre": centre,
        "upper": upper,
        "lower": lower,
        "point_type": types,
        "limits_provisional": seg_points < SPC_MIN_POINTS,
        "segment_points": seg_points.astype(np.int64),
        "segment_start": seg_start_col.astype(np.int64),
    }


# ---------------------------------------------------------------------------------------------
# Change tests (issue 12): one tested change per KPI against the comparison window
# ---------------------------------------------------------------------------------------------


def wilson_vec(x: np.ndarray, n: np.ndarray, confidence: float = 0.95
               ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`wilson` elementwise: (low, high) arrays of fractions; NaN where n <= 0 (exactly
    0 and 1 at no and at all successes, as :func:`wilson`)."""
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    z = normal_ppf(1 - (1 - confidence) / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        safe = np.where(n > 0, n, np.nan)
        p = x / safe
        denom = 1 + z * z / safe
        centre = (p + z * z / (2 * safe)) / denom
        half = z * np.sqrt(np.maximum(p * (1 - p), 0.0) / safe + z * z / (4 * safe * safe)) / denom
        low = np.where((x <= 0) & (n > 0), 0.0, np.maximum(0.0, centre - half))
        high = np.where((x >= n) & (n > 0), 1.0, np.minimum(1.0, centre + half))
    return low, high


def newcombe_vec(x1: np.ndarray, n1: np.ndarray, x0: np.ndarray, n0: np.ndarray,
                 confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`newcomb_diff` elementwise for p1 − p0 (Newcombe 1998 method 10, hybrid score).

    Returns (difference, low, high) arrays of differences of fractions; NaN where a side has
    no denominator.
    """
    x1, n1, x0, n0 = (np.asarray(a, dtype=float) for a in (x1, n1, x0, n0))
    l1, u1 = wilson_vec(x1, n1, confidence)
    l0, u0 = wilson_vec(x0, n0, confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        p1 = x1 / np.where(n1 > 0, n1, np.nan)
        p0 = x0 / np.where(n0 > 0, n0, np.nan)
    d = p1 - p0
    low = d - np.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return d, np.maximum(-1.0, low), np.minimum(1.0, high)


def two_proportion_z_vec(x1: np.ndarray, n1: np.ndarray, x0: np.ndarray, n0: np.ndarray
                         ) -> np.ndarray:
    """Two-sided p-values of the pooled two-proportion z-test (no continuity correction),
    elementwise; 1.0 when the pooled proportion is 0 or 1, NaN where a side has no cases.
    The same as Pearson's chi-squared test of the 2×2 table without Yates' correction."""
    x1, n1, x0, n0 = (np.asarray(a, dtype=float) for a in (x1, n1, x0, n0))
    with np.errstate(invalid="ignore", divide="ignore"):
        good = (n1 > 0) & (n0 > 0)
        pooled = (x1 + x0) / np.where(good, n1 + n0, np.nan)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
        z = (x1 / n1 - x0 / n0) / se
        p = np.asarray(_ERFC(np.abs(z) / math.sqrt(2.0)), dtype=float)  # 2 * P(Z > |z|)
    p = np.where(good & (se == 0), 1.0, p)
    return np.where(good, p, np.nan)


def poisson_exact_p(k: float, k0: float) -> float:
    """Two-sided exact conditional test of two Poisson counts over equal exposures.

    Given k + k0 events, k ~ Binomial(k + k0, ½) under H0 (equal rates); the two-sided p-value
    of that binomial test (``scipy.stats.binomtest(k, k + k0, 0.5)``: the distribution is
    symmetric, so p = min(1, 2·P(B <= min(k, k0)))). Counts are rounded to whole numbers.
    Returns the p-value in [0, 1]; 1.0 when both counts are 0; NaN for a missing count.
    """
    if k is None or k0 is None or math.isnan(k) or math.isnan(k0) or k < 0 or k0 < 0:
        return math.nan
    a, b = round(k), round(k0)
    total = a + b
    if total == 0:
        return 1.0
    if a == b:
        return 1.0
    tail = float(binom_cdf(min(a, b), total, 0.5))
    return min(1.0, 2.0 * tail)


def mood_median_p(a: Iterable[float] | np.ndarray, b: Iterable[float] | np.ndarray) -> float:
    """Mood's median test of two samples (``scipy.stats.median_test`` defaults).

    The grand median of both samples splits each into "above" and "at or below"; the 2×2
    table is tested with Pearson's chi-squared with Yates' continuity correction (each cell
    moved 0.5 toward its expected count, never past it), 1 degree of freedom.
    Returns the two-sided p-value; 1.0 when no value lies above (or none at or below) the
    grand median (no spread to compare); NaN when either sample is empty.
    """
    x = np.asarray(list(a) if not isinstance(a, np.ndarray) else a, dtype=float)
    y = np.asarray(list(b) if not isinstance(b, np.ndarray) else b, dtype=float)
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    if x.size == 0 or y.size == 0:
        return math.nan
    grand = float(np.median(np.concatenate([x, y])))
    table = np.array([[np.sum(x > grand), np.sum(y > grand)],
                      [np.sum(x <= grand), np.sum(y <= grand)]], dtype=float)
    rows = table.sum(axis=1)
    if rows.min() == 0:
        return 1.0
    expected = np.outer(rows, table.sum(axis=0)) / table.sum()
    diff = table - expected
    corrected = np.sign(diff) * np.maximum(np.abs(diff) - 0.5, 0.0)
    chi2 = float(np.sum(corrected**2 / expected))
    return float(math.erfc(math.sqrt(chi2 / 2.0)))


def difference_in_differences(
    x_before: float, n_before: float, x_after: float, n_after: float,
    xc_before: float, nc_before: float, xc_after: float, nc_after: float,
    confidence: float = 0.95,
) -> dict[str, float]:
    """Difference in differences of proportions with a normal-approximation interval.

    DiD = (p_after − p_before) − (pc_after − pc_before), where p are the adopting force's
    proportions and pc the comparison group's (pooled) proportions; its variance is the sum of
    the four independent binomial variances p(1 − p)/n. The interval is DiD ± z·SE and the
    p-value two-sided from z = DiD / SE.

    Returns a dict: ``did`` (difference of fractions), ``low``, ``high``, ``se``, ``z``,
    ``p_value``; all NaN when a cell has no denominator.
    """
    cells = [(x_before, n_before), (x_after, n_after), (xc_before, nc_before),
             (xc_after, nc_after)]
    if any(not (n > 0) for _, n in cells):
        nan = math.nan
        return {"did": nan, "low": nan, "high": nan, "se": nan, "z": nan, "p_value": nan}
    p = [x / n for x, n in cells]
    did = (p[1] - p[0]) - (p[3] - p[2])
    se = math.sqrt(sum(pi * (1 - pi) / n for pi, (_, n) in zip(p, cells, strict=True)))
    zq = normal_ppf(1 - (1 - confidence) / 2)
    if se == 0:
        pv = 1.0 if did == 0 else 0.0
        zval = 0.0 if did == 0 else math.copysign(math.inf, did)
    else:
        zval = did / se
        pv = float(2 * _STANDARD_NORMAL.cdf(-abs(zval)))
    return {"did": did, "low": did - zq * se, "high": did + zq * se, "se": se, "z": zval,
            "p_value": pv}
