"""Victim voice: every survey item with its gate, interval, trend and before/after adoption."""

from __future__ import annotations

import streamlit as st

from present import charts
from ui import data as ui_data
from ui import shell, survey
from ui.tiles import escape_md

ctx = shell.page_setup("victim_voice")
force = ctx.view.force
st.header(f"Victim voice: {escape_md(force)}", anchor=False)
st.markdown(
    "What victims told us in the survey, item by item. **The gate:** a result is shown only "
    "once at least 30 victims in the force area have answered the item in the window; below "
    "that it says how many have answered (for example *n = 17 of 30 needed*), because a "
    "share of a handful of replies can swing by chance alone. The interval is the 95% "
    "Wilson interval: the true share is very likely inside it."
)
items = [k for k in ctx.kpis if k.source == "survey_responses"]
if not items:
    st.info("This export has no survey items.")
    st.stop()

adoption = ui_data.adoption_month(ctx.dataset, force)
with st.spinner("Computing survey results…"):
    table = survey.item_table(ctx, force, items)
    trend = survey.quarterly_trend(ctx, force, items)
    before_after = survey.before_after_table(ctx, force, items, adoption)

st.subheader(f"{ctx.window_text}", anchor=False)
st.dataframe(table, hide_index=True, width="stretch")

st.subheader("Trend by quarter", anchor=False)
st.caption("Each point is one quarter; quarters below the gate are left as gaps.")
if trend["value"].notna().any():
    st.plotly_chart(charts.survey_trend_chart(trend), width="stretch",
                    config={"displaylogo": False})
else:
    st.info("Every quarter is below the 30-answer gate for this force, so no quarterly trend "
            "can be shown. Choose All forces or a larger force.")

st.subheader("Before and after Soteria", anchor=False)
if adoption is None:
    st.info("Choose a force with an adoption date to compare before and after adoption.")
else:
    st.caption(
        f"Up to {survey.BEFORE_AFTER_MONTHS} months before {adoption.strftime('%B %Y')} "
        f"against up to {survey.BEFORE_AFTER_MONTHS} months from it. "
        "Difference with its 95% Newcombe interval; each side needs 30 answers. With several "
        "items tested at once, p-values are adjusted for the false discovery rate "
        "(Benjamini–Hochberg); 'likely real' means an adjusted p below 0.05."
    )
    if before_after.empty:
        st.info("The export does not cover both sides of the adoption date.")
    else:
        st.dataframe(before_after, hide_index=True, width="stretch")
