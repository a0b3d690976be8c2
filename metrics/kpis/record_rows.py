"""The meeting record's KPIs in the engine's table: ``compute_kpis(..., record=...)``.

KPIs declared with ``source = "record"`` (``panel_nfa_decision_sound``,
``open_learning_actions``) have no SQL: the engine gives them ``no_data`` (their "table" is
never in an export), and :func:`join_record` fills their rows from
``metrics.record.record_kpis`` when a record is passed. One read of the four tables those
measures need per call (not the commentary), then one ``record_kpis`` per window: the whole
window, or with ``by="month"`` each month holding a reviewed case's outcome (the other months
get the rows ``record_kpis`` gives a month without reviews, computed once).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from metrics.registry import KPI, RECORD_SOURCE

FILLED = ("value", "numerator", "denominator", "n", "ci_low", "ci_high", "status")


class _Snapshot:
    """The record's tables read once, standing in for the ``Record`` in ``record_kpis``
    (which reads only ``export_tables()``), so a 36-month table costs one database read."""

    def __init__(self, tables: dict[str, pd.DataFrame]) -> None:
        self._tables = tables

    def export_tables(self) -> dict[str, pd.DataFrame]:
        """The tables as read, ``{table name: DataFrame}``."""
        return self._tables


NEEDED = ("samples", "sample_cases", "reviews", "actions")
"""The record's tables ``record_kpis`` reads."""


def read_tables(record: Any) -> dict[str, pd.DataFrame]:
    """The tables of :data:`NEEDED` from ``record``, ``{name: DataFrame}``: straight from its
    database when it has an SQLAlchemy ``engine`` (the commentary is not read), else
    ``record.export_tables()``. Raises whatever the database raises."""
    engine = getattr(record, "engine", None)
    if engine is None:
        return record.export_tables()
    from sqlalchemy import select

    from metrics.record.models import ActionRow, ReviewRow, SampleCaseRow, SampleRow

    out: dict[str, pd.DataFrame] = {}
    with engine.connect() as conn:
        for model in (SampleRow, SampleCaseRow, ReviewRow, ActionRow):
            table = model.__table__
            result = conn.execute(select(table).order_by(table.c.id))
            out[table.name] = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    return out


def _months_reviewed(tables: dict[str, pd.DataFrame]) -> set[pd.Period]:
    """The months of the outcome dates of the cases with a review."""
    reviews, cases = tables["reviews"], tables["sample_cases"]
    if reviews.empty or cases.empty:
        return set()
    reviewed = cases[cases["id"].isin(reviews["sample_case_id"])]
    when = pd.to_datetime(reviewed["outcome_date"], errors="coerce").dropna()
    return set(when.dt.to_period("M"))


def record_ids(kpis: Iterable[KPI]) -> list[str]:
    """The ids among ``kpis`` that are computed from the meeting record."""
    return [k.id for k in kpis if k.source == RECORD_SOURCE]


def join_record(table: pd.DataFrame, record: Any, start: pd.Period, end: pd.Period, by: str,
                kpis: Iterable[KPI]) -> pd.DataFrame:
    """``table`` (the engine's KPI table, before the ``spc`` and ``provisional`` columns) with
    the rows of the record KPIs filled from ``record`` (a ``metrics.record.Record``).

    Returns ``table`` unchanged when ``record`` is None, no record KPI is asked for, or the
    record cannot be read (the rows stay ``no_data``: nothing is guessed). ``by="window"``:
    one window ``start``..``end``; ``by="month"``: each month of it. Values are fractions for
    the proportion, a number of actions for the count; rows keep their order.
    """
    ids = record_ids(kpis)
    if record is None or not ids or table.empty:
        return table
    mask = table["kpi_id"].isin(ids).to_numpy()
    if not mask.any():
        return table
    from metrics.record import record_kpis

    try:
        tables = read_tables(record)
    except Exception:  # noqa: BLE001 - the record is down: its KPIs stay no_data
        return table
    snapshot = _Snapshot(tables)
    forces = list(dict.fromkeys(table.loc[mask, "force"]))
    if by == "month":
        reviewed = _months_reviewed(tables)
        months = list(pd.period_range(start, end, freq="M"))
        parts = [record_kpis(snapshot, str(m), str(m), forces) for m in months
                 if m in reviewed]
        empty = [m for m in months if m not in reviewed]
        if empty:  # no reviewed case: the rows record_kpis gives such a month, once
            blank = _Snapshot({**tables, "reviews": tables["reviews"].iloc[0:0]})
            template = record_kpis(blank, str(empty[0]), str(empty[0]), forces)
            for m in empty:
                parts.append(template.assign(window_start=m.start_time,
                                             window_end=m.end_time.normalize()))
    else:
        parts = [record_kpis(snapshot, str(start), str(end), forces)]
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if rows.empty:
        return table
    rows = rows.assign(window_start=pd.to_datetime(rows["window_start"]).dt.normalize())
    rows = rows.set_index(["kpi_id", "force", "window_start"])
    out = table.copy()
    key = pd.MultiIndex.from_arrays([out["kpi_id"], out["force"],
                                     pd.to_datetime(out["window_start"]).dt.normalize()])
    hit = key.isin(rows.index) & mask
    if not hit.any():
        return out
    found = rows.reindex(key[hit])
    for col in FILLED:
        values = found[col].to_numpy()
        if col == "n":
            values = values.astype("int64")
        out.loc[hit, col] = values
    return out
