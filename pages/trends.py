"""trends (placeholder while the page is built)."""

import streamlit as st

from ui import shell

ctx = shell.context()
st.title("trends", anchor=False)
