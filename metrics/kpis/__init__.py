"""The KPI engine: every NOM measure of ``metrics.registry`` for each force and All forces.

``compute_kpis(dataset, start, end, *, by="window"|"month", forces=None, kpi_ids=None)``
returns the long KPI table (see ``metrics.kpis.engine.compute_kpis``); the decisions on
windows, forces, gates and edge cases are in ``metrics/kpis/engine.py``'s docstring, the SPC
column's in ``metrics/kpis/spc.py``.

``prepare(dataset)`` computes, once, the export-level arrays every call reuses (id joins,
repeat-suspect flags, month keys); call it where the loaded Dataset is cached so the first
KPI request after loading is as fast as later ones. Loaded tables must not be modified in
place afterwards (they are read-only by contract).
"""

from metrics.kpis.engine import (
    ALL_FORCES,
    COLUMNS,
    KpiInputError,
    compute_kpis,
    kpi_items,
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
    "kpi_items",
    "kpis_for",
    "prepare",
    "repeat_suspect_flags",
    "survey_items",
    "to_period",
]
