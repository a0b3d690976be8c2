"""``python -m metrics record migrate|add-comment|add-action|list|sample|export``: the
meeting record (commentary, assurance, actions, scrutiny case reviews) from the command line.

Every verb takes ``--db URL`` (default ``$FLIGHTDECK_DB``, else ``state/flightdeck.db``).
Writes are audited (``metrics.audit``) under ``--author`` (default ``cli:<login name>``).

Exit codes: 0 done; 1 the database (or the export) cannot be used; 2 a bad argument or a
refused write (too long, unknown assurance, changed by someone else), as one ``error:`` line.
"""

from __future__ import annotations

import argparse
import functools
import getpass
import sys
from collections.abc import Callable
from datetime import date
from typing import Any


class CliError(Exception):
    """A bad argument or a refused write: one ``error:`` line on stderr, exit code 2."""


def _one_line_errors(func: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """Run a verb; a :class:`CliError` becomes one ``error:`` line and exit code 2."""

    @functools.wraps(func)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except CliError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    return wrapper


ASSURANCE_CHOICES = ("assured", "partly_assured", "not_assured")
LIST_WHAT = ("comments", "actions", "samples", "reviews")


def _default_author() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no login name (some containers)
        return "cli:unknown"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL", default=None,
                   help="database URL (sqlite:///path or postgresql+psycopg://...); "
                        "default $FLIGHTDECK_DB, else state/flightdeck.db")


def _window(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--from", dest="start", metavar="YYYY-MM", required=required,
                   help="first month of the window")
    p.add_argument("--to", dest="end", metavar="YYYY-MM", required=required,
                   help="last month of the window")


def _author(p: argparse.ArgumentParser) -> None:
    p.add_argument("--author", default=None, help="who is writing (default cli:<login name>)")


