"""DuckDB views over a loaded export, for the KPI catalogue's SQL.

Each KPI's SQL (``metrics/catalogue/*.toml``, format in docs/catalogue.md) reads views named
after the contract tables: ``cases``, ``victim_updates``, ``orders``, ``breaches``, ``devices``,
``survey_responses``, ``forces``, ``workforce``, plus ``all_cases`` (every case, whatever the
scope) and ``month_ends`` (``month`` DATE the first day, ``month_end`` DATE the last day, one row
per month end the call needs).

The views are built over the *validated* tables of the ``Dataset`` (registered with DuckDB,
not copied), so every row a validation warning excluded is excluded here exactly as in the
rest of the app, and DuckDB reads only the columns a query names. Column types follow the
contract: ids and categories ``VARCHAR``, dates ``DATE`` (the UK local date), timestamps
``TIMESTAMPTZ`` (the session time zone is Europe/London, so ``seized_at::DATE`` is the UK local
date and ``epoch(b) - epoch(a)`` real elapsed seconds), ints ``BIGINT``, numbers ``DOUBLE``,
booleans ``BOOLEAN``; survey ``q_`` items keep their type (BIGINT or BOOLEAN). A contract
column missing from a table is a typed all-NULL column; a missing table is an empty view.

Scope (``all``, ``adult_rape``, ``child``) filters ``cases`` (adult_rape: offence group rape and
a known victim age band of 18 or over; child: victim age band under 18); ``victim_updates``,
``orders`` and ``devices`` follow their case and ``breaches`` their order. ``survey_responses``
and ``workforce`` are force-wide and never filtered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

import pandas as pd

from metrics import contract
from metrics.dataset import Dataset
from metrics.registry import KPI

SCOPES = ("all", "adult_rape", "child")
ADULT_AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55+")
CHILD_AGE_BANDS = ("0-15", "16-17")
DUCK_TYPES = {"id": "VARCHAR", "category": "VARCHAR", "int": "BIGINT", "float": "DOUBLE",
              "bool": "BOOLEAN", "date": "DATE", "timestamp": "TIMESTAMPTZ"}
RESERVED_PARAMS = ("flightdeck_start", "flightdeck_end", "flightdeck_first_end")
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_SHAPE_COLUMNS = {"flow": ("force", "month", "num"), "stock": ("force", "month", "num"),
                  "items": ("force", "month", "item")}


def connect() -> Any:
    """A fresh in-memory DuckDB connection with the session time zone Europe/London."""
    import duckdb

    con = duckdb.connect(config={"threads": 2})
    con.execute(f"SET TimeZone = '{contract.UK_TZ}'")
    return con


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _select_list(spec: contract.Table, frame: pd.DataFrame | None) -> str:
    """The SELECT list turning a registered frame into the contract's column types."""
    cols = []
    for c in spec.columns:
        target = DUCK_TYPES[c.kind]
        q = _quote(c.name)
        if frame is None or c.name not in frame.columns:
            cols.append(f"CAST(NULL AS {target}) AS {q}")
        else:
            cols.append(f"CAST({q} AS {target}) AS {q}")
    if spec.survey_items:
        items = [] if frame is None else [c for c in frame.columns
                                          if str(c).startswith(contract.SURVEY_PREFIX)]
        for name in items:
            dtype = frame[name].dtype
            target = "BOOLEAN" if pd.api.types.is_bool_dtype(dtype) else "BIGINT"
            cols.append(f"CAST({_quote(name)} AS {target}) AS {_quote(name)}")
    return ", ".join(cols)


