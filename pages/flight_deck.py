"""Flight deck: what changed first, then the six pillars with one verdict per measure."""

from __future__ import annotations

import streamlit as st

from ui import deck, shell, views
from ui.tiles import escape_md, render_deck

ctx = shell.page_setup("flight_deck")
force = ctx.view.force
allowed = getattr(ctx.access, "allowed_pages", ("trends", "record"))
st.header(f"Flight deck: {escape_md(force)}", anchor=False)
as_at = ctx.as_at.strftime("%d %B %Y") if ctx.as_at else "unknown"
st.caption(
    f"**{escape_md(ctx.window_text)}**, changes against the {escape_md(ctx.compare_phrase)} · "
    f"data as at **{as_at}** · 95% intervals"
    + (" · a row opens its trend" if "trends" in allowed else "")
)

partial = ctx.coverage_note
if partial:
    st.warning(escape_md(partial))

with st.spinner("Computing the verdicts…"):
    view = deck.build_deck(ctx, force)

share = st.query_params.get("share")
pillar_of = {kpi.id: kpi.pillar for kpi in ctx.kpis}


def trend_link(kpi_id: str) -> str | None:
    """A row's link to its trend (same view), or None when this audience cannot open Trends."""
    if "trends" not in allowed:
        return None
    return deck.trend_href(ctx.view, kpi_id, pillar_of.get(kpi_id), share)


render_deck(deck.deck_html(
    view, trend_link,
    actions_href=deck.actions_link(ctx.view, share) if "record" in allowed else None))

with st.sidebar:
    st.divider()
    st.subheader("Share and export", anchor=False)
    views.boardpack(ctx, force)
    views.share_link(ctx)
