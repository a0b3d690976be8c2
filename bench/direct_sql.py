"""The three KPIs ``charge_rate, victim_withdrawal_rate, days_to_charge`` by month for every
force and All forces, written directly in DuckDB SQL over ``cases.parquet`` (no validation):
the reference the KPI CLI is compared with in ``bench/engine.py``.

``python -m bench.direct_sql DATA_DIR FROM TO`` (months ``YYYY-MM``) prints CSV: kpi_id,
force, month, numerator, denominator, value (the median for days_to_charge).
"""

from __future__ import annotations

import sys

import duckdb


def main(argv: list[str] | None = None) -> int:
    data, start, end = (argv if argv is not None else sys.argv[1:])[:3]
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
    out.write("kpi_id,force,month,numerator,denominator,value\n")
    for force, month, charged, withdrawn, outcomes, days in con.execute(sql).fetchall():
        m = str(month)[:10]
        out.write(f"charge_rate,{force},{m},{charged},{outcomes},{charged / outcomes}\n")
        out.write(f"victim_withdrawal_rate,{force},{m},{withdrawn},{outcomes},"
                  f"{withdrawn / outcomes}\n")
        out.write(f"days_to_charge,{force},{m},,{charged},{days}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
