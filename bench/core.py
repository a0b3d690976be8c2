"""Steps 1-5 for one export, run in a fresh process so its peak RSS is its own.

``python -m bench.core DATA_DIR --out RESULT.json [--repeat N] [--floor-repeat M]`` times:

1. the floor: ``pyarrow.parquet.read_table(path, columns=KPI_COLUMNS[table])`` for every file;
2. ``metrics.load.load_dataset(DATA_DIR)``, every file checked each time (``FLIGHTDECK_CACHE=off``:
   a kept check result would make repeats measure the cache, not the check);
3. ``compute_kpis(ds, start, end, by="window")`` for the 12 months ending at the as-at month;
4. ``compute_kpis(ds, start, end, by="month")`` for the 36 months ending there (with SPC);
5. the process's peak RSS (``resource.getrusage``), plus RSS after load.

Each repeat loads a fresh Dataset before each KPI step, so a step never profits from work
cached on the Dataset by the one before it (the app's caches are measured in step 6).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pyarrow.parquet as pq

# The columns the KPI catalogue (issue 3) reads, per file. Survey ``q_`` items are added from
# each file's schema.
KPI_COLUMNS: dict[str, tuple[str, ...]] = {
    "cases": (
        "case_id", "force", "recorded_date", "outcome_code", "outcome_date",
        "early_advice_requested_date", "early_advice_received_date", "suspect_id",
        "suspect_arrested", "s63g_applied_date", "needs_assessment_date",
        "nfa_explained_in_person", "isva_referral_date", "isva_start_date", "investigator_id",
        "victim_sex", "victim_age_band", "victim_ethnicity",
    ),
    "victim_updates": ("case_id", "contact_date"),
    "orders": ("order_id", "force", "order_type", "granted_date"),
    "breaches": ("breach_id", "order_id", "force", "breach_date", "action"),
    "devices": ("device_id", "force", "owner", "seized_at", "returned_at",
                "examination_completed_date"),
    "survey_responses": ("response_id", "force", "response_date"),
    "forces": ("force", "soteria_adoption_date", "cohort"),
    "workforce": ("force", "team", "month", "establishment_fte", "in_post_fte", "trainee_fte",
                  "headcount", "specialist_trained_headcount", "sickness_days",
                  "available_days", "screening_due", "screening_done"),
}


def floor_columns(path: Path, table: str) -> list[str]:
    """The KPI columns present in ``path`` (plus survey ``q_`` items for survey responses)."""
    names = pq.read_schema(path).names
    wanted = list(KPI_COLUMNS.get(table, ()))
    if table == "survey_responses":
        wanted += [n for n in names if n.startswith("q_")]
    return [c for c in wanted if c in names]


def read_floor(folder: Path) -> int:
    """Step 1: read the KPI columns of every Parquet file; returns the rows read."""
    rows = 0
    for path in sorted(folder.glob("*.parquet")):
        table = pq.read_table(path, columns=floor_columns(path, path.stem))
        rows += table.num_rows
        del table
    return rows


def months(as_at: Any, count: int) -> tuple[str, str]:
    """("YYYY-MM", "YYYY-MM"): the ``count`` whole months ending at ``as_at``'s month."""
    import pandas as pd

    end = pd.Period(as_at, freq="M")
    start = end - (count - 1)
    return str(start), str(end)


_CPU: list[float] = []  # the CPU seconds (all threads) of the last timed() call


def report_arguments(description: str) -> argparse.ArgumentParser:
    """A parser with ``data_dir`` and the ``--out`` (raw JSON) and ``--markdown`` options
    every goal harness shares; the caller adds its own."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("data_dir", type=Path)
    p.add_argument("--out", type=Path, help="raw results (JSON)")
    p.add_argument("--markdown", type=Path, help="write the results section here")
    return p


def write_results(res: dict[str, Any], text: str, args: argparse.Namespace) -> None:
    """Print the results section ``text`` and write ``--out`` / ``--markdown`` when given."""
    print(text)
    if args.out:
        args.out.write_text(json.dumps(res, indent=2))
    if args.markdown:
        args.markdown.write_text(text)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(wall seconds, result) of one call, with garbage collected beforehand.

    The process CPU seconds of the call (all its threads) are left in ``_CPU[-1]``: on a
    shared machine wall time includes waiting for a core, CPU time does not.
    """
    gc.collect()
    c0 = time.process_time()
    t0 = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    _CPU.append(time.process_time() - c0)
    return wall, out


