"""The flight deck in Chromium, on data/sample and on a freshly generated export: "what changed"
present and ranked, no tile with contradicting signals, no label overflowing its box at 1280 and
1920 px, the first screen of a 1920x1080 projector holding the list, every pillar and a
qualitative measure, the list visible at 1280x720, and a row opening its trend.

Also writes the README screenshots (docs/screenshot-flight-deck-1920.png, -1280.png and
docs/screenshot-flight-deck.png).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from metrics.registry import PILLARS
from present.tiles import TONE_COLOURS
from tests.e2e.conftest import REPO, wait_for_app_run

SIZES = {"1920": (1920, 1080), "1280": (1280, 720)}


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


GOOD, BAD = _rgb(TONE_COLOURS["good"]), _rgb(TONE_COLOURS["bad"])

ROWS_JS = """() => [...document.querySelectorAll('.fd-row')].map(r => {
  const box = r.getBoundingClientRect();
  const real = r.querySelector('.fd-real');
  return {kpi: r.dataset.kpi, kind: r.dataset.kind, verdict: r.dataset.verdict,
          text: r.innerText, word: r.querySelector('.fd-verdict').innerText,
          verdictColour: getComputedStyle(r.querySelector('.fd-verdict')).color,
          changeColour: real ? getComputedStyle(real).color : null,
          top: box.top, bottom: box.bottom};
})"""

OVERFLOW_JS = """() => {
  const boxes = [...document.querySelectorAll(
      '.fd-deck *, [data-testid="stHeading"] *, [data-testid="stCaptionContainer"] *, '
      + '[data-testid="stSidebar"] [data-testid="stWidgetLabel"] *, '
      + '[data-testid="stSidebar"] [data-testid="stPageLink"] *')];
  return boxes.filter(e => !e.closest('.fd-sr') && e.clientWidth > 0
                           && e.scrollWidth > e.clientWidth + 1)
              .map(e => e.className + ': ' + e.innerText.slice(0, 60));
}"""

BREAKS_JS = """() => [...document.querySelectorAll('.fd-deck *')].filter(e => {
  const s = getComputedStyle(e);
  return s.wordBreak === 'break-all' || s.overflowWrap === 'anywhere'
         || s.overflowWrap === 'break-word' || s.hyphens === 'auto';
}).length"""


@pytest.fixture(scope="module")
def generated_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh synthetic export, made by the CLI as a user would (20,000 cases, seed 3)."""
    out = tmp_path_factory.mktemp("generated") / "export"
    subprocess.run([sys.executable, "-m", "metrics", "generate", "--out", str(out),
                    "--cases", "20000", "--seed", "3"], cwd=REPO, check=True,
                   capture_output=True, timeout=600)
    return out


@pytest.fixture(params=["sample", "generated"])
def deck_url(request, start_app) -> str:
    if request.param == "sample":
        return start_app()
    return start_app(FLIGHTDECK_DATA=str(request.getfixturevalue("generated_export")))


def _open(browser, url: str, size: str, query: str = ""):
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(f"{url}/{query}")
    wait_for_app_run(page)
    assert page.locator("[data-testid='stException']").count() == 0
    return page


def _expected_sentences(export: Path) -> list[str]:
    """The default view's "what changed" texts, from the same functions the deck calls
    (``metrics.verdicts.kpi_verdicts`` for All forces, the last whole quarter against the
    previous one, then ``present.sentences.what_changed``), each as the page ends it."""
    from metrics.load import load_dataset
    from metrics.registry import all_kpis
    from metrics.verdicts import kpi_verdicts
    from metrics.windows import latest_complete_month
    from present.sentences import what_changed
    from ui.data import survey_items
    from ui.deck import COMPARE_WORDS, WINDOW_WORDS

    dataset = load_dataset(export)
    last = latest_complete_month(dataset.as_at)
    frame = kpi_verdicts(dataset, last - 2, last, force="All forces", compare="previous")
    sentences = what_changed(frame, all_kpis(survey_items(dataset)),
                             window_words=WINDOW_WORDS["last_quarter"],
                             compare_words=COMPARE_WORDS["previous"])
    return [s.text + "." for s in sentences]


