"""The KPI engine: every NOM measure of ``metrics.registry`` for each force and All forces.

``compute_kpis(dataset, start, end, *, by="window"|"month", forces=None, kpi_ids=None)``
returns the long KPI table (see ``metrics.kpis.engine.compute_kpis``); the decisions on
windows, forces, gates and edge cases are in ``metrics/kpis/engine.py``'s docstring.
"""

from metrics.kpis.engine import (
    ALL_FORCES,
    COLUMNS,
    KpiInputError,
    compute_kpis,
    kpis_for,
    prepare,
    repeat_suspect_flags,
    survey_items,
    to_period,
)

__all__ = [
    "ALL_FORCES",
    "COLUMNS",
    "KpiInputError",
    "compute_kpis",
    "kpis_for",
    "prepare",
    "repeat_suspect_flags",
    "survey_items",
    "to_period",
]
