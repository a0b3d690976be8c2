"""Data quality: the validation report, completeness of key fields, freshness, audit."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from present import quality
from ui import shell, views
from ui.tiles import escape_md

ctx = shell.page_setup("data_quality")
st.header("Data quality", anchor=False)
loaded = ctx.loaded
fresh = quality.as_at_freshness(ctx.dataset)
as_at = fresh["as_at"].strftime("%d %B %Y") if fresh["as_at"] else "unknown"
loaded_at = loaded.loaded_at.strftime("%d %b %Y %H:%M UTC") if loaded.loaded_at else "unknown"
st.caption(f"Export folder {escape_md(loaded.path)} · data as at **{as_at}** · "
           f"loaded {loaded_at}")

st.subheader("Validation report", anchor=False)
st.write("Every check the export went through. Errors stop the export being used; warnings "
         "exclude the rows concerned and the rest is used.")
shell.validation_report(loaded)


def shares(table: pd.DataFrame) -> object:
    """The completeness table on a neutral sequential scale (darker = more complete)."""
    columns = [c for c in quality.KEY_FIELDS.values() if c in table.columns]
    return (table.style.map(quality.sequential_colour, subset=columns)
            .format("{:.1%}", subset=columns, na_rep=""))


st.subheader(f"Completeness of key fields, {escape_md(ctx.window_text)}", anchor=False)
st.write("Share of cases recorded in the window with each field filled in (ethnicity 'not "
         "stated' counts as missing); darker blue is more complete. Missing suspect ids hide "
         "repeat suspects.")
by_force = quality.completeness(ctx.dataset, ctx.start, ctx.end, by="force")
st.dataframe(shares(by_force), hide_index=True, width="stretch")
views.downloads(ctx, by_force, "completeness_by_force")

force = ctx.view.force
st.subheader(f"By month: {escape_md(force)}, last 12 months", anchor=False)
by_month = quality.completeness(ctx.dataset, ctx.end - 11, ctx.end, by="month", force=force)
if by_month.empty:
    st.write(f"No cases recorded for {escape_md(force)} in the last 12 months.")
else:
    st.dataframe(shares(by_month), hide_index=True, width="stretch")
    views.downloads(ctx, by_month, "completeness_by_month")

st.subheader("Freshness", anchor=False)
if fresh["as_at"] is None:
    st.write("The export states no as-at date and has no recorded or outcome dates.")
else:
    age = int(fresh["age_days"])
    ago = "today" if age == 0 else f"{age} day{'s' if age != 1 else ''} ago" if age > 0 \
        else f"{-age} day{'s' if age != -1 else ''} in the future (check the export)"
    st.write(f"The data is as at **{as_at}** ({ago}), {fresh['source']}. The last whole "
             f"month shown by default is {ctx.choices.last_month.strftime('%B %Y')}. The "
             "files on disk were last written:")
st.dataframe(quality.freshness(ctx.dataset, loaded.path), hide_index=True, width="stretch")

if getattr(ctx.access, "is_internal", False):
    st.subheader("Recent activity", anchor=False)
    try:
        from metrics.audit import read_audit

        activity = read_audit(limit=50)
    except Exception:  # noqa: BLE001 - the audit file is optional here
        activity = None
    if activity is None or activity.empty:
        st.caption("No audit entries yet.")
    else:
        st.dataframe(quality.blank_missing(activity), hide_index=True, width="stretch")
        st.caption(f"The latest {len(activity)} events, newest first: page views, panel links "
                   "created and refused, exports and refused sign-ins. No figures are "
                   "recorded; an empty cell is a field the event does not have.")
