"""compare_forces (placeholder while the page is built)."""

import streamlit as st

from ui import shell

ctx = shell.context()
st.title("compare_forces", anchor=False)
