"""The meeting record in the board pack (issue 16), read back from the PDF with pypdf.

``python -m metrics boardpack ... --db URL`` (default ``FLIGHTDECK_DB``) prints each pillar's
commentary with its table, the assurance levels and the open and overdue actions on the
summary page, and the record KPIs' values; a panel pack prints commentary and assurance only
(no authors, no actions, no case reviews); an unreachable record is one warning line.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from metrics.__main__ import main as cli
from metrics.load import load_dataset
from metrics.record import draw_sample, open_record
from present.format import format_value
from report import boardpack as bp

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
FORCE, START, END = "Durham Constabulary", "2025-10", "2026-09"
AUTHOR = "analyst.one@example.police.uk"
PILLAR1 = "Charging held up after CPS early advice meetings."
PILLAR4 = "Sickness is rising in the adult rape team; welfare checks agreed."
OTHER_WINDOW = "Commentary on an earlier window only."
OVERDUE, LATER, DONE = "Audit the bail decisions", "Refresh ISVA referral guidance", "Closed one"
LEARNING_POINT = "Learning point that stays internal"


def _flat(text: str) -> str:
    return " ".join(text.split())


def _pages(pdf: bytes) -> list[str]:
    return [_flat(p.extract_text()) for p in PdfReader(io.BytesIO(pdf)).pages]


def _section(pages: list[str], number: int) -> str:
    """The text of pillar ``number``'s pages (from its heading to the next pillar's)."""
    start = next(i for i, p in enumerate(pages) if f"Pillar {number}: " in p and " KPI " in p
                 and i > 1)
    out = [pages[start]]
    for page in pages[start + 1:]:
        if f"Pillar {number + 1}: " in page or "Victim voice" in page[:40]:
            break
        out.append(page)
    return " ".join(out)


@pytest.fixture(scope="module")
def sample():
    return load_dataset(SAMPLE)


@pytest.fixture(scope="module")
def record_url(sample, tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("packrecord")
    url = f"sqlite:///{folder / 'record.db'}"
    record = open_record(url, audit_path=folder / "audit.jsonl")
    record.add_comment(FORCE, START, END, "charge_rate", owner="Head of crime", text=PILLAR1,
                       assurance="assured", author=AUTHOR)
    record.add_comment(FORCE, START, END, "sickness_rate", owner="HR business partner",
                       text=PILLAR4, assurance="not_assured", author=AUTHOR)
    record.add_comment(FORCE, "2024-10", "2025-09", "victim_withdrawal_rate", owner="DCI",
                       text=OTHER_WINDOW, assurance="partly_assured", author=AUTHOR)
    record.add_action(FORCE, text=OVERDUE, owner="DCI", due_date=date(2026, 1, 15),
                      author=AUTHOR, kpi_id="bail_breach_arrest_rate")
    record.add_action(FORCE, text=LATER, owner="Victim care lead", due_date=date(2099, 6, 1),
                      author=AUTHOR, pillar=3)
    done = record.add_action(FORCE, text=DONE, owner="DI", due_date=date(2026, 2, 1),
                             author=AUTHOR, kpi_id="charge_rate")
    action = record.action(done) if isinstance(done, int) else done
    record.set_action_status(action.id, "done", version=action.version, author=AUTHOR)
    sample_id, drawn = draw_sample(record, sample, FORCE, START, END, size=12, seed=3,
                                   author="lead")
    for i, case_id in enumerate(record.sample_cases(sample_id)["sample_case_id"]):
        record.add_review(int(case_id), decision_sound=i < 9, reviewer="panel",
                          learning_point=LEARNING_POINT)
    record.close()
    return url


@pytest.fixture(scope="module")
def case_ids(record_url) -> list[str]:
    record = open_record(record_url)
    try:
        return list(record.export_tables()["sample_cases"]["case_id"])
    finally:
        record.close()


@pytest.fixture(scope="module")
def internal_pdf(record_url, tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("packs") / "internal.pdf"
    code = cli(["boardpack", str(SAMPLE), "--force", FORCE, "--from", START, "--to", END,
                "--no-charts", "--quiet", "--db", record_url, "--out", str(out)])
    assert code == 0
    return out.read_bytes()


def test_each_pillar_prints_its_commentary_beside_its_table(internal_pdf):
    pages = _pages(internal_pdf)
    pillar1 = _section(pages, 1)
    assert "Commentary and assurance (meeting record)" in pillar1
    assert PILLAR1 in pillar1 and "Head of crime" in pillar1
    assert AUTHOR in pillar1.replace(" ", "")  # internal: who recorded it (wraps in its cell)
    assert PILLAR4 not in pillar1
    pillar4 = _section(pages, 4)
    assert PILLAR4 in pillar4 and "Not assured" in pillar4 and PILLAR1 not in pillar4
    assert "Commentary and assurance" not in _section(pages, 2)
    assert OTHER_WINDOW not in " ".join(pages)  # another window's commentary stays out


def test_the_summary_page_has_assurance_levels_and_open_and_overdue_actions(internal_pdf):
    pages = _pages(internal_pdf)
    summary = " ".join(p for p in pages[1:3] if "What changed" in p or "Actions:" in p)
    assert "Assurance levels (meeting record)" in summary
    assert "Assured: 1 · Partly assured: 0 · Not assured: 1" in summary
    assert "Actions: 2 open, 1 overdue" in summary
    assert OVERDUE in summary and LATER in summary and "Overdue" in summary
    assert summary.index(OVERDUE) < summary.index(LATER)  # overdue first
    assert "Bail breach arrest rate" in summary or "bail" in summary.lower()
    assert DONE not in " ".join(pages)


def test_the_record_kpis_are_printed_from_the_record(internal_pdf):
    deck = " ".join(_pages(internal_pdf)[2:5])
    i = deck.index("Panel: NFA decision sound")
    assert format_value(0.75, "proportion") in deck[i:i + 120]


def test_a_panel_pack_shows_commentary_and_assurance_only(sample, record_url, case_ids):
    record = open_record(record_url)
    try:
        pdf = bp.build_boardpack(sample, FORCE, START, END, audience="panel", charts=False,
                                 record=record, today=date(2026, 12, 1))
    finally:
        record.close()
    text = " ".join(_pages(pdf))
    assert PILLAR1 in text and PILLAR4 in text and "Not assured" in text
    assert "Assurance levels (meeting record)" in text
    squeezed = text.replace(" ", "")
    for secret in (AUTHOR, OVERDUE, LATER, "Actions:", LEARNING_POINT, "Recorded by"):
        assert secret.replace(" ", "") not in squeezed, secret
    for case_id in case_ids:
        assert case_id not in text


def test_without_db_there_is_no_record_section(tmp_path, monkeypatch):
    monkeypatch.delenv("FLIGHTDECK_DB", raising=False)
    out = tmp_path / "plain.pdf"
    assert cli(["boardpack", str(SAMPLE), "--force", FORCE, "--from", "2026-07", "--to", END,
                "--no-charts", "--quiet", "--out", str(out)]) == 0
    text = " ".join(_pages(out.read_bytes()))
    for heading in ("Assurance levels (meeting record)", "Commentary and assurance",
                    "Actions:"):
        assert heading not in text


def test_flightdeck_db_is_the_default_record(tmp_path, monkeypatch, record_url):
    monkeypatch.setenv("FLIGHTDECK_DB", record_url)
    out = tmp_path / "env.pdf"
    assert cli(["boardpack", str(SAMPLE), "--force", FORCE, "--from", START, "--to", END,
                "--no-charts", "--quiet", "--out", str(out)]) == 0
    assert PILLAR1 in " ".join(_pages(out.read_bytes()))


def test_an_unreachable_record_is_one_warning_and_the_pack_is_built(tmp_path, capsys):
    out = tmp_path / "down.pdf"
    url = "postgresql+psycopg://fd:pw-secret@/x?host=/nonexistent-dir&port=1"
    code = cli(["boardpack", str(SAMPLE), "--force", FORCE, "--from", "2026-07", "--to", END,
                "--no-charts", "--db", url, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0 and out.stat().st_size > 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("warning:"), err
    assert "without the meeting record" in lines[0]
    assert "pw-secret" not in err and "Traceback" not in err


def test_the_pack_reuses_the_verdicts_monthly_table(sample, record_url, monkeypatch):
    """kpi_verdicts hands its 36 months over (attrs["monthly"]): an internal pack asks the
    engine for no by-month table of its own, and its charts show the record KPI's months."""
    import report.data as rd

    calls = []
    real = rd._compute

    def counting(dataset, start, end, **kw):
        calls.append(kw.get("by", "window"))
        return real(dataset, start, end, **kw)

    monkeypatch.setattr(rd, "_compute", counting)
    record = open_record(record_url)
    try:
        data = rd.collect_pack_data(sample, FORCE, START, END, record=record,
                                    with_forces=False)
    finally:
        record.close()
    assert "month" not in calls, calls
    monthly = data.verdicts.attrs["monthly"]
    assert set(monthly["kpi_id"]) >= {"panel_nfa_decision_sound", "charge_rate"}
    frame = data.spc["panel_nfa_decision_sound"]
    assert len(frame) == 36


