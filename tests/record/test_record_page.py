"""The "Meeting record" page in the app (AppTest): writes for internal users, and a panel link
that sees commentary and assurance only - never case ids, case reviews or authors."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from metrics import sharelink
from metrics.record import draw_sample, open_record

SECRET = "record-page-test-secret-0123456789"
FORCE, START, END = "Gwent Police", "2026-07", "2026-09"
PAGE = "pages/record.py"


@pytest.fixture
def record_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A private record database and audit file; the record page in the navigation (until
    ui/shell.py lists it, the test adds it the same way)."""
    import ui.shell as shell

    url = f"sqlite:///{tmp_path / 'record.db'}"
    monkeypatch.setenv("FLIGHTDECK_DB", url)
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    if not any(spec.id == "record" for spec in shell.PAGE_SPECS):
        base = shell.PAGE_SPECS[0]
        monkeypatch.setattr(shell, "PAGE_SPECS", (*shell.PAGE_SPECS, replace(
            base, id="record", path=PAGE, title="Meeting record", section="Meeting")))
    return url


def _all_text(at) -> str:
    """Every string the page would send to the browser (all element protos)."""
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "header",
                 "subheader", "text", "text_input", "text_area", "selectbox", "radio"):
        parts.extend(str(getattr(el, "proto", el)) for el in getattr(at, kind))
    for frame in at.dataframe:
        parts.append(frame.value.to_csv())
    return "\n".join(parts)


def _open_internal(app_test):
    at = app_test(force=FORCE, window="custom", **{"from": START, "to": END})
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def test_internal_user_writes_a_comment_and_sees_it_after_a_fresh_session(
        app_test, record_env):
    at = _open_internal(app_test)
    assert at.header[0].value == f"Meeting record: {FORCE}"
    at.selectbox(key="rec_c_kpi").set_value("charge_rate")
    at.text_input(key="rec_c_owner").input("Head of crime")
    at.radio(key="rec_c_assurance").set_value("partly_assured")
    at.text_area(key="rec_c_text").input("Charges up after the new early advice route.")
    at.button(key="FormSubmitter:rec_comment_form-Save commentary").click()
    at.run()
    assert not at.exception, at.exception
    assert any("Commentary saved" in s.value for s in at.success)
    record = open_record(record_env)
    saved = record.latest_comments(FORCE, START, END)["charge_rate"]
    assert saved.assurance == "partly_assured" and saved.author == "local user"
    fresh = _open_internal(app_test)   # a new session (a reload)
    table = fresh.dataframe[0].value
    assert table.loc[0, "commentary"] == "Charges up after the new early advice route."
    assert table.loc[0, "assurance"] == "Partly assured"


def test_a_comment_saved_over_someone_elses_newer_one_is_refused_with_reload_advice(
        app_test, record_env):
    at = _open_internal(app_test)
    at.selectbox(key="rec_c_kpi").set_value("charge_rate")
    at.run()
    other = open_record(record_env)   # another session writes meanwhile
    other.add_comment(FORCE, START, END, "charge_rate", owner="DCI", text="Theirs.",
                      assurance="assured", author="colleague")
    at.text_input(key="rec_c_owner").input("Head of crime")
    at.text_area(key="rec_c_text").input("Mine.")
    at.button(key="FormSubmitter:rec_comment_form-Save commentary").click()
    at.run()
    assert any("someone else" in w.value for w in at.warning)
    assert other.latest_comments(FORCE, START, END)["charge_rate"].text == "Theirs."


def test_internal_user_records_an_action_and_a_case_review(app_test, record_env, small_export):
    at = _open_internal(app_test)
    at.text_input(key="rec_a_text").input("Dip-sample bail decisions")
    at.text_input(key="rec_a_owner").input("DI, case review team")
    at.button(key="FormSubmitter:rec_action_form-Record action").click()
    at.run()
    assert not at.exception, at.exception
    at.text_input(key="rec_r_seed").input("5")
    at.button(key="FormSubmitter:rec_sample_form-Draw sample of NFA cases").click()
    at.run()
    assert not at.exception, at.exception
    assert any("Sample 1 drawn" in s.value for s in at.success), [s.value for s in at.error]
    at.checkbox(key="rec_v_theme_early_advice").check()
    at.radio(key="rec_v_sound").set_value("no")
    at.text_area(key="rec_v_point").input("Seek early advice sooner.")
    at.text_input(key="rec_v_action").input("Brief the teams")
    at.text_input(key="rec_v_owner").input("L&D")
    at.button(key="FormSubmitter:rec_review_form-Save review").click()
    at.run()
    assert not at.exception, at.exception
    record = open_record(record_env)
    assert [a.kind for a in record.actions(FORCE)] == ["meeting", "learning"]
    log = record.learning_log()
    assert log.loc[0, "decision_sound"] == "no" and log.loc[0, "themes"] == "Early advice"


@pytest.fixture
def seeded_record(record_env, small_export) -> dict:
    """A record with a comment, an action and a reviewed sample for the panel's view."""
    record = open_record(record_env)
    record.add_comment(FORCE, START, END, "charge_rate", owner="Head of crime",
                       text="Panel-visible commentary.", assurance="not_assured",
                       author="chair.person@example.police.uk")
    record.add_action(FORCE, text="Secret action text", owner="DCI", due_date=date(2026, 1, 1),
                      author="chair", kpi_id="charge_rate")
    cases = pd.read_parquet(small_export / "cases.parquet")
    sample_id, sample = draw_sample(record, cases, FORCE, "2023-01", "2026-12", size=5, seed=1,
                                    author="lead")
    # the same force and window as the link, so nothing but the audience keeps them out
    record2_id, sample2 = draw_sample(record, cases, FORCE, START, END, size=3, seed=2,
                                      author="lead")
    for case_id in record.sample_cases(record2_id)["sample_case_id"]:
        record.add_review(int(case_id), decision_sound=True, learning_point="Internal only",
                          reviewer="panel chair")
    return {"case_ids": [*sample["case_id"], *sample2["case_id"]]}


