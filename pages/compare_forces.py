"""Compare forces: a funnel plot for a proportion KPI, with the table beside it."""

from __future__ import annotations

import streamlit as st

from present import charts, funnel
from ui import shell, views

ctx = shell.page_setup("compare_forces")
st.header("Compare forces", anchor=False)
proportions = [k for k in ctx.kpis if k.is_proportion]
kpi = views.kpi_picker(ctx, proportions, with_pillar=False, default="charge_rate")
st.caption(f"{kpi.definition} Window: {ctx.window_text}.")

with st.spinner("Computing the funnel…"):
    table = ctx.kpi_table(ctx.start, ctx.end, kpi_ids=[kpi.id])
    result = funnel.funnel(table)

if result is None:
    st.info("Too few forces have data for this KPI in the window to draw a funnel plot.")
    st.stop()

left, right = st.columns([5, 4], gap="medium")
with left:
    st.plotly_chart(
        charts.funnel_chart(result.points, result.limits, target=result.target,
                            title=f"{kpi.name}: forces against the all-forces rate"),
        width="stretch", config={"displaylogo": False},
    )
with right:
    st.dataframe(result.table, hide_index=True, width="stretch", column_config={
        "value": st.column_config.TextColumn(width="small"),
        "denominator": st.column_config.NumberColumn("n", width="small"),
    })
    views.downloads(ctx, result.table, f"{kpi.id}_funnel")
st.caption(
    "Each force is plotted at its denominator; the funnel narrows as the denominator grows "
    "because larger numbers wobble less. A force is **flagged only outside the 99.8% "
    "limits**; between 95% and 99.8% it is worth a look. This is not a league table: "
    "forces inside the funnel are not distinguishable from the all-forces rate."
)
if result.overdispersed:
    st.warning(
        f"The forces vary more than chance alone allows (dispersion ratio "
        f"{result.phi:.1f}), so the limits are widened for overdispersion (random effects "
        "on winsorised z-scores, Spiegelhalter 2005)."
    )
