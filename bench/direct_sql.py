"""The three KPIs ``charge_rate, victim_withdrawal_rate, days_to_charge`` by month for every
force and All forces, written directly in DuckDB SQL over ``cases.parquet`` (no validation):
the reference the KPI CLI is compared with in ``bench/engine.py``.

``python -m bench.direct_sql DATA_DIR FROM TO [--frame]`` (months ``YYYY-MM``) prints CSV:
kpi_id, force, month, numerator, denominator, value (the median for days_to_charge).

Two ways of writing it, both timed by ``bench/engine.py``:
- the default, the leanest: DuckDB's rows fetched as Python tuples and written by hand (the
  process imports only DuckDB);
- ``--frame``: the same query fetched as a pandas frame (``.df()``) and written with
  ``DataFrame.to_csv``, the way the same three are usually written in Python; it pays pandas'
  import, as ``python -m metrics kpis`` does.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

import duckdb


def main(argv: list[str] | None = None) -> int:
    args = list(argv if argv is not None else sys.argv[1:])
    frame = "--frame" in args
    data, start, end = [a for a in args if a != "--frame"][:3]
    con = duckdb.connect()
    path = f"{data}/cases.parquet".replace("'", "''")
    first = f"{start}-01"
    last = f"last_day(DATE '{end}-01')"
    sql = f"""
    WITH c AS (
        SELECT force::VARCHAR AS force, date_trunc('month', outcome_date) AS month,
               outcome_code, (outcome_date - recorded_date)::DOUBLE AS days
        FROM read_parquet('{path}')
        WHERE outcome_code IS NOT NULL AND outcome_date BETWEEN DATE '{first}' AND {last}
    )
    SELECT coalesce(force, 'All forces') AS force, month,
           count(*) FILTER (WHERE outcome_code = 1) AS charged,
           count(*) FILTER (WHERE outcome_code IN (14, 16)) AS withdrawn,
           count(*) AS outcomes,
           median(days) FILTER (WHERE outcome_code = 1) AS days_to_charge
    FROM c GROUP BY GROUPING SETS ((force, month), (month)) ORDER BY 1, 2
    """
    out = sys.stdout
    if frame:
        _write_frame(con.execute(sql).df(), out)
        return 0
    out.write("kpi_id,force,month,numerator,denominator,value\n")
    for force, month, charged, withdrawn, outcomes, days in con.execute(sql).fetchall():
        m = str(month)[:10]
        out.write(f"charge_rate,{force},{m},{charged},{outcomes},{charged / outcomes}\n")
        out.write(f"victim_withdrawal_rate,{force},{m},{withdrawn},{outcomes},"
                  f"{withdrawn / outcomes}\n")
        out.write(f"days_to_charge,{force},{m},,{charged},{days}\n")
    return 0


def _write_frame(table: Any, out: TextIO) -> None:
    """The same rows as the default (a missing median left empty), from the query's pandas
    frame ``table``, written with ``to_csv``."""
    import pandas as pd

    month = table["month"].dt.strftime("%Y-%m-%d")
    parts = [
        pd.DataFrame({"kpi_id": "charge_rate", "force": table["force"], "month": month,
                      "numerator": table["charged"], "denominator": table["outcomes"],
                      "value": table["charged"] / table["outcomes"]}),
        pd.DataFrame({"kpi_id": "victim_withdrawal_rate", "force": table["force"],
                      "month": month, "numerator": table["withdrawn"],
                      "denominator": table["outcomes"],
                      "value": table["withdrawn"] / table["outcomes"]}),
        pd.DataFrame({"kpi_id": "days_to_charge", "force": table["force"], "month": month,
                      "numerator": None, "denominator": table["charged"],
                      "value": table["days_to_charge"]}),
    ]
    pd.concat(parts, ignore_index=True).to_csv(out, index=False)


if __name__ == "__main__":
    sys.exit(main())
