"""Meeting record: commentary and assurance, actions, scrutiny case reviews, learning log.

Internal users see and write everything; a panel link sees only the commentary and assurance
levels of its force and window (ui/record.py checks the audience).
"""

from __future__ import annotations

import streamlit as st

from ui import record as ui_record
from ui import shell

ctx = shell.page_setup("record")
title = f"Meeting record: {ctx.view.force}" if ctx.choices is not None else "Meeting record"
st.header(title, anchor=False)
if ctx.choices is not None:
    st.caption(ctx.window_text)
    ui_record.render(ctx)
