"""KPIs broken down by a case-level group (offence group, victim age band, sex, ethnicity, team).

A force's problem profile: whom RASSO affects in its area. The engine computes the KPIs; this
module only restricts the cases to one group at a time and calls ``compute_kpis`` on the
restricted export, so every number is the engine's own formula.

Only KPIs that are a function of the cases alone, case by case, can be split this way
(:data:`BREAKDOWN_KPIS`). Excluded: KPIs from other tables (orders, breaches, devices, survey,
workforce: they carry no victim or offence fields), the repeat-suspect measures (share and
arrest rate: a suspect's other cases may lie in another group, so restricting the cases would
hide them) and the caseload measures (an investigator's caseload spans groups). The restricted
export keeps the whole export's as-at date, so a group's maturing windows are the export's.

Panel audiences must pass the result through :func:`disclose_breakdown` (that is
``metrics.disclosure.apply_panel_breakdown``, the one place the panel rules live).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import pandas as pd

from metrics.dataset import Dataset
from metrics.kpis.engine import ALL_FORCES
from metrics.registry import STATIC_KPIS

DIMENSIONS: dict[str, str] = {
    "offence_group": "Offence group",
    "victim_age_band": "Victim age band",
    "victim_sex": "Victim sex",
    "victim_ethnicity": "Victim ethnicity",
    "team": "Team",
}
NOT_RECORDED = "Not recorded"
_EXCLUDED = {"repeat_suspect_share", "repeat_suspect_arrest_rate", "caseload_per_investigator",
             "investigators_over_15"}
BREAKDOWN_KPIS: tuple[str, ...] = tuple(
    k.id for k in STATIC_KPIS.values() if k.source == "cases" and k.id not in _EXCLUDED
)


def compute_breakdown(
    dataset: Dataset, start: str | pd.Period, end: str | pd.Period, dimension: str, *,
    force: str, kpi_ids: Iterable[str] | None = None, scope: str = "all",
) -> pd.DataFrame:
    """The KPI table for ``force`` over the window, one block of rows per group of ``dimension``.

    Returns the ``compute_kpis`` columns plus ``dimension`` and ``group`` (the group's value,
    ``Not recorded`` for a missing one), for the groups with cases recorded in the window, in
    descending order of those cases. ``force`` may be "All forces". ``scope`` (``all``,
    ``adult_rape``, ``child``) is passed to ``compute_kpis``. Raises ``ValueError`` for an
    unknown dimension or a KPI that cannot be broken down.
    """
    from metrics.kpis import compute_kpis, to_period

    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown breakdown {dimension!r}; expected one of {list(DIMENSIONS)}")
    ids = list(kpi_ids) if kpi_ids is not None else list(BREAKDOWN_KPIS)
    bad = [k for k in ids if k not in BREAKDOWN_KPIS]
    if bad:
        raise ValueError(f"cannot break down {', '.join(bad)} by a case field")
    cases = dataset.cases
    if dimension not in cases.columns:
        return pd.DataFrame()
    p0, p1 = to_period(start), to_period(end)
    groups = cases[dimension].astype(object).where(cases[dimension].notna(), NOT_RECORDED)
    recorded = cases["recorded_date"]
    in_window = (recorded >= p0.start_time) & (recorded <= p1.end_time)
    if force != "All forces":
        in_window &= cases["force"].astype(object) == force
    counts = groups[in_window].value_counts()
    order = [str(g) for g in counts[counts > 0].index]
    if not order:
        return pd.DataFrame()
    kw = {} if scope == "all" else {"scope": scope}
    if ALL_FORCES in order:  # a group named like the pooled row: one call per group
        return _by_group_calls(dataset, cases, groups, order, p0, p1, dimension, force, ids, kw)
    # One call for every group: each group stands in for a force (the cases of the force asked
    # for, or of every force, with ``force`` set to their group), so each row is that group's
    # figure by the engine's own formula, exactly as if the cases were restricted to it.
    mine = cases if force == ALL_FORCES else cases[cases["force"].astype(object) == force]
    labels = groups.loc[mine.index]
    chosen = labels.isin(order).to_numpy()
    as_groups = mine[chosen].assign(force=pd.Categorical(labels[chosen], categories=order))
    sub = replace(dataset, tables={"cases": as_groups.reset_index(drop=True)}, scan=None,
                  known_as_at=dataset.as_at)
    table = compute_kpis(sub, p0, p1, by="window", forces=order, kpi_ids=ids, **kw)
    table = table[table["force"] != ALL_FORCES]
    rank = {g: i for i, g in enumerate(order)}
    kpi_rank = {k: i for i, k in enumerate(dict.fromkeys(table["kpi_id"]))}  # engine order
    table = table.assign(_g=table["force"].map(rank), _k=table["kpi_id"].map(kpi_rank))
    table = table.sort_values(["_g", "_k"], kind="stable").drop(columns=["_g", "_k"])
    return table.assign(force=force, dimension=dimension,
                        group=table["force"].astype(str)).reset_index(drop=True)


def _by_group_calls(dataset: Dataset, cases: pd.DataFrame, groups: pd.Series, order: list,
                    p0: pd.Period, p1: pd.Period, dimension: str, force: str, ids: list[str],
                    kw: dict) -> pd.DataFrame:
    """``compute_breakdown`` by one ``compute_kpis`` call per group (the cases restricted to
    the group); used when a group's name is the pooled row's."""
    from metrics.kpis import compute_kpis

    frames = []
    for group in order:
        sub = replace(dataset, tables={"cases": cases[groups == group]}, scan=None,
                      known_as_at=dataset.as_at)
        table = compute_kpis(sub, p0, p1, by="window", forces=[force], kpi_ids=ids, **kw)
        frames.append(table.assign(dimension=dimension, group=str(group)))
    return pd.concat(frames, ignore_index=True)


def disclose_breakdown(table: pd.DataFrame, kpis: object = None) -> pd.DataFrame:
    """A breakdown table as a scrutiny panel may see it: ``metrics.disclosure.
    apply_panel_breakdown`` (counts 1-7 hidden, secondary suppression of the groups against
    the force's published figure, the rest rounded to 5, rates from the rounded counts,
    medians in whole days and hidden with their n). ``kpis`` is accepted for older callers
    and not used (the units come from the registry). Same columns as ``table``."""
    from metrics import disclosure

    if table.empty:
        return table
    return disclosure.apply_panel_breakdown(table, group_col="group")[table.columns]
