"""Pure helpers: medians, percentiles, ratios, growth, the goals, and the results table.

Nothing here times anything or touches the disk, so it is unit-tested on tiny inputs
(``tests/test_bench_report.py``). The measured results arrive as one JSON-able dict
(see ``build_figures`` for its shape) and leave as a Markdown table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MiB = 1024 * 1024
GiB = 1024 * MiB

MAIN_SIZE = 1_000_000
SMALLEST_SIZE = 250_000

# The goals of issue 8 on this 2-core machine.
GOAL_LOAD_PLUS_MONTH_S = 3.0
GOAL_LOAD_PLUS_MONTH_FLOOR_RATIO = 5.0
GOAL_WARM_S = 0.300
GOAL_COLD_S = 5.0
GOAL_PEAK_RSS_BYTES = 2 * GiB
GOAL_CONCURRENT_SESSIONS = 50
GOAL_CONCURRENT_P95_S = 5.0
GOAL_SERVER_GROWTH_BYTES = 300 * MiB


def _clean(values: Iterable[float | None]) -> list[float]:
    """The finite numbers among ``values``."""
    out: list[float] = []
    for v in values:
        if v is None:
            continue
        f = float(v)
        if math.isfinite(f):
            out.append(f)
    return out


def median(values: Iterable[float | None]) -> float | None:
    """The median of the finite values, or None when there are none."""
    xs = sorted(_clean(values))
    if not xs:
        return None
    mid = len(xs) // 2
    if len(xs) % 2:
        return xs[mid]
    return (xs[mid - 1] + xs[mid]) / 2


def percentile(values: Iterable[float | None], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between order statistics.

    Matches ``numpy.percentile(..., method="linear")``; None when there are no values.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0-100, got {q}")
    xs = sorted(_clean(values))
    if not xs:
        return None
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def add(*values: float | None) -> float | None:
    """The sum, or None when any term is missing."""
    if any(v is None for v in values):
        return None
    return float(sum(v for v in values if v is not None))


def growth(small_size: int, small_value: float | None, big_size: int,
           big_value: float | None) -> tuple[float | None, float | None]:
    """(cost ratio, scaling exponent) from ``small_size`` to ``big_size``.

    The exponent k solves ``ratio = (big_size / small_size) ** k``: 1 is linear, below 1 is
    better than linear (fixed costs amortised), above 1 worse.
    """
    r = ratio(big_value, small_value)
    if r is None or r <= 0 or big_size <= small_size:
        return r, None
    return r, math.log(r) / math.log(big_size / small_size)


def no_worse_than_linear(small_size: int, big_size: int, cost_ratio: float | None) -> bool | None:
    """True when the cost grew by no more than the size did (None when unmeasured)."""
    if cost_ratio is None:
        return None
    return cost_ratio <= big_size / small_size


def at_most(value: float | None, goal: float) -> bool | None:
    """value <= goal, or None when the value is missing."""
    return None if value is None else value <= goal


def below(value: float | None, goal: float) -> bool | None:
    """value < goal, or None when the value is missing."""
    return None if value is None else value < goal


TIMED_KEYS = ("floor", "load", "window", "month", "loadavg", "floor_cpu", "load_cpu",
              "window_cpu", "month_cpu")
PEAK_KEYS = ("peak_rss", "peak_rss_floor", "rss_after_load")


def merge_runs(acc: Mapping[str, Any] | None, run: Mapping[str, Any]) -> dict[str, Any]:
    """Fold one core run (one fresh process) into the accumulated result for its size.

    Timed lists are concatenated; peaks take the maximum; other fields keep the first
    successful run's value. An error is kept only while no run has succeeded.
    """
    if acc is None:
        return dict(run)
    if acc.get("error") and not run.get("error"):
        merged = dict(run)
        for k in PEAK_KEYS:
            merged[k] = max(v for v in (acc.get(k), run.get(k), 0) if v is not None) or None
        return merged
    if run.get("error"):
        out = dict(acc)
        out.setdefault("run_errors", []).append(run["error"])
        return out
    out = dict(acc)
    for k in TIMED_KEYS:
        out[k] = list(acc.get(k) or []) + list(run.get(k) or [])
    for k in PEAK_KEYS:
        values = [v for v in (acc.get(k), run.get(k)) if v is not None]
        out[k] = max(values) if values else None
    for k, v in run.items():
        out.setdefault(k, v)
    return out


def merge_app_runs(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Fold several AppTest processes (step 6) into one result.

    ``cold`` and ``cold_cpu`` become the medians of the runs' cold timings (kept in
    ``cold_runs``/``cold_cpu_runs``); warm timings are concatenated; the widget, values and
    warm profile come from the first run that has them; the first error is kept.
    """
    out: dict[str, Any] = {"warm": [], "warm_cpu": [], "cold_runs": [], "cold_cpu_runs": []}
    changes: list[float] = []
    for run in runs:
        if run.get("cold") is not None:
            out["cold_runs"].append(run["cold"])
        if run.get("cold_cpu") is not None:
            out["cold_cpu_runs"].append(run["cold_cpu"])
        if run.get("first_change") is not None:
            changes.append(run["first_change"])
        out["warm"] += list(run.get("warm") or [])
        out["warm_cpu"] += list(run.get("warm_cpu") or [])
        for key in ("widget", "values", "warm_method", "warm_profile"):
            if run.get(key) and key not in out:
                out[key] = run[key]
        if run.get("error") and "error" not in out:
            out["error"] = run["error"]
    out["cold"] = median(out["cold_runs"])
    out["cold_cpu"] = median(out["cold_cpu_runs"])
    out["first_change"] = median(changes)
    return out


