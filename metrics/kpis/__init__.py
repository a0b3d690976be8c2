"""The KPI engine: every KPI of the catalogue (``metrics.registry``, declared in
``metrics/catalogue/``) for each force and All forces, computed by DuckDB.

``compute_kpis(dataset, start, end, *, by="window"|"month", forces=None, kpi_ids=None,
scope="all")`` returns the long KPI table (see ``metrics.kpis.engine.compute_kpis``); the
decisions on windows, forces, gates and edge cases are in ``metrics/kpis/engine.py``'s
docstring, the views the SQL reads in ``metrics/kpis/sql.py``, the SPC column's in
``metrics/kpis/spc.py``. ``kpi_items(...)`` gives the items behind a median KPI.
``prepare(dataset)`` warms up once after loading.
"""

from metrics.kpis.engine import (
    ALL_FORCES,
    COLUMNS,
    SCOPES,
    KpiInputError,
    compute_kpis,
    kpi_items,
    kpis_for,
    prepare,
    survey_items,
    to_period,
)

__all__ = [
    "ALL_FORCES",
    "COLUMNS",
    "SCOPES",
    "KpiInputError",
    "compute_kpis",
    "kpi_items",
    "kpis_for",
    "prepare",
    "survey_items",
    "to_period",
]
