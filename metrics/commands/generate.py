"""``python -m metrics generate --out DIR --cases N --seed S [--forces inspected|all]``."""

from __future__ import annotations

import argparse
import sys
import time

from metrics.generate import generate


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``generate`` subcommand."""
    p = subparsers.add_parser(
        "generate", help="write a synthetic export (eight Parquet files)",
        description="Write a deterministic synthetic RASSO export that follows the data "
                    "contract. The committed data/sample is "
                    "`generate --out data/sample --cases 100000 --seed 1`.")
    p.add_argument("--out", required=True, help="folder to write (created if missing)")
    p.add_argument("--cases", type=int, default=60_000, help="number of cases (default 60000)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--forces", choices=("inspected", "all"), default="inspected",
                   help="the nine inspected forces (default) or all 43 of England and Wales")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate the export; prints rows per file. Returns exit code 0, or 2 for bad arguments."""
    if args.cases < 1:
        print("error: --cases must be at least 1", file=sys.stderr)
        return 2
    if args.seed < 0:
        print("error: --seed must be 0 or more", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    rows = generate(args.out, cases=args.cases, seed=args.seed, forces=args.forces)
    took = time.perf_counter() - t0
    for name, count in rows.items():
        print(f"{name + '.parquet':<26} {count:>10,} rows")
    print(f"wrote {args.out} in {took:.1f} s")
    return 0
