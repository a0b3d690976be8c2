"""Trends: the monthly SPC chart of one KPI for the chosen force, and its breakdowns."""

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
kpi = views.kpi_picker(ctx, ctx.kpis, default="charge_rate")
st.caption(escape_md(kpi.definition))

adoption = ui_data.adoption_month(ctx.dataset, force)
with st.spinner("Computing the monthly series…"):
    monthly = ctx.kpi_table(ctx.choices.first_month, ctx.end, by="month", forces=[force],
                            kpi_ids=[kpi.id])
    chart = views.spc_frame(monthly, kpi, adoption)
st.plotly_chart(
    charts.spc_chart(chart, unit=kpi.unit, title=f"{kpi.name}, monthly", adoption=adoption),
    width="stretch", config={"displaylogo": False},
)
adopted = f"Soteria adopted {adoption.strftime('%B %Y')}; limits rebased there. " \
    if adoption is not None else "No adoption date for this selection (limits not rebased). "
st.caption(adopted + views.verdict_words(chart) + " Points: ● common cause, ▲ improvement, "
           "◆ concern, ■ unusual (neutral measures).")

st.subheader(f"Breakdowns, {ctx.window_text}", anchor=False)


@st.fragment
def breakdown_section() -> None:
    """One breakdown at a time; changing the dimension reruns only this fragment."""
    dimension = st.segmented_control("Break down by", list(DIMENSIONS),
                                     format_func=DIMENSIONS.__getitem__,
                                     default="offence_group", key="fd_breakdown")
    dimension = dimension or "offence_group"
    with st.spinner("Computing the breakdown…"):
        table = ui_data.breakdown_table(ctx.loaded, ctx.start, ctx.end, dimension, force,
                                        kpi_ids=[kpi.id])
    if ctx.is_panel:
        table = disclose_breakdown(table, {kpi.id: kpi})
    if table.empty:
        st.write("No cases recorded in this window.")
        return
    table = table.assign(group=table["group"].map(views.group_label))
    left, right = st.columns([3, 2])
    left.plotly_chart(charts.breakdown_chart(table, unit=kpi.unit), width="stretch",
                      config={"displaylogo": False})
    shown = views.display_table(table, {kpi.id: kpi}, "group")
    right.dataframe(shown, hide_index=True, width="stretch")
    with right:
        views.downloads(ctx, shown, f"{kpi.id}_by_{dimension}")


if kpi.id not in BREAKDOWN_KPIS:
    st.info("This KPI is not broken down by case fields: it comes from another table, or a "
            "case's group would change its meaning (repeat suspects, caseloads).")
else:
    breakdown_section()
