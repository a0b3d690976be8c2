"""Small helpers the pages share: pickers bound to the view, SPC frames, download tables.

Pages stay thin: they arrange what these return. Numbers come from the engine
(``metrics.kpis``) and ``metrics.stats``; nothing here computes a KPI.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from metrics import stats
from metrics.registry import KPI, PILLARS
from present.format import POINT_TYPE_LABELS, format_interval, format_value, gate_text
from ui import shell
from ui.tiles import escape_md

W_PILLAR, W_KPI = "fd_pillar", "fd_kpi"


def _on_pillar() -> None:
    shell.set_view(pillar=st.session_state[W_PILLAR], kpi=None)


def _on_kpi() -> None:
    shell.set_view(kpi=st.session_state[W_KPI])


def kpi_picker(ctx: shell.PageContext, kpis: Sequence[KPI], *, with_pillar: bool = True,
               default: str | None = None) -> KPI:
    """A pillar and KPI picker bound to the view (URL ``pillar`` and ``kpi``)."""
    by_id = {k.id: k for k in kpis}
    chosen = by_id.get(ctx.view.kpi or "") or by_id.get(default or "") or kpis[0]
    if with_pillar:
        pillars = sorted({k.pillar for k in kpis})
        pillar = ctx.view.pillar if ctx.view.pillar in pillars else chosen.pillar
        if chosen.pillar != pillar:
            chosen = next(k for k in kpis if k.pillar == pillar)
        shell._sync_widget(W_PILLAR, pillar)
        col1, col2 = st.columns([1, 1])
        col1.selectbox("Pillar", pillars, key=W_PILLAR, on_change=_on_pillar,
                       format_func=lambda p: f"{p} · {PILLARS[p]}")
        options = [k.id for k in kpis if k.pillar == pillar]
        target = col2
    else:
        options = list(by_id)
        target = st
    shell._sync_widget(W_KPI, chosen.id)
    target.selectbox("KPI", options, key=W_KPI, on_change=_on_kpi,
                     format_func=lambda i: by_id[i].name)
    return chosen


def spc_frame(monthly: pd.DataFrame, kpi: KPI, adoption: pd.Period | None) -> pd.DataFrame:
    """The XmR chart frame for one KPI and force: ``metrics.stats.xmr`` over the ``ok`` months
    (others enter as gaps), rebased at the adoption month. Columns: month, value, centre,
    upper, lower, point_type (+ ``attrs`` from xmr)."""
    series = monthly.sort_values("window_start")
    months = pd.PeriodIndex(pd.to_datetime(series["window_start"]), freq="M")
    values = pd.Series(series["value"].where(series["status"].eq("ok")).to_numpy(dtype=float),
                       index=months)
    rebase = adoption if adoption is not None and months.min() < adoption <= months.max() \
        else None
    chart = stats.xmr(values, improvement=kpi.improvement, rebase=rebase)
    out = chart.reset_index(names="month")
    out.attrs = chart.attrs
    return out


def value_text(row: pd.Series, kpi: KPI) -> str:
    """A KPI-table row's value for a table cell: the value, the gate, or why it is missing."""
    status = row.get("status")
    if status == "ok":
        return format_value(row.get("value"), kpi.unit)
    if status == "insufficient":
        return gate_text(row.get("n"), kpi.min_n)
    if status == "suppressed":
        return "* (suppressed)"
    return "no data"


def display_table(table: pd.DataFrame, kpis: dict[str, KPI], label_col: str) -> pd.DataFrame:
    """A KPI table as the screen shows it: label, value (or gate), 95% interval, n, status."""
    rows = []
    for _, row in table.iterrows():
        kpi = kpis[row["kpi_id"]]
        rows.append({
            label_col: row[label_col] if label_col in row else kpi.name,
            "value": value_text(row, kpi),
            "95% interval": format_interval(row.get("ci_low"), row.get("ci_high"), kpi.unit)
            .removeprefix("95% CI "),
            "numerator": row.get("numerator"),
            "denominator": row.get("denominator"),
            "n": row.get("n"),
            "status": row.get("status"),
        })
    return pd.DataFrame(rows)


def verdict_words(chart: pd.DataFrame) -> str:
    """One sentence on an SPC chart: its last point's verdict and whether limits are final."""
    variation = chart.attrs.get("variation")
    label = POINT_TYPE_LABELS.get(variation or "", "no verdict (too few months)")
    words = f"Latest month: {label.lower()}."
    if chart.attrs.get("provisional"):
        words += " Limits are provisional: fewer than 12 months set them."
    return words


def downloads(ctx: shell.PageContext, table: pd.DataFrame, name: str) -> None:
    """CSV and Excel downloads of a table (``ui.downloads`` when it is available)."""
    try:
        from ui import downloads as dl
    except ImportError:
        return
    render = getattr(dl, "download_buttons", None) or getattr(dl, "table_downloads", None)
    if render is None:
        return
    try:
        render(table, name=name, access=ctx.access)
    except TypeError:
        render(table, name)


def safe(text: object) -> str:
    """Text from the data, escaped for Markdown."""
    return escape_md(text)


def boardpack(ctx: shell.PageContext, force: str) -> None:
    """The board pack button for this view (``ui.downloads.boardpack_button``), if present."""
    try:
        from ui.downloads import boardpack_button
    except ImportError:
        return
    audience = "panel" if ctx.is_panel else "internal"
    boardpack_button(ctx.dataset, force, ctx.start, ctx.end, audience,
                     comparison=ctx.view.compare, access=ctx.access)


def share_link(ctx: shell.PageContext) -> None:
    """The "Create panel link" widget for internal users (``ui.access.share_link_panel``)."""
    try:
        from ui.access import share_link_panel
    except ImportError:
        return
    share_link_panel(ctx.access, {"force": ctx.view.force, "from": str(ctx.start),
                                  "to": str(ctx.end), "page": ctx.page_id})


def group_label(value: object) -> str:
    """A category code as words for a chart or table: ``sexual_assault`` -> ``Sexual assault``."""
    text = str(value).replace("_", " ").strip()
    return text[:1].upper() + text[1:]
