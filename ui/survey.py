"""Victim-voice tables: survey items per window, by quarter, and before/after adoption.

Values come from the engine (``compute_kpis`` survey KPIs, with the 30-answer gate); the
before/after difference from ``metrics.stats.proportion_change`` on the engine's counts,
with ``metrics.stats.benjamini_hochberg`` across items.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from metrics import stats
from metrics.registry import KPI
from present.format import format_interval, format_value
from ui.views import value_text

TREND_QUARTERS = 12
BEFORE_AFTER_MONTHS = 24


def item_table(ctx, force: str, items: Sequence[KPI]) -> pd.DataFrame:
    """Each survey item in the view's window: value or gate, interval, answers, change."""
    ids = [k.id for k in items]
    now = ctx.kpi_table(ctx.start, ctx.end, forces=[force], kpi_ids=ids).set_index("kpi_id")
    prev = ctx.kpi_table(ctx.cmp_start, ctx.cmp_end, forces=[force], kpi_ids=ids)
    prev = prev.set_index("kpi_id")
    rows = []
    for kpi in items:
        row = now.loc[kpi.id]
        before = prev.loc[kpi.id] if kpi.id in prev.index else None
        change = ""
        if row["status"] == "ok" and before is not None and before["status"] == "ok":
            change = f"{(row['value'] - before['value']) * 100:+.1f} pts"
        rows.append({
            "item": kpi.name.removeprefix("Survey: ").capitalize(),
            "agree": value_text(row, kpi),
            "95% interval": format_interval(row["ci_low"], row["ci_high"], kpi.unit)
            .removeprefix("95% CI "),
            "answers": _int(row["n"]),
            "gate": f"{kpi.min_n} answers",
            f"change vs {ctx.compare_text.split(' (')[0]}": change,
        })
    return pd.DataFrame(rows)


def _int(value: object) -> object:
    try:
        return None if value is None or math.isnan(float(value)) else int(value)
    except (TypeError, ValueError):
        return value


def quarterly_trend(ctx, force: str, items: Sequence[KPI]) -> pd.DataFrame:
    """Each item by quarter (three-month windows ending at the view's end), gated."""
    ids = [k.id for k in items]
    names = {k.id: k.name.removeprefix("Survey: ").capitalize() for k in items}
    frames = []
    for i in range(TREND_QUARTERS - 1, -1, -1):
        end = ctx.end - 3 * i
        start = end - 2
        if start < ctx.choices.first_month:
            continue
        table = ctx.kpi_table(start, end, forces=[force], kpi_ids=ids)
        frames.append(table.assign(quarter=str(start), item=table["kpi_id"].map(names)))
    if not frames:
        return pd.DataFrame(columns=["quarter", "item", "value", "status", "n"])
    out = pd.concat(frames, ignore_index=True)
    out["value"] = out["value"].where(out["status"].eq("ok"))
    return out[["quarter", "item", "value", "status", "n"]]


def before_after_table(ctx, force: str, items: Sequence[KPI],
                       adoption: pd.Period | None) -> pd.DataFrame:
    """Per item: 24 months before adoption against 24 months from it (gate 30 each side)."""
    if adoption is None:
        return pd.DataFrame()
    ids = [k.id for k in items]
    months = BEFORE_AFTER_MONTHS
    first = max(adoption - months, ctx.choices.first_month)
    last = min(adoption + (months - 1), ctx.choices.last_month)
    if first >= adoption or last < adoption:
        return pd.DataFrame()
    before = ctx.kpi_table(first, adoption - 1, forces=[force], kpi_ids=ids)
    after = ctx.kpi_table(adoption, last, forces=[force], kpi_ids=ids)
    before, after = before.set_index("kpi_id"), after.set_index("kpi_id")
    results = []
    for kpi in items:
        b, a = before.loc[kpi.id], after.loc[kpi.id]
        results.append(stats.proportion_change(
            _num(b["numerator"]), _num(b["denominator"]), _num(a["numerator"]),
            _num(a["denominator"]), min_n=kpi.min_n,
        ))
    adjusted, reject = stats.benjamini_hochberg([r["p_value"] for r in results])
    rows = []
    for kpi, r, q, real in zip(items, results, adjusted, reject, strict=True):
        ok = r["status"] == "ok"
        rows.append({
            "item": kpi.name.removeprefix("Survey: ").capitalize(),
            "before": format_value(r["before"], "proportion") if ok else
            f"n = {int(r['n_before'])} of {kpi.min_n} needed",
            "after": format_value(r["after"], "proportion") if ok else
            f"n = {int(r['n_after'])} of {kpi.min_n} needed",
            "difference": f"{r['diff'] * 100:+.1f} pts" if ok else "",
            "95% interval": f"{r['low'] * 100:+.1f} to {r['high'] * 100:+.1f} pts" if ok else "",
            "adjusted p": "" if math.isnan(q) else f"{q:.3f}",
            "verdict": ("likely real" if real else "could be chance") if ok else "too few answers",
        })
    return pd.DataFrame(rows)


def _num(value: object) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(v) else v
