"""Verdicts that can be trusted (issue 12): SPC, tested changes, fair funnels, before/after.

Pure core (no Streamlit). The flight deck, Trends, Compare forces, the board pack and the CLI
read their verdicts from here; nothing else calls a change better or worse.

- :func:`spc_chart` / :func:`spc_table`: monitoring SPC over the 36 months ending at the
  window's end, rebased at the force's Soteria adoption month when it falls inside the span
  (and is not its first month); each segment's limits come from its first 24 points, then stay
  fixed; fewer than 13 points: provisional limits. Proportions (of cases, outcomes, answers)
  use Laney p′ limits, medians, counts, workforce ratios and caseload XmR. Provisional
  (maturing) months and months whose status is not ``ok`` are left out of the limits and of
  every rule; the latest final month carries the verdict.
- :func:`compute_changes`: one tested change per KPI × force against the comparison window
  (``two_proportion_z`` with a Newcombe hybrid score interval, ``poisson_exact``,
  ``mood_median``, or ``none`` for censuses), Benjamini–Hochberg per force.
- :func:`kpi_verdicts`: one row per KPI for a view, combining the two (rule in its docstring).
- :func:`funnel_table`: gated funnel (status ``ok`` only), overdispersion only when φ > 1.
- :func:`before_after`: difference in differences around the force's adoption month.

``audience="panel"`` runs every step on the disclosed figures of
``metrics.disclosure.apply_panel`` (rounded counts, suppressed cells missing), so the panel
screen, the panel board pack and the CLI agree.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from metrics import stats
from metrics.dataset import Dataset
from metrics.registry import KPI

SPAN_MONTHS = 36
BASELINE_POINTS = stats.SPC_BASELINE
ALPHA = 0.05
CASELOAD_IDS = frozenset({"caseload_per_investigator", "investigators_over_15"})

CHANGE_COLUMNS: tuple[str, ...] = (
    "kpi_id", "force", "window_start", "window_end", "compare_start", "compare_end", "value",
    "compare_value", "difference", "diff_ci_low", "diff_ci_high", "test", "p_value", "q_value",
    "verdict",
)
VERDICT_COLUMNS: tuple[str, ...] = (
    "kpi_id", "value", "ci_low", "ci_high", "n", "status", "provisional", "final_on",
    "compare_value", "difference", "diff_ci_low", "diff_ci_high", "test", "p_value", "q_value",
    "change_verdict", "spc_point_type", "spc_month", "spc_evidence", "verdict",
)
#: Forces a funnel plot needs: with fewer, the all-forces rate is mostly the forces' own, and
#: the app, the board pack and the ``funnel`` command say so instead of drawing one.
FUNNEL_MIN_FORCES = 3
FUNNEL_COLUMNS: tuple[str, ...] = (
    "force", "numerator", "denominator", "value", "target", "lower_95", "upper_95",
    "lower_998", "upper_998", "phi", "tau2", "adjusted", "position",
)
VERDICTS = ("improving", "deteriorating", "no_clear_change", "mixed", "maturing",
            "insufficient", "no_data")
CHANGE_VERDICTS = ("better", "worse", "higher", "lower", "no_clear_change", "not_comparable",
                   "not_tested")


# --------------------------------------------------------------------------- KPI kinds


def is_census(kpi: KPI) -> bool:
    """True for workforce ratios (sums of days or FTE) and caseload measures: censuses whose
    verdict comes from SPC only (no sampling test, no funnel, no before/after)."""
    return kpi.source == "workforce" or kpi.unit == "cases" or kpi.id in CASELOAD_IDS


def change_test(kpi: KPI) -> str:
    """The change test of a KPI: ``two_proportion_z`` (proportions of cases, outcomes or
    answers), ``poisson_exact`` (counts), ``mood_median`` (medians in days) or ``none``
    (censuses: workforce ratios and caseload)."""
    if is_census(kpi):
        return "none"
    if kpi.unit == "count":
        return "poisson_exact"
    if kpi.unit == "days":
        return "mood_median"
    if kpi.unit == "proportion":
        return "two_proportion_z"
    return "none"


def spc_method(kpi: KPI) -> str:
    """``laney`` (p′ chart) for proportions of cases, outcomes or answers; ``xmr`` otherwise."""
    return "laney" if change_test(kpi) == "two_proportion_z" else "xmr"


# --------------------------------------------------------------------------- KPI tables


def kpi_table(dataset: Dataset, start: pd.Period, end: pd.Period, *, by: str = "window",
              forces: list[str] | None = None, kpi_ids: list[str] | None = None,
              scope: str = "all", audience: str = "internal", record: Any = None
              ) -> pd.DataFrame:
    """``compute_kpis`` for the audience: panel tables go through ``apply_panel``. Has the
    engine's bool ``provisional`` column. ``record``: the meeting record
    (``metrics.record.Record``) the record KPIs come from; None leaves them no_data.
    Raises ValueError for a bad audience (``KpiInputError``, a ValueError, for a bad scope)."""
    from metrics.kpis import compute_kpis

    if audience not in ("internal", "panel"):
        raise ValueError(f"audience must be internal or panel, not {audience!r}")
    kw: dict[str, Any] = {}
    if scope != "all":
        kw["scope"] = scope
    if record is not None:
        kw["record"] = record
    table = compute_kpis(dataset, start, end, by=by, forces=forces, kpi_ids=kpi_ids, **kw)
    if audience == "panel":
        from metrics.disclosure import apply_panel

        table = apply_panel(table)
    return table


def _kpis(dataset: Dataset, kpi_ids: list[str] | None) -> dict[str, KPI]:
    from metrics.kpis import kpis_for

    return {k.id: k for k in kpis_for(dataset, kpi_ids)}


def _period(month: str | pd.Period) -> pd.Period:
    from metrics.kpis import to_period

    return to_period(month)


def _floats(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


# --------------------------------------------------------------------------- SPC


def adoption_months(dataset: Dataset) -> dict[str, pd.Period]:
    """Force name -> month of its Soteria adoption date (forces without one left out)."""
    from metrics.kpis.spc import adoption_months as months

    return months(dataset)


def spc_points(table: pd.DataFrame, kpis: dict[str, KPI],
               adoption: dict[str, pd.Period]) -> pd.DataFrame:
    """The monitoring chart for every (KPI, force) series of a by-month KPI table.

    ``table``: by-month rows of ``compute_kpis`` (any order; a month missing from a series is
    a gap). Rows whose status is not ``ok`` are missing and ``provisional`` rows
    excluded: both get no point type. Rebased at the force's adoption month when inside the
    months (not the first). Returns ``table``'s index with ``centre``, ``upper``, ``lower``
    (value units), ``point_type`` (str or None), ``limits_provisional`` (bool),
    ``segment_points`` (int) and ``segment_start`` (month Timestamp).
    """
    from metrics.kpis.spc import rebase_positions

    n_rows = len(table)
    out = {
        "centre": np.full(n_rows, np.nan), "upper": np.full(n_rows, np.nan),
        "lower": np.full(n_rows, np.nan), "point_type": np.full(n_rows, None, dtype=object),
        "limits_provisional": np.ones(n_rows, dtype=bool),
        "segment_points": np.zeros(n_rows, dtype=np.int64),
        "segment_start": np.full(n_rows, np.datetime64("NaT"), dtype="datetime64[ns]"),
    }
    if n_rows == 0:
        return pd.DataFrame(out, index=table.index)
    months = pd.DatetimeIndex(table["window_start"].unique()).sort_values()
    n_months = len(months)
    first = pd.Period(months[0], freq="M")
    ok = (table["status"].astype(object) == "ok").to_numpy()
    prov = table["provisional"].to_numpy(dtype=bool)
    value = np.where(ok, _floats(table["value"]), np.nan)
    num = _floats(table["numerator"])
    den = _floats(table["denominator"])
    # place every row on a (force x month) grid per KPI: any row order, missing rows NaN
    month_pos = months.get_indexer(pd.DatetimeIndex(table["window_start"]))
    kpi_codes, kpi_names = pd.factorize(table["kpi_id"], sort=False)
    for k, kid in enumerate(kpi_names):
        rows = np.flatnonzero(kpi_codes == k)
        f_codes, names = pd.factorize(table["force"].to_numpy()[rows], sort=False)
        shape = (len(names), n_months)
        grid = np.full(shape, -1, dtype=np.int64)
        grid[f_codes, month_pos[rows]] = rows
        have = grid >= 0
        pick = np.where(have, grid, 0)

        def cells(x: np.ndarray, fill: float = np.nan, pick=pick, have=have) -> np.ndarray:
            return np.where(have, x[pick], fill)

        kpi = kpis[kid]
        method = spc_method(kpi)
        res = stats.spc_monitor(
            cells(value),
            numerators=cells(num) if method == "laney" else None,
            denominators=cells(den) if method == "laney" else None,
            exclude=np.where(have, prov[pick], False),
            rebase=rebase_positions([str(f) for f in names], first, n_months, adoption),
            improvement=kpi.improvement, method=method,
        )
        target = grid[have]
        for key in ("centre", "upper", "lower", "point_type", "limits_provisional",
                    "segment_points"):
            out[key][target] = res[key][have]
        out["segment_start"][target] = months.to_numpy()[res["segment_start"][have]]
    return pd.DataFrame(out, index=table.index)


def spc_chart(dataset: Dataset, kpi_id: str, force: str, end: str | pd.Period, *,
              months: int = SPAN_MONTHS, scope: str = "all",
              audience: str = "internal", record: Any = None) -> pd.DataFrame:
    """The monitoring SPC chart of one KPI and force: the ``months`` months ending at ``end``.
    ``record``: the meeting record a record KPI comes from (see :func:`kpi_table`).

    Returns one row per month: ``month`` (Timestamp, first day), ``value``, ``numerator``,
    ``denominator``, ``status``, ``provisional`` (maturing month: drawn hollow, no point
    type), ``centre``, ``upper``, ``lower`` (value units), ``point_type`` (None for missing
    and maturing months), ``limits_provisional`` and ``segment_start``. ``attrs`` hold
    ``method`` (laney|xmr), ``verdict_month`` (the latest final month or None) and
    ``verdict`` (its point type).
    """
    p1 = _period(end)
    p0 = p1 - (months - 1)
    kpis = _kpis(dataset, [kpi_id])
    table = kpi_table(dataset, p0, p1, by="month", forces=[force], kpi_ids=[kpi_id],
                      scope=scope, audience=audience, record=record).reset_index(drop=True)
    pts = spc_points(table, kpis, adoption_months(dataset))
    frame = pd.DataFrame({
        "month": table["window_start"], "value": table["value"],
        "numerator": table["numerator"], "denominator": table["denominator"],
        "status": table["status"], "provisional": table["provisional"],
    }).join(pts)
    final = frame["point_type"].notna()
    last = frame.index[final][-1] if final.any() else None
    frame.attrs.update({
        "method": spc_method(kpis[kpi_id]),
        "verdict_month": None if last is None else frame.at[last, "month"],
        "verdict": None if last is None else frame.at[last, "point_type"],
    })
    return frame


def _evidence(types: list[str | None], values: np.ndarray, upper: np.ndarray,
              lower: np.ndarray, centre: np.ndarray, limits_provisional: bool,
              points: int) -> str:
    """Plain words for the latest final month's point type, from the rule that made it
    (outside the limits, trend, run, 2 of 3 near a limit, in NHSRplotthedots' precedence).
    ``types``/``values``/limits: the final months only, oldest first."""
    last = types[-1]
    if last is None:
        return ""
    note = f" (limits provisional: {points} months set them)" if limits_provisional else ""
    if last == stats.COMMON_CAUSE:
        return "within the process limits, no unusual pattern" + note
    v, u, lo, c = values, upper, lower, centre
    i = len(v) - 1

    def months(k: int) -> str:
        return "1 month" if k == 1 else f"{k} months"

    def streak(pred: Any) -> int:
        k = 0
        while k <= i and pred(i - k):
            k += 1
        return k

    if v[i] > u[i]:
        return f"above the process limits for {months(streak(lambda j: v[j] > u[j]))}" + note
    if v[i] < lo[i]:
        return f"below the process limits for {months(streak(lambda j: v[j] < lo[j]))}" + note
    rising = streak(lambda j: j > 0 and v[j] > v[j - 1]) + 1
    falling = streak(lambda j: j > 0 and v[j] < v[j - 1]) + 1
    if max(rising, falling) >= stats.XMR_RUN:
        word, k = ("rising", rising) if rising >= falling else ("falling", falling)
        return f"{word} for {k} months in a row" + note
    above = streak(lambda j: v[j] > c[j])
    below = streak(lambda j: v[j] < c[j])
    if max(above, below) >= stats.XMR_RUN:
        side, k = ("above", above) if above else ("below", below)
        return f"{k} months in a row {side} the average" + note
    side = "upper" if v[i] > c[i] else "lower"
    return f"2 of the last 3 months close to the {side} process limit" + note


def latest_verdict(table: pd.DataFrame, kpis: dict[str, KPI],
                   adoption: dict[str, pd.Period]) -> pd.DataFrame:
    """Per (KPI, force) of a by-month table, the chart's verdict: the latest final month.

    Returns one row per (kpi_id, force) with ``spc_point_type`` (str or None), ``spc_month``
    (Timestamp or NaT), ``spc_evidence`` (plain words, empty without a final month) and
    ``limits_provisional`` (bool).
    """
    table = table.reset_index(drop=True)
    pts = spc_points(table, kpis, adoption)
    frame = table[["kpi_id", "force", "window_start", "value"]].join(pts)
    rows = []
    for (kid, force), block in frame.groupby(["kpi_id", "force"], sort=False):
        final = block[block["point_type"].notna()]
        if final.empty:
            rows.append((kid, force, None, pd.NaT, "", True))
            continue
        last = final.iloc[-1]
        words = _evidence(list(final["point_type"]), final["value"].to_numpy(float),
                          final["upper"].to_numpy(float), final["lower"].to_numpy(float),
                          final["centre"].to_numpy(float), bool(last["limits_provisional"]),
                          int(last["segment_points"]))
        rows.append((kid, force, last["point_type"], last["window_start"], words,
                     bool(last["limits_provisional"])))
    return pd.DataFrame(rows, columns=["kpi_id", "force", "spc_point_type", "spc_month",
                                       "spc_evidence", "limits_provisional"])


# --------------------------------------------------------------------------- changes


def _items(dataset: Dataset, kpi_id: str, start: pd.Period, end: pd.Period,
           forces: list[str] | None, scope: str) -> pd.DataFrame:
    """The engine's ``kpi_items`` (force, item)."""
    from metrics.kpis import kpi_items

    kw: dict[str, Any] = {"forces": forces}
    if scope != "all":
        kw["scope"] = scope
    return kpi_items(dataset, kpi_id, start, end, **kw)


def _direction_words(diff: float, better: str) -> str:
    if better == "higher":
        return "better" if diff > 0 else "worse"
    if better == "lower":
        return "better" if diff < 0 else "worse"
    return "higher" if diff > 0 else "lower"


def compute_changes(dataset: Dataset, start: str | pd.Period, end: str | pd.Period, *,
                    compare: str = "previous", forces: list[str] | str | None = None,
                    scope: str = "all", audience: str = "internal",
                    kpi_ids: list[str] | None = None, record: Any = None) -> pd.DataFrame:
    """One tested change per KPI × force: the window against the comparison window.
    ``record``: the meeting record for the record KPIs (see :func:`kpi_table`).

    ``compare``: ``previous`` (the same number of months just before) or ``year_ago``.
    Per KPI kind (see :func:`change_test`):

    - proportions: ``difference`` = p − p₀ (fractions) with Newcombe's hybrid score 95%
      interval; ``two_proportion_z`` (pooled, two-sided, no continuity correction);
    - counts: ``difference`` = k − k₀; ``poisson_exact`` (binomial test of k of k + k₀ at ½;
      the windows have equal length); no interval;
    - medians: ``difference`` = median − median₀ (days); ``mood_median`` on the two windows'
      items (the engine's ``kpi_items``); no interval;
    - censuses (workforce ratios, caseload): ``difference`` only, ``test`` = ``none``.

    ``q_value``: Benjamini–Hochberg across the rows of the same force that have a p-value.
    ``verdict``: ``not_comparable`` when either window's status is not ``ok`` or either is
    provisional (p and q empty); else ``not_tested`` for ``test = none``; else ``better`` /
    ``worse`` (``higher`` / ``lower`` for neutral KPIs) when q ≤ 0.05, else
    ``no_clear_change``.

    Returns the ``CHANGE_COLUMNS`` (dates as Timestamps; value units as ``compute_kpis``)
    plus ``status``, ``compare_status``, ``provisional``, ``compare_provisional``, ``n``,
    ``ci_low``, ``ci_high``. Raises ``KpiInputError`` / ValueError for bad arguments.
    """
    from metrics.windows import comparison_window

    if compare not in ("previous", "year_ago"):
        raise ValueError(f"compare must be previous or year_ago, not {compare!r}")
    p0, p1 = _period(start), _period(end)
    c0, c1 = comparison_window(p0, p1, compare)
    force_list = [forces] if isinstance(forces, str) else forces
    kpis = _kpis(dataset, kpi_ids)
    ids = list(kpis)
    cur = kpi_table(dataset, p0, p1, forces=force_list, kpi_ids=ids, scope=scope,
                    audience=audience, record=record).reset_index(drop=True)
    prev = kpi_table(dataset, c0, c1, forces=force_list, kpi_ids=ids, scope=scope,
                     audience=audience, record=record).reset_index(drop=True)
    prev = prev.set_index(["kpi_id", "force"]).reindex(
        pd.MultiIndex.from_frame(cur[["kpi_id", "force"]])).reset_index()
    n_rows = len(cur)
    value = _floats(cur["value"])
    value0 = _floats(prev["value"])
    ok = ((cur["status"].astype(object) == "ok").to_numpy()
          & (prev["status"].astype(object) == "ok").to_numpy()
          & ~cur["provisional"].to_numpy(dtype=bool)
          & ~prev["provisional"].fillna(False).to_numpy(dtype=bool))
    tests = np.array([change_test(kpis[k]) for k in cur["kpi_id"]], dtype=object)
    diff = np.where(ok, value - value0, np.nan)
    lo = np.full(n_rows, np.nan)
    hi = np.full(n_rows, np.nan)
    p = np.full(n_rows, np.nan)

    prop = ok & (tests == "two_proportion_z")
    if prop.any():
        x1, n1 = _floats(cur["numerator"])[prop], _floats(cur["denominator"])[prop]
        x0, n0 = _floats(prev["numerator"])[prop], _floats(prev["denominator"])[prop]
        d, low, high = stats.newcombe_vec(x1, n1, x0, n0)
        diff[prop], lo[prop], hi[prop] = d, low, high
        p[prop] = stats.two_proportion_z_vec(x1, n1, x0, n0)
    for i in np.flatnonzero(ok & (tests == "poisson_exact")):
        p[i] = stats.poisson_exact_p(value[i], value0[i])
    median_rows = np.flatnonzero(ok & (tests == "mood_median"))
    if median_rows.size:
        kinds = cur["kpi_id"].to_numpy()
        fnames = cur["force"].to_numpy()
        for kid in dict.fromkeys(kinds[median_rows]):
            rows = [i for i in median_rows if kinds[i] == kid]
            wanted = sorted({str(fnames[i]) for i in rows})
            a = _items(dataset, kid, p0, p1, wanted, scope)
            b = _items(dataset, kid, c0, c1, wanted, scope)
            ga = {f: g["item"].to_numpy(float) for f, g in a.groupby("force")}
            gb = {f: g["item"].to_numpy(float) for f, g in b.groupby("force")}
            for i in rows:
                f = str(fnames[i])
                p[i] = stats.mood_median_p(ga.get(f, np.empty(0)), gb.get(f, np.empty(0)))

    q = np.full(n_rows, np.nan)
    fnames = cur["force"].to_numpy()
    for f in dict.fromkeys(fnames):
        rows = np.flatnonzero(fnames == f)
        q[rows] = stats.benjamini_hochberg(p[rows])[0]
    better = [kpis[k].better for k in cur["kpi_id"]]
    verdict = np.empty(n_rows, dtype=object)
    for i in range(n_rows):
        if not ok[i]:
            verdict[i] = "not_comparable"
        elif tests[i] == "none" or math.isnan(p[i]):
            verdict[i] = "not_tested"
        elif q[i] <= ALPHA and not math.isnan(diff[i]) and diff[i] != 0:
            verdict[i] = _direction_words(diff[i], better[i])
        else:
            verdict[i] = "no_clear_change"
    out = pd.DataFrame({
        "kpi_id": cur["kpi_id"], "force": cur["force"],
        "window_start": cur["window_start"], "window_end": cur["window_end"],
        "compare_start": pd.Timestamp(c0.start_time.normalize()),
        "compare_end": pd.Timestamp(c1.end_time.normalize()),
        "value": value, "compare_value": value0, "difference": diff,
        "diff_ci_low": lo, "diff_ci_high": hi, "test": tests, "p_value": p, "q_value": q,
        "verdict": verdict,
        "status": cur["status"].astype(object), "compare_status": prev["status"].astype(object),
        "provisional": cur["provisional"].to_numpy(dtype=bool),
        "compare_provisional": prev["provisional"].fillna(False).to_numpy(dtype=bool),
        "n": _floats(cur["n"]), "ci_low": _floats(cur["ci_low"]),
        "ci_high": _floats(cur["ci_high"]),
    })
    return out


# --------------------------------------------------------------------------- the verdict


_SPC_SIGN = {stats.SPECIAL_IMPROVEMENT: 1, stats.SPECIAL_CONCERN: -1}
_CHANGE_SIGN = {"better": 1, "worse": -1}
_NEUTRAL_SIGN = {stats.SPECIAL_NEUTRAL_HIGH: 1, stats.SPECIAL_NEUTRAL_LOW: -1,
                 "higher": 1, "lower": -1}


def combine(status: str, provisional: bool, spc_point_type: str | None,
            change_verdict: str) -> str:
    """The one verdict of a KPI in a view, from the window's status, its maturity, the latest
    final month's SPC point type and the tested change.

    1. status ``no_data`` -> ``no_data``; ``insufficient`` or ``suppressed`` -> ``insufficient``;
    2. the window is provisional (still maturing) -> ``maturing``;
    3. SPC says improvement (concern) and the change says worse (better) -> ``mixed``;
    4. either says improvement / better and the other does not disagree -> ``improving``;
       either says concern / worse and the other does not disagree -> ``deteriorating``;
    5. otherwise (common cause and no clear, untested or not comparable change)
       -> ``no_clear_change``.

    For neutral KPIs (neither direction is better) a high (low) SPC signal and a lower
    (higher) tested change are ``mixed``; any other signal is ``no_clear_change``: the
    direction is in ``spc_point_type`` and ``change_verdict``, but nothing improved.
    """
    if status == "no_data":
        return "no_data"
    if status != "ok":
        return "insufficient"
    if provisional:
        return "maturing"
    if spc_point_type in _NEUTRAL_SIGN or change_verdict in ("higher", "lower"):
        s = _NEUTRAL_SIGN.get(spc_point_type or "", 0)
        c = _NEUTRAL_SIGN.get(change_verdict, 0)
        return "mixed" if s * c < 0 else "no_clear_change"
    s = _SPC_SIGN.get(spc_point_type or "", 0)
    c = _CHANGE_SIGN.get(change_verdict, 0)
    if s * c < 0:
        return "mixed"
    if s > 0 or c > 0:
        return "improving"
    if s < 0 or c < 0:
        return "deteriorating"
    return "no_clear_change"


def _final_on(kpi: KPI, window_end: Any) -> date | None:
    fn = getattr(kpi, "final_on", None)
    if fn is None or window_end is None or pd.isna(window_end):
        return None
    try:
        return fn(pd.Timestamp(window_end).date())
    except (TypeError, ValueError):
        return None


def kpi_verdicts(dataset: Dataset, start: str | pd.Period, end: str | pd.Period, *,
                 force: str, compare: str = "previous", scope: str = "all",
                 audience: str = "internal", kpi_ids: list[str] | None = None,
                 record: Any = None) -> pd.DataFrame:
    """One row per KPI for a view (force, window, comparison), in registry order.

    Columns ``VERDICT_COLUMNS``: the window's ``value``, ``ci_low``, ``ci_high``, ``n``,
    ``status``, ``provisional`` and ``final_on`` (the date the window's figures are final, a
    ``datetime.date``, only when provisional); the tested change of :func:`compute_changes`
    (``compare_value``, ``difference``, ``diff_ci_low``/``diff_ci_high``, ``test``,
    ``p_value``, ``q_value``, ``change_verdict``); the SPC chart of the 36 months ending at
    ``end`` (``spc_point_type`` of the latest final month, ``spc_month`` (Timestamp),
    ``spc_evidence`` in plain words); and ``verdict`` from :func:`combine`, which ignores a
    chart whose latest final month lies before the window (its evidence says so). Values are in the
    KPI's units (fractions, days, counts). ``audience="panel"``: everything from the disclosed
    figures. One engine call per window (and one for the 36 months), batched by KPI.
    ``record``: the meeting record (``metrics.record.Record``) the record KPIs
    (``panel_nfa_decision_sound``, ``open_learning_actions``) come from; None: no_data.
    ``attrs["monthly"]``: the by-month KPI table of those 36 months for ``force`` (the
    audience's figures, ``compute_kpis`` columns), so the board pack need not ask again.
    """
    p0, p1 = _period(start), _period(end)
    kpis = _kpis(dataset, kpi_ids)
    ids = list(kpis)
    span = (p1 - (SPAN_MONTHS - 1), p1)
    stock = [kpi_id for kpi_id in ids if kpis[kpi_id].stock]
    if stock:  # first: a stock KPI's windows are then read from its chart's month ends
        kpi_table(dataset, *span, by="month", forces=[force], kpi_ids=stock, scope=scope)
    changes = compute_changes(dataset, p0, p1, compare=compare, forces=[force], scope=scope,
                              audience=audience, kpi_ids=ids, record=record)
    monthly = kpi_table(dataset, *span, by="month", forces=[force], kpi_ids=ids, scope=scope,
                        audience=audience, record=record)
    spc = latest_verdict(monthly, kpis, adoption_months(dataset)).set_index("kpi_id")
    spc = spc.reindex(changes["kpi_id"])
    window_start = pd.Timestamp(p0.start_time.normalize())
    rows = []
    for i, r in enumerate(changes.itertuples(index=False)):
        kpi = kpis[r.kpi_id]
        point = spc["spc_point_type"].iloc[i]
        point = point if isinstance(point, str) else None
        month = spc["spc_month"].iloc[i]
        words = spc["spc_evidence"].iloc[i] if point else ""
        # a chart whose latest final month lies before the window says nothing about it
        stale = point is not None and pd.notna(month) and month < window_start
        if stale:
            words += f" (latest final month {pd.Timestamp(month):%b %Y}, before the window)"
        status = str(r.status)
        rows.append({
            "kpi_id": r.kpi_id, "value": r.value, "ci_low": r.ci_low, "ci_high": r.ci_high,
            "n": r.n, "status": status, "provisional": bool(r.provisional),
            "final_on": _final_on(kpi, r.window_end) if r.provisional else None,
            "compare_value": r.compare_value, "difference": r.difference,
            "diff_ci_low": r.diff_ci_low, "diff_ci_high": r.diff_ci_high, "test": r.test,
            "p_value": r.p_value, "q_value": r.q_value, "change_verdict": r.verdict,
            "spc_point_type": point, "spc_month": month, "spc_evidence": words,
            "verdict": combine(status, bool(r.provisional), None if stale else point,
                               str(r.verdict)),
        })
    out = pd.DataFrame(rows, columns=list(VERDICT_COLUMNS))
    out.attrs["monthly"] = monthly.reset_index(drop=True)
    return out


# --------------------------------------------------------------------------- funnels


def funnel_table(dataset: Dataset, kpi_id: str, start: str | pd.Period, end: str | pd.Period,
                 *, scope: str = "all", audience: str = "internal") -> pd.DataFrame:
    """Each force on a funnel plot of one proportion KPI for the window.

    Only forces whose value has status ``ok`` take part (the gates hold on every page; All
    forces is the centre, not a point). The target is the pooled proportion of those forces;
    limits are exact binomial (Spiegelhalter 2005) at 95% and 99.8%. The dispersion ratio φ
    is Spiegelhalter's (winsorised z on the arcsine scale); only when φ > 1 are the limits
    widened with the additive random-effects τ² (then ``adjusted`` is True).
    ``position``: ``within`` (inside 95%), ``between_95_998`` or ``outside`` (99.8%).

    Returns ``FUNNEL_COLUMNS`` (fractions; ``phi``, ``tau2`` the same on every row), sorted
    by denominator. Raises ValueError for a KPI that is not a proportion of cases, outcomes or
    answers (counts, medians and censuses have no binomial funnel).
    """
    p0, p1 = _period(start), _period(end)
    kpis = _kpis(dataset, [kpi_id])
    kpi = kpis[kpi_id]
    if change_test(kpi) != "two_proportion_z":
        raise ValueError(f"{kpi_id} is not a proportion of cases, outcomes or answers: "
                         "no funnel plot")
    from metrics.kpis import ALL_FORCES

    table = kpi_table(dataset, p0, p1, kpi_ids=[kpi_id], scope=scope, audience=audience)
    table = table[(table["force"] != ALL_FORCES)
                  & (table["status"].astype(object) == "ok")].copy()
    return funnel_points(table["force"].astype(str).tolist(), _floats(table["numerator"]),
                         _floats(table["denominator"]))


def funnel_points(forces: list[str], numerators: np.ndarray, denominators: np.ndarray
                  ) -> pd.DataFrame:
    """The funnel of :func:`funnel_table` from each (already gated) force's counts.

    Target = Σ numerators / Σ denominators; exact binomial 95% and 99.8% limits; φ and τ²
    from :func:`metrics.stats.funnel_overdispersion`; the limits are widened with τ² only
    when φ > 1 (``metrics.stats.funnel_flags`` with ``overdispersion="phi"``, which places
    each force). Returns ``FUNNEL_COLUMNS`` sorted by denominator (fractions).
    """
    num = np.asarray(numerators, dtype=float)
    den = np.asarray(denominators, dtype=float)
    if num.size == 0:
        return pd.DataFrame(columns=list(FUNNEL_COLUMNS))
    flags = stats.funnel_flags(num, den, overdispersion="phi")
    words = {stats.FUNNEL_OUTSIDE: "outside", stats.FUNNEL_BETWEEN: "between_95_998",
             stats.FUNNEL_INSIDE: "within"}
    out = pd.DataFrame({
        "force": list(forces), "numerator": num, "denominator": den,
        "value": flags["proportion"].to_numpy(float), "target": float(flags.attrs["target"]),
        "lower_95": flags["inner_lower"].to_numpy(float),
        "upper_95": flags["inner_upper"].to_numpy(float),
        "lower_998": flags["outer_lower"].to_numpy(float),
        "upper_998": flags["outer_upper"].to_numpy(float),
        "phi": float(flags.attrs["phi"]), "tau2": float(flags.attrs["tau2"]),
        "adjusted": bool(flags.attrs["overdispersion_used"]),
        "position": [words.get(p, "within") for p in flags["position"]],
    })
    return out.sort_values(["denominator", "force"], kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------- before/after

BEFORE_AFTER_MONTHS = 12
BEFORE_AFTER_COLUMNS: tuple[str, ...] = (
    "kpi_id", "force", "split_month", "before_start", "before_end", "after_start", "after_end",
    "value_before", "value_after", "change", "comparison_forces", "comparison_before",
    "comparison_after", "comparison_change", "estimate", "ci_low", "ci_high", "p_value",
    "q_value", "method", "verdict",
)


def before_after(dataset: Dataset, force: str, *, at: str | pd.Period | None = None,
                 months: int = BEFORE_AFTER_MONTHS, scope: str = "all",
                 audience: str = "internal", kpi_ids: list[str] | None = None
                 ) -> pd.DataFrame:
    """Before/after the force's Soteria adoption, as a difference in differences.

    The split month is the force's adoption month (or ``at``, e.g. a placebo date). Before:
    the ``months`` months up to the split; after: the ``months`` months from it. The
    comparison group is every other force that had not adopted by the end of the after
    period (no adoption date, or one after it), pooled. For each proportion KPI (cases,
    outcomes, answers; not censuses) with both of the force's windows ``ok``:

    - with a comparison group (both its windows with cases): ``estimate`` = (p_after −
      p_before) − (pc_after − pc_before), normal-approximation 95% interval and two-sided
      p-value (:func:`metrics.stats.difference_in_differences`); ``method`` =
      ``difference_in_differences``;
    - without one: ``estimate`` = the uncontrolled change p_after − p_before (Newcombe
      interval, pooled z-test p-value), ``method`` = ``uncontrolled``,
      ``verdict`` = ``no_comparison_group`` whatever its size.

    ``q_value``: Benjamini–Hochberg across the KPIs compared (controlled estimates only).
    ``verdict``: ``likely_real`` when q ≤ 0.05, else ``no_clear_change``;
    ``insufficient`` when a window of the force is not ``ok``. Returns
    ``BEFORE_AFTER_COLUMNS`` (fractions; ``comparison_forces`` a "; "-joined string).
    Raises ValueError when the force has no adoption date and no ``at``.
    """
    adoption = adoption_months(dataset)
    split = _period(at) if at is not None else adoption.get(force)
    if split is None:
        raise ValueError(f"{force} has no Soteria adoption date: give a split month")
    b0, b1 = split - months, split - 1
    a0, a1 = split, split + (months - 1)
    from metrics.kpis import ALL_FORCES

    kpis = {k: v for k, v in _kpis(dataset, kpi_ids).items()
            if change_test(v) == "two_proportion_z"}
    ids = list(kpis)
    before = kpi_table(dataset, b0, b1, kpi_ids=ids, scope=scope, audience=audience)
    after = kpi_table(dataset, a0, a1, kpi_ids=ids, scope=scope, audience=audience)
    names = [f for f in before["force"].unique() if f not in (ALL_FORCES, force)]
    comparison = sorted(f for f in names if f not in adoption or adoption[f] > a1)

    def cell(table: pd.DataFrame, kid: str, forces: list[str]) -> tuple[float, float, bool]:
        rows = table[(table["kpi_id"] == kid) & table["force"].isin(forces)]
        x = float(np.nansum(_floats(rows["numerator"])))
        n = float(np.nansum(_floats(rows["denominator"])))
        ok = bool(len(rows)) and bool((rows["status"].astype(object) == "ok").all())
        return x, n, ok

    rows = []
    for kid in ids:
        xb, nb, okb = cell(before, kid, [force])
        xa, na, oka = cell(after, kid, [force])
        xcb, ncb, _ = cell(before, kid, comparison)
        xca, nca, _ = cell(after, kid, comparison)
        pb = xb / nb if nb > 0 else math.nan
        pa = xa / na if na > 0 else math.nan
        pcb = xcb / ncb if ncb > 0 else math.nan
        pca = xca / nca if nca > 0 else math.nan
        base = {"kpi_id": kid, "force": force, "split_month": split.start_time.normalize(),
                "before_start": b0.start_time.normalize(), "before_end": b1.end_time.normalize(),
                "after_start": a0.start_time.normalize(), "after_end": a1.end_time.normalize(),
                "value_before": pb, "value_after": pa, "change": pa - pb,
                "comparison_forces": "; ".join(comparison), "comparison_before": pcb,
                "comparison_after": pca, "comparison_change": pca - pcb}
        if not (okb and oka):
            rows.append({**base, "estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                         "p_value": math.nan, "method": "none", "verdict": "insufficient"})
        elif comparison and ncb > 0 and nca > 0:
            d = stats.difference_in_differences(xb, nb, xa, na, xcb, ncb, xca, nca)
            rows.append({**base, "estimate": d["did"], "ci_low": d["low"], "ci_high": d["high"],
                         "p_value": d["p_value"], "method": "difference_in_differences",
                         "verdict": None})
        else:
            d0, low, high = stats.newcombe_vec(np.array([xa]), np.array([na]), np.array([xb]),
                                               np.array([nb]))
            pv = float(stats.two_proportion_z_vec(np.array([xa]), np.array([na]),
                                                  np.array([xb]), np.array([nb]))[0])
            rows.append({**base, "estimate": float(d0[0]), "ci_low": float(low[0]),
                         "ci_high": float(high[0]), "p_value": pv, "method": "uncontrolled",
                         "verdict": "no_comparison_group"})
    out = pd.DataFrame(rows, columns=[c for c in BEFORE_AFTER_COLUMNS if c != "q_value"])
    controlled = (out["method"] == "difference_in_differences").to_numpy()
    q = np.full(len(out), np.nan)
    if controlled.any():
        q[controlled] = stats.benjamini_hochberg(out["p_value"].to_numpy(float)[controlled])[0]
    out["q_value"] = q
    pending = out["verdict"].isna().to_numpy()
    out.loc[pending, "verdict"] = np.where(q[pending] <= ALPHA, "likely_real", "no_clear_change")
    return out[list(BEFORE_AFTER_COLUMNS)]
