"""The audit trail: one JSON line per event, only who/what/where, safe concurrent appends."""

from __future__ import annotations

import json
import multiprocessing
import threading
from datetime import UTC, datetime

import pytest

from metrics import audit


def test_log_event_appends_one_json_line_with_the_documented_fields(tmp_path):
    path = tmp_path / "logs" / "audit.jsonl"
    when = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    event = audit.log_event("page_view", user="a@example.police.uk", audience="internal",
                            force="Kent", window="2025-01..2025-03", page="trends",
                            path=path, now=when)
    audit.log_event("export", user="link123", audience="panel", reason="csv", path=path)
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first == event
    assert list(first) == list(audit.COLUMNS)
    assert first["time"] == "2026-01-02T03:04:05.678Z"
    assert first["action"] == "page_view" and first["page"] == "trends"
    assert json.loads(lines[1])["reason"] == "csv"
    assert (path.stat().st_mode & 0o777) == 0o600


def test_env_variable_chooses_the_file(tmp_path, monkeypatch):
    target = tmp_path / "custom.jsonl"
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(target))
    assert audit.audit_path() == target
    audit.log_event("link_refused", user="x", audience="panel", reason="expired")
    assert json.loads(target.read_text())["reason"] == "expired"
    monkeypatch.delenv("FLIGHTDECK_AUDIT_LOG")
    assert audit.audit_path() == audit.DEFAULT_AUDIT_LOG
    assert audit.DEFAULT_AUDIT_LOG.name == "audit.jsonl"


@pytest.mark.parametrize("kw", [
    dict(action="download_everything", audience="internal"),
    dict(action="page_view", audience="admin"),
])
def test_unknown_action_or_audience_is_rejected(tmp_path, kw):
    with pytest.raises(ValueError):
        audit.log_event(kw["action"], user="u", audience=kw["audience"],
                        path=tmp_path / "a.jsonl")
    assert not (tmp_path / "a.jsonl").exists()


def test_fields_are_single_line_and_bounded(tmp_path):
    path = tmp_path / "a.jsonl"
    audit.log_event("page_view", user="evil\nuser\r\x00", audience="internal",
                    reason="r" * 5000, path=path)
    lines = path.read_text().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert "\n" not in record["user"] and "\x00" not in record["user"]
    assert len(record["reason"]) == 200


def _writer(path: str, worker: int, count: int) -> None:
    for i in range(count):
        audit.log_event("page_view", user=f"worker{worker}", audience="internal",
                        page="flight_deck", reason=f"{i:04d}" + "x" * 150, path=path)


def test_concurrent_appends_from_threads_and_processes_never_interleave(tmp_path):
    path = str(tmp_path / "a.jsonl")
    threads = [threading.Thread(target=_writer, args=(path, w, 200)) for w in range(4)]
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(path, 10 + w, 200)) for w in range(3)]
    for t in threads + procs:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    lines = open(path).read().splitlines()
    assert len(lines) == 7 * 200
    records = [json.loads(line) for line in lines]  # every line is whole JSON
    for w in list(range(4)) + [10, 11, 12]:
        mine = [r["reason"][:4] for r in records if r["user"] == f"worker{w}"]
        assert mine == [f"{i:04d}" for i in range(200)]  # each writer's order is kept


def test_read_audit_returns_newest_first_and_skips_torn_lines(tmp_path):
    path = tmp_path / "a.jsonl"
    for i in range(5):
        audit.log_event("page_view", user=f"u{i}", audience="internal", path=path,
                        now=datetime(2026, 1, 1, 0, i, tzinfo=UTC))
    with open(path, "a") as handle:
        handle.write('{"time": "2026-01-01T00:09:00Z", "action": "page_v')  # torn last line
    frame = audit.read_audit(path, limit=3)
    assert list(frame.columns) == list(audit.COLUMNS)
    assert frame["user"].tolist() == ["u4", "u3"]  # the torn line used one of the 3 slots
    assert str(frame["time"].dt.tz) == "UTC"
    everything = audit.read_audit(path, limit=100)
    assert everything["user"].tolist() == ["u4", "u3", "u2", "u1", "u0"]


def test_read_audit_of_missing_file_is_empty(tmp_path):
    frame = audit.read_audit(tmp_path / "none.jsonl")
    assert frame.empty and list(frame.columns) == list(audit.COLUMNS)


def test_read_audit_reads_only_the_end_of_a_large_file(tmp_path):
    path = tmp_path / "a.jsonl"
    with open(path, "w") as handle:
        for i in range(20000):
            handle.write(json.dumps({"time": "2026-01-01T00:00:00Z", "user": f"u{i}",
                                     "audience": "internal", "action": "page_view"}) + "\n")
    frame = audit.read_audit(path, limit=3)
    assert frame["user"].tolist() == ["u19999", "u19998", "u19997"]
    assert audit.read_audit(path, limit=0).empty
    assert len(audit.read_audit(path, limit=25000)) == 20000
