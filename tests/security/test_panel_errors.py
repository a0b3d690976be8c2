"""A panel never sees why the data is unusable (issue 15, item 4).

The attack: started on a broken export, a panel link showed the validation report with example
case ids, exact row counts and the server's folder path. Here app.py (AppTest) runs on a copy
of data/sample whose cases.parquet is garbage, opened with a valid panel link: the panel sees
"The data is not available right now" and nothing else about the data; the same broken export
opened internally shows the report (so the check is not vacuous).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.security.apptest_helpers import REPO, all_text, open_app, panel_query
from ui.access import DATA_UNAVAILABLE

FORCE, START, END = "Gwent Police", "2025-01", "2025-03"


@pytest.fixture
def broken(tmp_path, monkeypatch) -> Path:
    export = tmp_path / "broken-export"
    shutil.copytree(REPO / "data" / "sample", export)
    (export / "cases.parquet").write_bytes(b"PAR1 this is not parquet " * 40)
    monkeypatch.setenv("FLIGHTDECK_DATA", str(export))
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.delenv("FLIGHTDECK_SECRET", raising=False)
    return export


LEAKS = ("parquet", "rows", "excluded", "validation", "error", "Error", "Traceback",
         "FLIGHTDECK_DATA", "could not", "cannot be used")


@pytest.mark.parametrize("page", [None, "pages/trends.py", "pages/victim_voice.py"])
def test_a_panel_on_a_broken_export_sees_only_that_the_data_is_not_available(broken, page):
    at = open_app(panel_query(FORCE, START, END), page=page)
    assert not at.exception
    shown = all_text(at)
    assert DATA_UNAVAILABLE in shown
    assert not at.dataframe
    assert str(broken) not in shown and broken.name not in shown
    for word in LEAKS:
        assert word not in shown, word
    assert "Scrutiny panel view" in shown  # it is the panel view, refused nothing else


def test_internal_users_still_see_the_validation_report(broken):
    at = open_app({})
    assert not at.exception
    shown = all_text(at)
    assert DATA_UNAVAILABLE not in shown
    assert "cases.parquet" in shown  # the report names the broken file for the analysts
    assert at.dataframe


def test_may_see_data_problems_is_internal_only():
    from metrics.sharelink import Scope
    from ui.access import Access, may_see_data_problems

    internal = Access(audience="internal", user="local user", page_id="flight_deck",
                      mode="local")
    scope = Scope(force=FORCE, start=START, end=END, pages=("flight_deck",),
                  expires=None, created=None, link_id="x", created_by="y")  # type: ignore[arg-type]
    panel = Access(audience="panel", user="x", page_id="flight_deck", mode="link", scope=scope)
    assert may_see_data_problems(internal)
    assert not may_see_data_problems(panel)
    assert not may_see_data_problems(None)
    assert not may_see_data_problems(object())
