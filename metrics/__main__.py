"""Command line: ``python -m metrics {validate,generate,kpis,catalogue,boardpack,...} ...``.

Each subcommand lives in ``metrics/commands/<name>.py`` with ``add_parser(subparsers)``
(which sets ``func``) and returns a process exit code. Errors are one line on stderr, never a
traceback: 1 for unusable data, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys

COMMANDS = ("validate", "generate", "kpis", "catalogue", "boardpack", "record", "changes", "funnel",
            "breakdown")


class CliError(Exception):
    """A user error: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m metrics", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:  # an unknown verb is argparse's "invalid choice" (exit 2)
        importlib.import_module(f"metrics.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None, *, freeze_imports: bool = False) -> int:
    """Run one command; returns its exit code. ``freeze_imports`` (the ``python -m metrics``
    process): the cyclic garbage collector is off while the command modules import (pandas,
    numpy, DuckDB: hundreds of thousands of long-lived objects that every full collection
    would walk again) and then leaves them out of its collections (``gc.freeze``); about 0.15 s
    of a 2 s national KPI run (``bench/notes.md``). Not for a caller that keeps running."""
    if freeze_imports:
        gc.disable()
    try:
        parser = build_parser()
    finally:
        if freeze_imports:
            gc.freeze()
            gc.enable()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `... | head`: the reader left; no traceback
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main(freeze_imports=True))