# ---------------------------------------------------------------------------------------------
# Formatting


def fmt_seconds(s: float | None) -> str:
    """Seconds as "1.23 s" or, under one second, "123 ms"; "n/a" when missing."""
    if s is None:
        return "n/a"
    if s < 1:
        return f"{s * 1000:.0f} ms"
    return f"{s:.2f} s"


def fmt_bytes(b: float | None) -> str:
    """Bytes as MiB (or GiB from 1 GiB up); "n/a" when missing."""
    if b is None:
        return "n/a"
    if abs(b) >= GiB:
        return f"{b / GiB:.2f} GiB"
    return f"{b / MiB:.0f} MiB"


def fmt_size(b: float | None) -> str:
    """A file size: KiB under 1 MiB, else MiB with one decimal; "n/a" when missing."""
    if b is None:
        return "n/a"
    if b < MiB:
        return f"{b / 1024:.0f} KiB"
    return f"{b / MiB:.1f} MiB"


def fmt_ratio(r: float | None) -> str:
    """A ratio as "2.4×"; "" when missing."""
    return "" if r is None else f"{r:.1f}×"


def fmt_count(n: float | None) -> str:
    """A count with thousands separators."""
    return "n/a" if n is None else f"{int(n):,}"


def fmt_result(passed: bool | None) -> str:
    """PASS / FAIL, or "—" for a figure with no goal, "not run" when unmeasured."""
    if passed is True:
        return "PASS"
    if passed is False:
        return "FAIL"
    return "—"


def size_label(n: int) -> str:
    """1_000_000 -> "1M", 250_000 -> "250k"."""
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)

GOAL_BOARDPACK_S = 15.0  # issue 14: the 12-month All-forces pack


@dataclass(frozen=True)
class Figure:
    """One row of the results table."""

    step: str  # e.g. "2"
    name: str
    value: str
    goal: str = ""
    passed: bool | None = None  # None: no goal, or not measured
    vs_floor: str = ""
    has_goal: bool = False


def markdown_table(figures: Sequence[Figure]) -> str:
    """The results as a Markdown table: step, figure, value, goal, result, ratio to floor."""
    lines = [
        "| step | figure | value | goal | result | vs floor |",
        "|---|---|---:|---|---|---:|",
    ]
    for f in figures:
        result = fmt_result(f.passed)
        if f.has_goal and f.passed is None:
            result = "not measured"
        lines.append(
            f"| {f.step} | {f.name} | {f.value} | {f.goal} | {result} | {f.vs_floor} |"
        )
    return "\n".join(lines)


