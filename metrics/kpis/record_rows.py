"""The meeting record's KPIs in the engine's table: ``compute_kpis(..., record=...)``.

KPIs declared with ``source = "record"`` (``panel_nfa_decision_sound``,
``open_learning_actions``) have no SQL: the engine gives them ``no_data`` (their "table" is
never in an export), and :func:`join_record` fills their rows from
``metrics.record.record_kpis`` when a record is passed. One read of the record per call, then
one ``record_kpis`` per window (the whole window, or each month with ``by="month"``).
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
        snapshot = _Snapshot(record.export_tables())
    except Exception:  # noqa: BLE001 - the record is down: its KPIs stay no_data
        return table
    forces = list(dict.fromkeys(table.loc[mask, "force"]))
    if by == "month":
        windows = [(m, m) for m in pd.period_range(start, end, freq="M")]
    else:
        windows = [(start, end)]
    parts = [record_kpis(snapshot, str(a), str(b), forces) for a, b in windows]
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
