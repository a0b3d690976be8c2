"""The board pack button builds on its first click (AppTest), whatever the URL held.

Opening the app with only ``?force=`` made the shell write the default window into the URL;
the next run (AppTest reruns the page file itself) was "repaired" by ``ui.shell`` with
``st.navigation`` + ``st.rerun()``, which threw the click away, so the first click on
"Build board pack (PDF)" did nothing and only the second built the pack.
"""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

BUILD, DOWNLOAD = "Build board pack (PDF)", "Download board pack"


def _build_button(at):
    found = [b for b in at.button if b.label == BUILD]
    assert found, [b.label for b in at.button]
    return found[0]


@pytest.mark.parametrize("query", [
    {"force": "Gwent Police"},
    {"force": "Gwent Police", "window": "last_quarter", "compare": "previous"},
])
def test_the_first_click_builds_the_pack(app_test, tmp_path, monkeypatch, query):
    monkeypatch.setenv("FLIGHTDECK_DB", f"sqlite:///{tmp_path / 'record.db'}")
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    at = app_test(**query)
    at.run()
    assert not at.exception, at.exception
    assert at.query_params["window"] == "last_quarter"  # the URL settled on its default
    _build_button(at).click()
    at.run()
    assert not at.exception, at.exception
    downloads = [d for d in at.get("download_button") if d.proto.label == DOWNLOAD]
    assert len(downloads) == 1, "the first click built the pack"


def test_the_pack_built_is_a_pdf_of_the_view(app_test, tmp_path, monkeypatch):
    monkeypatch.setenv("FLIGHTDECK_DB", f"sqlite:///{tmp_path / 'record.db'}")
    at = app_test(force="Gwent Police")
    at.run()
    _build_button(at).click()
    at.run()
    from ui.downloads import _SESSION_KEY

    view, pdf = at.session_state[f"{_SESSION_KEY}_boardpack"]
    assert view[0] == "Gwent Police"
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Gwent Police" in text and "OFFICIAL-SENSITIVE" in text
