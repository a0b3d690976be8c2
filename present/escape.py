"""Escaping text that comes from the data or the URL, so that it is shown and never obeyed.

A force, team or survey item name, a KPI label or a query parameter is text written by someone
else. Shown through Streamlit Markdown (``st.markdown``, ``st.caption``, ``st.warning``,
headers, labels...), ``[click](https://evil.example)`` would be a link and ``**`` bold; shown in
a Plotly label, ``<a href="https://evil.example/login">Re-authenticate here</a>`` would be a
live link (Plotly renders a small HTML subset in titles, tick labels, legends, hover text and
annotations). Two functions, pure (no Streamlit or Plotly import), used wherever such text is
rendered:

- :func:`md`: for Streamlit Markdown. Every character Markdown (CommonMark, GitHub's
  extensions and Streamlit's own: ``:material/...:`` icons, ``:red[...]`` colours, ``$`` maths)
  treats as markup is backslash-escaped, line breaks become spaces (a new line could start a
  heading or a list), and the starts of links GitHub Markdown would make clickable by
  themselves (``http://``, ``https://``, ``www.``, ``ftp://``, ``mailto:``, e-mail addresses)
  are broken with an invisible zero-width space, so no text is ever turned into a link. The
  reader sees the original characters.
- :func:`plotly`: for Plotly text. ``&``, ``<`` and ``>`` become entities (Plotly shows them as
  the characters and parses no tag, so no ``<a href>``, ``<b>`` or ``<br>`` works), and the same
  link starts are broken with a zero-width space.

Neither function is idempotent: escape once, at the point of rendering, and only text
(numbers formatted by the app need no escaping).
"""

from __future__ import annotations

import re

__all__ = ["md", "plotly", "MD_SPECIAL", "ZWSP"]

#: Zero-width space: breaks a link start without changing what the reader sees.
ZWSP = "\u200b"
#: Characters backslash-escaped for Markdown (all ASCII punctuation Markdown or Streamlit reads
#: as markup; a backslash before any ASCII punctuation is a valid CommonMark escape).
MD_SPECIAL = frozenset("\\`*_{}[]()<>#+-.!|~$:=&@")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
# Starts of links that Markdown's autolinking (and some viewers) would make clickable.
_LINK_STARTS = re.compile(r"(?i)(https?|ftp|file|mailto|javascript|data)(:)|(www)(\.)|(@)")


def _break_links(text: str) -> str:
    """Link starts broken by :data:`ZWSP`: ``https://x`` -> ``https:`` ZWSP ``//x``,
    ``www.x`` -> ``www`` ZWSP ``.x``, ``a@b`` -> ``a@`` ZWSP ``b``."""
    def repl(m: re.Match[str]) -> str:
        if m.group(1):
            return m.group(1) + m.group(2) + ZWSP
        if m.group(3):
            return m.group(3) + ZWSP + m.group(4)
        return m.group(5) + ZWSP
    return _LINK_STARTS.sub(repl, text)


def _clean(text: object) -> str:
    """``text`` as one line of plain characters: line breaks -> spaces, control characters
    and bidirectional overrides dropped (they can make text read differently than it is)."""
    s = "" if text is None else str(text)
    return _CONTROL.sub("", _LINE_BREAKS.sub(" ", s))


def md(text: object) -> str:
    """``text`` escaped for Streamlit Markdown: returns a string that renders as exactly the
    original characters (on one line, without leading or trailing spaces), with no markup, no
    HTML and no link. ``None`` -> ``""``."""
    s = _break_links(_clean(text).strip())  # no leading indent (code block), no trailing break
    return "".join("\\" + ch if ch in MD_SPECIAL else ch for ch in s)


def plotly(text: object) -> str:
    """``text`` escaped for a Plotly label (title, tick, legend, hover text, annotation):
    returns a string Plotly shows as the original characters, with no tag (so no ``<a href>``)
    and no link. ``None`` -> ``""``."""
    s = _break_links(_clean(text))
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
