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

Shared intermediates (``SHARED``): named tables several declarations read, so the engine
computes each once per call instead of once per KPI (values identical to writing them inline):
- ``suspect_case_gaps`` (``case_id``, ``days_since_previous`` BIGINT: days since the previous
  case of the same ``suspect_id`` in (recorded_date, case_id) order over ``all_cases``, NULL
  for a suspect's first case; ``same_day_after`` BOOLEAN: the next case of that suspect in that
  order was recorded the same day); one row per case with a ``suspect_id``, any force, any
  scope. A case is a repeat-suspect case when ``coalesce(days_since_previous <= N, false) OR
  same_day_after``.
- ``investigator_month_end_cases`` (``force``, ``month``, ``investigator_id``,
  ``cases_held``): per force, month end of ``month_ends`` and investigator, the cases (of the
  scope) recorded on or before that month end and with no outcome dated on or before it; only
  investigators holding at least one.
On an empty export (``catalogue check``) they are views; the engine materialises the ones a
query names as tables for the call's months (``materialise_shared``).

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
SHARED: dict[str, tuple[str, bool]] = {
    # name -> (SELECT over the contract views, whether it reads month_ends)
    "suspect_case_gaps": ("""
        SELECT case_id,
               recorded_date - lag(recorded_date) OVER w AS days_since_previous,
               coalesce(lead(recorded_date) OVER w = recorded_date, false) AS same_day_after
        FROM all_cases
        WHERE suspect_id IS NOT NULL
        WINDOW w AS (PARTITION BY suspect_id ORDER BY recorded_date, case_id)""", False),
    "investigator_month_end_cases": ("""
        WITH span AS (
            SELECT min(month) AS first_month, min(month_end) AS first_end,
                   max(month_end) AS last_end FROM month_ends
        ), live AS (
            SELECT c.force, c.investigator_id,
                   greatest(date_trunc('month', c.recorded_date)::DATE, s.first_month) AS opened,
                   CASE WHEN c.outcome_code IS NOT NULL AND c.outcome_date <= s.last_end
                        THEN date_trunc('month', c.outcome_date)::DATE END AS closed
            FROM cases c, span s
            WHERE c.investigator_id IS NOT NULL AND c.recorded_date <= s.last_end
              AND (c.outcome_code IS NULL OR c.outcome_date IS NULL
                   OR c.outcome_date > s.first_end)
        ), ids AS (
            -- a number per (force, investigator), so the steps below group and order by one
            -- integer rather than two strings
            SELECT force, investigator_id, row_number() OVER () AS k
            FROM (SELECT DISTINCT force, investigator_id FROM live)
        ), coded AS (
            SELECT i.k, l.opened, l.closed FROM live l JOIN ids i USING (force, investigator_id)
        ), changes AS (
            -- +1 from the month a case is open at its end, -1 from the month it closes
            SELECT k, m, sum(d) AS d FROM (
                SELECT k, opened AS m, 1 AS d FROM coded
                UNION ALL
                SELECT k, closed, -1 FROM coded WHERE closed IS NOT NULL
            ) GROUP BY ALL
        ), grid AS (
            SELECT i.k, e.month, coalesce(c.d, 0) AS d
            FROM ids i CROSS JOIN month_ends e
            LEFT JOIN changes c ON c.k = i.k AND c.m = e.month
        ), held AS (
            SELECT k, month, sum(d) OVER (PARTITION BY k ORDER BY month) AS cases_held
            FROM grid
        )
        SELECT i.force, h.month, i.investigator_id, h.cases_held::BIGINT AS cases_held
        FROM held h JOIN ids i USING (k) WHERE h.cases_held > 0""", True),
}
_SHARED_NAME = re.compile(r"\b(" + "|".join(SHARED) + r")\b", re.IGNORECASE)
_SHAPE_COLUMNS = {"flow": ("force", "month", "num"), "stock": ("force", "month", "num"),
                  "items": ("force", "month", "item")}


def connect() -> Any:
    """A fresh in-memory DuckDB connection with the session time zone Europe/London."""
    import duckdb

    con = duckdb.connect(config={"threads": 2})
    # GLOBAL: the engine's cursors (one per query, ``cursor``) are sessions of their own
    con.execute(f"SET GLOBAL TimeZone = '{contract.UK_TZ}'")
    return con


def cursor(con: Any, dataset: Dataset | None = None) -> Any:
    """A new session on ``con``'s database (``con.cursor()``), which sees the views of
    ``register_views`` and the shared tables, and can run while another session runs (each
    query of the engine has its own, so KPIs are computed side by side). A Dataset served
    from frames has them registered again: DuckDB keeps registered frames per session.
    Close it after use."""
    cur = con.cursor()
    if dataset is not None and dataset.parquet is None:
        for spec in contract.TABLES:
            frame = dataset.get(spec.name)
            if frame is not None:
                cur.register(f"_src_{spec.name}", frame)
    return cur


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _select_list(spec: contract.Table, present: Iterable[str],
                 survey_types: dict[str, str]) -> str:
    """The SELECT list turning a source's columns (``present``: the names it has;
    ``survey_types``: each survey item's DuckDB type) into the contract's column types; a
    column the source lacks is a typed NULL."""
    have = set(present)
    cols = []
    for c in spec.columns:
        target = DUCK_TYPES[c.kind]
        q = _quote(c.name)
        cols.append(f"CAST({q} AS {target}) AS {q}" if c.name in have
                    else f"CAST(NULL AS {target}) AS {q}")
    if spec.survey_items:
        cols += [f"CAST({_quote(name) if name in have else 'NULL'} AS {target}) AS "
                 f"{_quote(name)}" for name, target in survey_types.items()]
    return ", ".join(cols)


