"""Flight deck: the six pillars, quantitative and qualitative side by side, for one view."""

from __future__ import annotations

import streamlit as st

from metrics.registry import PILLARS
from ui import deck, shell, views
from ui.tiles import escape_md, render_tile

ctx = shell.page_setup("flight_deck")
force = ctx.view.force
st.header(f"Flight deck: {escape_md(force)}", anchor=False)
as_at = ctx.as_at.strftime("%d %B %Y") if ctx.as_at else "unknown"
st.caption(
    f"**{ctx.window_text}**, changes against the {escape_md(ctx.compare_text)} · "
    f"data as at **{as_at}** · 95% intervals · SPC verdict of the window's last month"
)

with st.spinner("Computing the KPIs…"):
    pillars = deck.deck_tiles(ctx, force, ctx.compare_text.split(" (")[0])



def draw_pillar(pillar: int) -> None:
    """One pillar: quantitative and qualitative tiles side by side, each tile 1/6 wide."""
    quant, qual = pillars[pillar]["quantitative"], pillars[pillar]["qualitative"]
    n_quant, n_qual = deck.per_row(len(quant), len(qual), deck.GRID)
    sides = [(label, tiles, width) for label, tiles, width in
             (("Quantitative", quant, n_quant), ("Qualitative", qual, n_qual)) if tiles]
    with st.container(border=True):
        st.subheader(f"{pillar} · {PILLARS[pillar]}", anchor=False)
        columns = st.columns([w for _, _, w in sides], gap="medium")
        for column, (label, tiles, width) in zip(columns, sides, strict=True):
            with column:
                st.caption(label)
                for i in range(0, len(tiles), width):
                    for slot, tile in zip(st.columns(width), tiles[i:i + width], strict=False):
                        with slot:
                            render_tile(tile)


sizes = {p: deck.slots(len(pillars[p]["quantitative"]), len(pillars[p]["qualitative"]))
         for p in PILLARS}
for row in deck.pillar_rows(sizes):
    used = sum(sizes[p] for p in row)
    weights = [sizes[p] for p in row] + ([deck.GRID - used] if used < deck.GRID else [])
    for column, pillar in zip(st.columns(weights, gap="small"), row, strict=False):
        with column:
            draw_pillar(pillar)

with st.sidebar:
    st.divider()
    st.subheader("Share and export", anchor=False)
    views.boardpack(ctx, force)
    views.share_link(ctx)
