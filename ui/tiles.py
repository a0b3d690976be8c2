"""Streamlit side of the flight deck's tiles: escaping for Markdown and drawing the deck.

The tile model is pure and lives in ``present.tiles`` (shared with the board pack); the HTML
layout is ``ui.deck.deck_html``. This module only hands that HTML to Streamlit.
"""

from __future__ import annotations

import streamlit as st

_MD_SPECIAL = set("\\`*_{}[]()<>#+-.!|~$:")


def escape_md(text: object) -> str:
    """Backslash-escape Markdown specials (text from the data is never rendered as markup)."""
    from present.escape import md  # the one Markdown escaper (also breaks autolinks)

    return md(text)


def render_deck(block: str) -> None:
    """Draw the deck's static HTML block (``ui.deck.deck_html``: every text escaped)."""
    st.html(block)
