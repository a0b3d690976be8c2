"""``python -m metrics validate DATA_DIR``: check an export against the data contract.

Exit codes: 0 usable (warnings allowed), 1 refused (at least one error, or the folder cannot
be read: one line on stderr), 2 when DATA_DIR does not exist or is not a folder (one line on
stderr).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from metrics.load import describe, load_dataset


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``validate`` subcommand."""
    p = subparsers.add_parser(
        "validate", help="check an export folder against the data contract",
        description="Check every Parquet file in DATA_DIR and print each problem in plain "
                    "words. Exit 0 when the data is usable, 1 when it is not, 2 when DATA_DIR "
                    "is missing.")
    p.add_argument("data_dir", metavar="DATA_DIR", help="folder holding the Parquet files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate ``args.data_dir``; returns the exit code (0 usable, 1 refused, 2 no folder)."""
    folder = Path(args.data_dir)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        print(f"error: data folder {folder} {what}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        dataset = load_dataset(folder)
    except OSError as exc:  # an unreadable folder: plain words, never a traceback
        logging.getLogger(__name__).debug("reading %s failed", folder, exc_info=True)
        why = "permission denied" if isinstance(exc, PermissionError) else "it cannot be read"
        print(f"error: the export in {folder} cannot be read ({why}). Check that this account "
              "may open the folder and its files.", file=sys.stderr)
        return 1
    took = time.perf_counter() - t0
    describe(dataset.report, folder)
    print(f"Checked in {took:.2f} s.")
    return 0 if dataset.report.usable else 1
