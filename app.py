"""Soteria NOM flight deck: the Streamlit entrypoint (``streamlit run app.py``).

Declares the pages (``st.navigation`` with sections; the sidebar links are drawn by
``ui.shell`` so they carry the view in the URL and hide pages a panel link does not open),
runs the shared frame (access check first, then data, filters and URL state) and the page.
The data folder is ``$FLIGHTDECK_DATA`` (default ``data/sample``).
"""

from __future__ import annotations

import streamlit as st

from ui import shell

st.set_page_config(
    page_title="Soteria flight deck",
    page_icon=":material/flight_takeoff:",
    layout="wide",
    initial_sidebar_state="expanded",
)

# (page id, st.Page) by navigation section; ids are fixed in docs/TEAM-NOTES.md.
PAGES: dict[str, list[tuple[str, st.Page]]] = {
    "Meeting": [
        ("flight_deck", st.Page("pages/flight_deck.py", title="Flight deck",
                                icon=":material/dashboard:", url_path="flight_deck",
                                default=True)),
    ],
    "Explore": [
        ("trends", st.Page("pages/trends.py", title="Trends", icon=":material/show_chart:",
                           url_path="trends")),
        ("victim_voice", st.Page("pages/victim_voice.py", title="Victim voice",
                                 icon=":material/record_voice_over:", url_path="victim_voice")),
        ("compare_forces", st.Page("pages/compare_forces.py", title="Compare forces",
                                   icon=":material/filter_alt:", url_path="compare_forces")),
    ],
    "About the data": [
        ("data_quality", st.Page("pages/data_quality.py", title="Data quality",
                                 icon=":material/fact_check:", url_path="data_quality")),
        ("definitions", st.Page("pages/definitions.py", title="Definitions and methods",
                                icon=":material/menu_book:", url_path="definitions")),
    ],
}

current = st.navigation(
    {section: [page for _, page in entries] for section, entries in PAGES.items()},
    position="hidden",
)
page_id = next(pid for entries in PAGES.values() for pid, page in entries if page is current)
shell.frame(page_id, PAGES)
current.run()