def summary_counts(figures: Sequence[Figure]) -> tuple[int, int, int]:
    """(passed, failed, not measured) among the figures that have a goal."""
    goals = [f for f in figures if f.has_goal]
    return (
        sum(f.passed is True for f in goals),
        sum(f.passed is False for f in goals),
        sum(f.passed is None for f in goals),
    )


# ---------------------------------------------------------------------------------------------
# From measured results to table rows


def step_medians(size_result: Mapping[str, Any]) -> dict[str, float | None]:
    """The medians of the timed lists of one size's core run (floor, load, window, month),
    and of their CPU seconds (``load_cpu``, ...)."""
    keys = ("floor", "load", "window", "month")
    out = {k: median(size_result.get(k) or []) for k in keys}
    out.update({f"{k}_cpu": median(size_result.get(f"{k}_cpu") or []) for k in keys})
    return out


def with_cpu(wall: float | None, cpu: float | None) -> str:
    """ "2.00 s (CPU 1.50 s)", or just the wall time when the CPU time is unknown."""
    if cpu is None:
        return fmt_seconds(wall)
    return f"{fmt_seconds(wall)} (CPU {fmt_seconds(cpu)})"


def _size_figures(size: int, res: Mapping[str, Any], *, main: bool) -> list[Figure]:
    """Rows for steps 1-5 (main size) or 7 (a smaller size) from one core run."""
    label = size_label(size)
    step = "7" if not main else ""
    if res.get("error"):
        return [Figure(step or "1-5", f"{label} cases", f"error: {res['error']}",
                       has_goal=main)]
    m = step_medians(res)
    floor = m["floor"]
    rows: list[Figure] = []
    if main:
        rows.append(Figure("1", f"floor: read_table(KPI columns), {label}",
                           with_cpu(floor, m["floor_cpu"])))
    rows.append(Figure(step or "2", f"load + validate, {label}",
                       with_cpu(m["load"], m["load_cpu"]),
                       vs_floor=fmt_ratio(ratio(m["load"], floor))))
    rows.append(Figure(step or "3", f"all KPIs, 12-month window, {label}",
                       with_cpu(m["window"], m["window_cpu"]),
                       vs_floor=fmt_ratio(ratio(m["window"], floor))))
    rows.append(Figure(step or "4", f"all KPIs by month, 36 months + SPC, {label}",
                       with_cpu(m["month"], m["month_cpu"]),
                       vs_floor=fmt_ratio(ratio(m["month"], floor))))
    both = add(m["load"], m["month"])
    both_ratio = ratio(both, floor)
    if main:
        rows.append(Figure("2+4", f"load + by-month KPIs, {label}",
                           with_cpu(both, add(m["load_cpu"], m["month_cpu"])),
                           goal=f"≤ {GOAL_LOAD_PLUS_MONTH_S:g} s",
                           passed=at_most(both, GOAL_LOAD_PLUS_MONTH_S),
                           vs_floor=fmt_ratio(both_ratio), has_goal=True))
        rows.append(Figure("2+4", f"load + by-month KPIs ÷ floor, {label}", fmt_ratio(both_ratio),
                           goal=f"≤ {GOAL_LOAD_PLUS_MONTH_FLOOR_RATIO:g}×",
                           passed=at_most(both_ratio, GOAL_LOAD_PLUS_MONTH_FLOOR_RATIO),
                           has_goal=True))
        peak = res.get("peak_rss")
        rows.append(Figure("5", f"peak RSS (fresh process: floor, load, KPIs), {label}",
                           fmt_bytes(peak), goal=f"< {fmt_bytes(GOAL_PEAK_RSS_BYTES)}",
                           passed=below(peak, GOAL_PEAK_RSS_BYTES), has_goal=True))
    else:
        rows.append(Figure("7", f"floor, {label}", with_cpu(floor, m["floor_cpu"])))
        rows.append(Figure("7", f"peak RSS, {label}", fmt_bytes(res.get("peak_rss"))))
    return rows


