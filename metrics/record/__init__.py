"""The meeting record: commentary and assurance per KPI, agreed actions and the scrutiny
panel's case reviews, kept in a real database (SQLAlchemy 2 + Alembic).

Interface (docs/TEAM-NOTES.md)::

    from metrics.record import open_record
    record = open_record()                       # FLIGHTDECK_DB, else state/flightdeck.db
    record.latest_comments("Durham Constabulary", "2025-10", "2026-09")  # {kpi_id: Comment}
    record.actions("Durham Constabulary", status="open")                # [Action]
    [a for a in record.actions(force) if a.overdue(date.today())]

No Streamlit here. See docs/record.md.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from metrics.record.repository import (
    ACTION_STATUSES,
    ASSURANCE,
    COMMENT_GUIDANCE,
    DEFAULT_URL,
    ENV_DB,
    MAX_COMMENT,
    THEMES,
    Action,
    Comment,
    Record,
    RecordConflict,
    RecordError,
    make_engine,
    month,
    redact_url,
)

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection, Engine

__all__ = [
    "ACTION_STATUSES", "ASSURANCE", "COMMENT_GUIDANCE", "DEFAULT_URL", "ENV_DB", "MAX_COMMENT",
    "THEMES", "Action", "Comment", "Record", "RecordConflict", "RecordError", "RecordUnavailable",
    "database_url", "draw_sample", "migrate", "open_record", "record_kpis", "month",
    "RECORD_KPI_IDS", "nominate_case", "redact_url", "RecordView", "view",
]

_MIGRATE_LOCK = threading.Lock()
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
RECORD_KPI_IDS = ("panel_nfa_decision_sound", "open_learning_actions")


class RecordUnavailable(RuntimeError):
    """The database cannot be opened or migrated; the message is plain words (no password)."""


def database_url(url: str | None = None) -> str:
    """The database URL: ``url``, else ``$FLIGHTDECK_DB``, else the SQLite file
    ``state/flightdeck.db`` in the repository folder (ignored by git)."""
    chosen = (url or os.environ.get(ENV_DB, "")).strip()
    return chosen or DEFAULT_URL


def _alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine) -> str:
    """Bring the database at ``engine`` to the latest schema (Alembic ``upgrade head``).

    Returns the revision it is at afterwards (e.g. ``"0001"``). Safe when several servers
    start at once: PostgreSQL serialises them with an advisory lock; on SQLite the loser of a
    race retries and finds the schema made.
    """
    with _MIGRATE_LOCK:  # Alembic's context is module state: one migration per process
        return _migrate(engine)


def _migrate(engine: Engine) -> str:
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError, ProgrammingError

    for attempt in range(3):
        try:
            with engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    # two servers starting at once: the second waits, then finds it done
                    connection.execute(text("SELECT pg_advisory_xact_lock(7316016)"))
                command.upgrade(_alembic_config(connection), "head")
            break
        except (OperationalError, ProgrammingError):
            # SQLite has no such lock: a concurrent first migration makes the loser's
            # CREATE TABLE fail; the winner's schema is then there, so try again.
            if attempt == 2:
                raise
    with engine.connect() as connection:
        return str(MigrationContext.configure(connection).get_current_revision())


@dataclass(frozen=True)
class RecordView:
    """What the flight deck and the board pack show of the record for one view.

    ``comments``: latest commentary per KPI for (force, window); ``open_actions``: the force's
    open actions, oldest due first; ``overdue``: those of them past their due date on
    ``today``."""

    comments: dict[str, Comment]
    open_actions: list[Action]
    overdue: list[Action]


def view(record: Record, force: str, window_start: object, window_end: object, *,
         today: date) -> RecordView:
    """The record for one view (force, window) on ``today``: see :class:`RecordView`."""
    open_actions = record.actions(force, status="open")
    return RecordView(comments=record.latest_comments(force, window_start, window_end),
                      open_actions=open_actions,
                      overdue=[a for a in open_actions if a.overdue(today)])


def open_record(url: str | None = None, *, audit_path: str | Path | None = None) -> Record:
    """Open (and migrate) the meeting record at ``url`` (default :func:`database_url`).

    ``audit_path`` overrides the audit file (default ``$FLIGHTDECK_AUDIT_LOG``). Raises
    :class:`RecordUnavailable` with a one-line reason when the database cannot be reached or
    migrated (the URL in the message has no password).
    """
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    target = database_url(url)
    try:
        engine = make_engine(target)
        migrate(engine)
    except (SQLAlchemyError, ArgumentError, OSError, ValueError, ImportError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RecordUnavailable(
            f"the meeting record at {redact_url(target)} cannot be opened: {reason[:300]}"
        ) from None
    return Record(engine, audit_path=audit_path)


from metrics.record.kpis import record_kpis  # noqa: E402  (needs the names above)
from metrics.record.sampling import draw_sample, nominate_case  # noqa: E402
