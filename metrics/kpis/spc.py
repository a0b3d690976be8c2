"""The ``spc`` column of the monthly KPI table: each month's SPC point type.

Each (KPI, force) monthly series goes through the monitoring chart of ``metrics.verdicts``
(``spc_points``, batched per KPI over all forces; ``metrics.stats.spc_monitor`` does the
numbers): Laney p′ limits for proportions of cases, outcomes and answers, XmR for medians,
counts, workforce ratios and caseload, with the Making Data Count rules and the KPI's
improvement direction. Each segment's limits come from its first 24 points, then stay fixed.
A force's series is rebased at the month containing its Soteria adoption date
(``forces.parquet``), when that month is inside the requested range and not its first month;
All forces and forces without a date get no rebase. Months whose status is not ``ok`` and
provisional (maturing) months enter the series as missing: they are skipped by every rule
and the limits, and get an empty ``spc`` (None).
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
    with an ``spc`` column: the month's point type string, or None.

    The chart is ``metrics.verdicts.spc_points`` over the table's months: Laney p′ for
    proportions of cases, outcomes or answers, XmR otherwise; limits from each segment's
    first 24 points; rebased at the force's adoption month. Months whose status is not
    ``ok``, and ``provisional`` months (when the table has that column), get None and are
    left out of the limits and the rules.
    """
    from metrics.verdicts import spc_points

    if table.empty:
        return table.assign(spc=np.full(0, None, dtype=object))
    frame = table
    if "provisional" not in table.columns:  # the engine adds it after this call
        from metrics.kpis.engine import provisional_flags

        frame = table.assign(provisional=provisional_flags(table, kpis,
                                                           getattr(dataset, "as_at", None)))
    points = spc_points(frame, {k.id: k for k in kpis}, adoption_months(dataset))
    return table.assign(spc=points["point_type"].to_numpy())
