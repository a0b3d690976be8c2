"""``python -m metrics funnel DATA_DIR --kpi ID --from YYYY-MM --to YYYY-MM [...]``.

Writes the funnel plot of one proportion KPI, one row per force whose value has status
``ok`` (``metrics.verdicts.funnel_table``), with the columns ``force, numerator, denominator,
value, target, lower_95, upper_95, lower_998, upper_998, phi, tau2, adjusted, position``
(``within``, ``between_95_998``, ``outside``), as CSV (default) or JSON. Fractions for
values and limits; ``adjusted`` is true when the limits were widened for overdispersion
(only when phi > 1).

Exit codes: 0 done; 1 the export is unusable; 2 a bad argument (unknown or non-proportion
KPI, bad month, unreadable folder), as one ``error:`` line.
"""

from __future__ import annotations

import argparse
from typing import TextIO

from metrics.commands._common import CommandError, guarded
from metrics.commands.changes import add_window_arguments, load, window, write


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``funnel`` subcommand; sets ``func`` to :func:`run`."""
    p = subparsers.add_parser(
        "funnel", help="funnel plot of one proportion KPI across forces",
        description="Each force's value of one proportion KPI against exact binomial funnel "
                    "limits (95% and 99.8%) around the pooled rate; gated forces left out; "
                    "limits widened for overdispersion only when phi > 1.",
        epilog="Output columns: force, numerator, denominator, value, target, lower_95, "
               "upper_95, lower_998, upper_998, phi, tau2, adjusted, position. Exit codes: 0 "
               "done; 1 the export is unusable; 2 a bad argument.",
    )
    add_window_arguments(p)
    p.add_argument("--kpi", required=True, metavar="ID", help="the proportion KPI's id")
    p.add_argument("--audience", choices=("internal", "panel"), default="internal",
                   help="panel works from the disclosure-controlled figures")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run ``funnel``; returns the exit code (0, 1 or 2). Never raises for user errors."""
    return guarded(_run, args, out, err)


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from metrics.verdicts import FUNNEL_COLUMNS, FUNNEL_MIN_FORCES, funnel_table

    start, end = window(args)
    kpi_id = args.kpi.strip()
    if not kpi_id:
        raise CommandError("--kpi needs a KPI id")
    dataset = load(args.data_dir, err)
    table = funnel_table(dataset, kpi_id, start, end, scope=args.scope, audience=args.audience)
    if len(table) < FUNNEL_MIN_FORCES:  # the rows are still written, as the contract says
        print(f"note: {len(table)} force(s) with a value for {kpi_id} in the window; a funnel "
              f"plot compares at least {FUNNEL_MIN_FORCES}, and the app and board pack draw "
              "none", file=err)
    write(table[list(FUNNEL_COLUMNS)], out, args.format)
    return 0