def test_panel_link_sees_commentary_and_assurance_but_no_case_ids_authors_or_forms(
        app_test, seeded_record, monkeypatch):
    monkeypatch.setenv("FLIGHTDECK_SECRET", SECRET)
    token, _ = sharelink.create(SECRET, force=FORCE, start=START, end=END,
                                pages=["flight_deck", "record"], created_by="test")
    at = app_test(share=token, force=FORCE, window="custom", **{"from": START, "to": END})
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    text = _all_text(at)
    assert "Panel-visible commentary." in text and "Not assured" in text
    for case_id in seeded_record["case_ids"]:
        assert case_id not in text
    assert "chair.person@example.police.uk" not in text and "panel chair" not in text
    assert "Secret action text" not in text and "Internal only" not in text
    assert not at.text_area and not at.text_input and len(at.tabs) == 0
    assert list(at.dataframe[0].value.columns) == ["measure", "owner", "assurance",
                                                   "commentary", "recorded"]


def test_panel_link_for_another_window_does_not_show_this_windows_commentary(
        app_test, seeded_record, monkeypatch):
    monkeypatch.setenv("FLIGHTDECK_SECRET", SECRET)
    token, _ = sharelink.create(SECRET, force=FORCE, start="2026-04", end="2026-06",
                                pages=["record"], created_by="test")
    at = app_test(share=token, force=FORCE, window="custom", **{"from": "2026-04",
                                                                 "to": "2026-06"})
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert "Panel-visible commentary." not in _all_text(at)
    assert any("No commentary" in i.value for i in at.info)


def test_unreachable_record_database_is_a_message_not_a_traceback(app_test, record_env,
                                                                monkeypatch):
    monkeypatch.setenv("FLIGHTDECK_DB",
                       "postgresql+psycopg://fd:pw-secret@/x?host=/nonexistent-dir&port=1")
    at = _open_internal(app_test)
    assert not at.exception
    assert any("cannot be opened" in e.value for e in at.error)
    assert "pw-secret" not in _all_text(at)


def test_commentary_with_markdown_and_html_is_shown_as_text_not_rendered(app_test, record_env):
    attack = "**Bold** [click](javascript:alert(1)) <img src=x onerror=alert(1)> $x$"
    record = open_record(record_env)
    record.add_comment(FORCE, START, END, "charge_rate", owner="<b>Owner</b>", text=attack,
                       assurance="assured", author="[me](http://evil)")
    at = _open_internal(app_test)
    at.selectbox(key="rec_c_kpi").set_value("charge_rate")
    at.run()
    shown = [m.value for m in at.markdown if "Bold" in m.value]
    assert shown, "the latest commentary is shown"
    for value in shown:
        assert "\\*\\*Bold\\*\\*" in value and "\\[click\\]" in value and "\\<img" in value
    latest = [m.value for m in at.markdown if "Latest" in m.value][0]
    assert "\\[me\\]" in latest and "\\<b\\>" in latest


def _history_script(audience: str) -> None:
    from types import SimpleNamespace

    from ui.record import history_expander

    access = SimpleNamespace(is_internal=audience == "internal")
    history_expander(access, "Gwent Police", "charge_rate")


@pytest.mark.parametrize("audience", ["internal", "panel"])
def test_history_expander_for_other_pages_is_internal_only(record_env, audience):
    from streamlit.testing.v1 import AppTest

    record = open_record(record_env)
    for window, text in ((("2026-04", "2026-06"), "Q1 view."), ((START, END), "Q2 view.")):
        record.add_comment(FORCE, *window, "charge_rate", owner="DCI", text=text,
                           assurance="assured", author="chair")
    at = AppTest.from_function(_history_script, args=(audience,), default_timeout=60).run()
    assert not at.exception
    if audience == "internal":
        assert at.expander[0].label.endswith("(2)")
        table = at.dataframe[0].value
        assert table["commentary"].tolist() == ["Q2 view.", "Q1 view."]
        assert table["window"].tolist() == ["2026-07 to 2026-09", "2026-04 to 2026-06"]
    else:
        assert not at.expander and not at.dataframe


def test_write_callbacks_refuse_a_panel_session_even_if_called(record_env, monkeypatch):
    """Defence in depth: a forged form submission from a panel session writes nothing."""
    from types import SimpleNamespace

    import ui.record as ui_record

    state: dict = {"rec_c_owner": "x", "rec_c_text": "forged", "rec_c_assurance": "assured",
                   "rec_a_target": "pillar:1", "rec_a_text": "forged", "rec_a_owner": "x",
                   "rec_a_due": date(2026, 1, 1)}
    monkeypatch.setattr(ui_record.st, "session_state", state)
    record = open_record(record_env)
    ctx = SimpleNamespace(access=SimpleNamespace(is_internal=False, user="link-id"),
                          view=SimpleNamespace(force=FORCE), start=START, end=END)
    ui_record._add_comment(record, ctx, "charge_rate", ...)
    ui_record._add_action(record, ctx)
    assert record.latest_comments(FORCE, START, END) == {} and record.actions(FORCE) == []
    assert "read-only" in state["_rec_flash"][1]