def test_what_changed_is_present_ranked_and_at_most_six(browser, deck_url: str,
                                                        request) -> None:
    page = _open(browser, deck_url, "1920")
    items = page.locator("#what-changed li.fd-sentence")
    assert 1 <= items.count() <= 6
    export = (REPO / "data" / "sample" if request.node.callspec.params["deck_url"] == "sample"
              else request.getfixturevalue("generated_export"))
    expected = _expected_sentences(export)  # the page says what the sentence model says
    assert 1 <= len(expected) <= 6  # the model itself keeps to six
    shown = [items.nth(i).inner_text().strip() for i in range(items.count())]
    assert len(shown) == len(expected)
    for text, want in zip(shown, expected, strict=True):
        assert text.endswith(want), (text, want)
    kinds = [items.nth(i).get_attribute("data-kind") for i in range(items.count())]
    assert kinds.count("victim_voice") <= 1
    assert "victim_voice" in kinds or any(
        "survey" in (items.nth(i).locator("a").get_attribute("href") or "")
        for i in range(items.count()))
    ranks = [tuple(float(x) for x in items.nth(i).get_attribute("data-rank").split(":"))
             for i in range(items.count()) if kinds[i] not in ("victim_voice", "nothing")]
    assert ranks == sorted(ranks)
    for i in range(items.count()):
        assert any(ch.isdigit() for ch in items.nth(i).inner_text())  # each with its numbers
    page.context.close()


@pytest.mark.parametrize("query", ["", "?force=Durham+Constabulary&window=last_quarter",
                                   "?window=last_12_months&compare=year_ago"])
def test_no_tile_holds_contradicting_signals(browser, deck_url: str, query: str) -> None:
    page = _open(browser, deck_url, "1920", query)
    rows = page.evaluate(ROWS_JS)
    assert len(rows) >= 25
    for row in rows:
        if row["verdict"] == "improving":
            assert row["changeColour"] != BAD, row
            assert row["verdictColour"] == GOOD
        if row["verdict"] == "deteriorating":
            assert row["changeColour"] != GOOD, row
            assert row["verdictColour"] == BAD
        assert "worse" not in row["text"].lower() or "improv" not in row["text"].lower()
        assert "Improvement" not in row["text"]
    page.context.close()


@pytest.mark.parametrize("size", ["1280", "1920"])
def test_no_label_overflows_its_box_or_breaks_mid_word(browser, deck_url: str, size: str):
    page = _open(browser, deck_url, size, "?force=Durham+Constabulary")
    assert page.evaluate(OVERFLOW_JS) == []
    assert page.evaluate(BREAKS_JS) == 0
    page.context.close()


def test_first_screen_at_1920_holds_the_list_every_pillar_and_a_qualitative_measure(
        browser, deck_url: str, screenshot_dir: Path, request) -> None:
    page = _open(browser, deck_url, "1920")
    height = SIZES["1920"][1]
    assert page.locator("#what-changed").bounding_box()["y"] + page.locator(
        "#what-changed").bounding_box()["height"] <= height
    headings = page.locator(".fd-pillar h3")
    seen = {}
    for i in range(headings.count()):
        box = headings.nth(i).bounding_box()
        seen[headings.nth(i).inner_text()] = box["y"] + box["height"]
    assert set(seen) == {f"{n} · {name}" for n, name in PILLARS.items()}
    assert max(seen.values()) <= height
    rows = page.evaluate(ROWS_JS)
    assert any(r["kind"] == "qualitative" and r["bottom"] <= height for r in rows)
    if "sample" in request.node.name:
        shot = screenshot_dir / "flight-deck-1920x1080.png"
        page.screenshot(path=str(shot))
        shutil.copyfile(shot, REPO / "docs" / "screenshot-flight-deck-1920.png")
    page.context.close()


def test_the_list_is_visible_without_scrolling_at_1280x720(browser, deck_url: str,
                                                           screenshot_dir: Path, request):
    page = _open(browser, deck_url, "1280")
    box = page.locator("#what-changed").bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= SIZES["1280"][1]
    if "sample" in request.node.name:
        shot = screenshot_dir / "flight-deck-1280x720.png"
        page.screenshot(path=str(shot))
        shutil.copyfile(shot, REPO / "docs" / "screenshot-flight-deck-1280.png")
        shutil.copyfile(shot, REPO / "docs" / "screenshot-flight-deck.png")
    page.context.close()


def test_a_row_opens_its_trend_with_the_same_view(browser, deck_url: str) -> None:
    query = "?force=Durham+Constabulary&window=last_12_months&compare=year_ago"
    page = _open(browser, deck_url, "1280", query)
    page.locator(".fd-row[data-kpi='victim_withdrawal_rate'] a.fd-name").click()
    page.wait_for_url("**/trends?**")
    wait_for_app_run(page)
    params = {k: v[-1] for k, v in parse_qs(urlparse(page.url).query).items()}
    assert params["kpi"] == "victim_withdrawal_rate" and params["pillar"] == "3"
    assert (params["force"], params["window"], params["compare"]) == (
        "Durham Constabulary", "last_12_months", "year_ago")
    assert page.locator("h2").first.inner_text() == "Trends: Durham Constabulary"
    assert page.get_by_role("combobox", name="KPI", exact=True).input_value() == \
        "Victim withdrawal rate"
    page.context.close()
