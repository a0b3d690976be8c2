"""``python -m metrics breakdown DATA_DIR --kpi ID --by DIMENSION --from YYYY-MM --to YYYY-MM``.

The analysts' way to the breakdowns the Trends page shows: one KPI for one force (default All
forces) over whole calendar months, one row per group of a case field (``offence_group``,
``victim_age_band``, ``victim_sex``, ``victim_ethnicity``, ``team``), with exactly the columns
``kpi_id, force, group, value, numerator, denominator, n, ci_low, ci_high, status``.

Proportions are fractions in [0, 1], medians days; ``value``, ``ci_low`` and ``ci_high`` are
empty (CSV) or null (JSON) unless ``status`` is ``ok``. ``--audience panel`` applies the panel
disclosure rules (``metrics.disclosure.apply_panel_breakdown``: counts 1-7 hidden, other
groups hidden so that none can be worked out from the force's figure, the rest rounded to 5,
rates from the rounded counts, medians in whole days); hidden counts are empty with status
``suppressed``. Text cells that a spreadsheet would run as a formula are neutralised.

Exit codes: 0 success; 1 the export is unusable (problems listed on stderr); 2 a bad argument
(unknown KPI, force or breakdown, a KPI that cannot be broken down, bad month, ``--from``
after ``--to``, unreadable folder), as one ``error:`` line. Never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

import pandas as pd

from metrics.commands._common import (
    SCOPES,
    CommandError,
    add_data_dir_argument,
    add_month_arguments,
    load_export,
    one_line,
    parse_window,
    write_rows,
)

DIMENSION_CHOICES = ("offence_group", "victim_age_band", "victim_sex", "victim_ethnicity", "team")
COLUMNS = ("kpi_id", "force", "group", "value", "numerator", "denominator", "n", "ci_low",
           "ci_high", "status")
ALL_FORCES = "All forces"

BreakdownCliError = CommandError  # a user error: one line on stderr, exit code 2


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``breakdown`` subcommand; sets ``func`` to :func:`run`."""
    p = subparsers.add_parser(
        "breakdown", help="one KPI broken down by a case field (as on the Trends page)",
        description="Compute one KPI for one force over whole calendar months, broken down "
                    "by a case field, one row per group.",
        epilog="Output columns: " + ", ".join(COLUMNS) + ". Proportions are fractions, "
               "medians days; value is empty unless status is ok. Exit codes: 0 done; 1 the "
               "export is unusable (problems listed); 2 a bad argument.",
    )
    add_data_dir_argument(p)
    p.add_argument("--kpi", required=True, metavar="ID", help="the KPI id to break down")
    p.add_argument("--by", dest="dimension", required=True, choices=DIMENSION_CHOICES,
                   help="the case field to break down by")
    add_month_arguments(p)
    p.add_argument("--force", default=ALL_FORCES, metavar="NAME",
                   help="the force (default 'All forces')")
    p.add_argument("--scope", choices=SCOPES, default="all",
                   help="cases counted: all (default), adult_rape or child")
    p.add_argument("--audience", choices=("internal", "panel"), default="internal",
                   help="panel applies the disclosure control rules")
    p.add_argument("--format", choices=("csv", "json"), default="csv", help="output format")
    p.set_defaults(func=run)
    p.error = _one_line_error  # type: ignore[method-assign]
    return p


def _one_line_error(message: str) -> None:
    """argparse's error, as one ``error:`` line (no usage block) and exit code 2."""
    print(f"error: {' '.join(message.split())} (see python -m metrics breakdown --help)",
          file=sys.stderr)
    raise SystemExit(2)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command; returns the exit code (0, 1 or 2). Never raises for user errors."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    from metrics.kpis import KpiInputError

    try:
        return _run(args, out, err)
    except (BreakdownCliError, KpiInputError, ValueError) as exc:
        print(f"error: {_one_line(exc)}", file=err)
        return 2
    except BrokenPipeError:  # the reader stopped early (e.g. ``| head``): not an error
        if out is sys.stdout:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 0


def _one_line(exc: BaseException) -> str:
    """The exception's text on one line (its class name when it has none)."""
    return one_line(str(exc)) or type(exc).__name__


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from metrics.breakdowns import BREAKDOWN_KPIS, compute_breakdown
    from metrics.registry import STATIC_KPIS

    start, end = parse_window(args.start, args.end)
    kpi_id = args.kpi.strip()
    if kpi_id not in BREAKDOWN_KPIS:
        if kpi_id in STATIC_KPIS or kpi_id.startswith("survey_"):
            raise BreakdownCliError(
                f"{kpi_id} cannot be broken down by a case field; use one of "
                f"{', '.join(BREAKDOWN_KPIS)}")
        raise BreakdownCliError(f"unknown KPI id {kpi_id!r}")

    dataset = load_export(args.data_dir, err, say_cause=False,
                          clean=lambda message: _one_line(Exception(message)))
    if dataset is None:
        return 1
    if args.force != ALL_FORCES and args.force not in set(dataset.forces):
        raise BreakdownCliError(f"unknown force {args.force!r}")

    table = compute_breakdown(dataset, start, end, args.dimension, force=args.force,
                              kpi_ids=[kpi_id], scope=args.scope)
    if args.audience == "panel" and not table.empty:
        from metrics.breakdowns import disclose_breakdown

        table = disclose_breakdown(table)
    write_table(breakdown_rows(table), out, args.format)
    return 0


def breakdown_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The printed columns (:data:`COLUMNS`) of a breakdown table, value and interval blank
    unless the status is ``ok``; an empty table keeps the columns."""
    if table.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    shown = table.reindex(columns=list(COLUMNS)).copy()
    not_ok = shown["status"] != "ok"
    for col in ("value", "ci_low", "ci_high", "numerator", "denominator"):
        shown[col] = shown[col].astype("float64")
    for col in ("value", "ci_low", "ci_high"):
        shown[col] = shown[col].where(~not_ok)
    shown["n"] = shown["n"].astype("Float64").round().astype("Int64")
    return shown


def write_table(table: pd.DataFrame, out: TextIO, fmt: str) -> None:
    """Write the rows to ``out`` as CSV (empty cells for missing; text cells that would run
    as a spreadsheet formula neutralised) or as a JSON array of objects."""
    write_rows(table, out, fmt)