@pytest.mark.parametrize("audience", ["internal", "panel"])
def test_a_pack_with_the_record_leaves_no_page_with_a_single_orphan_line(sample, record_url,
                                                                         audience):
    import re

    footer = f"{FORCE}: Oct 2025 to Sep 2026" + (" (scrutiny panel)" if audience == "panel"
                                                  else "")
    record = open_record(record_url)
    try:
        pdf = bp.build_boardpack(sample, FORCE, START, END, audience=audience, record=record,
                                 today=date(2026, 12, 1))  # with charts
    finally:
        record.close()
    for number, page in enumerate(PdfReader(io.BytesIO(pdf)).pages, 1):
        lines = [ln.strip() for ln in page.extract_text().splitlines()
                 if ln.strip() and ln.strip() not in ("OFFICIAL-SENSITIVE", footer)
                 and not re.fullmatch(r"Page \d+ of \d+", ln.strip())]
        assert len(lines) >= 3, (number, lines)


def test_a_pack_of_an_export_without_devices_says_so_in_its_rows(export_copy):
    (export_copy / "devices.parquet").unlink()
    pdf = bp.build_boardpack(load_dataset(export_copy), "All forces", START, END, charts=False)
    forensics = _section(_pages(pdf), 6)
    assert forensics.count("this export has no devices.parquet") >= 3
    assert "this export has no" not in _section(_pages(pdf), 1)


def test_the_packs_flight_deck_page_says_which_file_a_no_data_row_lacks(export_copy):
    (export_copy / "devices.parquet").unlink()
    pages = _pages(bp.build_boardpack(load_dataset(export_copy), "All forces", START, END,
                                      charts=False))
    first_pillar_page = next(i for i, p in enumerate(pages) if "Pillar 1: " in p and " KPI " in p
                             and i > 1)
    deck = " ".join(pages[:first_pillar_page])
    assert "Pillar 6: Digital forensics" in deck
    assert deck.count("No data: this export has no devices.parquet") == 4  # the device KPIs
    assert "Open learning actions No data: no meeting record is connected" in deck


def test_a_record_without_reviews_in_the_window_is_named_as_the_reason(tmp_path, sample):
    record = open_record(f"sqlite:///{tmp_path / 'empty.db'}", audit_path=tmp_path / "a.jsonl")
    try:
        pdf = bp.build_boardpack(sample, FORCE, START, END, charts=False, record=record)
    finally:
        record.close()
    text = " ".join(_pages(pdf))
    assert ("Open learning actions No data: no case review in the meeting record for this "
            "window") in text
    assert "no meeting record is connected" not in text
