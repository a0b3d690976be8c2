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
import json
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import pandas as pd

MAX_PROBLEMS_SHOWN = 20
SCOPES = ("all", "adult_rape", "child")


class CommandError(Exception):
    """A user error: one line on stderr, exit code 2."""


class UnusableExport(Exception):
    """The export failed validation: the problems were printed; exit code 1."""


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
    p.add_argument("data_dir", metavar="DATA_DIR", help="folder holding the Parquet export")
    p.add_argument("--from", dest="start", required=True, metavar="YYYY-MM",
                   help="first whole month of the window")
    p.add_argument("--to", dest="end", required=True, metavar="YYYY-MM",
                   help="last whole month of the window")
    p.add_argument("--scope", choices=SCOPES, default="all",
                   help="all RASSO (default), adult rape or child")
    p.add_argument("--format", choices=("csv", "json"), default="csv", help="output format")


def guarded(body: Any, args: argparse.Namespace, out: TextIO | None, err: TextIO | None
            ) -> int:
    """Run ``body(args, out, err)``; user errors become one ``error:`` line (exit 2), an
    unusable export or an unexpected failure exit 1 (one line). Never lets a traceback reach
    the terminal."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    from metrics.kpis import KpiInputError

    try:
        return int(body(args, out, err))
    except UnusableExport:
        return 1
    except (CommandError, KpiInputError, ValueError, KeyError) as exc:
        text = str(exc).strip("'\"") if isinstance(exc, KeyError) else str(exc)
        print(f"error: {text.splitlines()[0] if text else type(exc).__name__}", file=err)
        return 2
    except Exception as exc:  # noqa: BLE001 - never a traceback on the terminal
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"error: could not compute the {getattr(args, 'command', 'requested')} "
              f"table: {text}", file=err)
        return 1


def window(args: argparse.Namespace) -> tuple[pd.Period, pd.Period]:
    """The --from/--to months; CommandError when they run backwards."""
    from metrics.kpis import to_period

    start, end = to_period(args.start), to_period(args.end)
    if start > end:
        raise CommandError(f"--from {start} is after --to {end}")
    return start, end


def load(folder_name: str, err: TextIO) -> Any:
    """The loaded Dataset; CommandError for an unreadable folder, UnusableExport (problems
    printed on ``err``) for one that fails validation."""
    from metrics.load import load_dataset

    folder = Path(folder_name)
    if not folder.is_dir() or not os.access(folder, os.R_OK | os.X_OK):
        raise CommandError(f"cannot read the data folder {str(folder)!r}")
    try:
        dataset = load_dataset(folder)
    except OSError as exc:
        raise CommandError(f"cannot read the data folder {str(folder)!r}: {exc}") from exc
    if not dataset.report.usable:
        errors = dataset.report.errors
        print(f"the export in {str(folder)!r} is not usable ({len(errors)} error(s)):", file=err)
        for p in errors[:MAX_PROBLEMS_SHOWN]:
            where = p.file + (f" {p.column}" if p.column else "")
            print(f"  {where}: {p.message}", file=err)
        if len(errors) > MAX_PROBLEMS_SHOWN:
            print(f"  ... and {len(errors) - MAX_PROBLEMS_SHOWN} more", file=err)
        raise UnusableExport
    return dataset


def write(table: pd.DataFrame, out: TextIO, fmt: str, date_columns: tuple[str, ...] = ()
          ) -> None:
    """``table`` as CSV (formula-injection safe; empty cells for missing, booleans
    true/false) or as a JSON array of objects (null for missing)."""
    import pandas as pd

    shown = table.copy()
    for col in date_columns:
        shown[col] = pd.to_datetime(shown[col]).dt.strftime("%Y-%m-%d")
    bools = [c for c in shown.columns if shown[c].dtype == bool]
    if fmt == "csv":
        for col in bools:
            shown[col] = shown[col].map({True: "true", False: "false"})
        from metrics.safe_csv import write_csv

        write_csv(shown, out)
        return
    columns = list(shown.columns)
    records = [{c: _json_value(v) for c, v in zip(columns, row, strict=True)}
               for row in shown.itertuples(index=False, name=None)]
    json.dump(records, out, indent=1)
    out.write("\n")


def _json_value(v: Any) -> Any:
    import pandas as pd

    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run ``changes``; returns the exit code (0, 1 or 2). Never raises for user errors."""
    return guarded(_run, args, out, err)


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from metrics.verdicts import CHANGE_COLUMNS, compute_changes

    start, end = window(args)
    kpi_ids = None
    if args.kpi is not None:
        kpi_ids = [k.strip() for k in args.kpi.split(",") if k.strip()]
        if not kpi_ids:
            raise CommandError("--kpi needs at least one KPI id")
    dataset = load(args.data_dir, err)
    table = compute_changes(dataset, start, end, compare=args.compare,
                            forces=[args.force] if args.force else None, scope=args.scope,
                            audience=args.audience, kpi_ids=kpi_ids)
    write(table[list(CHANGE_COLUMNS)], out, args.format,
          ("window_start", "window_end", "compare_start", "compare_end"))
    return 0
