"""The meeting record's repository, on SQLite and on PostgreSQL (see conftest.py)."""

from __future__ import annotations

import json
import threading
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from metrics.record import (
    MAX_COMMENT,
    Record,
    RecordConflict,
    RecordError,
    RecordUnavailable,
    migrate,
    open_record,
)

FORCE = "Kent Police"


def _audit_lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _comment(record: Record, text: str = "Charges rising since the new team.", **kw) -> object:
    args = {"owner": "Head of crime", "text": text, "assurance": "partly_assured",
            "author": "chair@example.police.uk"}
    args.update(kw)
    return record.add_comment(FORCE, "2025-10", "2026-09", "charge_rate", **args)


def test_latest_comment_per_kpi_is_the_newest_and_history_keeps_every_entry(record):
    first = _comment(record, "First view.", assurance="not_assured")
    second = _comment(record, "Second view.", assurance="assured")
    record.add_comment(FORCE, "2025-10", "2026-09", "days_to_charge", owner="DCI",
                       text="Slower.", assurance="not_assured", author="a")
    latest = record.latest_comments(FORCE, "2025-10", "2026-09")
    assert set(latest) == {"charge_rate", "days_to_charge"}
    assert latest["charge_rate"].text == "Second view."
    assert latest["charge_rate"].assurance_label == "Assured"
    history = record.comment_history(FORCE, "charge_rate")
    assert [c.id for c in history] == [second.id, first.id]
    assert history[1].text == "First view." and history[1].assurance == "not_assured"
    assert history[0].created_at.tzinfo is not None


def test_comments_are_per_exact_force_and_window(record):
    _comment(record)
    assert record.latest_comments(FORCE, "2025-11", "2026-09") == {}
    assert record.latest_comments("Gwent Police", "2025-10", "2026-09") == {}
    # a Period or a Timestamp names the same months
    same = record.latest_comments(FORCE, pd.Period("2025-10", "M"),
                                  pd.Timestamp("2026-09-30"))
    assert list(same) == ["charge_rate"]


def test_comment_longer_than_2000_characters_is_refused_and_exactly_2000_accepted(record):
    with pytest.raises(RecordError, match="2,000"):
        _comment(record, "x" * (MAX_COMMENT + 1))
    assert len(_comment(record, "y" * MAX_COMMENT).text) == MAX_COMMENT
    # unicode text survives unchanged on both backends
    assert _comment(record, "Ünïcødé – ‘quotes’").text == "Ünïcødé – ‘quotes’"


@pytest.mark.parametrize("bad", [{"assurance": "fully_assured"}, {"text": "   "},
                                 {"owner": ""}, {"author": ""}])
def test_invalid_comment_is_refused_and_nothing_written(record, bad):
    with pytest.raises(RecordError):
        _comment(record, **bad)
    assert record.latest_comments(FORCE, "2025-10", "2026-09") == {}


def test_comment_based_on_a_stale_entry_is_a_conflict_not_a_silent_overwrite(record):
    first = _comment(record, "Mine.", based_on=None)
    _comment(record, "Theirs.", based_on=first.id)          # another session saw `first`
    with pytest.raises(RecordConflict, match="someone else"):
        _comment(record, "Mine again.", based_on=first.id)  # I still think `first` is latest
    assert record.latest_comments(FORCE, "2025-10", "2026-09")["charge_rate"].text == "Theirs."


def test_every_write_is_audited_without_the_text(record, audit_file):
    secret = "Text that must never reach the audit trail"
    _comment(record, secret)
    action = record.add_action(FORCE, text=secret, owner="DCI", due_date=date(2026, 1, 31),
                               author="chair", kpi_id="charge_rate")
    record.set_action_status(action.id, "done", version=action.version, author="dci")
    lines = _audit_lines(audit_file)
    assert [x["action"] for x in lines] == ["record_write"] * 3
    assert [x["user"] for x in lines] == ["chair@example.police.uk", "chair", "dci"]
    assert lines[0]["force"] == FORCE and lines[0]["window"] == "2025-10..2026-09"
    assert lines[0]["reason"].startswith("comment_added:charge_rate")
    assert secret not in audit_file.read_text()