def _due(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``record`` command and its verbs; each sets ``func``."""
    p = subparsers.add_parser(
        "record", help="the meeting record: commentary, actions, scrutiny case reviews",
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog="Exit codes: 0 done; 1 database or export unusable; 2 bad argument or refused "
               "write.")
    verbs = p.add_subparsers(dest="verb", required=True)

    m = verbs.add_parser("migrate", help="create or upgrade the record's tables (Alembic)")
    _common(m)
    m.set_defaults(func=run_migrate)

    c = verbs.add_parser("add-comment", help="add commentary and assurance for a KPI")
    _common(c)
    c.add_argument("--force", required=True, help="force name (or 'All forces')")
    _window(c, required=True)
    c.add_argument("--kpi", required=True, help="KPI id, e.g. charge_rate")
    c.add_argument("--owner", required=True, help="the measure's owner (a role)")
    c.add_argument("--assurance", required=True, choices=ASSURANCE_CHOICES)
    c.add_argument("--text", required=True,
                   help="commentary, at most 2,000 characters ('-' reads stdin); do not name "
                        "victims, suspects or officers")
    _author(c)
    c.set_defaults(func=run_add_comment)

    a = verbs.add_parser("add-action", help="record an agreed action for a KPI or a pillar")
    _common(a)
    a.add_argument("--force", required=True)
    a.add_argument("--kpi", default=None, help="KPI id the action is for")
    a.add_argument("--pillar", type=int, default=None, help="pillar 1-6 the action is for")
    a.add_argument("--text", required=True, help="what was agreed")
    a.add_argument("--owner", required=True, help="who owns it (a role)")
    a.add_argument("--due", required=True, type=_due, metavar="YYYY-MM-DD")
    _author(a)
    a.set_defaults(func=run_add_action)

    s = verbs.add_parser(
        "set-status", help="mark an action done, dropped or open again")
    _common(s)
    s.add_argument("action_id", type=int)
    s.add_argument("status", choices=("open", "done", "dropped"))
    s.add_argument("--version", type=int, default=None,
                   help="the version you read (from list); refused if it changed since")
    _author(s)
    s.set_defaults(func=run_set_status)

    ls = verbs.add_parser("list", help="print comments, actions, samples or reviews as CSV")
    _common(ls)
    ls.add_argument("what", nargs="?", choices=LIST_WHAT, default="comments")
    ls.add_argument("--force", default=None)
    _window(ls, required=False)
    ls.add_argument("--status", choices=("open", "done", "dropped"), default=None)
    ls.set_defaults(func=run_list)

    sm = verbs.add_parser(
        "sample", help="draw a stratified random sample of NFA cases for the scrutiny panel",
        description="Draw a reproducible stratified random sample of the force's NFA cases "
                    "(outcome codes 9-18, 21) with an outcome in the window: strata offence "
                    "group x outcome code, proportional allocation (largest remainder). The "
                    "seed is stored; the same export, window, size and seed give the same "
                    "cases. Prints the sampled cases as CSV (internal use only: case ids).")
    _common(sm)
    sm.add_argument("data_dir", metavar="DATA_DIR", help="folder holding the Parquet export")
    sm.add_argument("--force", required=True)
    _window(sm, required=True)
    sm.add_argument("--size", type=int, required=True, help="number of cases (1-500)")
    sm.add_argument("--seed", type=int, default=None,
                    help="random seed (default: a fresh one, printed and stored)")
    sm.add_argument("--nominate", action="append", default=[], metavar="CASE_ID",
                    help="add a case nominated by an ISVA member (repeatable)")
    sm.add_argument("--nominated-by", default="ISVA member",
                    help="who nominated the --nominate cases")
    _author(sm)
    sm.set_defaults(func=run_sample)

    e = verbs.add_parser("export", help="write every table of the record as CSV")
    _common(e)
    e.add_argument("--out", required=True, metavar="DIR", help="folder to write into")
    _author(e)
    e.set_defaults(func=run_export)
    return p


def _open(args: argparse.Namespace) -> Any:
    from metrics.record import RecordUnavailable, open_record

    try:
        return open_record(args.db)
    except RecordUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def _guard(call: Any) -> Any:
    from metrics.record import RecordError

    try:
        return call()
    except RecordError as exc:
        raise CliError(str(exc)) from None


@_one_line_errors
def run_migrate(args: argparse.Namespace) -> int:
    """Migrate the database to the latest schema; prints where and the revision."""
    from metrics.record import migrate, redact_url

    record = _open(args)
    revision = migrate(record.engine)
    print(f"meeting record at {redact_url(str(record.engine.url))}: schema revision {revision}")
    record.close()
    return 0


@_one_line_errors
def run_add_comment(args: argparse.Namespace) -> int:
    """Add one commentary entry; prints its id."""
    text = sys.stdin.read() if args.text == "-" else args.text
    record = _open(args)
    comment = _guard(lambda: record.add_comment(
        args.force, args.start, args.end, args.kpi, owner=args.owner, text=text,
        assurance=args.assurance, author=args.author or _default_author()))
    print(f"comment {comment.id} added for {comment.kpi_id}, {comment.force}, "
          f"{comment.window_start}..{comment.window_end} ({comment.assurance_label})")
    return 0


@_one_line_errors
def run_add_action(args: argparse.Namespace) -> int:
    """Add one action; prints its id."""
    record = _open(args)
    action = _guard(lambda: record.add_action(
        args.force, text=args.text, owner=args.owner, due_date=args.due,
        author=args.author or _default_author(), kpi_id=args.kpi, pillar=args.pillar))
    print(f"action {action.id} added for {action.force}, due {action.due_date.isoformat()}")
    return 0


@_one_line_errors
def run_set_status(args: argparse.Namespace) -> int:
    """Change an action's status (optimistic lock on ``--version`` when given)."""
    record = _open(args)
    current = record.action(args.action_id)
    if current is None:
        raise CliError(f"there is no action {args.action_id}")
    version = args.version if args.version is not None else current.version
    action = _guard(lambda: record.set_action_status(
        args.action_id, args.status, version=version, author=args.author or _default_author()))
    print(f"action {action.id} is now {action.status} (version {action.version})")
    return 0


@_one_line_errors
def run_list(args: argparse.Namespace) -> int:
    """Print the chosen table as CSV on stdout."""
    import pandas as pd

    from metrics.safe_csv import write_csv

    record = _open(args)
    if args.what == "comments":
        table = record.export_tables()["comments"]
        if args.force:
            table = table[table["force"] == args.force]
        if args.start and args.end:
            from metrics.record import month

            start, end = _guard(lambda: (month(args.start), month(args.end)))
            table = table[(table["window_start"] == start) & (table["window_end"] == end)]
    elif args.what == "actions":
        table = record.export_tables()["actions"]
        if args.force:
            table = table[table["force"] == args.force]
        if args.status:
            table = table[table["status"] == args.status]
    elif args.what == "samples":
        table = record.samples(args.force)
    else:
        table = record.learning_log([args.force] if args.force else None)
    out = table if isinstance(table, pd.DataFrame) else pd.DataFrame(table)
    write_csv(out, sys.stdout)
    return 0


@_one_line_errors
def run_sample(args: argparse.Namespace) -> int:
    """Draw a sample (and add nominated cases); prints a summary on stderr, cases on stdout."""
    from pathlib import Path

    from metrics.record import draw_sample, nominate_case
    from metrics.safe_csv import write_csv

    folder = Path(args.data_dir)
    if not folder.is_dir():
        raise CliError(f"data folder {folder} does not exist or is not a folder")
    from metrics.load import load_dataset

    dataset = load_dataset(folder)
    if "cases" not in dataset.tables:
        print(f"error: the export in {folder} has no usable cases file", file=sys.stderr)
        return 1
    cases = dataset.cases
    known = dict(zip(cases["case_id"].astype(str), cases["force"].astype(str), strict=True))
    for case_id in args.nominate:
        if case_id not in known:
            raise CliError(f"nominated case {case_id[:40]!r} is not in the export")
        if known[case_id] != args.force:
            raise CliError(f"nominated case {case_id[:40]!r} belongs to another force")
    record = _open(args)
    author = args.author or _default_author()
    sample_id, sample = _guard(lambda: draw_sample(
        record, dataset, args.force, args.start, args.end, size=args.size, seed=args.seed,
        author=author))
    for case_id in args.nominate:
        _guard(lambda c=case_id: nominate_case(record, sample_id, c, source=dataset,
                                               nominated_by=args.nominated_by))
    stored = record.samples()
    row = stored[stored["id"] == sample_id].iloc[0]
    print(f"sample {sample_id}: {len(sample)} of {int(row['population'])} NFA cases, "
          f"seed {int(row['seed'])}, {len(args.nominate)} nominated", file=sys.stderr)
    cases = record.sample_cases(sample_id)[
        ["case_id", "offence_group", "outcome_code", "outcome_date", "stratum", "random",
         "isva_nominated"]]
    write_csv(cases, sys.stdout)
    return 0


@_one_line_errors
def run_export(args: argparse.Namespace) -> int:
    """Write every table (and the learning log) as CSV into ``--out``; lists the files."""
    from metrics import audit
    from metrics.record.export import write_tables

    record = _open(args)
    tables = record.export_tables()
    tables["learning_log"] = record.learning_log()
    try:
        paths = write_tables(tables, args.out)
    except OSError as exc:
        raise CliError(f"cannot write to {args.out}: {exc.strerror or exc}") from None
    audit.log_event("export", user=args.author or _default_author(), audience="internal",
                    page="record", reason="record_export_csv")
    for path, (name, table) in zip(paths, tables.items(), strict=True):
        print(f"{path}\t{len(table)} rows ({name})")
    return 0
