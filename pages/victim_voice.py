"""Victim voice: every survey item with its gate, interval, tested change, trend and
before/after adoption."""

from __future__ import annotations

import streamlit as st

from metrics.disclosure import FOOTNOTE as SUPPRESSED_FOOTNOTE
from present import charts
from ui import data as ui_data
from ui import shell, survey, views
from ui.tiles import escape_md

ctx = shell.page_setup("victim_voice")
force = ctx.view.force
locked = ctx.is_panel
st.header(f"Victim voice: {escape_md(force)}", anchor=False)
as_at = ctx.as_at.strftime("%d %B %Y") if ctx.as_at else "unknown"
st.caption(f"**{escape_md(ctx.window_text)}**, changes against the "
           f"{escape_md(ctx.compare_phrase)} · data as at **{as_at}**")
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
wide = ctx.force_wide_note(items)
if wide:
    st.caption(wide)

adoption = ui_data.adoption_month(ctx.dataset, force)
with st.spinner("Computing survey results…"):
    tiles = survey.deck_tiles(ctx, force, items)
    table = survey.item_table(ctx, force, items, tiles)
    trend = survey.quarterly_trend(ctx, force, items)

st.subheader(f"{escape_md(ctx.window_text)}", anchor=False)
st.dataframe(table, hide_index=True, width="stretch")
reasons = survey.chart_reasons(items, tiles)
if reasons:
    st.markdown("Where the flight deck's verdict comes from the item's monthly chart:\n\n"
                + reasons)
notes = ["Change: the two windows compared with a two-proportion test; with many measures "
         "tested at once, p-values are adjusted for the false discovery rate "
         "(Benjamini–Hochberg), and only an adjusted p of 0.05 or less is called likely real. "
         "Flight deck verdict: the one verdict the flight deck shows for the item, which also "
         "reads its monthly SPC chart (the chart's evidence is listed under the table when it "
         "speaks)."]
if survey.any_rounded(table):
    notes.append(shell.ROUNDED_FOOTNOTE)
if ctx.is_panel and table.astype(str).apply(lambda c: c.str.contains(r"\*")).any().any():
    notes.append(SUPPRESSED_FOOTNOTE)
for note in notes:
    st.caption(escape_md(note))

st.subheader("Trend by quarter", anchor=False)
quarters_shown = trend.loc[trend["value"].notna(), "quarter"].nunique()
if quarters_shown >= survey.MIN_TREND_QUARTERS:
    st.caption("Each point is one quarter; quarters below the gate are left as gaps.")
    st.plotly_chart(charts.survey_trend_chart(trend), width="stretch",
                    config={"displaylogo": False})
elif trend.empty:
    st.write("No quarter of survey answers lies within this view.")
else:
    others = ctx.choices is not None and len(ctx.choices.forces) > 1
    advice = ("" if locked or force == shell.ALL_FORCES or not others else
              " Choose All forces or a larger force to see a trend.")
    asked = len(trend["quarter"].unique())
    quarters = "quarter reaches" if asked == 1 else "quarters reach"
    st.write(f"Only {quarters_shown} of the last {asked} {quarters} the 30-answer gate for "
             f"this force (at least {survey.MIN_TREND_QUARTERS} are needed for a trend), so "
             f"there is no quarterly chart.{advice}")

st.subheader("Before and after Soteria", anchor=False)
why = views.before_after_unavailable(ctx, force, adoption)
if why or adoption is None:
    st.write(why)
else:
    before_after = survey.before_after_table(ctx, force, items)
    months = views.BEFORE_AFTER_MONTHS
    st.caption(
        f"{months} months before {adoption.strftime('%B %Y')} against {months} months from "
        "it, as a difference in differences: this force's change minus the change in forces "
        "that had not yet adopted Soteria. Each side needs 30 answers; p-values are adjusted "
        "across items (Benjamini–Hochberg); 'likely real' means an adjusted p of 0.05 or less."
    )
    if before_after.empty:
        st.write("The export does not cover both sides of the adoption date.")
    else:
        st.dataframe(before_after, hide_index=True, width="stretch")