def test_a_write_whose_audit_line_cannot_be_written_is_rolled_back(record, tmp_path,
                                                                  monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("FLIGHTDECK_AUDIT_LOG", str(blocker / "audit.jsonl"))
    with pytest.raises(OSError):
        _comment(record)
    assert record.latest_comments(FORCE, "2025-10", "2026-09") == {}


def test_actions_filter_by_status_and_overdue_means_open_and_past_due(record):
    late = record.add_action(FORCE, text="Review bail", owner="DI", due_date=date(2026, 1, 1),
                             author="c", kpi_id="charge_rate")
    later = record.add_action(FORCE, text="Train", owner="L&D", due_date=date(2026, 6, 1),
                              author="c", pillar=4)
    done = record.set_action_status(late.id, "done", version=late.version, author="c")
    assert [a.id for a in record.actions(FORCE)] == [late.id, later.id]
    assert [a.id for a in record.actions(FORCE, status="open")] == [later.id]
    assert [a.id for a in record.actions(FORCE, status=["done", "dropped"])] == [late.id]
    assert record.actions("Gwent Police") == []
    assert later.overdue(date(2026, 6, 2)) and not later.overdue(date(2026, 6, 1))
    assert not done.overdue(date(2030, 1, 1))  # done is never overdue
    assert done.version == 2 and later.pillar == 4 and later.kpi_id is None


@pytest.mark.parametrize("kw", [{"kpi_id": None, "pillar": None}, {"pillar": 7},
                                {"kpi_id": "x", "due_date": "2026-01-01"},
                                {"kpi_id": "x", "text": ""}])
def test_invalid_action_is_refused(record, kw):
    args = {"text": "t", "owner": "o", "due_date": date(2026, 1, 1), "author": "a"} | kw
    with pytest.raises(RecordError):
        record.add_action(FORCE, **args)
    assert record.actions(FORCE) == []


def test_action_changed_by_someone_else_raises_conflict_and_keeps_their_change(record):
    action = record.add_action(FORCE, text="t", owner="o", due_date=date(2026, 1, 1),
                               author="a", kpi_id="charge_rate")
    record.set_action_status(action.id, "done", version=action.version, author="first")
    with pytest.raises(RecordConflict, match="reload|Reload"):
        record.set_action_status(action.id, "dropped", version=action.version, author="second")
    now = record.action(action.id)
    assert now.status == "done" and now.updated_by == "first" and now.version == 2


def test_concurrent_status_changes_from_threads_exactly_one_wins(record):
    action = record.add_action(FORCE, text="t", owner="o", due_date=date(2026, 1, 1),
                               author="a", kpi_id="charge_rate")
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def change(i: int) -> None:
        barrier.wait()
        try:
            record.set_action_status(action.id, "done" if i % 2 else "dropped",
                                     version=action.version, author=f"user{i}")
            outcomes.append("won")
        except RecordConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=change, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 5 + ["won"]
    assert record.action(action.id).version == 2


def test_record_survives_reopening_and_migrate_is_idempotent(db_url, audit_file):
    first = open_record(db_url)
    _comment(first, "Persisted.")
    first.close()
    again = open_record(db_url)
    assert again.latest_comments(FORCE, "2025-10", "2026-09")["charge_rate"].text == "Persisted."
    assert migrate(again.engine) == "0001"
    again.close()


def test_migrations_create_exactly_the_models_schema(record):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from metrics.record.models import Base

    with record.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_export_tables_hold_every_table(record):
    _comment(record)
    tables = record.export_tables()
    assert set(tables) == {"comments", "actions", "samples", "sample_cases", "reviews"}
    assert tables["comments"].loc[0, "text"] == "Charges rising since the new team."
    assert tables["actions"].empty and "version" in tables["actions"].columns


def test_unreachable_database_is_a_one_line_error_without_the_password(tmp_path):
    url = "postgresql+psycopg://user:s3cret-pass@/nodb?host=/nonexistent-socket-dir&port=1"
    with pytest.raises(RecordUnavailable) as err:
        open_record(url)
    message = str(err.value)
    assert "s3cret-pass" not in message and "\n" not in message
    assert "cannot be opened" in message


def test_servers_opening_a_fresh_database_at_once_all_get_the_schema(db_url, audit_file):
    opened, failed = [], []
    barrier = threading.Barrier(4)

    def start() -> None:
        barrier.wait()
        try:
            opened.append(open_record(db_url))
        except RecordUnavailable as exc:  # pragma: no cover - the failure being tested
            failed.append(str(exc))

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failed == [] and len(opened) == 4
    _comment(opened[0], "After a racy start.")
    assert opened[3].latest_comments(FORCE, "2025-10", "2026-09")["charge_rate"].text == (
        "After a racy start.")
    for rec in opened:
        rec.close()


def test_view_gives_the_deck_and_pack_comments_open_and_overdue_actions(record):
    from metrics.record import view

    _comment(record)
    late = record.add_action(FORCE, text="late", owner="o", due_date=date(2026, 1, 1),
                             author="a", kpi_id="charge_rate")
    soon = record.add_action(FORCE, text="soon", owner="o", due_date=date(2026, 3, 1),
                             author="a", pillar=2)
    gone = record.add_action(FORCE, text="gone", owner="o", due_date=date(2025, 1, 1),
                             author="a", pillar=2)
    record.set_action_status(gone.id, "dropped", version=gone.version, author="a")
    shown = view(record, FORCE, "2025-10", "2026-09", today=date(2026, 2, 1))
    assert list(shown.comments) == ["charge_rate"]
    assert [a.id for a in shown.open_actions] == [late.id, soon.id]
    assert [a.id for a in shown.overdue] == [late.id]


def test_separate_processes_migrating_a_fresh_database_at_once_all_succeed(db_url, tmp_path):
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    code = ("import sys; from metrics.record import open_record; "
            "r = open_record(sys.argv[1]); print(len(r.actions('x')))")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(repo),
           "FLIGHTDECK_AUDIT_LOG": str(tmp_path / "a.jsonl")}
    procs = [subprocess.Popen([sys.executable, "-c", code, db_url], cwd=repo, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _, err in results]
    assert [out.strip() for out, _ in results] == ["0", "0", "0"]