def rss_now() -> int:
    """This process's current resident set size in bytes."""
    return psutil.Process().memory_info().rss


def peak_rss() -> int:
    """This process's peak resident set size in bytes (Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib * 1024 if sys.platform != "darwin" else kib


def run(folder: Path, repeat: int, floor_repeat: int) -> dict[str, Any]:
    """Steps 1-5 on ``folder``; every figure in seconds or bytes."""
    from metrics.kpis import compute_kpis
    from metrics.load import load_dataset

    os.environ["FLIGHTDECK_CACHE"] = "off"  # step 2 times the checks themselves, every repeat
    out: dict[str, Any] = {"floor": [], "load": [], "window": [], "month": [],
                           "floor_cpu": [], "load_cpu": [], "window_cpu": [], "month_cpu": []}
    out["rss_start"] = rss_now()
    out["loadavg"] = [round(os.getloadavg()[0], 1)]  # 1-minute load when this process began
    for _ in range(floor_repeat):
        seconds, rows = timed(lambda: read_floor(folder))
        out["floor"].append(seconds)
        out["floor_cpu"].append(_CPU[-1])
        out["floor_rows"] = rows
    out["peak_rss_floor"] = peak_rss()

    def load():
        return load_dataset(folder)

    for i in range(repeat):
        seconds, ds = timed(load)
        out["load"].append(seconds)
        out["load_cpu"].append(_CPU[-1])
        if i == 0:
            out["rss_after_load"] = rss_now()
            report = ds.report
            out["usable"] = bool(report.usable)
            out["problems"] = [f"{p.severity}: {p.file} {p.column or ''} {p.rule} ({p.rows})"
                               for p in report.problems][:10]
            out["rows"] = {name: int(len(df)) for name, df in ds.tables.items()}
            out["as_at"] = str(ds.as_at)
            if not report.usable:
                raise RuntimeError(f"export not usable: {out['problems'][:3]}")
        as_at = ds.as_at
        w_start, w_end = months(as_at, 12)
        m_start, m_end = months(as_at, 36)
        out["window_range"] = [w_start, w_end]
        out["month_range"] = [m_start, m_end]
        seconds, table = timed(
            lambda ds=ds, a=w_start, b=w_end: compute_kpis(ds, a, b, by="window"))
        out["window"].append(seconds)
        out["window_cpu"].append(_CPU[-1])
        out["window_rows"] = int(len(table))
        del ds, table
        seconds, ds = timed(load)
        out["load"].append(seconds)
        out["load_cpu"].append(_CPU[-1])
        seconds, table = timed(
            lambda ds=ds, a=m_start, b=m_end: compute_kpis(ds, a, b, by="month"))
        out["month"].append(seconds)
        out["month_cpu"].append(_CPU[-1])
        out["month_rows"] = int(len(table))
        out["month_has_spc"] = "spc" in table.columns
        del ds, table
    out["peak_rss"] = peak_rss()
    return out


def main(argv: list[str] | None = None) -> int:
    """Run steps 1-5 and write the JSON result (with ``error`` on failure)."""
    parser = argparse.ArgumentParser(prog="python -m bench.core")
    parser.add_argument("data", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--floor-repeat", type=int, default=5)
    args = parser.parse_args(argv)
    try:
        result = run(args.data, args.repeat, args.floor_repeat)
    except Exception as exc:  # reported in the table, not as a traceback
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"[:300], "peak_rss": peak_rss()}
    args.out.write_text(json.dumps(result, indent=2, default=str))
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    sys.exit(main())
