"""Helpers for AppTest-based attacks: every piece of text an AppTest run shows, and the flight
deck's tiles as (kpi id -> value text, verdict)."""

from __future__ import annotations

import html
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from metrics import sharelink

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "app.py")
SECRET = "security-tests-link-secret-0123456789"
_ROW = re.compile(r'<li class="fd-row" data-kpi="([^"]+)"[^>]*data-verdict="([^"]*)">(.*?)</li>',
                  re.S)
_VALUE = re.compile(r'<span class="fd-value">(.*?)</span>', re.S)


def all_text(at: AppTest) -> str:
    """Every visible string of the run: markdown, captions, titles, alerts, HTML blocks,
    dataframe cells, widget labels and options."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "title", "header", "subheader", "text", "code",
                 "latex", "info", "warning", "error", "success", "exception", "metric"):
        for el in getattr(at, kind, []):
            parts.append(str(getattr(el, "value", "")))
            parts.append(str(getattr(el, "label", "") or ""))
    for el in at.get("html"):
        parts.append(el.proto.body)
    for frame in at.dataframe:
        parts.append(frame.value.to_csv() if hasattr(frame.value, "to_csv") else str(frame))
    for box in at.selectbox:
        parts.append(str(box.label))
        parts.extend(str(o) for o in box.options)
    return "\n".join(parts)


def deck_tiles(at: AppTest) -> dict[str, tuple[str, str, str]]:
    """The flight deck's tiles: kpi id -> (value text, verdict key, the row's whole text)
    from its HTML block."""
    tiles: dict[str, tuple[str, str, str]] = {}
    for el in at.get("html"):
        for kpi_id, verdict, inner in _ROW.findall(el.proto.body):
            value = _VALUE.search(inner)
            text = html.unescape(re.sub(r"<[^>]+>", " ", inner))
            tiles[kpi_id] = (html.unescape(value.group(1)) if value else "", verdict, text)
    return tiles


def panel_query(force: str, start: str, end: str, pages=("flight_deck", "trends",
                                                          "victim_voice", "definitions"),
                secret: str = SECRET) -> dict[str, str]:
    """The query parameters of a valid panel link for ``force`` and months ``start..end``."""
    token, _ = sharelink.create(secret, force=force, start=start, end=end, pages=list(pages),
                                created_by="lead@example.police.uk")
    return {"share": token, "force": force, "window": "custom", "from": start, "to": end}


def open_app(query: dict[str, str], *, page: str | None = None) -> AppTest:
    """app.py through AppTest with the link secret set; ``page`` switches to a page file."""
    at = AppTest.from_file(APP, default_timeout=180)
    at.secrets["flightdeck"] = {"link_secret": SECRET, "roles": {}}
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    if page is not None:
        at.switch_page(page).run()
    return at