def _growth_figures(sizes: Mapping[int, Mapping[str, Any]]) -> list[Figure]:
    """Step 7's growth rows: cost ratio from the smallest size to the main size per step."""
    small = min(sizes) if sizes else None
    big = MAIN_SIZE if MAIN_SIZE in sizes else (max(sizes) if sizes else None)
    if small is None or big is None or small == big:
        return []
    ms = step_medians(sizes[small])
    mb = step_medians(sizes[big])
    rows: list[Figure] = []
    span = f"{size_label(small)} → {size_label(big)}"
    limit = big / small
    for key, label in (("load", "load + validate"), ("window", "12-month KPIs"),
                       ("month", "by-month KPIs"), ("total", "steps 2+3+4")):
        if key == "total":
            sv = add(ms["load"], ms["window"], ms["month"])
            bv = add(mb["load"], mb["window"], mb["month"])
        else:
            sv, bv = ms[key], mb[key]
        r, k = growth(small, sv, big, bv)
        value = "n/a" if r is None else f"{r:.2f}× (exponent {k:.2f})" if k is not None else \
            f"{r:.2f}×"
        rows.append(Figure("7", f"growth {span}, {label}", value,
                           goal=f"≤ {limit:g}× (linear)",
                           passed=no_worse_than_linear(small, big, r), has_goal=True))
    # the same total by CPU seconds: less sensitive to what else the machine was doing
    sv = add(ms["load_cpu"], ms["window_cpu"], ms["month_cpu"])
    bv = add(mb["load_cpu"], mb["window_cpu"], mb["month_cpu"])
    r, k = growth(small, sv, big, bv)
    if r is not None:
        rows.append(Figure("7", f"growth {span}, steps 2+3+4 by CPU seconds (for reference)",
                           f"{r:.2f}× (exponent {k:.2f})" if k is not None else f"{r:.2f}×"))
    return rows


def _apptest_figures(app: Mapping[str, Any] | None) -> list[Figure]:
    """Step 6 rows: cold first run and warm cached rerun of the flight deck."""
    if not app:
        return [Figure("6", "flight deck (AppTest)", "not run", has_goal=True)]
    label = size_label(int(app.get("cases") or MAIN_SIZE))
    if app.get("error") and app.get("cold") is None:
        return [Figure("6", f"flight deck (AppTest), {label}", f"error: {app['error']}",
                       has_goal=True)]
    rows = [
        Figure("6", f"flight deck cold (first run; median of fresh processes), {label}",
               with_cpu(app.get("cold"), app.get("cold_cpu")),
               goal=f"< {fmt_seconds(GOAL_COLD_S)}", passed=below(app.get("cold"), GOAL_COLD_S),
               has_goal=True),
    ]
    if app.get("first_change") is not None:
        rows.append(Figure("6", f"flight deck, first change to a new filter value, {label}",
                           fmt_seconds(app.get("first_change"))))
    warm = median(app.get("warm") or [])
    widget = app.get("widget") or "filter"
    rows.append(Figure("6", f"flight deck warm rerun ({widget} change, cached), {label}",
                       with_cpu(warm, median(app.get("warm_cpu") or [])),
                       goal=f"< {fmt_seconds(GOAL_WARM_S)}",
                       passed=below(warm, GOAL_WARM_S), has_goal=True))
    if app.get("error"):
        rows.append(Figure("6", "flight deck note", f"error: {app['error']}"))
    return rows


