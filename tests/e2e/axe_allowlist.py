"""axe-core violations the app cannot fix because they come from Streamlit's own markup.

Each entry names the axe rule, a CSS selector fragment of the element (matched against the
node's ``target`` selector or its HTML) and the upstream Streamlit issue. ``tests/e2e/
test_axe.py`` ignores a violation only when rule and element both match an entry here;
everything else fails the test. Keep it empty when nothing needs it: a fix in the app (theme,
markup, labels) always comes before an entry here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Allowed:
    """One violation Streamlit's markup causes: axe rule id, element, upstream issue URL."""

    rule: str
    element: str
    upstream: str
    why: str


ALLOWLIST: tuple[Allowed, ...] = ()


def allowed(rule: str, target: str, html: str) -> Allowed | None:
    """The allowlist entry covering this violation node, or None."""
    for entry in ALLOWLIST:
        if entry.rule == rule and (entry.element in target or entry.element in html):
            return entry
    return None
