"""Compare forces: a funnel plot for a proportion KPI, the chosen force highlighted, with a
labelled table beside it."""

from __future__ import annotations

import streamlit as st

from present import export, funnel, page_charts
from ui import data as ui_data
from ui import shell, views
from ui.tiles import escape_md

ctx = shell.page_setup("compare_forces")
st.header("Compare forces", anchor=False)
as_at = ctx.as_at.strftime("%d %B %Y") if ctx.as_at else "unknown"
st.caption(f"**{escape_md(ctx.window_text)}** · data as at **{as_at}** · forces against the "
           "all-forces rate")
proportions = [k for k in ctx.kpis if k.is_proportion and getattr(k, "interval", "") != "none"]
kpi = views.kpi_picker(ctx, proportions, with_pillar=False, default="charge_rate")
st.caption(escape_md(kpi.definition))
wide = ctx.force_wide_note([kpi])
if wide:
    st.caption(wide)

with st.spinner("Computing the funnel…"):
    try:
        placed = ui_data.funnel_table(ctx.loaded, kpi.id, ctx.start, ctx.end, scope=ctx.scope)
    except ValueError:  # not a proportion of cases, outcomes or answers
        placed = None
    result = funnel.funnel_from_verdicts(placed) if placed is not None else None

too_few = funnel.too_few_forces_text(list(ctx.choices.forces) if ctx.choices else [])
if result is None and too_few:
    st.info(escape_md(too_few))
    st.stop()
if result is None:
    st.info(f"Fewer than three forces have enough cases for {escape_md(kpi.name.lower())} in "
            f"{escape_md(ctx.window_text)} (at least {kpi.min_n} each), so there is no funnel "
            "plot. A longer window gives more forces enough cases.")
    st.stop()

chosen = ctx.view.force if ctx.view.force in set(result.points["force"]) else None
if ctx.view.force != shell.ALL_FORCES and chosen is None:
    st.caption(f"{escape_md(ctx.view.force)} has too few cases for this KPI in the window to "
               "be placed on the funnel.")
left, right = st.columns([11, 9], gap="medium")
with left:
    st.plotly_chart(
        page_charts.funnel_chart(result.points, result.limits, target=result.target,
                                 highlight=chosen,
                                 title=f"{kpi.name}: forces against the all-forces rate"),
        width="stretch", config={"displaylogo": False},
    )
with right:
    shown = result.table  # downloaded as it is: fractions, numerators and limits
    screen = shown.assign(value=shown["value"] * 100)
    st.dataframe(
        screen.style.apply(lambda row: ["font-weight: bold; background-color: #fff3cd"
                                       if row["force"] == chosen else "" for _ in row], axis=1),
        hide_index=True, width="stretch", column_config={
            "force": st.column_config.TextColumn("force"),
            "numerator": None,  # in the download, with the limits
            "denominator": st.column_config.NumberColumn("n", format="%d"),
            "value": st.column_config.NumberColumn("value", format="%.1f%%"),
            "lower 95%": None, "upper 95%": None, "lower 99.8%": None, "upper 99.8%": None,
            "position": st.column_config.TextColumn("position"),
        })
    # the download: numerators, denominators, rates and both limits per force (fractions)
    views.downloads(ctx, export.funnel_download(placed, kpi.id), f"{kpi.id}_funnel",
                    kpi=kpi.id)
    st.caption("Labels on the chart: the chosen force and forces outside or near the limits, "
               "where they fit; hover over a point for any force. The downloads add each "
               "force's numerator and its 95% and 99.8% limits.")
st.caption(
    "Each force is plotted at its denominator; the funnel narrows as the denominator grows "
    "because larger numbers wobble less. A force is **flagged only outside the 99.8% "
    "limits**; between 95% and 99.8% it is worth a look. This is not a league table: "
    "forces inside the funnel are not distinguishable from the all-forces rate. Only forces "
    f"with at least {kpi.min_n} cases in the window take part."
)
if result.overdispersed:
    st.warning(
        f"The forces vary more than chance alone allows (dispersion ratio "
        f"{result.phi:.1f}), so the limits are widened for overdispersion (random effects "
        "on winsorised z-scores, Spiegelhalter 2005)."
    )
