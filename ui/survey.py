"""Victim-voice tables: survey items per window, by quarter, and before/after adoption.

Values come from the engine (``compute_kpis`` survey KPIs, with the 30-answer gate) through
the page context (disclosure control for a panel). Tested changes against the comparison
window come from ``metrics.verdicts.compute_changes`` (two-proportion z, Newcombe interval,
Benjamini–Hochberg across the force's KPIs) and before/after from
``metrics.verdicts.before_after`` (difference in differences against forces not yet
adopting).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from metrics.registry import KPI
from present.format import format_interval, format_value
from present.tiles import Tile
from ui import data as ui_data
from ui.shell import ROUNDED_MARK, PageContext
from ui.tiles import escape_md
from ui.views import value_text

TREND_QUARTERS = 12
#: Fewest quarters with a result (any item) that make a trend worth drawing.
MIN_TREND_QUARTERS = 3
CHANGE_WORDS = {
    "better": "better (likely real)", "worse": "worse (likely real)",
    "higher": "higher (likely real)", "lower": "lower (likely real)",
    "no_clear_change": "no clear change", "not_comparable": "not comparable",
    "not_tested": "not tested",
}
BEFORE_AFTER_WORDS = {
    "likely_real": "likely real", "no_clear_change": "could be chance",
    "insufficient": "too few answers", "no_comparison_group": "no comparison group",
}


def item_name(kpi: KPI) -> str:
    """A survey KPI's item in words: ``Survey: felt believed`` -> ``Felt believed``."""
    return kpi.name.removeprefix("Survey: ").capitalize()


def item_table(ctx: PageContext, force: str, items: Sequence[KPI], tiles: dict[str, Tile]
               ) -> pd.DataFrame:
    """Each survey item in the view's window: the share agreeing (or its gate), the 95%
    interval, answers, the comparison window's share, the difference in points, the tested
    change in words (``metrics.verdicts.compute_changes``, BH-adjusted q) and the verdict the
    flight deck shows for it (``tiles``, from :func:`deck_tiles`; the chart's evidence behind
    it is said below the table, :func:`chart_reasons`, where a cell would cut it off).

    For a panel, a share that disclosure rounding changed carries
    :data:`ui.shell.ROUNDED_MARK` (the page adds the footnote)."""
    ids = [k.id for k in items]
    now = ctx.kpi_table(ctx.start, ctx.end, forces=[force], kpi_ids=ids, mark_rounding=True)
    now = now.set_index("kpi_id")
    prev = ctx.kpi_table(ctx.cmp_start, ctx.cmp_end, forces=[force], kpi_ids=ids,
                         mark_rounding=True).set_index("kpi_id")
    tested = ui_data.changes(ctx.loaded, ctx.start, ctx.end, compare=ctx.view.compare,
                             force=force, scope=ctx.scope,
                             audience="panel" if ctx.is_panel else "internal",
                             kpi_ids=ids).set_index("kpi_id")
    label = ctx.compare_text.split(" (")[0].lower()
    rows = []
    for kpi in items:
        row, before = now.loc[kpi.id], prev.loc[kpi.id] if kpi.id in prev.index else None
        change, verdict = "", "not tested"
        if kpi.id in tested.index:
            t = tested.loc[kpi.id]
            verdict = CHANGE_WORDS.get(str(t["verdict"]), str(t["verdict"]))
            if t["verdict"] not in ("not_comparable",) and _finite(t["difference"]):
                change = f"{float(t['difference']) * 100:+.1f} pts"
        rows.append({
            "item": item_name(kpi),
            "agree": _marked(value_text(row, kpi), row),
            "95% interval": format_interval(row["ci_low"], row["ci_high"], kpi.unit)
            .removeprefix("95% CI "),
            "answers": "*" if row["status"] == "suppressed" and not _finite(row["n"])
            else _int(row["n"]),
            f"{label}": _marked(value_text(before, kpi), before) if before is not None else "",
            "difference": change,
            "change": verdict,
            "flight deck verdict": tiles[kpi.id].verdict_text,
        })
    return pd.DataFrame(rows)


def deck_tiles(ctx: PageContext, force: str, items: Sequence[KPI]) -> dict[str, Tile]:
    """Each item's tile as the flight deck builds it, from the deck's own verdict frame
    (``ui.deck.view_verdicts``), by KPI id: its ``verdict_text`` ("✔ Improving") and, when
    its chart speaks, ``chart_text``. So a change the test calls chance never sits beside the
    deck's "Improving" without the reason."""
    from present.tiles import build_tile, rows_by_kpi
    from ui.deck import view_verdicts

    rows = rows_by_kpi(view_verdicts(ctx, force))
    return {kpi.id: build_tile(kpi, rows.get(kpi.id)) for kpi in items}


