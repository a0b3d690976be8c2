"""The ``spc`` column of the monthly KPI table: each month's XmR point type.

Each (KPI, force) monthly series goes through the Making Data Count XmR rules
(``metrics.stats.xmr_point_types_batch``, the batched form of ``metrics.stats.xmr``: one call
per KPI for all forces) with the KPI's improvement direction. A force's series is rebased at
the month containing its Soteria adoption date (``forces.parquet``), when that month is inside
the requested range and not its first month; All forces and forces without a date get no
rebase. Months whose status is not ``ok`` enter the series as missing (NaN): they are skipped
by every rule, do not bridge moving ranges, and get an empty ``spc`` (None).
When ``metrics.stats`` has no batched XmR the column is empty (None).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.dataset import Dataset
from metrics.registry import KPI


def adoption_months(dataset: Dataset) -> dict[str, pd.Period]:
    """Force name -> month of its Soteria adoption date (forces without a date left out)."""
    forces = dataset.get("forces")
    if forces is None or not {"force", "soteria_adoption_date"} <= set(forces.columns):
        return {}
    dates = pd.to_datetime(forces["soteria_adoption_date"])
    out: dict[str, pd.Period] = {}
    for name, when in zip(forces["force"].astype(object), dates, strict=True):
        if pd.notna(name) and pd.notna(when):
            out[str(name)] = when.to_period("M")
    return out


def rebase_positions(force_names: list[str], first_month: pd.Period, n_months: int,
                     adoption: dict[str, pd.Period]) -> list[int | None]:
    """Per force, the row position of its adoption month in the series, or None."""
    out: list[int | None] = []
    for name in force_names:
        when = adoption.get(name)
        pos = None if when is None else (when - first_month).n
        out.append(pos if pos is not None and 0 < pos < n_months else None)
    return out


def add_spc(table: pd.DataFrame, dataset: Dataset, kpis: list[KPI]) -> pd.DataFrame:
    """``table`` (by-month KPI rows, ordered KPI, force, month as ``compute_kpis`` makes them)
    with an ``spc`` column: the month's point type string, or None."""
    from metrics import stats

    batch = getattr(stats, "xmr_point_types_batch", None)
    spc = np.full(len(table), None, dtype=object)
    if batch is None or table.empty:
        return table.assign(spc=spc)
    n_months = int(table["window_start"].nunique())
    first = pd.Period(table["window_start"].min(), freq="M")
    adoption = adoption_months(dataset)
    values = table["value"].to_numpy(dtype=np.float64)
    ok = (table["status"] == "ok").to_numpy()
    y_all = np.where(ok, values, np.nan)
    kpi_ids = table["kpi_id"].to_numpy()
    forces = table["force"].to_numpy()
    start = 0
    by_id = {k.id: k for k in kpis}
    while start < len(table):
        kid = kpi_ids[start]
        stop = start
        while stop < len(table) and kpi_ids[stop] == kid:
            stop += n_months
        block = y_all[start:stop].reshape(-1, n_months)
        names = [str(f) for f in forces[start:stop:n_months]]
        rebase = rebase_positions(names, first, n_months, adoption)
        spc[start:stop] = batch(block, improvement=by_id[kid].improvement,
                                rebase=rebase).ravel()
        start = stop
    return table.assign(spc=spc)
