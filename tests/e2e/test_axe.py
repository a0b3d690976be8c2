"""axe-core (axe-playwright-python) on every page at 1280x900 in Chromium: no WCAG 2.0, 2.1 or
2.2 A/AA violation, except what tests/e2e/axe_allowlist.py names (rule, element, upstream
Streamlit issue)."""

from __future__ import annotations

import pytest

from tests.e2e.axe_allowlist import ALLOWLIST, allowed
from tests.e2e.conftest import wait_for_app_run
from ui.shell import PAGE_SPECS

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
PAGES = [spec.id for spec in PAGE_SPECS]


def _violations(page) -> list[str]:
    """Every axe violation node on the page not covered by the allowlist, as one line each."""
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    out = []
    for violation in result.response["violations"]:
        for node in violation["nodes"]:
            target = " ".join(str(t) for t in node.get("target", []))
            if allowed(violation["id"], target, node.get("html", "")) is None:
                out.append(f"{violation['id']} ({violation['impact']}): {target} "
                           f"{node.get('failureSummary', '')[:200]}")
    return out


@pytest.mark.parametrize("page_id", PAGES)
def test_axe_finds_no_wcag_a_or_aa_violation(browser, app_url: str, page_id: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{app_url}/{page_id}?force=Durham+Constabulary&window=last_quarter")
        wait_for_app_run(page)
        assert page.locator("[data-testid='stException']").count() == 0
        assert _violations(page) == []
    finally:
        context.close()


def test_axe_catches_a_contrast_failure_so_the_check_is_live(browser, app_url: str) -> None:
    # The same check on the same page with Streamlit's old caption grey put back must fail.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(app_url)
        wait_for_app_run(page)
        page.add_style_tag(content=".fd-counts, [data-testid='stCaptionContainer'] "
                                   "{color: rgba(49, 51, 63, 0.6) !important;}")
        page.evaluate("document.querySelector('.fd-deck').insertAdjacentHTML('beforeend', "
                      "'<p style=\"color:#aaaaaa\">faint words</p>')")
        found = _violations(page)
        assert any(v.startswith("color-contrast") for v in found)
    finally:
        context.close()


def test_allowlist_entries_name_rule_element_and_upstream_issue() -> None:
    for entry in ALLOWLIST:
        assert entry.rule and entry.element and entry.why
        assert entry.upstream.startswith("https://github.com/streamlit/streamlit/issues/")


PANEL_SECRET = "e2e-axe-panel-secret-0123456789abcdef"



@pytest.mark.parametrize("page_id", ["flight_deck", "trends"])
def test_axe_finds_no_violation_in_the_panel_audience(browser, start_app, page_id: str) -> None:
    # The scrutiny panel's view (banner, suppressed and rounded figures) is checked too.
    from urllib.parse import urlencode

    from metrics import sharelink

    url = start_app(FLIGHTDECK_SECRET=PANEL_SECRET)
    token, _ = sharelink.create(PANEL_SECRET, force="Gwent Police", start="2025-01",
                                end="2025-03", pages=["flight_deck", "trends"],
                                created_by="e2e@example.police.uk")
    query = {"share": token, "force": "Gwent Police", "window": "custom", "from": "2025-01",
             "to": "2025-03"}
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{url}/{page_id}?{urlencode(query)}")
        wait_for_app_run(page)
        assert page.get_by_text("Scrutiny panel view").count() >= 1
        assert _violations(page) == []
    finally:
        context.close()
