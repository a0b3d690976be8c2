"""``python -m metrics kpis DATA_DIR --from YYYY-MM --to YYYY-MM [...]``: the KPI table.

Writes one row per KPI x force (x month with ``--by month``) to stdout as CSV (default) or
JSON (a list of objects), with the columns ``kpi_id, force, window_start, window_end, value,
numerator, denominator, n, ci_low, ci_high, status`` (+ ``spc`` with ``--by month``), and last
``provisional`` (``true`` while the window can still move: window end + the KPI's maturity days
after the export's as-at date). ``--scope all|adult_rape|child`` reads the case-linked KPIs for
all RASSO, adult rape or child victims (survey and workforce KPIs are force-wide). A force's
bad KPI declaration (``FLIGHTDECK_KPIS``) is one ``warning:`` line on stderr; the rest goes on.
``--db URL`` (default ``$FLIGHTDECK_DB``) adds the KPIs kept in the meeting record; without
either they are ``no_data``, and a record that cannot be opened is one ``warning:`` line.
Proportions are fractions in [0, 1], days are floats, dates are ISO ``YYYY-MM-DD``; ``value``,
``ci_low`` and ``ci_high`` are empty (CSV) or null (JSON) unless ``status`` is ``ok``.

Exit codes: 0 success; 1 the export is unusable (validation errors: each is printed on
stderr, one line per problem); 2 a bad argument (unknown force or KPI id, bad month, ``--from``
after ``--to``, unreadable folder, panel audience unavailable), as one ``error:`` line.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

import numpy as np
import pandas as pd

from metrics.commands._common import (
    CommandError,
    add_data_window_arguments,
    add_db_argument,
    load_export,
    open_record_arg,
    parse_kpi_ids,
    parse_window,
    write_rows,
)
from metrics.kpis import COLUMNS, KpiInputError, compute_kpis

KpisCliError = CommandError  # a user error: one line on stderr, exit code 2


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``kpis`` subcommand; sets ``func`` to :func:`run`."""
    p = subparsers.add_parser(
        "kpis", help="compute every KPI per force (and All forces) for a window or by month",
        description="Compute every KPI (or those named) for each force and All forces, over "
                    "whole calendar months, and write one row per KPI x force (x month).",
        epilog="Output columns: " + ", ".join(COLUMNS) + " (+ spc with --by month), provisional. "
               "Proportions are fractions, days floats, dates ISO; value is empty unless "
               "status is ok. Exit codes: 0 done; 1 the export is unusable (problems listed); "
               "2 a bad argument (unknown force or KPI, bad month, unreadable folder).",
    )
    add_data_window_arguments(p)
    p.add_argument("--force", action="append", metavar="NAME",
                   help="only this force (repeatable; 'All forces' allowed); default every force")
    p.add_argument("--by", choices=("window", "month"), default="window",
                   help="one window (default) or one row per month with SPC point types")
    p.add_argument("--audience", choices=("internal", "panel"), default="internal",
                   help="panel applies the disclosure control rules")
    p.add_argument("--kpi", metavar="ID[,ID...]",
                   help="only these KPI ids (comma-separated); default every KPI")
    p.add_argument("--scope", choices=("all", "adult_rape", "child"), default="all",
                   help="all RASSO (default), adult rape (offence rape, victim 18+) or child "
                        "(victim under 18); survey and workforce KPIs are force-wide")
    p.add_argument("--format", choices=("csv", "json"), default="csv", help="output format")
    add_db_argument(p, "the KPIs kept in the meeting record (case reviews, learning actions); "
                       "without it they are no_data")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command; returns the exit code (0, 1 or 2). Never raises for user errors."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        return _run(args, out, err)
    except (KpisCliError, KpiInputError) as exc:
        print(f"error: {exc}", file=err)
        return 2


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    start, end = parse_window(args.start, args.end)
    kpi_ids = parse_kpi_ids(args.kpi)
    apply_panel = _panel_rules() if args.audience == "panel" else None
    dataset = load_export(args.data_dir, err)
    if dataset is None:
        return 1

    from metrics.registry import catalogue_problems

    for problem in catalogue_problems():  # a force's bad declaration: skipped, said once
        print(f"warning: {problem}", file=err)
    scope = getattr(args, "scope", "all")
    record = _record_if_asked(args, dataset, kpi_ids, err)
    table = compute_kpis(dataset, start, end, by=args.by, forces=args.force, kpi_ids=kpi_ids,
                         scope=scope, record=record)
    if apply_panel is not None:  # some forces: suppressed as in the table of every force
        context = None if not args.force else compute_kpis(
            dataset, start, end, by=args.by, kpi_ids=kpi_ids, scope=scope, record=record)
        table = apply_panel(table, context=context)
    write_table(table, out, args.format)
    return 0


def _record_if_asked(args: argparse.Namespace, dataset: Any, kpi_ids: list[str] | None,
                     err: TextIO) -> Any:
    """The meeting record (``--db`` or ``$FLIGHTDECK_DB``) when a KPI asked for comes from it,
    else None (so a run of other KPIs never opens the database)."""
    from metrics.kpis import kpis_for

    if not any(k.source == "record" for k in kpis_for(dataset, kpi_ids)):
        return None
    return open_record_arg(args, err, "the record's KPIs are no_data")


def _panel_rules() -> Any:
    """``metrics.disclosure.apply_panel`` (imported only for ``--audience panel``)."""
    from metrics.disclosure import apply_panel

    return apply_panel


def format_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table as printed: ISO date text (categories: a few dozen dates over many thousand
    rows), value/CIs blank unless status is ok, ``provisional`` a bool."""
    from metrics.commands._common import iso_date_text

    shown = table.copy()
    for col in ("window_start", "window_end"):
        shown[col] = iso_date_text(shown[col])
    not_ok = (shown["status"] != "ok").to_numpy()
    for col in ("value", "ci_low", "ci_high"):
        if col in shown.columns:
            shown[col] = np.where(not_ok, np.nan, shown[col].to_numpy(dtype="float64"))
    if "provisional" in shown.columns:
        shown["provisional"] = shown["provisional"].astype(bool)
    return shown


def write_table(table: pd.DataFrame, out: TextIO, fmt: str) -> None:
    """Write the KPI table to ``out`` as CSV (empty cells for missing) or a JSON array."""
    write_rows(format_table(table), out, fmt)  # CSV formula-injection safe (issue 15 item 3)
