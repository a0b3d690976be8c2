"""The pages as their users meet them, in Chromium: the scrutiny panel's view (Trends, Victim
voice), Compare forces and Definitions, at 1280x720 and 1920x1080.

Screenshots go to ``test-output/`` (``panel_*.png``, ``compare_*.png``, ``definitions_*.png``);
the best are copied by hand to ``docs/screenshot-panel.png`` and
``docs/screenshot-compare.png``.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from metrics import sharelink
from tests.e2e.conftest import wait_for_app_run

SECRET = "e2e-pages-panel-secret-0123456789"
SIZES = {"1280x720": {"width": 1280, "height": 720}, "1920x1080": {"width": 1920, "height": 1080}}
FORCE = "Metropolitan Police Service"
START, END = "2025-10", "2026-09"
ROUNDED = ("Changed by disclosure control: counts rounded to the nearest 5; rates worked out "
           "from the rounded counts.")


@pytest.fixture(scope="module")
def panel_url(start_app) -> str:
    return start_app(FLIGHTDECK_SECRET=SECRET)


def _link(base: str, page: str = "", **extra: str) -> str:
    token, _ = sharelink.create(SECRET, force=FORCE, start=START, end=END,
                                pages=["flight_deck", "trends", "victim_voice", "definitions"],
                                created_by="lead@example.police.uk")
    query = {"share": token, "force": FORCE, "window": "custom", "from": START, "to": END,
             **extra}
    return f"{base}/{page}?{urlencode(query)}"


def _open(browser, url: str, size: str):
    context = browser.new_context(viewport=SIZES[size])
    page = context.new_page()
    page.goto(url)
    wait_for_app_run(page)
    return context, page


@pytest.mark.parametrize("size", list(SIZES))
def test_panel_victim_voice_marks_rounded_figures(browser, panel_url, screenshot_dir, size):
    context, page = _open(browser, _link(panel_url, "victim_voice"), size)
    main = page.locator("[data-testid='stMain']")
    assert "Victim voice: Metropolitan Police Service" in main.inner_text()
    grid = main.locator("[data-testid='stDataFrame']").first
    grid.wait_for()
    assert "†" in grid.inner_text() or "†" in page.content()  # the mark sits in the cells
    assert ROUNDED in main.inner_text()
    body = main.inner_text()
    assert "Choose All forces" not in body and "n = 0 of" not in body
    assert "outside this link's window" in body  # before/after lies outside the link
    page.screenshot(path=str(screenshot_dir / f"panel_victim_voice_{size}.png"))
    context.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_panel_trends_is_a_chart_with_points_or_a_sentence(browser, panel_url, screenshot_dir,
                                                           size):
    context, page = _open(browser, _link(panel_url, "trends", kpi="victim_updated_28d"), size)
    main = page.locator("[data-testid='stMain']")
    text = main.inner_text()
    assert "Trends: Metropolitan Police Service" in text
    charts = main.locator("[data-testid='stPlotlyChart']")
    if "Too little to chart" not in text:
        charts.first.wait_for()
        points = charts.first.locator("path.point")
        assert points.count() >= 6  # a drawn chart has its months, never an empty frame
        ticks = charts.first.locator(".ytick text").all_text_contents()
        assert ticks and all(t.endswith("%") and float(t[:-1]) <= 100 for t in ticks)
        assert charts.first.locator(".xtick text").first.text_content()[:3] in (
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    assert "outside this link's window" in text
    page.screenshot(path=str(screenshot_dir / f"panel_trends_{size}.png"), full_page=True)
    context.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_panel_flight_deck_view(browser, panel_url, screenshot_dir, size):
    context, page = _open(browser, _link(panel_url), size)
    text = page.locator("[data-testid='stMain']").inner_text()
    assert "Scrutiny panel view" in text and "Flight deck: Metropolitan Police Service" in text
    sidebar = page.locator("[data-testid='stSidebar']").inner_text()
    assert "Compare forces" not in sidebar and "Data quality" not in sidebar
    assert "Force, window and cases are fixed by the shared link." in sidebar
    page.screenshot(path=str(screenshot_dir / f"panel_flight_deck_{size}.png"))
    context.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_compare_forces_highlights_the_chosen_force(browser, app_url, screenshot_dir, size):
    query = urlencode({"force": "Kent Police", "window": "last_12_months"})
    context, page = _open(browser, f"{app_url}/compare_forces?{query}", size)
    chart = page.locator("[data-testid='stPlotlyChart']").first
    chart.wait_for()
    labels = chart.locator(".annotation-text").all_text_contents()
    assert "Kent Police" in [t.strip() for t in labels]
    boxes = [chart.locator(".annotation").nth(i).bounding_box()
             for i in range(chart.locator(".annotation").count())]
    boxes = [b for b in boxes if b]
    for i, a in enumerate(boxes):  # no two labels overlap on screen
        for b in boxes[i + 1:]:
            assert not (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
                        and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])
    ticks = chart.locator(".xtick text").all_text_contents()
    assert ticks and all(t.replace(",", "").isdigit() for t in ticks)
    page.locator("[data-testid='stDataFrame']").first.wait_for()  # the table beside it
    page.screenshot(path=str(screenshot_dir / f"compare_{size}.png"))
    context.close()


def test_definitions_are_readable_in_full(browser, app_url, screenshot_dir):
    from metrics.registry import all_kpis

    context, page = _open(browser, f"{app_url}/definitions", "1280x720")
    text = " ".join(page.locator("[data-testid='stMain']").inner_text().split())
    longest = max(all_kpis(), key=lambda k: len(k.definition))
    assert " ".join(longest.definition.split()) in text
    page.screenshot(path=str(screenshot_dir / "definitions_1280x720.png"))
    context.close()


def test_a_refused_page_says_where_the_panel_can_go_and_links_there(browser, panel_url,
                                                                     screenshot_dir):
    context, page = _open(browser, _link(panel_url, "compare_forces"), "1280x720")
    main = page.locator("[data-testid='stMain']")
    text = main.inner_text()
    assert "This link cannot be opened" in text and "This link does not open this page" in text
    assert "page_not_in_scope" not in text and "Reason code" not in text
    assert "Compare forces" not in text.split("This link cannot be opened")[1]
    link = main.get_by_role("link", name="Victim voice")
    link.wait_for()
    page.screenshot(path=str(screenshot_dir / "panel_refused_page_1280x720.png"))
    link.click()
    wait_for_app_run(page)
    assert "Victim voice: Metropolitan Police Service" in main.inner_text()
    assert "Scrutiny panel view" in main.inner_text()
    context.close()
