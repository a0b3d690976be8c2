"""The audit trail cannot be broken, redirected or bypassed (issue 15, items 5 and 9).

Attacks: ``?share=garbage&force=`` with U+2028 characters survived the audit's cleaning and
broke ``read_audit`` (which split on any line break), emptying the in-app audit view; the
refused token's link id was recorded as if it were a real link's; the audit file followed a
symlink and kept an existing file's 0644 mode; and when the file could not be written the app
kept serving, unaudited.
"""

from __future__ import annotations

import json
import os
import stat
import unicodedata
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from metrics import audit
from tests.security.apptest_helpers import APP, REPO, SECRET, all_text
from ui.access import REFUSALS

SEPARATORS = "\u2028\u2029\x85\r\x0b\x0c\x1c\x1d\x1e\n\t\x00\x1b\u200e\u202e\u2066\ufeff\x7f"


@pytest.fixture
def log(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "audit.jsonl"
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(path))
    monkeypatch.setenv("FLIGHTDECK_DATA", str(REPO / "data" / "sample"))
    monkeypatch.delenv("FLIGHTDECK_SECRET", raising=False)
    return path


def _app(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["flightdeck"] = {"link_secret": SECRET, "roles": {}}
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def test_separator_characters_in_a_refused_link_do_not_empty_the_audit_view(log):
    for i in range(3):
        audit.log_event("page_view", user=f"analyst{i}@example.police.uk", audience="internal",
                        page="flight_deck")
    force = "Kent\u2028Police\u2029x\x85y\r\nz" + SEPARATORS
    token = "garbage\u2028" + SEPARATORS
    at = _app({"share": token, "force": force})
    assert not at.exception
    assert REFUSALS["malformed"] in all_text(at) and "Reason code" not in all_text(at)
    raw = log.read_bytes()
    assert raw.count(b"\n") == 4  # four events, four lines
    text = raw.decode("utf-8")
    assert len(text.splitlines()) == 4  # no other line break anywhere, as Python counts them
    for ch in SEPARATORS.replace("\n", ""):
        assert ch not in text, repr(ch)
    frame = audit.read_audit(limit=50)
    assert len(frame) == 4
    refused = frame.iloc[0]
    assert refused["action"] == "link_refused"
    assert refused["user"] == audit.UNVERIFIED  # never the id the token claims
    assert refused["force"].startswith("Kent\\u2028Police\\u2029x\\x85y\\x0d\\x0az")
    assert list(frame["user"][1:]) == [f"analyst{i}@example.police.uk" for i in (2, 1, 0)]


def test_a_forged_token_naming_a_real_link_is_recorded_as_unverified(log):
    from metrics import sharelink

    token, scope = sharelink.create(SECRET, force="Avon and Somerset Constabulary",
                                    start="2025-01", end="2025-03", pages=["flight_deck"],
                                    created_by="lead@example.police.uk")
    payload, signature = token.split(".")
    forged = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    at = _app({"share": forged, "force": scope.force, "window": "custom",
               "from": scope.start, "to": scope.end})
    assert not at.exception and REFUSALS["bad_signature"] in all_text(at)
    events = audit.read_audit(limit=5)
    assert list(events["action"]) == ["link_refused"]
    assert events["user"][0] == "unverified"
    assert scope.link_id not in log.read_text(encoding="utf-8")


def test_the_reader_splits_on_newline_only(tmp_path):
    path = tmp_path / "audit.jsonl"
    good = audit.make_event("export", user="a", audience="internal", reason="csv")
    # An older writer left a raw U+2028 and a CR inside a JSON string; a torn line follows.
    legacy = dict(good, user="b\u2028c\rd")
    path.write_bytes(
        (json.dumps(good) + "\n" + json.dumps(legacy, ensure_ascii=False) + "\n"
         + '{"time": "2026-01-01T00:00:00Z", "us').encode("utf-8") + b"\n"
        + (json.dumps(good) + "\n").encode())
    frame = audit.read_audit(path, limit=10)
    assert list(frame["user"]) == ["a", "b\u2028c\rd", "a"]


@pytest.mark.parametrize("code", [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029,
                                  0x200B, 0x200E, 0x200F, 0x202A, 0x202E, 0x2066, 0x2069,
                                  0xFEFF, 0x00A0, 0x3000, 0xE000, 0x10FFFF])
def test_every_control_format_and_separator_character_is_escaped(tmp_path, code):
    ch = chr(code)
    event = audit.log_event("page_view", user=f"u{ch}v", audience="internal", force=ch * 300,
                            path=tmp_path / "a.jsonl")
    line = (tmp_path / "a.jsonl").read_text(encoding="utf-8").removesuffix("\n")
    assert ch not in line and len(line.splitlines()) == 1
    assert event["user"] == "u" + audit.escape_field(ch) + "v"
    assert len(event["force"]) <= 200 and event["force"].endswith(audit.escape_field(ch))
    assert unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp", "Zs", "Co", "Cn"}


def test_backslashes_stay_distinguishable_from_escapes(tmp_path):
    event = audit.make_event("export", user="a\\u2028b\u2028", audience="internal")
    assert event["user"] == "a\\\\u2028b\\u2028"


def test_an_existing_0644_file_becomes_0600(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_text("")
    os.chmod(path, 0o644)
    audit.log_event("export", user="a", audience="internal", path=path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    new = tmp_path / "new.jsonl"
    audit.log_event("export", user="a", audience="internal", path=new)
    assert stat.S_IMODE(new.stat().st_mode) == 0o600


def test_a_symlink_in_place_of_the_file_is_refused(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("untouched\n")
    link = tmp_path / "audit.jsonl"
    link.symlink_to(target)
    with pytest.raises(OSError):
        audit.log_event("export", user="a", audience="internal", path=link)
    with pytest.raises(OSError):
        audit.check_writable(link)
    assert target.read_text() == "untouched\n"
    with pytest.raises(OSError):
        audit.read_audit(link)


def test_a_fifo_or_a_folder_in_place_of_the_file_is_refused_at_once(tmp_path):
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(OSError):
        audit.log_event("export", user="a", audience="internal", path=fifo)
    folder = tmp_path / "folder.jsonl"
    folder.mkdir()
    with pytest.raises(OSError):
        audit.log_event("export", user="a", audience="internal", path=folder)


@pytest.mark.parametrize("breakage", ["symlink", "under_a_file", "folder"])
def test_the_app_refuses_to_serve_when_the_audit_cannot_be_written(tmp_path, monkeypatch,
                                                                   breakage):
    if breakage == "symlink":
        target = tmp_path / "target.jsonl"
        target.write_text("")
        path = tmp_path / "audit.jsonl"
        path.symlink_to(target)
    elif breakage == "under_a_file":
        (tmp_path / "file").write_text("")
        path = tmp_path / "file" / "audit.jsonl"
    else:
        path = tmp_path / "audit.jsonl"
        path.mkdir()
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(path))
    monkeypatch.setenv("FLIGHTDECK_DATA", str(REPO / "data" / "sample"))
    at = _app({})
    assert not at.exception
    shown = all_text(at)
    assert "cannot record who views it" in shown
    assert "audit_unavailable" not in shown
    assert "OFFICIAL-SENSITIVE" in shown
    assert not at.get("html") or all("fd-row" not in h.proto.body for h in at.get("html"))
    assert not at.dataframe and not at.metric
    assert str(path) not in shown


def test_the_app_serves_when_the_audit_can_be_written(log):
    """The refusal above is not vacuous: with a writable file the deck is drawn and audited."""
    at = _app({})
    assert not at.exception
    assert any("fd-row" in h.proto.body for h in at.get("html"))
    assert list(audit.read_audit(limit=5)["action"]) == ["page_view"]