def chart_reasons(items: Sequence[KPI], tiles: dict[str, Tile]) -> str:
    """Markdown bullets under the item table, one per item whose flight deck verdict comes
    from its chart: "**Felt believed**: ✔ Improving (chart: 2 of the last 3 months close to
    the upper process limit)", from :func:`deck_tiles`; empty text when no chart speaks."""
    return "\n".join(
        f"- **{escape_md(item_name(kpi))}**: {escape_md(tiles[kpi.id].verdict_and_chart)}"
        for kpi in items if tiles[kpi.id].chart_text)


def _marked(text: str, row: pd.Series | None) -> str:
    if row is not None and bool(row.get("rounded", False)):
        return f"{text} {ROUNDED_MARK}"
    return text


def any_rounded(table: pd.DataFrame) -> bool:
    """True when a cell of an :func:`item_table` carries the rounding mark."""
    return bool(table.astype(str).apply(lambda col: col.str.endswith(ROUNDED_MARK)).any().any())


def _finite(value: object) -> bool:
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _int(value: object) -> object:
    try:
        return None if value is None or math.isnan(float(value)) else int(value)
    except (TypeError, ValueError):
        return value


def quarterly_trend(ctx: PageContext, force: str, items: Sequence[KPI]) -> pd.DataFrame:
    """Each item by quarter (three-month windows ending at the view's end), gated; only the
    quarters this session may see (a panel link's coverage). Columns quarter (``YYYY-MM`` of
    its first month), item, value (fraction or NaN), status, n."""
    ids = [k.id for k in items]
    names = {k.id: item_name(k) for k in items}
    frames = []
    for i in range(TREND_QUARTERS - 1, -1, -1):
        end = ctx.end - 3 * i
        start = end - 2
        if start < ctx.choices.first_month or not ctx.covers(start, end):
            continue
        table = ctx.kpi_table(start, end, forces=[force], kpi_ids=ids)
        frames.append(table.assign(quarter=str(start), item=table["kpi_id"].map(names)))
    if not frames:
        return pd.DataFrame(columns=["quarter", "item", "value", "status", "n"])
    out = pd.concat(frames, ignore_index=True)
    out["value"] = out["value"].where(out["status"].eq("ok"))
    return out[["quarter", "item", "value", "status", "n"]]


def before_after_table(ctx: PageContext, force: str, items: Sequence[KPI]) -> pd.DataFrame:
    """Per item: the 12 months before adoption against the 12 months from it, as a
    difference in differences against forces not yet adopting
    (``metrics.verdicts.before_after``)."""
    table = ui_data.before_after(ctx.loaded, force, scope=ctx.scope,
                                 audience="panel" if ctx.is_panel else "internal",
                                 kpi_ids=[k.id for k in items])
    return before_after_display(table, {k.id: k for k in items}, panel=ctx.is_panel)


def before_after_display(table: pd.DataFrame, kpis: dict[str, KPI], *, panel: bool = False
                         ) -> pd.DataFrame:
    """``metrics.verdicts.before_after`` rows as the screen shows them: before and after
    shares, the force's change, the comparison forces' change, the difference in
    differences with its 95% interval in one cell (points; "own change only" when there is no
    comparison group), the adjusted p and the verdict in words. ``panel=True`` leaves out the
    other forces' own change (a link shows one force; the estimate is what it needs)."""
    rows = []
    for r in table.itertuples(index=False):
        kpi = kpis.get(r.kpi_id)
        ok = r.verdict != "insufficient" and _finite(r.estimate)
        rows.append({
            "measure": item_name(kpi) if kpi is not None and kpi.source == "survey_responses"
            else (kpi.name if kpi is not None else r.kpi_id),
            "before": format_value(r.value_before, "proportion") if ok else "",
            "after": format_value(r.value_after, "proportion") if ok else "",
            "change": _pts(r.change) if ok else "",
            "other forces' change": _pts(r.comparison_change)
            if ok and r.method == "difference_in_differences" else "",
            "difference in differences (95% interval)":
            f"{_pts(r.estimate)} ({r.ci_low * 100:+.1f} to {r.ci_high * 100:+.1f})"
            if ok and r.method == "difference_in_differences" and _finite(r.ci_low) else
            (f"own change only ({r.ci_low * 100:+.1f} to {r.ci_high * 100:+.1f})"
             if ok and _finite(r.ci_low) else ""),
            "adjusted p": f"{r.q_value:.3f}" if ok and _finite(r.q_value) else "",
            "verdict": BEFORE_AFTER_WORDS.get(str(r.verdict), str(r.verdict)),
        })
    out = pd.DataFrame(rows)
    return out.drop(columns=["other forces' change"]) if panel and not out.empty else out


def _pts(value: object) -> str:
    return f"{float(value) * 100:+.1f} pts" if _finite(value) else ""
