"""Statistics for the flight deck: intervals, SPC (XmR), funnel limits, before/after.

Pure functions over numbers and pandas objects; no Streamlit. Every function states what it
returns and in which units. The methods, and how to read them, are described in plain English
in ``docs/methods.md``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

# ---------------------------------------------------------------------------------------------
# Wilson score interval
# ---------------------------------------------------------------------------------------------


def wilson(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """95% (by default) Wilson score interval for a proportion, as fractions in [0, 1].

    Returns (nan, nan) when n is 0. Accepts non-integer counts (e.g. rounded panel counts).
    """
    if n <= 0:
        return (math.nan, math.nan)
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


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


def _runs_part(end: np.ndarray, run: int = XMR_RUN) -> np.ndarray:
    """For end-of-run flags, mark every point of each run (the end point and the run-1 before)."""
    m = end.shape[0]
    cs = np.concatenate(([0], np.cumsum(end, dtype=np.int64)))
    j = np.arange(m)
    return (cs[np.minimum(j + run, m)] - cs[j]) > 0


def _signal_direction(
    y: np.ndarray,
    rtm: np.ndarray,
    outside: np.ndarray,
    close: np.ndarray,
) -> np.ndarray:
    """Special-cause direction of each point of one segment (no NaN values).

    Returns an int8 array: +1 a high signal (above the upper limit, part of a rising trend,
    2 of 3 near the upper limit, part of a run above the mean), -1 a low signal, 0 none.
    Precedence as NHSRplotthedots' ``ptd_special_cause_type``: outside limits, then trend,
    then 2 of 3 near a limit, then run of 7 on one side of the mean.
    """
    m = y.shape[0]
    out = np.zeros(m, dtype=np.int8)
    if m == 0:
        return out
    r = XMR_RUN
    # --- run of 7 on one side of the mean (a point on the mean, rtm 0, breaks the run)
    run_part = np.zeros(m, dtype=bool)
    if m >= r:
        w = np.lib.stride_tricks.sliding_window_view(rtm, r)
        end = np.zeros(m, dtype=bool)
        end[r - 1 :] = (w[:, 0] != 0) & np.all(w == w[:, :1], axis=1)
        run_part = _runs_part(end)
    # --- trend of 7: six consecutive strictly positive (or negative) differences
    trend_part = np.zeros(m, dtype=bool)
    d = np.sign(np.diff(y)).astype(np.int8)
    if m >= r:
        wd = np.lib.stride_tricks.sliding_window_view(d, r - 1)
        end = np.zeros(m, dtype=bool)
        end[r - 1 :] = np.all(wd == 1, axis=1) | np.all(wd == -1, axis=1)
        trend_part = _runs_part(end)
    # --- 2 of 3 in the outer third (beyond 2 sigma, inside the limits), all 3 same side
    two_part = np.zeros(m, dtype=bool)
    if m >= 3:
        c = close.astype(np.int8)
        wc = np.lib.stride_tricks.sliding_window_view(c, 3).sum(axis=1)
        wr = np.lib.stride_tricks.sliding_window_view(rtm, 3).sum(axis=1)
        win = (wc >= 2) & (np.abs(wr) == 3)  # window k covers points k, k+1, k+2
        inwin = np.zeros(m, dtype=bool)
        inwin[: m - 2] |= win
        inwin[1 : m - 1] |= win
        inwin[2:] |= win
        two_part = inwin & close
    # trend direction: the step into the point, or the step out of it when the next point
    # is also part of a trend (so the first point of a trend takes the trend's direction)
    if trend_part.any():
        right = np.concatenate((d, d[-1:])) if m > 1 else np.zeros(1, dtype=np.int8)
        left = np.concatenate(([0], d)).astype(np.int8)
        nxt = np.concatenate((trend_part[1:], [False]))
        sdy = np.where(nxt & trend_part, right, left)
        trend_dir = np.where(sdy == 1, 1, -1).astype(np.int8)
    else:
        trend_dir = np.zeros(m, dtype=np.int8)
    side = np.where(rtm > 0, 1, -1).astype(np.int8)
    outside_dir = np.where(rtm == 1, 1, -1).astype(np.int8)
    out = np.where(
        outside,
        outside_dir,
        np.where(trend_part, trend_dir, np.where(two_part | run_part, side, 0)),
    ).astype(np.int8)
    return out


def _segment_limits(
    y: np.ndarray, baseline: int | None, screen_outliers: bool
) -> tuple[float, float, int]:
    """Centre (mean) and mean moving range of one segment's limit-setting points.

    Returns (centre, mean_moving_range, n_points) where n_points counts the non-missing
    values that set the limits. Moving ranges are between consecutive rows; a range next to a
    missing value is missing (not bridged), as in NHSRplotthedots.
    """
    fix = y if baseline is None else y[:baseline]
    ok = ~np.isnan(fix)
    n_fix = int(ok.sum())
    if n_fix == 0:
        return (math.nan, math.nan, 0)
    centre = float(fix[ok].mean())
    mr = np.abs(np.diff(fix))
    mr = mr[~np.isnan(mr)]
    if mr.size == 0:
        return (centre, math.nan, n_fix)
    amr = float(mr.mean())
    if screen_outliers and amr > 0:
        kept = mr[mr < XMR_SCREEN * amr]
        amr = float(kept.mean()) if kept.size else math.nan
    return (centre, amr, n_fix)


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
            ts = pd.Timestamp(item)
        except (TypeError, ValueError):
            return None
        pos = int(index.searchsorted(ts))
        return pos if pos < len(index) else None
    return None


def _xmr_arrays(
    y: np.ndarray,
    starts: Sequence[int],
    improvement_sign: int,
    screen_outliers: bool,
    baseline: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """The numeric core of :func:`xmr` over a float array (NaN = missing).

    Returns (centre, upper, lower, code, segments): code is an int8 array, +1 improvement (or
    neutral high), -1 concern (or neutral low), 0 common cause, 2 missing value.
    """
    n = y.shape[0]
    centre = np.full(n, np.nan)
    upper = np.full(n, np.nan)
    lower = np.full(n, np.nan)
    code = np.full(n, _MISSING_CODE, dtype=np.int8)
    segments: list[dict[str, Any]] = []
    bounds = list(starts) + [n]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        ys = y[a:b]
        mean, amr, n_fix = _segment_limits(ys, baseline, screen_outliers)
        degenerate = not (amr > 0)  # zero, or undefined (fewer than two limit points)
        half = XMR_LIMIT * amr if not degenerate else 0.0
        if math.isnan(mean):
            lo = hi = math.nan
        elif degenerate and math.isnan(amr):
            lo = hi = math.nan
        else:
            lo, hi = mean - half, mean + half
        centre[a:b] = mean
        upper[a:b] = hi
        lower[a:b] = lo
        segments.append(
            {
                "start": a,
                "stop": b,
                "n_limit_points": n_fix,
                "centre": mean,
                "upper": hi,
                "lower": lo,
                "mean_moving_range": amr,
                "degenerate": bool(degenerate),
                "provisional": n_fix < XMR_MIN_POINTS,
            }
        )
        ok = ~np.isnan(ys)
        yv = ys[ok]
        if yv.size == 0 or math.isnan(mean):
            continue
        rtm = np.sign(yv - mean).astype(np.int8)
        if degenerate:
            outside = np.zeros(yv.size, dtype=bool)
            close = outside
        else:
            outside = (yv > hi) | (yv < lo)
            near = XMR_LIMIT * 2.0 / 3.0 * amr
            close = ~outside & ((yv < mean - near) | (yv > mean + near))
        direction = _signal_direction(yv, rtm, outside, close)
        seg_code = direction if improvement_sign == 0 else direction * improvement_sign
        code[a:b][ok] = seg_code
    return centre, upper, lower, code, segments


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
    limit-based rule fires) and ``point_type`` (one of ``POINT_TYPES``, or None for a missing
    value). ``attrs`` holds:

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
        y = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    else:
        y = np.asarray(list(values) if not isinstance(values, np.ndarray) else values,
                       dtype=float)
        index = pd.RangeIndex(y.shape[0])
    sign = _IMPROVEMENT_SIGN[improvement]
    starts = _segment_starts(y.shape[0], index, rebase)
    centre, upper, lower, code, segments = _xmr_arrays(
        y, starts, sign, screen_outliers, baseline
    )
    df = pd.DataFrame(
        {
            "value": y,
            "centre": centre,
            "upper": upper,
            "lower": lower,
            "point_type": _labels(code, sign),
        },
        index=index,
    )
    present = np.flatnonzero(code != _MISSING_CODE)
    variation = df["point_type"].iat[int(present[-1])] if present.size else None
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


def xmr_point_types_batch(
    values: np.ndarray | pd.DataFrame,
    improvement: str = "increase",
    screen_outliers: bool = True,
    baseline: int | None = None,
    rebase: Sequence[int | None] | int | None = None,
) -> np.ndarray:
    """Point types for many series at once (rows = series, columns = months), no DataFrames.

    ``values`` is a 2-D float array (or a DataFrame, used as its values) with NaN for missing
    months; ``rebase`` is None, one row position for all series, or a sequence with one
    position (or None) per series. Returns a 2-D object array of point-type strings (None
    where the value is missing), the same shape as ``values``; same rules as :func:`xmr`.
    """
    arr = np.asarray(values.to_numpy() if isinstance(values, pd.DataFrame) else values,
                     dtype=float)
    if arr.ndim != 2:
        raise ValueError("values must be 2-D: one row per series")
    if improvement not in _IMPROVEMENT_SIGN:
        raise ValueError(f"improvement must be one of {sorted(_IMPROVEMENT_SIGN)}")
    sign = _IMPROVEMENT_SIGN[improvement]
    n_series, n = arr.shape
    if rebase is None or isinstance(rebase, int | np.integer):
        per_series: list[int | None] = [None if rebase is None else int(rebase)] * n_series
    else:
        per_series = [None if r is None else int(r) for r in rebase]
        if len(per_series) != n_series:
            raise ValueError("rebase needs one entry per series")
    codes = np.empty(arr.shape, dtype=np.int8)
    for i in range(n_series):
        r = per_series[i]
        starts = [0] + ([r] if r is not None and 0 < r < n else [])
        codes[i] = _xmr_arrays(arr[i], starts, sign, screen_outliers, baseline)[3]
    return _labels(codes, sign)
