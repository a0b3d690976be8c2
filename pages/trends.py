"""Trends: the monthly SPC chart of one KPI for the chosen force, its before/after adoption
panel for every proportion KPI, its breakdowns and its commentary history."""

from __future__ import annotations

import streamlit as st

from metrics.breakdowns import BREAKDOWN_KPIS, DIMENSIONS, disclose_breakdown
from present import charts
from ui import data as ui_data
from ui import shell, views
from ui.tiles import escape_md

ctx = shell.page_setup("trends")
force = ctx.view.force
st.header(f"Trends: {escape_md(force)}", anchor=False)
as_at = ctx.as_at.strftime("%d %B %Y") if ctx.as_at else "unknown"
st.caption(f"**{escape_md(ctx.window_text)}** · data as at **{as_at}** · monthly SPC chart "
           "ending with the window's last month")
left, right = st.columns([3, 1])
with left:
    kpi = views.kpi_picker(ctx, ctx.kpis, default="charge_rate")
with right:
    first, span_words = views.span_picker(ctx)
st.caption(escape_md(kpi.definition))
wide = ctx.force_wide_note([kpi])
if wide:
    st.caption(wide)

adoption = ui_data.adoption_month(ctx.dataset, force)
with st.spinner("Computing the monthly series…"):
    views.trend_section(ctx, kpi, force, first, adoption, span_words)

views.before_after_section(ctx, force, adoption)

st.subheader(f"Breakdowns, {escape_md(ctx.window_text)}", anchor=False)


@st.fragment
def breakdown_section() -> None:
    """One breakdown at a time; changing the dimension reruns only this fragment."""
    dimension = st.segmented_control("Break down by", list(DIMENSIONS),
                                     format_func=DIMENSIONS.__getitem__,
                                     default="offence_group", key="fd_breakdown")
    dimension = dimension or "offence_group"
    with st.spinner("Computing the breakdown…"):
        raw = ui_data.breakdown_table(ctx.loaded, ctx.start, ctx.end, dimension, force,
                                      kpi_ids=[kpi.id], scope=ctx.scope)
    table = disclose_breakdown(raw, {kpi.id: kpi}) if ctx.is_panel else raw
    if table.empty:
        st.write("No cases recorded in this window.")
        return
    table = table.reset_index(drop=True)
    rounded = (shell.rounding_changed(  # the undisclosed row of each group, in table order
        raw.set_index("group").loc[table["group"]].reset_index(), table, [kpi])
               if ctx.is_panel else None)
    table = table.assign(group=table["group"].map(views.group_label))
    if not table["status"].eq("ok").any():
        st.write("No group has enough cases in this window to show a value, so there is no "
                 "chart; the table gives each group's count.")
        st.dataframe(views.display_table(table, {kpi.id: kpi}, "group"), hide_index=True,
                     width="stretch")
        return
    left, right = st.columns([3, 2])
    left.plotly_chart(charts.breakdown_chart(table, unit=kpi.unit), width="stretch",
                      config={"displaylogo": False})
    shown = views.display_table(table, {kpi.id: kpi}, "group", rounded)
    right.dataframe(shown, hide_index=True, width="stretch")
    if rounded is not None and any(rounded):
        right.caption(shell.ROUNDED_FOOTNOTE)
    with right:
        columns = [c for c in ("kpi_id", "dimension", "group", "value", "ci_low", "ci_high",
                               "numerator", "denominator", "n", "status") if c in table]
        views.downloads(ctx, table[columns], f"{kpi.id}_by_{dimension}", kpi=kpi.id)


if kpi.id not in BREAKDOWN_KPIS:
    st.info("This KPI is not broken down by case fields: it comes from another table, or a "
            "case's group would change its meaning (repeat suspects, caseloads).")
else:
    breakdown_section()

views.commentary_history(ctx, force, kpi)
