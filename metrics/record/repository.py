"""The meeting record's repository: every read and write of the record goes through ``Record``.

No Streamlit. One ``Record`` wraps one SQLAlchemy engine (SQLite file or PostgreSQL by URL)
and is safe to share between threads (each call opens its own short transaction).

Writes:

- are validated first (:class:`RecordError` with a plain message: too long, unknown assurance,
  bad status, ...);
- are audited with :func:`metrics.audit.log_event` (action ``record_write``: who, what, when,
  the force and the window; never the text of a comment, an action or a learning point). The
  audit line is written inside the transaction, before the commit: when the audit trail cannot
  be written the change is rolled back and the error raised, so no write goes unaudited;
- never lose another session's work silently: comments and reviews are append-only (history),
  and an action is updated only when its ``version`` still is the one the caller read, else
  :class:`RecordConflict` ("changed by someone else, reload").
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, create_engine, event, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from metrics import audit
from metrics.record.models import (
    ActionRow,
    Base,
    CommentRow,
    ReviewRow,
    SampleCaseRow,
    SampleRow,
)

ENV_DB = "FLIGHTDECK_DB"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DB_PATH = REPO_ROOT / "state" / "flightdeck.db"
DEFAULT_URL = f"sqlite:///{DEFAULT_DB_PATH}"

MAX_COMMENT = 2000
"""Longest commentary, in characters."""
MAX_ACTION = 2000
MAX_LEARNING = 2000
MAX_SHORT = 120
ASSURANCE: dict[str, str] = {
    "assured": "Assured",
    "partly_assured": "Partly assured",
    "not_assured": "Not assured",
}
"""Assurance levels: stored id -> the words on screen."""
ACTION_STATUSES: tuple[str, ...] = ("open", "done", "dropped")
ACTION_KINDS: tuple[str, ...] = ("meeting", "learning")
THEMES: dict[str, str] = {
    "evidential_weakness": "Evidential weakness",
    "victim_engagement": "Victim engagement",
    "suspect_focused_investigation": "Suspect-focused investigation",
    "early_advice": "Early advice",
    "digital_evidence": "Digital evidence",
}
"""The fixed list of review themes (each: did the panel raise it for this case?)."""
COMMENT_GUIDANCE = ("Do not name victims, suspects or officers, and do not write case "
                    "references: the commentary is shown to scrutiny panels.")
AUDIT_PAGE = "record"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_UNSET: Any = object()


class RecordError(ValueError):
    """A write the record refuses (bad input); the message is plain words for the user."""


class RecordConflict(RecordError):
    """Someone else changed the entry since it was read: reload and try again."""

    def __init__(self, what: str = "This entry") -> None:
        super().__init__(f"{what} was changed by someone else since you opened it. "
                         "Reload to see their change, then try again.")


@dataclass(frozen=True)
class Comment:
    """One commentary entry. ``assurance``: ``assured|partly_assured|not_assured``;
    ``window_start``/``window_end``: months ``YYYY-MM``; ``created_at``: UTC (aware)."""

    id: int
    force: str
    window_start: str
    window_end: str
    kpi_id: str
    owner: str
    text: str
    assurance: str
    author: str
    created_at: datetime

    @property
    def assurance_label(self) -> str:
        """The assurance level in words (``Partly assured``)."""
        return ASSURANCE.get(self.assurance, self.assurance)


@dataclass(frozen=True)
class Action:
    """One agreed action. ``kpi_id`` and/or ``pillar`` (1-6) say what it is for; ``status``
    ``open|done|dropped``; ``kind`` ``meeting`` or ``learning`` (raised from a case review);
    ``version`` is what :meth:`Record.set_action_status` must be given back."""

    id: int
    force: str
    kpi_id: str | None
    pillar: int | None
    text: str
    owner: str
    due_date: date
    status: str
    kind: str
    review_id: int | None
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    version: int

    def overdue(self, today: date) -> bool:
        """True when the action is still open and its due date is before ``today``."""
        return self.status == "open" and self.due_date < today


# --------------------------------------------------------------------------- helpers


def _now() -> datetime:
    """Now in UTC, naive (how times are stored), to the microsecond."""
    return datetime.now(UTC).replace(tzinfo=None)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def month(value: object) -> str:
    """``YYYY-MM`` for a month given as text, ``pd.Period``, ``date`` or ``Timestamp``.

    Raises :class:`RecordError` for anything else.
    """
    if isinstance(value, str):
        text = value.strip()[:7]
        if _MONTH.match(text):
            return text
        raise RecordError(f"{value!r} is not a month (YYYY-MM)")
    if isinstance(value, pd.Period):
        return value.asfreq("M").strftime("%Y-%m")
    if isinstance(value, (date, datetime, pd.Timestamp)):
        return f"{value.year:04d}-{value.month:02d}"
    raise RecordError(f"{value!r} is not a month (YYYY-MM)")


def _text(value: object, what: str, limit: int, *, required: bool = True) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise RecordError(f"{what} is required")
    if len(text) > limit:
        raise RecordError(f"{what} is {len(text):,} characters; the limit is {limit:,}")
    return text


def _window_label(start: str | None, end: str | None) -> str | None:
    return f"{start}..{end}" if start and end else None


def _existing(session: Session, model: type[Base], key: int | str, what: str) -> Any:
    """The ``model`` row with primary key ``int(key)`` in ``session``; raises
    :class:`RecordError` "there is no ``what`` ``key``" when there is none."""
    row = session.get(model, int(key))
    if row is None:
        raise RecordError(f"there is no {what} {key}")
    return row


def _comment(row: CommentRow) -> Comment:
    return Comment(id=row.id, force=row.force, window_start=row.window_start,
                   window_end=row.window_end, kpi_id=row.kpi_id, owner=row.owner,
                   text=row.text, assurance=row.assurance, author=row.author,
                   created_at=_aware(row.created_at))


def _action(row: ActionRow) -> Action:
    return Action(id=row.id, force=row.force, kpi_id=row.kpi_id, pillar=row.pillar,
                  text=row.text, owner=row.owner, due_date=row.due_date, status=row.status,
                  kind=row.kind, review_id=row.review_id, created_by=row.created_by,
                  created_at=_aware(row.created_at), updated_by=row.updated_by,
                  updated_at=_aware(row.updated_at), version=row.version)


def redact_url(url: str) -> str:
    """The database URL without its password (for messages and logs)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL: say nothing about it
        return "(unreadable database URL)"


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine for ``url``; for SQLite the folder is created, foreign keys are
    enforced and writers wait up to 15 s for each other (no ``database is locked`` at once)."""
    if url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 15, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:  # pragma: no cover - trivial
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.close()

        return engine
    if url.startswith("postgresql"):
        # an unreachable server fails within 10 s instead of hanging a page
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    return create_engine(url, pool_pre_ping=True)


# --------------------------------------------------------------------------- the record


class Record:
    """The meeting record at one database. Create it with :func:`metrics.record.open_record`."""

    def __init__(self, engine: Engine, *, audit_path: str | Path | None = None) -> None:
        self.engine = engine
        self.url = redact_url(engine.url.render_as_string(hide_password=False))
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._audit_path = audit_path
        self._lock = threading.Lock()

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    # ----------------------------------------------------------------- audit

    def _audit(self, user: str, what: str, *, force: str | None = None,
               window: str | None = None) -> None:
        audit.log_event("record_write", user=user, audience="internal", force=force,
                        window=window, page=AUDIT_PAGE, reason=what, path=self._audit_path)

    def _write(self) -> Session:
        return self._sessions.begin()  # type: ignore[return-value]

    # ----------------------------------------------------------------- comments

    def add_comment(self, force: str, window_start: object, window_end: object, kpi_id: str, *,
                    owner: str, text: str, assurance: str, author: str,
                    based_on: int | None = _UNSET) -> Comment:
        """Append a commentary entry and return it.

        ``text`` at most :data:`MAX_COMMENT` characters; ``assurance`` one of
        :data:`ASSURANCE`. ``based_on``: the id of the latest entry the author saw (None when
        there was none); when given and someone else has added an entry since, nothing is
        written and :class:`RecordConflict` is raised. Raises :class:`RecordError` for bad input.
        """
        force = _text(force, "Force", MAX_SHORT)
        start, end = month(window_start), month(window_end)
        if start > end:
            raise RecordError(f"the window starts ({start}) after it ends ({end})")
        kpi_id = _text(kpi_id, "KPI", MAX_SHORT)
        owner = _text(owner, "Owner", MAX_SHORT)
        body = _text(text, "Commentary", MAX_COMMENT)
        if assurance not in ASSURANCE:
            raise RecordError(f"assurance must be one of {', '.join(ASSURANCE.values())}")
        author = _text(author, "Author", 200)
        with self._write() as session:
            if based_on is not _UNSET:
                latest = session.scalar(
                    select(func.max(CommentRow.id)).where(
                        CommentRow.force == force, CommentRow.window_start == start,
                        CommentRow.window_end == end, CommentRow.kpi_id == kpi_id))
                if latest != based_on:
                    raise RecordConflict("The commentary on this measure")
            row = CommentRow(force=force, window_start=start, window_end=end, kpi_id=kpi_id,
                             owner=owner, text=body, assurance=assurance, author=author,
                             created_at=_now())
            session.add(row)
            session.flush()
            self._audit(author, f"comment_added:{kpi_id}:{assurance}", force=force,
                        window=_window_label(start, end))
        return _comment(row)

    def latest_comments(self, force: str, window_start: object,
                        window_end: object) -> dict[str, Comment]:
        """The latest commentary entry per KPI for (force, window): ``{kpi_id: Comment}``.

        The window matches exactly (months ``YYYY-MM``; a ``pd.Period``, date or Timestamp is
        read as its month). Empty when nothing was recorded.
        """
        start, end = month(window_start), month(window_end)
        newest = (select(func.max(CommentRow.id))
                  .where(CommentRow.force == force, CommentRow.window_start == start,
                         CommentRow.window_end == end)
                  .group_by(CommentRow.kpi_id))
        with self._sessions() as session:
            rows = session.scalars(
                select(CommentRow).where(CommentRow.id.in_(newest)).order_by(CommentRow.id)
            ).all()
        return {row.kpi_id: _comment(row) for row in rows}

    def comment_history(self, force: str, kpi_id: str, *, window_start: object = None,
                        window_end: object = None) -> list[Comment]:
        """Every commentary entry for (force, KPI), newest first; all windows unless a window
        is given."""
        query = select(CommentRow).where(CommentRow.force == force, CommentRow.kpi_id == kpi_id)
        if window_start is not None and window_end is not None:
            query = query.where(CommentRow.window_start == month(window_start),
                                CommentRow.window_end == month(window_end))
        with self._sessions() as session:
            rows = session.scalars(query.order_by(CommentRow.id.desc())).all()
        return [_comment(row) for row in rows]

    # ----------------------------------------------------------------- actions

    def add_action(self, force: str, *, text: str, owner: str, due_date: date, author: str,
                   kpi_id: str | None = None, pillar: int | None = None,
                   kind: str = "meeting", review_id: int | None = None) -> Action:
        """Record an agreed action (status ``open``) for a KPI and/or a pillar; returns it.

        Raises :class:`RecordError` when neither ``kpi_id`` nor ``pillar`` is given, the pillar
        is not 1-6, the text is empty or too long, or ``due_date`` is not a date.
        """
        force = _text(force, "Force", MAX_SHORT)
        kpi = _text(kpi_id, "KPI", MAX_SHORT, required=False) or None
        if pillar is not None:
            try:
                pillar = int(pillar)
            except (TypeError, ValueError):
                raise RecordError("pillar must be a number from 1 to 6") from None
            if not 1 <= pillar <= 6:
                raise RecordError("pillar must be a number from 1 to 6")
        if kpi is None and pillar is None:
            raise RecordError("an action is for a KPI or a pillar: give one")
        body = _text(text, "Action", MAX_ACTION)
        owner = _text(owner, "Owner", MAX_SHORT)
        author = _text(author, "Author", 200)
        if isinstance(due_date, datetime) or not isinstance(due_date, date):
            raise RecordError("the due date must be a date (YYYY-MM-DD)")
        if kind not in ACTION_KINDS:
            raise RecordError(f"kind must be one of {', '.join(ACTION_KINDS)}")
        now = _now()
        with self._write() as session:
            row = ActionRow(force=force, kpi_id=kpi, pillar=pillar, text=body, owner=owner,
                            due_date=due_date, status="open", kind=kind, review_id=review_id,
                            created_by=author, created_at=now, updated_by=author,
                            updated_at=now, closed_at=None, version=1)
            session.add(row)
            session.flush()
            self._audit(author, f"action_added:{row.id}:{kind}:{kpi or f'pillar {pillar}'}",
                        force=force)
        return _action(row)

    def actions(self, force: str, *, status: str | Sequence[str] | None = None,
                kind: str | None = None) -> list[Action]:
        """The actions for ``force`` (exactly that name: "All forces" has its own), oldest due
        first; only those with ``status`` (one or several of open|done|dropped) when given."""
        query = select(ActionRow).where(ActionRow.force == force)
        if status is not None:
            wanted = [status] if isinstance(status, str) else list(status)
            bad = [s for s in wanted if s not in ACTION_STATUSES]
            if bad:
                raise RecordError(f"unknown status {bad[0]!r}: open, done or dropped")
            query = query.where(ActionRow.status.in_(wanted))
        if kind is not None:
            query = query.where(ActionRow.kind == kind)
        with self._sessions() as session:
            rows = session.scalars(query.order_by(ActionRow.due_date, ActionRow.id)).all()
        return [_action(row) for row in rows]

    def action(self, action_id: int) -> Action | None:
        """One action by id (None when there is none)."""
        with self._sessions() as session:
            row = session.get(ActionRow, int(action_id))
        return _action(row) if row is not None else None

    def set_action_status(self, action_id: int, status: str, *, version: int,
                          author: str) -> Action:
        """Set an action's status, if it still is at ``version`` (the one the caller read).

        Returns the updated action (``version`` + 1). Raises :class:`RecordConflict` when
        someone else changed it in between, :class:`RecordError` for an unknown action or status.
        """
        if status not in ACTION_STATUSES:
            raise RecordError(f"unknown status {status!r}: open, done or dropped")
        author = _text(author, "Author", 200)
        now = _now()
        with self._write() as session:
            row = _existing(session, ActionRow, action_id, "action")
            result = session.execute(
                update(ActionRow)
                .where(ActionRow.id == int(action_id), ActionRow.version == int(version))
                .values(status=status, updated_by=author, updated_at=now,
                        closed_at=None if status == "open" else now,
                        version=ActionRow.version + 1)
                .execution_options(synchronize_session=False))
            if result.rowcount != 1:
                raise RecordConflict("This action")
            self._audit(author, f"action_status:{action_id}:{status}", force=row.force)
            session.expire_all()
            fresh = session.get(ActionRow, int(action_id))
            assert fresh is not None
        return _action(fresh)

    # ----------------------------------------------------------------- case reviews

    def save_sample(self, force: str, window_start: object, window_end: object, *,
                    size: int, seed: int, population: int, method: str, author: str,
                    cases: Iterable[dict[str, Any]]) -> int:
        """Store a drawn sample (``cases``: dicts with case_id, offence_group, outcome_code,
        outcome_date, stratum) and return its id. Used by :func:`metrics.record.draw_sample`."""
        start, end = month(window_start), month(window_end)
        author = _text(author, "Author", 200)
        with self._write() as session:
            sample = SampleRow(force=force, window_start=start, window_end=end,
                               size_requested=int(size), population=int(population),
                               seed=int(seed), method=method[:200], drawn_by=author,
                               drawn_at=_now())
            session.add(sample)
            session.flush()
            count = 0
            for case in cases:
                session.add(SampleCaseRow(
                    sample_id=sample.id, case_id=str(case["case_id"]),
                    offence_group=case.get("offence_group"),
                    outcome_code=_int_or_none(case.get("outcome_code")),
                    outcome_date=_date_or_none(case.get("outcome_date")),
                    stratum=case.get("stratum"), random=True, isva_nominated=False))
                count += 1
            self._audit(author, f"sample_drawn:{sample.id}:{count} cases:seed {seed}",
                        force=force, window=_window_label(start, end))
            sample_id = sample.id
        return sample_id

    def add_nomination(self, sample_id: int, case_id: str, *, nominated_by: str,
                       offence_group: str | None = None, outcome_code: int | None = None,
                       outcome_date: date | None = None) -> int:
        """Add a case nominated by an ISVA member to a sample (or mark a sampled case as also
        nominated). Returns the sample case's id. Raises :class:`RecordError` for an unknown
        sample or an empty case id."""
        case_id = _text(case_id, "Case id", MAX_SHORT)
        nominated_by = _text(nominated_by, "Nominated by", 200)
        with self._write() as session:
            sample = _existing(session, SampleRow, sample_id, "sample")
            row = session.scalar(select(SampleCaseRow).where(
                SampleCaseRow.sample_id == sample.id, SampleCaseRow.case_id == case_id))
            if row is None:
                row = SampleCaseRow(sample_id=sample.id, case_id=case_id,
                                    offence_group=offence_group,
                                    outcome_code=_int_or_none(outcome_code),
                                    outcome_date=_date_or_none(outcome_date), stratum=None,
                                    random=False, isva_nominated=True,
                                    nominated_by=nominated_by)
                session.add(row)
            else:
                row.isva_nominated = True
                row.nominated_by = nominated_by
            session.flush()
            self._audit(nominated_by, f"case_nominated:sample {sample.id}", force=sample.force,
                        window=_window_label(sample.window_start, sample.window_end))
            return row.id

    def samples(self, force: str | None = None) -> pd.DataFrame:
        """The samples drawn (newest first): id, force, window_start, window_end,
        size_requested, population, seed, method, drawn_by, drawn_at."""
        query = select(SampleRow)
        if force is not None:
            query = query.where(SampleRow.force == force)
        with self._sessions() as session:
            rows = session.scalars(query.order_by(SampleRow.id.desc())).all()
        return _frame(rows, SampleRow)

    def sample_cases(self, sample_id: int) -> pd.DataFrame:
        """The cases of one sample with their latest review (if any): sample_case_id, case_id,
        offence_group, outcome_code, outcome_date, stratum, random, isva_nominated,
        nominated_by, reviewed (bool), decision_sound (bool or None)."""
        with self._sessions() as session:
            cases = session.scalars(select(SampleCaseRow).where(
                SampleCaseRow.sample_id == int(sample_id)).order_by(SampleCaseRow.id)).all()
            latest = self._latest_reviews(session, [c.id for c in cases])
        frame = _frame(cases, SampleCaseRow).rename(columns={"id": "sample_case_id"})
        frame = frame.drop(columns=["sample_id"])
        frame["reviewed"] = frame["sample_case_id"].map(lambda i: i in latest).astype(bool)
        frame["decision_sound"] = frame["sample_case_id"].map(
            lambda i: latest[i].decision_sound if i in latest else None)
        return frame

    @staticmethod
    def _latest_reviews(session: Session, case_ids: Sequence[int]) -> dict[int, ReviewRow]:
        if not case_ids:
            return {}
        rows = session.scalars(select(ReviewRow).where(
            ReviewRow.sample_case_id.in_(list(case_ids))).order_by(ReviewRow.id)).all()
        return {row.sample_case_id: row for row in rows}

    def add_review(self, sample_case_id: int, *, decision_sound: bool,
                   themes: Iterable[str] = (), learning_point: str = "", reviewer: str,
                   learning_action: dict[str, Any] | None = None) -> int:
        """Record the panel's findings for a sampled case; returns the review id.

        ``themes``: keys of :data:`THEMES` the panel raised; ``decision_sound``: whether the
        NFA decision was sound. ``learning_action`` (optional ``{"text", "owner", "due_date"}``)
        also opens a ``learning`` action for the sample's force, linked to this review.
        A later review of the same case supersedes this one (history kept).
        """
        chosen = list(themes)
        bad = [t for t in chosen if t not in THEMES]
        if bad:
            raise RecordError(f"unknown theme {bad[0]!r}")
        if not isinstance(decision_sound, bool):
            raise RecordError("decision sound must be yes or no")
        point = _text(learning_point, "Learning point", MAX_LEARNING, required=False)
        reviewer = _text(reviewer, "Reviewer", 200)
        now = _now()
        with self._write() as session:
            case = _existing(session, SampleCaseRow, sample_case_id, "sampled case")
            sample = session.get(SampleRow, case.sample_id)
            assert sample is not None
            row = ReviewRow(sample_case_id=case.id, decision_sound=decision_sound,
                            learning_point=point, reviewer=reviewer, created_at=now,
                            **{t: t in chosen for t in THEMES})
            session.add(row)
            session.flush()
            window = _window_label(sample.window_start, sample.window_end)
            self._audit(reviewer, f"case_reviewed:sample {sample.id}:review {row.id}",
                        force=sample.force, window=window)
            if learning_action is not None:
                due = learning_action.get("due_date")
                if isinstance(due, datetime) or not isinstance(due, date):
                    raise RecordError("the learning action's due date must be a date")
                action = ActionRow(
                    force=sample.force, kpi_id="panel_nfa_decision_sound", pillar=None,
                    text=_text(learning_action.get("text"), "Learning action", MAX_ACTION),
                    owner=_text(learning_action.get("owner"), "Owner", MAX_SHORT),
                    due_date=due, status="open", kind="learning", review_id=row.id,
                    created_by=reviewer, created_at=now, updated_by=reviewer, updated_at=now,
                    closed_at=None, version=1)
                session.add(action)
                session.flush()
                self._audit(reviewer, f"action_added:{action.id}:learning", force=sample.force)
            review_id = row.id
        return review_id

    def reviewed_cases(self, forces: Sequence[str] | None = None) -> pd.DataFrame:
        """The latest review of every reviewed case, one row per (sample, case): force,
        sample_id, window_start, window_end, case_id, offence_group, outcome_code, outcome_date,
        random, isva_nominated, review_id, the theme columns, decision_sound, learning_point,
        reviewer, reviewed_at, learning_actions_open (count)."""
        with self._sessions() as session:
            query = (select(ReviewRow, SampleCaseRow, SampleRow)
                     .join(SampleCaseRow, ReviewRow.sample_case_id == SampleCaseRow.id)
                     .join(SampleRow, SampleCaseRow.sample_id == SampleRow.id))
            if forces is not None:
                query = query.where(SampleRow.force.in_(list(forces)))
            rows = session.execute(query.order_by(ReviewRow.id)).all()
            open_by_review: dict[int, int] = dict(session.execute(
                select(ActionRow.review_id, func.count()).where(
                    ActionRow.kind == "learning", ActionRow.status == "open",
                    ActionRow.review_id.is_not(None)).group_by(ActionRow.review_id)).all())
        latest: dict[int, tuple[ReviewRow, SampleCaseRow, SampleRow]] = {}
        for review, case, sample in rows:
            latest[case.id] = (review, case, sample)
        records = []
        for review, case, sample in latest.values():
            records.append({
                "force": sample.force, "sample_id": sample.id,
                "window_start": sample.window_start, "window_end": sample.window_end,
                "case_id": case.case_id, "offence_group": case.offence_group,
                "outcome_code": case.outcome_code, "outcome_date": case.outcome_date,
                "random": bool(case.random), "isva_nominated": bool(case.isva_nominated),
                "review_id": review.id,
                **{t: bool(getattr(review, t)) for t in THEMES},
                "decision_sound": bool(review.decision_sound),
                "learning_point": review.learning_point, "reviewer": review.reviewer,
                "reviewed_at": _aware(review.created_at),
                "learning_actions_open": int(open_by_review.get(review.id, 0)),
            })
        columns = ["force", "sample_id", "window_start", "window_end", "case_id",
                   "offence_group", "outcome_code", "outcome_date", "random", "isva_nominated",
                   "review_id", *THEMES, "decision_sound", "learning_point", "reviewer",
                   "reviewed_at", "learning_actions_open"]
        return pd.DataFrame(records, columns=columns)

    def learning_log(self, forces: Sequence[str] | None = None) -> pd.DataFrame:
        """The learning log (internal only: it holds case ids): one row per reviewed case,
        newest first, with the themes raised (in words), whether the decision was sound, the
        learning point and its learning actions (text, owner, due, status)."""
        reviews = self.reviewed_cases(forces)
        with self._sessions() as session:
            actions = session.scalars(select(ActionRow).where(
                ActionRow.kind == "learning").order_by(ActionRow.id)).all()
        by_review: dict[int, list[ActionRow]] = {}
        for act in actions:
            if act.review_id is not None:
                by_review.setdefault(act.review_id, []).append(act)
        rows = []
        for rec in reviews.sort_values("reviewed_at", ascending=False).to_dict("records"):
            acts = by_review.get(rec["review_id"], [])
            rows.append({
                "reviewed_at": rec["reviewed_at"], "force": rec["force"],
                "window": f"{rec['window_start']}..{rec['window_end']}",
                "case_id": rec["case_id"],
                "selection": ("ISVA nominated" if rec["isva_nominated"] and not rec["random"]
                              else "random and ISVA nominated" if rec["isva_nominated"]
                              else "random"),
                "offence_group": rec["offence_group"], "outcome_code": rec["outcome_code"],
                "decision_sound": "yes" if rec["decision_sound"] else "no",
                "themes": "; ".join(THEMES[t] for t in THEMES if rec[t]),
                "learning_point": rec["learning_point"], "reviewer": rec["reviewer"],
                "learning_actions": "; ".join(
                    f"{a.text} (owner {a.owner}, due {a.due_date.isoformat()}, {a.status})"
                    for a in acts),
            })
        columns = ["reviewed_at", "force", "window", "case_id", "selection", "offence_group",
                   "outcome_code", "decision_sound", "themes", "learning_point", "reviewer",
                   "learning_actions"]
        return pd.DataFrame(rows, columns=columns)

    # ----------------------------------------------------------------- export

    def export_tables(self) -> dict[str, pd.DataFrame]:
        """Every table of the record, whole: ``{table name: DataFrame}`` (ids kept)."""
        out: dict[str, pd.DataFrame] = {}
        with self._sessions() as session:
            for model in (CommentRow, ActionRow, SampleRow, SampleCaseRow, ReviewRow):
                rows = session.scalars(select(model).order_by(model.id)).all()
                out[model.__tablename__] = _frame(rows, model)
        return out


def _frame(rows: Sequence[Any], model: type[Base]) -> pd.DataFrame:
    columns = [c.name for c in model.__table__.columns]
    return pd.DataFrame([{c: getattr(r, c) for c in columns} for r in rows], columns=columns)


def _int_or_none(value: object) -> int | None:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return None
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _date_or_none(value: object) -> date | None:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date()
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if pd.isna(stamp) else stamp.date()
