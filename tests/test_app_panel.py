"""A scrutiny panel session in the app (AppTest): the link's scope drives the whole frame."""

from __future__ import annotations

import pytest

from metrics import sharelink

SECRET = "app-test-panel-secret-0123456789"


@pytest.fixture
def panel_app(app_test, monkeypatch):
    def make(page_ids=("flight_deck", "trends", "victim_voice", "definitions"), **query):
        monkeypatch.setenv("FLIGHTDECK_SECRET", SECRET)
        token, _ = sharelink.create(SECRET, force="Gwent Police", start="2026-07",
                                    end="2026-09", pages=list(page_ids), created_by="test")
        params = {"share": token, "force": "Gwent Police", "window": "custom",
                  "from": "2026-07", "to": "2026-09", **query}
        return app_test(**params)
    return make


def test_panel_view_is_locked_to_the_links_scope(panel_app) -> None:
    at = panel_app()
    at.run()
    assert not at.exception
    assert at.header[0].value == "Flight deck: Gwent Police"
    force, window = at.selectbox(key="fd_force"), at.selectbox(key="fd_window")
    assert force.value == "Gwent Police" and force.disabled
    assert window.value == "custom" and window.disabled
    assert (at.query_params["from"], at.query_params["to"]) == ("2026-07", "2026-09")
    assert "share" in at.query_params  # the link stays in the address bar


def test_panel_tiles_show_no_count_from_1_to_7(panel_app) -> None:
    at = panel_app()
    at.run()
    counts = {m.label: m.value for m in at.metric
              if m.label in ("Protective orders granted", "s63G applications",
                             "Suspect device backlog")}
    assert counts
    for value in counts.values():
        if value != "–":
            number = int(value.replace(",", ""))
            assert number == 0 or (number > 7 and number % 5 == 0)


def test_panel_navigation_offers_only_the_pages_the_link_opens(panel_app) -> None:
    at = panel_app(page_ids=("flight_deck", "definitions"))
    at.run()
    links = [el.proto.label for el in at.get("page_link")]
    assert links == ["Flight deck", "Definitions and methods"]
