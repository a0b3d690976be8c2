"""Data quality: the validation report, completeness of key fields, freshness, audit."""

from __future__ import annotations

import streamlit as st

from present import quality
from ui import shell, views
from ui.tiles import escape_md

ctx = shell.page_setup("data_quality")
st.header("Data quality", anchor=False)
loaded = ctx.loaded
as_at = ctx.as_at.strftime("%d %B %Y") if ctx.as_at else "unknown"
loaded_at = loaded.loaded_at.strftime("%d %b %Y %H:%M UTC") if loaded.loaded_at else "unknown"
st.caption(f"Export folder `{escape_md(loaded.path)}` · data as at {as_at} · "
           f"loaded {loaded_at}")

st.subheader("Validation report", anchor=False)
st.write("Every check the export went through. Errors stop the export being used; warnings "
         "exclude the rows concerned and the rest is used.")
shell.validation_report(loaded)

percent = {label: st.column_config.ProgressColumn(label, format="percent", min_value=0,
                                                  max_value=1)
           for label in quality.KEY_FIELDS.values()}
st.subheader(f"Completeness of key fields, {ctx.window_text}", anchor=False)
st.write("Share of cases recorded in the window with each field filled in (ethnicity 'not "
         "stated' counts as missing). Missing suspect ids hide repeat suspects.")
by_force = quality.completeness(ctx.dataset, ctx.start, ctx.end, by="force")
st.dataframe(by_force, hide_index=True, width="stretch", column_config=percent)
views.downloads(ctx, by_force, "completeness_by_force")

force = ctx.view.force
st.subheader(f"By month: {escape_md(force)}, last 12 months", anchor=False)
by_month = quality.completeness(ctx.dataset, ctx.end - 11, ctx.end, by="month", force=force)
st.dataframe(by_month, hide_index=True, width="stretch", column_config=percent)
views.downloads(ctx, by_month, "completeness_by_month")

st.subheader("Freshness", anchor=False)
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
        st.dataframe(activity, hide_index=True, width="stretch")
