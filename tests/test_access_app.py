"""The real app (app.py) through AppTest: what a panel link shows, page by page.

Complements tests/test_access.py (require_access on a tiny page) and the Playwright test: here
every page a link opens is run with the sample export, and every tile and table a panel sees is
scanned for a count from 1 to 7 or a count not rounded to 5.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from metrics import sharelink
from metrics.registry import STATIC_KPIS

ROOT = Path(__file__).resolve().parents[1]
SECRET = "apptest-app-link-secret-0123456789"
FORCE, START, END = "Gwent Police", "2025-01", "2025-03"
COUNT_COLUMNS = {"numerator", "denominator", "n", "count", "cases", "responses"}
COUNT_TILES = {k.name for k in STATIC_KPIS.values() if k.unit == "count"}
COUNT_IDS = {k.id for k in STATIC_KPIS.values() if k.unit == "count"}

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("FLIGHTDECK_DATA", str(ROOT / "data" / "sample"))
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.delenv("FLIGHTDECK_SECRET", raising=False)


def open_app(query: dict[str, str], secrets: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.secrets["flightdeck"] = {"link_secret": SECRET, "roles": {}}
    for key, value in (secrets or {}).items():
        at.secrets[key] = value
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def panel_link(pages=("flight_deck", "trends", "victim_voice", "definitions")) -> str:
    token, _ = sharelink.create(SECRET, force=FORCE, start=START, end=END, pages=list(pages),
                                created_by="lead@example.police.uk")
    return token


def link_query(token: str) -> dict[str, str]:
    return {"share": token, "force": FORCE, "window": "custom", "from": START, "to": END}


def _first_number(text: str) -> float | None:
    match = re.search(r"-?\d[\d,]*(\.\d+)?", text)
    return float(match.group(0).replace(",", "")) if match else None


def count_tile_values(at: AppTest) -> list[float | None]:
    """The first number on every count KPI's tile: ``st.metric`` tiles and the flight deck's
    HTML tiles (``<li class="fd-row" data-kpi=...>`` with an ``fd-value`` span)."""
    import html

    numbers = [_first_number(str(m.value)) for m in at.metric
               if m.label.replace("\\", "") in COUNT_TILES]
    for block in at.get("html"):
        for kpi_id, value in re.findall(
                r'<li class="fd-row" data-kpi="([^"]+)"[^>]*>.*?<span class="fd-value">(.*?)'
                r'</span>', block.proto.body, re.S):
            if kpi_id in COUNT_IDS:
                numbers.append(_first_number(html.unescape(value)))
    return numbers


def assert_nothing_small(at: AppTest) -> None:
    """No tile of a count KPI and no count column of any table shows 1-7 or an unrounded
    count."""
    for number in count_tile_values(at):
        assert number is None or number == 0 or (number >= 10 and number % 5 == 0), number
    for metric in at.metric:
        if metric.label.replace("\\", "") in COUNT_TILES:
            number = _first_number(str(metric.value))
            assert number is None or number == 0 or (number >= 10 and number % 5 == 0), \
                (metric.label, metric.value)
    for frame in at.dataframe:
        table = frame.value
        if not isinstance(table, pd.DataFrame):
            continue
        for col in table.columns:
            if str(col).strip().lower() not in COUNT_COLUMNS:
                continue
            values = pd.to_numeric(table[col].where(table[col].astype(str) != "*"),
                                   errors="coerce").dropna().abs()
            bad = values[(values > 0) & ((values < 7.5) | (values % 5 != 0))]
            assert bad.empty, (col, bad.tolist()[:5])


def tile_text(at: AppTest, name: str) -> str:
    metric = next(m for m in at.metric if m.label.replace("\\", "") == name)
    return str(metric.value)


def test_panel_flight_deck_shows_only_disclosure_controlled_figures():
    at = open_app(link_query(panel_link()))
    assert not at.exception
    assert "Scrutiny panel view" in at.info[0].value
    assert "OFFICIAL-SENSITIVE" in " ".join(m.value for m in at.markdown)
    assert not [e for e in at.expander if e.label == "Create panel link"]
    assert_nothing_small(at)
    shown = " ".join(m.value for m in at.markdown)
    assert "Suppressed" in shown or "*" in shown  # at least one tile is held back
    # The force and window cannot be changed in the sidebar.
    assert at.sidebar.selectbox(key="fd_force").disabled


def test_internal_flight_deck_shows_the_small_counts_the_panel_does_not():
    """The panel check above is not vacuous: the same view, internally, has a count of 1-7."""
    at = open_app({"force": FORCE, "window": "custom", "from": START, "to": END})
    assert not at.exception
    numbers = count_tile_values(at)
    assert any(n is not None and 1 <= n <= 7 for n in numbers), numbers


@pytest.mark.parametrize("page", ["trends", "victim_voice", "definitions"])
def test_every_page_a_link_opens_is_disclosure_controlled(page):
    at = open_app(link_query(panel_link()))
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Scrutiny panel view" in at.info[0].value
    assert_nothing_small(at)


@pytest.mark.parametrize("page", ["data_quality", "compare_forces", "victim_voice"])
def test_pages_outside_the_link_are_refused(page):
    at = open_app(link_query(panel_link(pages=("flight_deck", "trends"))))
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception
    assert "cannot be opened" in at.title[0].value
    assert not at.metric and not at.dataframe


def test_signed_out_user_sees_no_data_in_the_real_app():
    auth = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "c" * 32,
            "microsoft": {"client_id": "i", "client_secret": "s",
                          "server_metadata_url": "https://login.example/.well-known/x"}}
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.secrets["flightdeck"] = {"roles": {"@example.police.uk": "internal"}}
    at.secrets["auth"] = auth
    at.user = {"is_logged_in": False}
    at.query_params["audience"] = "internal"
    at.run()
    assert not at.exception
    assert not at.metric and not at.dataframe
    assert [b.label for b in at.button] == ["Sign in"]
    assert not math.isnan(len(at.title))  # a page was drawn: the sign-in prompt
    assert "Sign in" in at.title[0].value


@pytest.mark.parametrize("kpi", ["days_to_charge", "charge_rate", "orders_granted"])
def test_trends_breakdowns_for_a_panel_hide_small_groups(kpi):
    """Breakdowns by offence group, age band, sex, ethnicity and team: small groups and the
    groups that would give them away are hidden (numerators, denominators and n)."""
    query = link_query(panel_link()) | {"kpi": kpi, "pillar": str(STATIC_KPIS[kpi].pillar)}
    at = open_app(query)
    at.switch_page("pages/trends.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert_nothing_small(at)
