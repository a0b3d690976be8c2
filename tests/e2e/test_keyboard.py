"""Keyboard only: Tab reaches the force selector and the "what changed" list, and the force
changes with the keyboard (no mouse anywhere in these tests)."""

from __future__ import annotations

from tests.e2e.conftest import wait_for_app_run

MAX_TABS = 80


def _tab_to(page, predicate_js: str) -> bool:
    """Press Tab until ``predicate_js`` (a function of document.activeElement) holds."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate(f"(el => {predicate_js})(document.activeElement)"):
            return True
    return False


FORCE_BOX = "el && el.getAttribute('role') === 'combobox' && el.getAttribute('aria-label') " \
            "&& el.getAttribute('aria-label').startsWith('Force')"


def test_tab_reaches_the_force_selector_and_the_keyboard_changes_the_force(page, app_url):
    page.goto(app_url)
    wait_for_app_run(page)
    page.locator("body").focus()
    assert _tab_to(page, FORCE_BOX), "Tab never reached the force selector"
    page.keyboard.type("Durham")
    page.keyboard.press("Enter")
    wait_for_app_run(page)
    assert page.locator("h2").first.inner_text() == "Flight deck: Durham Constabulary"
    assert "force=Durham+Constabulary" in page.url


def test_tab_reaches_the_what_changed_list_and_enter_opens_its_trend(page, app_url):
    page.goto(app_url)
    wait_for_app_run(page)
    page.locator("body").focus()
    assert _tab_to(page, "el && el.id === 'what-changed'"), \
        "Tab never reached the 'what changed' list"
    # Tab on into the list: every sentence about a measure is a link to its trend
    assert _tab_to(page, "el && el.tagName === 'A' && !!el.closest('li.fd-sentence')")
    href = page.evaluate("document.activeElement.getAttribute('href')")
    assert href.startswith("trends?") and "kpi=" in href
    page.keyboard.press("Enter")
    page.wait_for_url("**/trends?**")
    wait_for_app_run(page)
    assert page.locator("h2").first.inner_text() == "Trends: All forces"
