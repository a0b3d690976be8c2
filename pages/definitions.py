"""Definitions and methods: generated from the KPI registry, and how to read the charts."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from present import definitions
from ui import shell

ctx = shell.page_setup("definitions")
st.header("Definitions and methods", anchor=False)
st.write("Every KPI on the flight deck, as declared once in the KPI catalogue "
         "(`metrics/catalogue/`, plus a force's own declarations in `FLIGHTDECK_KPIS`); the "
         "app, the command line and the board pack all read it.")
for heading, table in definitions.catalogue_markdown(ctx.kpis):
    st.subheader(heading, anchor=False)
    st.markdown(table, unsafe_allow_html=False)
st.caption("Maturity: a window's value can still move for this many days after it ends "
           "(e.g. a case recorded in the window can still be charged); until then it is shown "
           "as maturing, with the date it becomes final. Workforce ratios are censuses of the "
           "teams, not samples, so they carry no interval. Survey and workforce measures are "
           "force-wide and do not follow the case scope.")

st.subheader("How to read the flight deck", anchor=False)
st.markdown("""
- **Value and interval.** Each value is for the chosen window, in plain units. Proportions
  carry a 95% Wilson interval, medians a distribution-free 95% interval: the true value very
  likely lies inside it.
- **Gates.** A value based on fewer cases than the KPI's minimum n is not shown; the tile says
  how far it is from the gate, e.g. *n = 17 of 30 needed*. Survey items need 30 answers.
- **Change.** The difference from the comparison window (the previous window of the same
  length, or the same window a year earlier), in percentage points for proportions. It is
  called *better* or *worse* (by the KPI's direction) only when a test says it is unlikely to
  be chance: two-proportion z for proportions, an exact Poisson test for counts, Mood's median
  test for medians, with p-values adjusted across the force's KPIs (Benjamini–Hochberg,
  adjusted p of 0.05 or less). Workforce censuses are not tested.
- **SPC verdicts** (NHS *Making Data Count*, monthly, the 36 months ending with the window):
  proportions of cases, outcomes or answers on a Laney p′ chart (limits that allow for the
  changing monthly numbers), other measures on an XmR chart. Each segment's limits come from
  its first 24 months, and are rebased at the force's Soteria adoption month.
  ● *Common cause*: the month is within normal variation;
  ▲/◆ *Improvement* or *Concern*: a special cause (outside the process limits, a run of 7 on
  one side of the mean, a trend of 7, or 2 of 3 near a limit) in the better or worse
  direction; ■ *Unusually high/low* for measures where neither direction is better.
  Colours are colour-blind safe and every verdict is also written in words.
- **Maturing months.** A month (or window) whose value can still move, because its cases have
  not had the KPI's follow-up time yet, is drawn hollow (○): it sets no limits and gets no
  verdict until it is final.
- **Before and after Soteria.** The 12 months before the adoption month against the 12 months
  from it, as a *difference in differences*: the force's change minus the change over the
  same months in forces that had not yet adopted, so a change every force saw is not
  credited to Soteria.
- **Funnel plot.** Each force at its denominator against the all-forces rate (forces below
  the KPI's minimum n are left out). Only forces outside the 99.8% limits are flagged;
  between 95% and 99.8% they are worth a look. When forces vary more than chance allows
  (dispersion ratio above 1), the limits are widened for overdispersion.
- **Scrutiny panel links.** Counts from 1 to 7 are hidden (\\*), other counts are rounded to
  the nearest 5 and rates are worked out from the rounded counts; a figure that rounding
  changed is marked †.
""")

methods = Path(__file__).resolve().parents[1] / "docs" / "methods.md"
if methods.exists():
    with st.expander("Statistical methods in full (docs/methods.md)"):
        st.markdown(methods.read_text(encoding="utf-8"))
