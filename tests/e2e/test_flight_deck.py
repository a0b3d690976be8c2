"""The app in a real browser (Chromium): pillars, URL state both ways, no exceptions."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from metrics.registry import PILLARS
from tests.e2e.conftest import select_option, selectbox_value, wait_for_app_run
from ui.shell import PAGE_SPECS

PAGES = [spec.id for spec in PAGE_SPECS]  # every page the app declares


def _query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlparse(url).query).items()}


def _no_exception(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.get_by_text("This page could not be drawn").count() == 0


def test_flight_deck_shows_all_six_pillars(page, app_url: str, screenshot_dir: Path) -> None:
    page.goto(app_url)
    wait_for_app_run(page)
    headings = page.locator(".fd-pillar h3").all_inner_texts()
    for number, name in PILLARS.items():
        assert f"{number} · {name}" in headings
    assert page.locator(".fd-row").count() >= 25
    assert page.locator("#what-changed li.fd-sentence").count() >= 1
    assert page.get_by_text("data as at 30 September 2026").count() == 1
    _no_exception(page)
    # Streamlit scrolls inside its main container, so a whole-page picture needs a tall window.
    page.set_viewport_size({"width": 1280, "height": 3400})
    wait_for_app_run(page)
    page.screenshot(path=str(screenshot_dir / "flight-deck-full.png"))


def test_changing_a_filter_updates_the_url(page, app_url: str) -> None:
    page.goto(app_url)
    wait_for_app_run(page)
    assert _query(page.url)["force"] == "All forces"
    select_option(page, "Force", "Durham Constabulary")
    assert _query(page.url)["force"] == "Durham Constabulary"
    select_option(page, "Window", "Last 12 months")
    assert _query(page.url)["window"] == "last_12_months"
    select_option(page, "Compare with", "Same window a year earlier")
    assert _query(page.url)["compare"] == "year_ago"
    assert page.locator("h2").first.inner_text() == "Flight deck: Durham Constabulary"
    _no_exception(page)


def test_a_copied_url_reopens_the_same_view(browser, page, app_url: str,
                                            screenshot_dir: Path) -> None:
    page.goto(app_url)
    wait_for_app_run(page)
    select_option(page, "Force", "South Wales Police")
    select_option(page, "Window", "Custom months")
    select_option(page, "From", "2024-01")
    select_option(page, "To", "2024-06")
    page.get_by_role("link", name="Trends").click()
    wait_for_app_run(page)
    select_option(page, "Pillar", "6 · Digital forensics")
    select_option(page, "KPI", "Suspect device backlog")
    copied = page.url
    assert urlparse(copied).path.endswith("/trends")
    assert _query(copied) == {"force": "South Wales Police", "window": "custom",
                              "from": "2024-01", "to": "2024-06", "compare": "previous",
                              "pillar": "6", "kpi": "device_backlog"}

    other = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
    other.goto(copied)
    wait_for_app_run(other)
    assert other.url == copied
    assert other.locator("h2").first.inner_text() == "Trends: South Wales Police"
    shown = {label: selectbox_value(other, label)
             for label in ("Force", "Window", "From", "To", "Compare with", "Pillar", "KPI")}
    assert shown == {"Force": "South Wales Police", "Window": "Custom months",
                     "From": "2024-01", "To": "2024-06", "Compare with": "Previous window",
                     "Pillar": "6 · Digital forensics", "KPI": "Suspect device backlog"}
    assert other.locator("[data-testid='stAlertContentWarning']").count() == 0  # no notes
    _no_exception(other)
    other.screenshot(path=str(screenshot_dir / "trends-from-copied-url.png"))
    other.context.close()


def test_a_bad_url_shows_a_note_not_an_exception(page, app_url: str) -> None:
    page.goto(f"{app_url}/?force=Nowhere&window=fortnight")
    wait_for_app_run(page)
    notes = page.locator("[data-testid='stAlertContentWarning']").all_inner_texts()
    assert any("Nowhere" in n for n in notes) and any("fortnight" in n for n in notes)
    assert _query(page.url)["force"] == "All forces"
    _no_exception(page)


@pytest.mark.parametrize("page_id", PAGES)
def test_no_exception_on_any_page(page, app_url: str, page_id: str,
                                  screenshot_dir: Path) -> None:
    page.goto(f"{app_url}/{page_id}?force=Durham+Constabulary&window=last_12_months")
    wait_for_app_run(page)
    assert page.locator("h2").first.inner_text()
    _no_exception(page)
    page.set_viewport_size({"width": 1280, "height": 2000})
    wait_for_app_run(page)
    page.screenshot(path=str(screenshot_dir / f"page-{page_id}.png"))


def test_a_first_visit_to_a_page_url_goes_through_the_app_navigation(page, start_app) -> None:
    # A server nobody has visited yet (its own env key): Streamlit would run pages/trends.py on
    # its own with its automatic page list; the app routes the session through app.py.
    url = start_app(FLIGHTDECK_E2E_SERVER="first-visit-on-a-page")
    page.goto(f"{url}/trends?force=Kent+Police")
    wait_for_app_run(page)
    assert page.locator("[data-testid='stSidebarNav']").count() == 0
    assert page.locator("h2").first.inner_text() == "Trends: Kent Police"
    assert [link.inner_text().split("\n")[-1] for link in
            page.locator("[data-testid='stPageLink']").all()] == [
        spec.title for spec in PAGE_SPECS]
    _no_exception(page)
