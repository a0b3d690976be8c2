"""Definitions and methods: generated from the KPI registry, and how to read the charts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from metrics.registry import PILLARS
from ui import shell

ctx = shell.page_setup("definitions")
st.header("Definitions and methods", anchor=False)
st.write("Every KPI on the flight deck, as declared once in the KPI registry "
         "(`metrics/registry.py`); the app, the command line and the board pack all read it.")

UNITS = {"proportion": "per cent", "days": "days (median)", "count": "count",
         "cases": "cases per investigator"}
BETTER = {"higher": "higher is better", "lower": "lower is better", "neutral": "neither"}
rows = [{
    "pillar": f"{k.pillar} · {PILLARS[k.pillar]}", "KPI": k.name,
    "definition": k.definition, "numerator": k.numerator, "denominator": k.denominator,
    "unit": UNITS.get(k.unit, k.unit), "direction": BETTER.get(k.better, k.better),
    "minimum n": k.min_n, "measured": "at window end" if k.stock else "over the window",
    "kind": k.kind, "id": k.id,
} for k in ctx.kpis]
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
             height=36 * len(rows) + 40,
             column_config={"definition": st.column_config.TextColumn(width="large"),
                            "pillar": st.column_config.TextColumn(width="small")})

st.subheader("How to read the flight deck", anchor=False)
st.markdown("""
- **Value and interval.** Each value is for the chosen window, in plain units. Proportions
  carry a 95% Wilson interval, medians a distribution-free 95% interval: the true value very
  likely lies inside it.
- **Gates.** A value based on fewer cases than the KPI's minimum n is not shown; the tile says
  how far it is from the gate, e.g. *n = 17 of 30 needed*. Survey items need 30 answers.
- **Change.** The difference from the comparison window (the previous window of the same
  length, or the same window a year earlier), in percentage points for proportions, marked
  *better* or *worse* by the KPI's direction.
- **SPC verdicts** (NHS *Making Data Count* XmR charts, monthly):
  ● *Common cause*: the month is within normal variation;
  ▲/▼ *Improvement* or *Concern*: a special cause (outside the process limits, a run of 7 on
  one side of the mean, a trend of 7, or 2 of 3 near a limit) in the better or worse
  direction; ▲/▼ *Unusually high/low* for measures where neither direction is better.
  Limits are rebased at the force's Soteria adoption month. Colours are colour-blind safe
  and every verdict is also written in words.
- **Funnel plot.** Each force at its denominator against the all-forces rate. Only forces
  outside the 99.8% limits are flagged; between 95% and 99.8% they are worth a look. When
  forces vary more than chance allows, the limits are widened for overdispersion.
""")

methods = Path(__file__).resolve().parents[1] / "docs" / "methods.md"
if methods.exists():
    with st.expander("Statistical methods in full (docs/methods.md)"):
        st.markdown(methods.read_text(encoding="utf-8"))
