"""``python -m metrics boardpack DATA_DIR --force NAME --from YYYY-MM --to YYYY-MM --out FILE``.

Builds the board pack PDF (``report.boardpack.build_boardpack``) for a force (or
``"All forces"``) and window, optionally for the scrutiny panel audience (disclosure-controlled)
and against the previous window or the same window a year earlier, for a scope of cases
(``--scope all|adult_rape|child``, as the app's Cases selector). Logs an ``export`` audit
event (``metrics.audit.log_event``) for each pack written.

Exit codes: 0 written; 1 the export is unusable (validation errors) or the file cannot be
written; 2 bad arguments (missing folder, unknown force, bad month, ``--from`` after ``--to``).
Errors are one line on stderr, never a traceback. ``--db URL`` (default ``$FLIGHTDECK_DB``;
neither: no record) adds the meeting record: commentary, assurance levels, open and overdue
actions, and the record KPIs; a record that cannot be opened is one warning line and the pack
is built without it.
"""

from __future__ import annotations

import argparse
import getpass
import re
import sys
import time
from pathlib import Path

from metrics.commands._common import (
    SCOPES,
    add_data_dir_argument,
    add_db_argument,
    add_month_arguments,
    open_record_arg,
)

# Names only (no ReportLab): the builder itself is imported inside run(), so that other
# commands (``kpis``) never load the PDF stack.
from report.common import ALL_FORCES, AUDIENCES, COMPARISONS

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``boardpack`` subcommand."""
    p = subparsers.add_parser(
        "boardpack", help="build the board pack PDF for a force and window",
        description="Build the flight deck board pack (A4 landscape PDF, OFFICIAL-SENSITIVE) "
                    "for a force and a window of whole months. Exit 0 when written, 1 when "
                    "the export is unusable, 2 for bad arguments.")
    add_data_dir_argument(p)
    p.add_argument("--force", required=True, metavar="NAME",
                   help=f"force name as in the export, or '{ALL_FORCES}'")
    add_month_arguments(p, whole=False)
    p.add_argument("--audience", choices=AUDIENCES, default="internal",
                   help="panel: disclosure-controlled for a scrutiny panel (default internal)")
    p.add_argument("--compare", choices=tuple(COMPARISONS), default="previous",
                   help="comparison window: previous (default) or year_ago")
    p.add_argument("--scope", choices=SCOPES, default="all",
                   help="all RASSO (default), adult rape (offence rape, victim 18+) or child "
                        "(victim under 18), as the app's Cases selector; survey and workforce "
                        "KPIs are force-wide")
    p.add_argument("--out", required=True, metavar="FILE.pdf", help="where to write the PDF")
    p.add_argument("--no-charts", action="store_true",
                   help="leave the charts out (tables only)")
    add_db_argument(p, "commentary beside each pillar's table, assurance levels and open and "
                       "overdue actions")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=run)


def _error(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _audit(args: argparse.Namespace) -> str | None:
    """Log the export; returns a warning sentence when the audit line could not be written."""
    from metrics.audit import log_event

    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name available (containers): say so
        user = "command line"
    try:
        log_event("export", user=f"cli:{user}", audience=args.audience, force=args.force,
                  window=f"{args.start}..{args.end}", page="boardpack", reason="board_pack_pdf")
    except (OSError, ValueError) as exc:
        return f"warning: audit log not written ({exc})"
    return None


def run(args: argparse.Namespace) -> int:
    """Build and write the pack; returns the exit code."""
    from metrics.load import load_dataset
    from report.boardpack import BoardpackError, UnusableDataError, build_boardpack

    folder = Path(args.data_dir)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        return _error(f"data folder {folder} {what}", 2)
    out = Path(args.out)
    if out.exists() and out.is_dir():
        return _error(f"--out {out} is a folder; give a file name such as pack.pdf", 2)
    if not out.parent.exists():
        return _error(f"the folder for --out ({out.parent}) does not exist", 2)
    for flag, value in (("--from", args.start), ("--to", args.end)):
        if not _MONTH.fullmatch(value or ""):
            return _error(f"{flag} must be a month as YYYY-MM (e.g. 2025-04), not {value!r}", 2)
    t0 = time.perf_counter()
    record = open_record_arg(args, sys.stderr, "the pack is built without the meeting record")
    dataset = load_dataset(folder)
    try:
        pdf = build_boardpack(dataset, args.force, args.start, args.end,
                              audience=args.audience, comparison=args.compare,
                              charts=not args.no_charts, scope=args.scope, record=record)
    except UnusableDataError as exc:
        return _error(f"{exc} (run: python -m metrics validate {folder})", 1)
    except BoardpackError as exc:
        return _error(str(exc), 2)
    try:
        out.write_bytes(pdf)
    except OSError as exc:
        return _error(f"cannot write {out}: {exc.strerror or exc}", 1)
    warning = _audit(args)
    if warning:
        print(warning, file=sys.stderr)
    if not args.quiet:
        print(f"Wrote {out} ({len(pdf) / 1024:,.0f} KB) in {time.perf_counter() - t0:.1f} s.")
    return 0
