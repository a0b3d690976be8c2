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
    seg_per_series = is_start.sum(axis=1)
    offset = np.concatenate(([0], np.cumsum(seg_per_series)[:-1]))
    g = np.cumsum(is_start, axis=1) - 1 + offset[:, None]  # global segment id per cell
    n_groups = int(seg_per_series.sum())
    seg_start_col = np.maximum.accumulate(np.where(is_start, cols, 0), axis=1)
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
    n_mr = np.bincount(g_mr, minlength=n_groups)
    amr = np.full(n_groups, np.nan)
    has_mr = n_mr > 0
    amr[has_mr] = np.bincount(g_mr, weights=mr, minlength=n_groups)[has_mr] / n_mr[has_mr]
    if screen_outliers and mr.size:
        a = amr[g_mr]
        keep = ~(a > 0) | (mr < XMR_SCREEN * a)
        n_keep = np.bincount(g_mr[keep], minlength=n_groups)
        s_keep = np.bincount(g_mr[keep], weights=mr[keep], minlength=n_groups)
        ok = n_keep > 0
        amr = np.where(ok, s_keep / np.maximum(n_keep, 1), np.nan)
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
        has_centre = ~np.isnan(cf)
        rtm = np.where(has_centre, np.sign(np.where(has_centre, yf - cf, 0.0)), 0).astype(np.int8)
        degen_f = degenerate[gf]
        with np.errstate(invalid="ignore"):
            outside = ~degen_f & ((yf > upper[valid]) | (yf < lower[valid]))
            near = XMR_LIMIT * 2.0 / 3.0 * amr[gf]
            close = ~degen_f & ~outside & ((yf < cf - near) | (yf > cf + near))
        new_group = np.ones(m, dtype=bool)
        new_group[1:] = gf[1:] != gf[:-1]
        # run of 7 on one side of the mean (0 = on the mean breaks it)
        run_end = (_run_lengths(rtm, new_group) >= XMR_RUN) & (rtm != 0)
        run_part = _mark_runs(run_end)
        # trend of 7 points: 6 consecutive steps of the same strict sign within a segment
        step = np.zeros(m, dtype=np.int8)
        step[1:] = np.sign(yf[1:] - yf[:-1]).astype(np.int8)
        step[new_group] = 0
        trend_end = (_run_lengths(step, new_group) >= XMR_RUN - 1) & (step != 0)
        trend_part = _mark_runs(trend_end)
        # 2 of 3 near a limit: windows of 3 within a segment, >= 2 near, all 3 same side
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
        # direction of a trend point: the step out of it when the next point is also part of
        # the trend (so a trend's first point takes the trend's direction), else the step in
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
        code[valid] = direction

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
    centre, upper, lower, code, seg = _xmr_core(
        y[None, :], [starts], sign, screen_outliers, baseline
    )
    code = code[0]
    df = pd.DataFrame(
        {
            "value": y,
            "centre": centre[0],
            "upper": upper[0],
            "lower": lower[0],
            "point_type": _labels(code, sign),
        },
        index=index,
    )
    present = np.flatnonzero(code != _MISSING_CODE)
    variation = df["point_type"].iat[int(present[-1])] if present.size else None
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