def _concurrency_figures(conc: Mapping[str, Any] | None) -> list[Figure]:
    """Step 8 rows: p50/p95 per level, sessions dropped, server memory."""
    if not conc:
        return [Figure("8", "concurrent sessions", "not run", has_goal=True)]
    if conc.get("error") and not conc.get("levels"):
        return [Figure("8", "concurrent sessions", f"error: {conc['error']}", has_goal=True)]
    rows: list[Figure] = []
    if conc.get("first_session") is not None:
        rows.append(Figure("8", "first session (cold server cache)",
                           fmt_seconds(conc.get("first_session"))))
    levels: Mapping[str, Mapping[str, Any]] = conc.get("levels") or {}
    for key in sorted(levels, key=int):
        lv = levels[key]
        n = int(key)
        times = lv.get("times") or []
        p50, p95 = percentile(times, 50), percentile(times, 95)
        is_goal = n == GOAL_CONCURRENT_SESSIONS
        rows.append(Figure("8", f"{n} sessions: p50 / p95 to script finished",
                           f"{fmt_seconds(p50)} / {fmt_seconds(p95)}",
                           goal=f"p95 < {fmt_seconds(GOAL_CONCURRENT_P95_S)}" if is_goal else "",
                           passed=below(p95, GOAL_CONCURRENT_P95_S) if is_goal else None,
                           has_goal=is_goal))
        dropped = lv.get("dropped")
        rows.append(Figure("8", f"{n} sessions: dropped", fmt_count(dropped),
                           goal="0" if is_goal else "",
                           passed=(dropped == 0 if dropped is not None else None)
                           if is_goal else None, has_goal=is_goal))
        if lv.get("server_cpu_per_session") is not None:
            rows.append(Figure("8", f"{n} sessions: server CPU per session",
                               fmt_seconds(lv.get("server_cpu_per_session"))))
        before, after, peak = lv.get("rss_before"), lv.get("rss_after"), lv.get("rss_peak")
        rows.append(Figure("8", f"{n} sessions: server RSS before → peak → after",
                           f"{fmt_bytes(before)} → {fmt_bytes(peak)} → {fmt_bytes(after)}"))
    base = conc.get("rss_baseline")
    top = max((lv.get("rss_peak") or 0 for lv in levels.values()), default=None) or None
    grown = None if base is None or top is None else top - base
    rows.append(Figure("8", "server memory growth (warm baseline → peak under sessions)",
                       fmt_bytes(grown), goal=f"< {fmt_bytes(GOAL_SERVER_GROWTH_BYTES)}",
                       passed=below(grown, GOAL_SERVER_GROWTH_BYTES), has_goal=True))
    return rows


def _boardpack_figures(bp: Mapping[str, Any] | None) -> list[Figure]:
    """Board pack rows (optional: only when report.boardpack exposes a builder)."""
    if not bp:
        return []
    if bp.get("error"):
        return [Figure("bp", "board pack, 12 months, All forces, sample", f"n/a: {bp['error']}")]
    seconds = median(bp.get("seconds") or [])
    return [
        Figure("bp", "board pack, 12 months, All forces, sample: time", fmt_seconds(seconds),
               goal=f"< {GOAL_BOARDPACK_S:g} s", has_goal=True,
               passed=None if seconds is None else bool(seconds < GOAL_BOARDPACK_S)),
        Figure("bp", "board pack, 12 months, All forces, sample: size",
               fmt_size(bp.get("bytes"))),
    ]


def build_figures(results: Mapping[str, Any]) -> list[Figure]:
    """Every table row from the measured results.

    ``results`` keys: ``sizes`` ({cases: core result}), ``apptest``, ``concurrency``,
    ``boardpack``. A core result holds lists of seconds ``floor``, ``load``, ``window``,
    ``month``, and ``peak_rss`` in bytes (or ``error``).
    """
    raw_sizes = results.get("sizes") or {}
    sizes: dict[int, Mapping[str, Any]] = {int(k): v for k, v in raw_sizes.items()}
    rows: list[Figure] = []
    main = MAIN_SIZE if MAIN_SIZE in sizes else (max(sizes) if sizes else None)
    if main is not None:
        rows += _size_figures(main, sizes[main], main=True)
    rows += _apptest_figures(results.get("apptest"))
    for size in sorted(sizes):
        if size != main:
            rows += _size_figures(size, sizes[size], main=False)
    ok_sizes = {k: v for k, v in sizes.items() if not v.get("error")}
    rows += _growth_figures(ok_sizes)
    rows += _concurrency_figures(results.get("concurrency"))
    rows += _boardpack_figures(results.get("boardpack"))
    return rows