def _frame_survey_types(frame: pd.DataFrame) -> dict[str, str]:
    return {str(c): "BOOLEAN" if pd.api.types.is_bool_dtype(frame[c].dtype) else "BIGINT"
            for c in frame.columns if str(c).startswith(contract.SURVEY_PREFIX)}


def register_views(con: Any, dataset: Dataset | None, scope: str = "all",
                   survey_items: Iterable[str] = ()) -> None:
    """Create the contract views of ``dataset`` (None: an empty export, whose survey table
    has the given ``survey_items`` as BIGINT columns) on ``con``, filtered by ``scope``.
    A Dataset read from its Parquet files (``Dataset.parquet``) is viewed over the files
    themselves (``read_parquet``: only the columns a query names are read); otherwise over
    its frames, registered with DuckDB (not copied)."""
    from metrics.scan import parquet_source

    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    scan = None if dataset is None else dataset.parquet
    for spec in contract.TABLES:
        base = f"_all_{spec.name}"
        if scan is not None and spec.name in scan.files:
            items = {c: scan.survey_type(c) for c in scan.columns[spec.name]
                     if spec.survey_items and c.startswith(contract.SURVEY_PREFIX)}
            con.execute(f"CREATE OR REPLACE VIEW {base} AS SELECT "
                        f"{_select_list(spec, scan.columns[spec.name], items)} FROM "
                        f"{parquet_source(scan.files[spec.name])}")
            continue
        frame = None if dataset is None or scan is not None else dataset.get(spec.name)
        if frame is None:
            select = _select_list(spec, (), dict.fromkeys(survey_items, "BIGINT"))
            con.execute(f"CREATE OR REPLACE VIEW {base} AS SELECT {select} WHERE false")
        else:
            raw = f"_src_{spec.name}"
            con.register(raw, frame)
            con.execute(f"CREATE OR REPLACE VIEW {base} AS SELECT "
                        f"{_select_list(spec, frame.columns, _frame_survey_types(frame))} "
                        f"FROM {raw}")
    con.execute("CREATE OR REPLACE VIEW all_cases AS SELECT * FROM _all_cases")
    if scope == "all":
        where = ""
    elif scope == "adult_rape":
        bands = ", ".join(f"'{b}'" for b in ADULT_AGE_BANDS)
        where = f" WHERE offence_group = 'rape' AND victim_age_band IN ({bands})"
    else:
        bands = ", ".join(f"'{b}'" for b in CHILD_AGE_BANDS)
        where = f" WHERE victim_age_band IN ({bands})"
    con.execute(f"CREATE OR REPLACE VIEW cases AS SELECT * FROM _all_cases{where}")
    for name in ("victim_updates", "orders", "devices"):
        follow = "" if scope == "all" else \
            " WHERE case_id IN (SELECT case_id FROM cases)"
        con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM _all_{name}{follow}")
    follow = "" if scope == "all" else " WHERE order_id IN (SELECT order_id FROM orders)"
    con.execute(f"CREATE OR REPLACE VIEW breaches AS SELECT * FROM _all_breaches{follow}")
    for name in ("survey_responses", "forces", "workforce"):
        con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM _all_{name}")
    # an empty stand-in: the engine defines month_ends for each query (a CTE)
    con.execute("CREATE OR REPLACE VIEW month_ends AS SELECT CAST(NULL AS DATE) AS month, "
                "CAST(NULL AS DATE) AS month_end WHERE false")
    for name, (select, _months) in SHARED.items():  # views until materialise_shared
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {select}")


FORCE_CODES = "flightdeck_force_codes"


def register_force_codes(con: Any, forces: list[str]) -> None:
    """A table ``FORCE_CODES`` (``force`` VARCHAR, ``code`` SMALLINT) on ``con``: each of the
    export's force names (``forces``, in the engine's order) with its position, so a query
    can return a force as a small integer rather than as text."""
    import pyarrow as pa

    codes = pa.table({"force": pa.array(forces, pa.string()),
                      "code": pa.array(range(len(forces)), pa.int16())})
    con.register("flightdeck_force_names", codes)
    con.execute(f"CREATE OR REPLACE TABLE {FORCE_CODES} AS "
                "SELECT * FROM flightdeck_force_names")
    con.unregister("flightdeck_force_names")


def shared_names(sql: str) -> list[str]:
    """The shared intermediates (``SHARED``) that ``sql`` names, in ``SHARED`` order."""
    found = {m.lower() for m in _SHARED_NAME.findall(sql)}
    return [name for name in SHARED if name in found]


def materialise_shared(con: Any, names: Iterable[str], month_ends_cte: str,
                       params: dict[str, Any], state: dict[str, Any]) -> None:
    """Make each shared intermediate in ``names`` a table on ``con`` (one built over
    ``register_views``), unless ``state`` (the connection's own dict, name -> key) says it is
    already built for these months. ``month_ends_cte`` is the ``WITH month_ends AS (...) ``
    prefix the engine puts before every query, ``params`` its named parameters (only those the
    text uses are passed). Returns nothing; call it under the connection's lock."""
    for name in names:
        select, by_month = SHARED[name]
        key = tuple(sorted(params.items())) if by_month else ()
        if state.get(name) == key:
            continue
        if name not in state:
            con.execute(f"DROP VIEW IF EXISTS {name}")
        text = (month_ends_cte + f"SELECT * FROM ({select}) AS q") if by_month else select
        used = {k: v for k, v in params.items() if f"${k}" in text}
        con.execute(f"CREATE OR REPLACE TABLE {name} AS {text}", used)
        state[name] = key


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
