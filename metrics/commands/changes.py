"""``python -m metrics changes DATA_DIR --from YYYY-MM --to YYYY-MM [...]``: tested changes.

Writes one row per KPI x force (and All forces) to stdout as CSV (default) or JSON, with the
columns ``kpi_id, force, window_start, window_end, compare_start, compare_end, value,
compare_value, difference, diff_ci_low, diff_ci_high, test, p_value, q_value, verdict``
(``metrics.verdicts.compute_changes``): the window against the previous window of the same
length (``--compare previous``, default) or the same months a year earlier (``year_ago``).
Proportions and their differences are fractions, days floats, dates ISO ``YYYY-MM-DD``; empty
cells (CSV) or null (JSON) where a figure does not exist.

Exit codes: 0 done; 1 the export is unusable (problems listed on stderr); 2 a bad argument
(unknown force or KPI, bad month, ``--from`` after ``--to``, unreadable folder), as one
``error:`` line. Never a traceback.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, TextIO

from metrics.commands._common import (
    SCOPES,
    CommandError,
    UnusableExport,
    add_data_window_arguments,
    guarded,
    load_export,
    parse_kpi_ids,
    parse_window,
    write_rows,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SCOPES", "CommandError", "UnusableExport", "add_parser", "add_window_arguments",
           "guarded", "load", "run", "window", "write"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``changes`` subcommand; sets ``func`` to :func:`run`."""
    p = subparsers.add_parser(
        "changes", help="test each KPI's change against the comparison window",
        description="For each KPI and force, the window against the comparison window: the "
                    "difference, its interval (proportions), the test, p, the Benjamini-"
                    "Hochberg q across the force's KPIs, and the verdict.",
        epilog="Output columns: kpi_id, force, window_start, window_end, compare_start, "
               "compare_end, value, compare_value, difference, diff_ci_low, diff_ci_high, test, "
               "p_value, q_value, verdict. Exit codes: 0 done; 1 the export is unusable; 2 a "
               "bad argument.",
    )
    add_window_arguments(p)
    p.add_argument("--compare", choices=("previous", "year_ago"), default="previous",
                   help="previous window of the same length (default) or a year earlier")
    p.add_argument("--force", metavar="NAME", help="only this force ('All forces' allowed)")
    p.add_argument("--kpi", metavar="ID[,ID...]", help="only these KPI ids (comma-separated)")
    p.add_argument("--audience", choices=("internal", "panel"), default="internal",
                   help="panel works from the disclosure-controlled figures")
    p.set_defaults(func=run)
    return p


def add_window_arguments(p: argparse.ArgumentParser) -> None:
    """DATA_DIR, --from, --to, --scope and --format (shared with ``funnel``)."""
    add_data_window_arguments(p)
    p.add_argument("--scope", choices=SCOPES, default="all",
                   help="all RASSO (default), adult rape or child")
    p.add_argument("--format", choices=("csv", "json"), default="csv", help="output format")


def window(args: argparse.Namespace) -> tuple[pd.Period, pd.Period]:
    """The --from/--to months (monthly periods); CommandError when they run backwards."""
    return parse_window(args.start, args.end)


def load(folder_name: str, err: TextIO) -> Any:
    """The loaded Dataset; CommandError for an unreadable folder, UnusableExport (problems
    printed on ``err``) for one that fails validation."""
    dataset = load_export(folder_name, err)
    if dataset is None:
        raise UnusableExport
    return dataset


def write(table: pd.DataFrame, out: TextIO, fmt: str, date_columns: tuple[str, ...] = ()
          ) -> None:
    """``table`` as CSV (formula-injection safe; empty cells for missing, booleans
    true/false) or as a JSON array of objects (null for missing)."""
    write_rows(table, out, fmt, date_columns)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run ``changes``; returns the exit code (0, 1 or 2). Never raises for user errors."""
    return guarded(_run, args, out, err)


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from metrics.verdicts import CHANGE_COLUMNS, compute_changes

    start, end = window(args)
    kpi_ids = parse_kpi_ids(args.kpi)
    dataset = load(args.data_dir, err)
    table = compute_changes(dataset, start, end, compare=args.compare,
                            forces=[args.force] if args.force else None, scope=args.scope,
                            audience=args.audience, kpi_ids=kpi_ids)
    write(table[list(CHANGE_COLUMNS)], out, args.format,
          ("window_start", "window_end", "compare_start", "compare_end"))
    return 0