def register_views(con: Any, dataset: Dataset | None, scope: str = "all",
                   survey_items: Iterable[str] = ()) -> None:
    """Create the contract views of ``dataset`` (None: an empty export, whose survey table
    has the given ``survey_items`` as BIGINT columns) on ``con``, filtered by ``scope``."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    for spec in contract.TABLES:
        frame = None if dataset is None else dataset.get(spec.name)
        base = f"_all_{spec.name}"
        if frame is None:
            select = _select_list(spec, None)
            if spec.survey_items:
                select += "".join(f", CAST(NULL AS BIGINT) AS {_quote(i)}" for i in survey_items)
            con.execute(f"CREATE OR REPLACE TEMP VIEW {base} AS SELECT {select} WHERE false")
        else:
            raw = f"_src_{spec.name}"
            con.register(raw, frame)
            con.execute(f"CREATE OR REPLACE TEMP VIEW {base} AS SELECT "
                        f"{_select_list(spec, frame)} FROM {raw}")
    con.execute("CREATE OR REPLACE TEMP VIEW all_cases AS SELECT * FROM _all_cases")
    if scope == "all":
        where = ""
    elif scope == "adult_rape":
        bands = ", ".join(f"'{b}'" for b in ADULT_AGE_BANDS)
        where = f" WHERE offence_group = 'rape' AND victim_age_band IN ({bands})"
    else:
        bands = ", ".join(f"'{b}'" for b in CHILD_AGE_BANDS)
        where = f" WHERE victim_age_band IN ({bands})"
    con.execute(f"CREATE OR REPLACE TEMP VIEW cases AS SELECT * FROM _all_cases{where}")
    for name in ("victim_updates", "orders", "devices"):
        follow = "" if scope == "all" else \
            " WHERE case_id IN (SELECT case_id FROM cases)"
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM _all_{name}{follow}")
    follow = "" if scope == "all" else " WHERE order_id IN (SELECT order_id FROM orders)"
    con.execute(f"CREATE OR REPLACE TEMP VIEW breaches AS SELECT * FROM _all_breaches{follow}")
    for name in ("survey_responses", "forces", "workforce"):
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM _all_{name}")
    # an empty stand-in: the engine defines month_ends for each query (a CTE)
    con.execute("CREATE OR REPLACE TEMP VIEW month_ends AS SELECT CAST(NULL AS DATE) AS month, "
                "CAST(NULL AS DATE) AS month_end WHERE false")


def sql_params(kpi: KPI, extra: dict[str, Any] | None = None, text: str | None = None
               ) -> dict[str, Any]:
    """The named parameters ``text`` (default ``kpi.sql``) uses (``$name``), from the KPI's
    ``params`` and ``extra``; KeyError naming one that is neither."""
    supplied = {**kpi.params, **(extra or {})}
    out = {}
    for name in dict.fromkeys(_PARAM.findall(kpi.sql if text is None else text)):
        if name not in supplied:
            raise KeyError(name)
        out[name] = supplied[name]
    return out


def output_columns(con: Any, kpi: KPI, extra: dict[str, Any] | None = None) -> list[str]:
    """The column names ``kpi.sql`` returns on ``con`` (binds the query, reads no rows)."""
    sql = kpi.sql.strip().rstrip(";")
    cur = con.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0", sql_params(kpi, extra))
    return [d[0] for d in cur.description]


def sql_problem(kpi: KPI) -> str | None:
    """Why ``kpi.sql`` cannot run (it does not bind on an empty export, uses an undeclared
    ``$parameter``, or lacks the columns its shape needs), in plain words; None when fine."""
    if not kpi.sql.strip():
        return "sql is empty"
    try:
        sql_params(kpi, dict.fromkeys(RESERVED_PARAMS, date(2000, 1, 1)))
    except KeyError as exc:
        return f"sql uses ${exc.args[0]}, which is not one of its [params]"
    con = connect()
    try:
        items = ("q_example",) + ((f"q_{kpi.id[len('survey_'):]}",)
                                  if kpi.id.startswith("survey_") else ())
        register_views(con, None, "all", survey_items=items)
        try:
            names = output_columns(con, kpi)
        except Exception as exc:  # noqa: BLE001 - any DuckDB error is the declaration's
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return f"sql fails on an empty export: {first}"
    finally:
        con.close()
    need = _SHAPE_COLUMNS[kpi.shape]
    missing = [c for c in need if c not in names]
    if missing:
        return (f"sql must return the columns {', '.join(need)} (unit {kpi.unit}"
                f"{', stock' if kpi.stock else ''}); missing {', '.join(missing)}")
    if kpi.shape != "items" and kpi.unit != "count" and "den" not in names:
        return "sql must return a den column (the denominator) for this unit"
    return None
