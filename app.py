"""Soteria NOM flight deck: the Streamlit entrypoint (``streamlit run app.py``).

Declares the pages with ``st.navigation`` (sections from ``ui.shell.PAGE_SPECS``; the sidebar
links are drawn by ``ui.shell`` so they carry the view in the URL and hide pages a panel link
does not open) and runs the current page. Every page starts with ``ui.shell.page_setup``:
access check first, then data, filters and URL state. The data folder is
``$FLIGHTDECK_DATA`` (default ``data/sample``).
"""

from __future__ import annotations

import streamlit as st

from ui.shell import PAGE_SPECS

st.set_page_config(
    page_title="Soteria flight deck",
    page_icon=":material/flight_takeoff:",
    layout="wide",
    initial_sidebar_state="expanded",
)

sections: dict[str, list[st.Page]] = {}
for spec in PAGE_SPECS:
    sections.setdefault(spec.section, []).append(
        st.Page(spec.path, title=spec.title, icon=spec.icon, url_path=spec.id,
                default=spec.id == "flight_deck")
    )
st.navigation(sections, position="hidden").run()
