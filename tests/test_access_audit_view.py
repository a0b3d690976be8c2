"""The in-app audit view ("Recent activity"): internal users only, plain words on failure."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from metrics import audit


def view() -> None:
    from ui.access import Access, render_audit_trail

    render_audit_trail(Access(audience="internal", user="local user", page_id="data_quality",
                              mode="local"))


def panel_view() -> None:
    from datetime import UTC, datetime, timedelta

    from metrics.sharelink import Scope
    from ui.access import Access, render_audit_trail

    now = datetime.now(UTC)
    scope = Scope(force="Avon", start="2025-01", end="2025-03", pages=("flight_deck",),
                  expires=now + timedelta(days=1), link_id="abc", created_by="x", created=now)
    render_audit_trail(Access(audience="panel", user="abc", page_id="flight_deck", mode="link",
                              scope=scope))


def test_internal_users_see_the_latest_events_including_separator_attacks(tmp_path, monkeypatch):
    path = tmp_path / "audit.jsonl"
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(path))
    audit.log_event("page_view", user="a@example.police.uk", audience="internal")
    audit.log_event("link_refused", user=audit.UNVERIFIED, audience="panel",
                    force="Kent\u2028Police", reason="malformed")
    at = AppTest.from_function(view).run()
    assert not at.exception
    frame = at.dataframe[0].value
    assert list(frame["action"]) == ["link_refused", "page_view"]
    assert frame["force"][0] == "Kent\\u2028Police"


def test_a_panel_gets_no_audit_view(tmp_path, monkeypatch):
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    audit.log_event("page_view", user="a@example.police.uk", audience="internal")
    at = AppTest.from_function(panel_view).run()
    assert not at.exception and not at.dataframe and not at.subheader


def test_an_unreadable_trail_is_said_in_plain_words(tmp_path, monkeypatch):
    target = tmp_path / "real.jsonl"
    target.write_text("")
    link = tmp_path / "audit.jsonl"
    link.symlink_to(target)
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(link))
    at = AppTest.from_function(view).run()
    assert not at.exception
    warning = at.warning[0].value
    assert "cannot be read right now" in warning
    assert "symbolic" not in warning and str(tmp_path) not in warning and "Errno" not in warning
