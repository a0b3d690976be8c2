"""``python -m metrics catalogue check [PATH]`` and ``python -m metrics catalogue list``.

``check`` validates the shipped KPI catalogue plus the force's own declarations at PATH (a
``.toml`` file or a folder; default ``$FLIGHTDECK_KPIS``): unknown keys, wrong types, id
clashes, SQL that does not bind on an empty export. It prints one line per problem (the file,
the KPI and the problem) and exits 0 when there is none, 1 when there is (the bad declarations
are skipped by the app and the CLI, which go on with the rest), 2 when PATH does not exist.

``list`` prints the catalogue (``$FLIGHTDECK_KPIS`` included) as CSV: ``kpi_id, name, pillar,
kind, unit, better, min_n, interval, maturity_days, stock, scoped, balancing, params, targets,
origin`` (params and targets as ``name=value;...``).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import TextIO


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``catalogue`` subcommand (``check`` and ``list``)."""
    p = subparsers.add_parser(
        "catalogue", help="check or list the KPI catalogue (metrics/catalogue + FLIGHTDECK_KPIS)",
        description="Check the KPI declarations (shipped, plus a force's own at PATH or "
                    "$FLIGHTDECK_KPIS) or list the catalogue with its parameters.")
    sub = p.add_subparsers(dest="action", required=True)
    check = sub.add_parser("check", help="validate the declarations; exit 1 on any problem")
    check.add_argument("path", nargs="?", metavar="PATH",
                       help="a .toml file or folder of them (default $FLIGHTDECK_KPIS)")
    check.set_defaults(func=run_check)
    listing = sub.add_parser("list", help="print the catalogue as CSV")
    listing.set_defaults(func=run_list)


def run_check(args: argparse.Namespace, out: TextIO | None = None,
              err: TextIO | None = None) -> int:
    """Check the catalogue; returns the exit code (0 fine, 1 problems, 2 no such PATH)."""
    from metrics import registry

    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    path = args.path
    if path is not None and not Path(path).exists():
        print(f"error: {path} does not exist", file=err)
        return 2
    try:
        registry.shipped_problems_check()
        cat = registry.load_catalogue(path)
    except registry.DeclarationError as exc:  # the shipped catalogue itself is broken
        print(f"error: shipped catalogue: {exc}", file=err)
        return 1
    for problem in cat.problems:
        print(problem, file=err)
    extra = path or registry.os.environ.get(registry.ENV_KPIS)
    shown = f" + {extra}" if extra else ""
    print(f"{len(cat.kpis)} KPIs (metrics/catalogue{shown}), {len(cat.problems)} problem(s)",
          file=out)
    return 1 if cat.problems else 0


def _pairs(values: dict) -> str:
    return ";".join(f"{k}={v}" for k, v in values.items())


def run_list(args: argparse.Namespace, out: TextIO | None = None,
             err: TextIO | None = None) -> int:
    """Print the catalogue as CSV (problems, if any, on stderr); returns 0."""
    from metrics import registry

    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    cat = registry.catalogue()
    for problem in cat.problems:
        print(f"warning: {problem}", file=err)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kpi_id", "name", "pillar", "kind", "unit", "better", "min_n", "interval",
                     "maturity_days", "stock", "scoped", "balancing", "params", "targets",
                     "origin"])
    template = cat.survey_kpi("q_item")  # one row stands for every q_ column
    for k in [*cat.kpis, template]:
        kpi_id, name = (("survey_<item>", "Survey: <item> (one per q_ column)") if k is template
                        else (k.id, k.name))
        writer.writerow([kpi_id, name, k.pillar, k.kind, k.unit, k.better, k.min_n, k.interval,
                         k.maturity_days, str(k.stock).lower(), str(k.scoped).lower(),
                         ";".join(k.balancing), _pairs(k.params), _pairs(k.targets),
                         Path(k.origin.split(" + ")[-1]).name])
    return 0
