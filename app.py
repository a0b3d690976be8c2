"""Soteria NOM flight deck: the Streamlit entrypoint (``streamlit run app.py``).

Declares the pages with ``st.navigation`` (``ui.shell.navigation``: sections from
``ui.shell.PAGE_SPECS``; the sidebar links are drawn by ``ui.shell`` so they carry the view in
the URL and hide pages a panel link does not open) and runs the current page. Every page
starts with ``ui.shell.page_setup``: access check first, then data, filters and URL state.
The data folder is ``$FLIGHTDECK_DATA`` (default ``data/sample``). Start it through the
server launcher, ``python -m ui.serve run app.py`` (``make run``): same options as
``streamlit run``, plus the HTTP-level guards of ``ui/serve.py`` (docs/security.md).
"""

from __future__ import annotations

import logging

import streamlit as st

from ui import serve, shell

_LOG = logging.getLogger("flightdeck")

st.set_page_config(
    page_title="Soteria flight deck",
    page_icon=":material/flight_takeoff:",
    layout="wide",
    initial_sidebar_state="expanded",
)
# The sidebar links are ui.shell's (they carry the view); never Streamlit's automatic list
# of the pages/ folder.
st.set_option("client.showSidebarNavigation", False)

serve.warn_if_unguarded()  # the server launcher (python -m ui.serve run app.py) guards HTTP
page = shell.navigation()
try:
    page.run()
except Exception:  # noqa: BLE001 - st.stop()/rerun are BaseExceptions and pass through
    # Never a stack trace on screen: log it, say so in plain words.
    _LOG.exception("page %s failed", getattr(page, "url_path", "") or "flight_deck")
    st.error("This page could not be drawn. The problem has been logged; try another "
             "window or force, or reload the page.")
