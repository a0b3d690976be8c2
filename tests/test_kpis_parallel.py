"""KPI queries run side by side (``metrics.kpis.engine.QUERY_WORKERS``), each in a DuckDB
session of its own (``metrics.kpis.sql.cursor``): the answers are those of one query at a
time, every session reads UK local time, and calls for other months never see each other's
shared tables."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest

from metrics.kpis import compute_kpis
from metrics.kpis import engine as E
from metrics.kpis import sql as S
from metrics.load import load_dataset
from tests.kpi_fixtures import dataset
from tests.test_kpis_shared import caseload_rows

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def test_every_session_reads_uk_local_time():
    con = S.connect()
    try:
        cur = S.cursor(con)
        # 23:30 UTC on 1 July is 00:30 on 2 July in London (BST)
        got = cur.execute("SELECT current_setting('TimeZone'), "
                          "(TIMESTAMPTZ '2024-07-01 23:30:00+00')::DATE").fetchone()
        cur.close()
    finally:
        con.close()
    assert got == ("Europe/London", pd.Timestamp("2024-07-02").date())


def test_a_session_of_a_dataset_served_from_frames_sees_its_tables():
    ds = dataset(caseload_rows())
    con = S.connect()
    try:
        S.register_views(con, ds, "all")
        cur = S.cursor(con, ds)
        assert cur.execute("SELECT count(*) FROM cases").fetchone() == (len(caseload_rows()),)
        cur.close()
    finally:
        con.close()


# (months asked, caseload numerator and denominator, over-15 numerator) for Alpha, worked out
# in tests.test_kpis_shared.caseload_rows: January 18 of 2 (I1 17), March 32 of 3 (I1 16)
EXPECTED = {("2024-01", "2024-01"): (18, 2, 1), ("2024-01", "2024-03"): (32, 3, 1),
            ("2024-02", "2024-03"): (32, 3, 1), ("2024-03", "2024-03"): (32, 3, 1),
            ("2023-12", "2024-01"): (18, 2, 1), ("2024-02", "2024-02"): (18, 2, 1)}


def test_calls_for_other_months_at_once_each_read_their_own_shared_table():
    """Every call rebuilds the per-investigator month-end table for its own months; the
    rebuild and the reads are under the connection's lock, so none reads another's months."""
    ds = dataset(caseload_rows())
    start = threading.Barrier(len(EXPECTED))
    got: dict[tuple[str, str], tuple[float, float, float]] = {}
    errors: list[BaseException] = []

    def work(months: tuple[str, str]) -> None:
        try:
            start.wait()
            table = compute_kpis(ds, *months, forces=["Alpha"], kpi_ids=[
                "caseload_per_investigator", "investigators_over_15"]).set_index("kpi_id")
            got[months] = (table.loc["caseload_per_investigator", "numerator"],
                           table.loc["caseload_per_investigator", "denominator"],
                           table.loc["investigators_over_15", "numerator"])
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(m,)) for m in EXPECTED]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert got == EXPECTED


@pytest.mark.parametrize("scope", ["all", "child"])
def test_side_by_side_gives_the_cells_of_one_query_at_a_time(monkeypatch, scope):
    """Every KPI of the sample export by month, two queries at a time and one at a time
    (each on a fresh load, so nothing comes from the other's cache): the same table."""
    monkeypatch.setattr(E, "QUERY_WORKERS", 2)
    side_by_side = compute_kpis(load_dataset(SAMPLE), "2025-04", "2026-09", by="month",
                                scope=scope)
    monkeypatch.setattr(E, "QUERY_WORKERS", 1)
    one_at_a_time = compute_kpis(load_dataset(SAMPLE), "2025-04", "2026-09", by="month",
                                 scope=scope)
    assert len(side_by_side) > 1000
    pd.testing.assert_frame_equal(side_by_side, one_at_a_time)


@pytest.mark.parametrize("scope", ["all", "adult_rape"])
def test_a_stock_window_read_from_a_chart_of_its_months_equals_its_own_query(monkeypatch,
                                                                           scope):
    """A stock KPI's window is the month end it ends on: after a by-month call covering that
    month, the window (and the comparison window) come from it with no query, and equal the
    windows queried on their own."""
    from metrics import registry

    stock = [k.id for k in registry.all_kpis([]) if k.stock]
    assert {"victim_updated_28d", "caseload_per_investigator", "device_backlog"} <= set(stock)
    alone = load_dataset(SAMPLE)
    own = [compute_kpis(alone, *w, kpi_ids=stock, scope=scope)
           for w in (("2025-10", "2026-09"), ("2024-10", "2025-09"))]
    charted = load_dataset(SAMPLE)
    compute_kpis(charted, "2023-10", "2026-09", by="month", kpi_ids=stock, scope=scope)

    def no_query(*_args, **_kw):
        raise AssertionError("a window was queried although its month end was charted")

    monkeypatch.setattr(E._Run, "query", no_query)
    read = [compute_kpis(charted, *w, kpi_ids=stock, scope=scope)
            for w in (("2025-10", "2026-09"), ("2024-10", "2025-09"))]
    for mine, theirs in zip(read, own, strict=True):
        assert (mine["status"] == "ok").sum() > 40
        pd.testing.assert_frame_equal(mine, theirs)
