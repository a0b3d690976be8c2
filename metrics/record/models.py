"""SQLAlchemy 2 models of the meeting record (the schema Alembic's migrations create).

Tables (every time is UTC, stored naive in UTC; months are ``YYYY-MM`` text):

- ``comments``: commentary and assurance per (force, window, KPI). Append-only: a new entry
  never overwrites an earlier one, so the latest is the current view and the rest is history.
- ``actions``: what a meeting agreed, for a KPI or a pillar; ``version`` is the optimistic lock
  (an update names the version it read; a mismatch is :class:`~metrics.record.RecordConflict`).
- ``samples``: a scrutiny panel's draw of NFA cases (force, window, size, seed, method).
- ``sample_cases``: the cases of a draw (random and/or nominated by an ISVA member).
- ``reviews``: the panel's findings per reviewed case. Append-only (a later review of the same
  case supersedes, the earlier stays as history).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a fixed constraint naming convention (stable migrations)."""

    metadata = MetaData(naming_convention=NAMING)


class CommentRow(Base):
    """One commentary entry (append-only)."""

    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    force: Mapped[str] = mapped_column(String(120))
    window_start: Mapped[str] = mapped_column(String(7))
    window_end: Mapped[str] = mapped_column(String(7))
    kpi_id: Mapped[str] = mapped_column(String(120))
    owner: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    assurance: Mapped[str] = mapped_column(String(20))
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    __table_args__ = (Index("ix_comments_view", "force", "window_start", "window_end", "kpi_id"),)


class ActionRow(Base):
    """One agreed action (mutable, optimistic lock on ``version``)."""

    __tablename__ = "actions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    force: Mapped[str] = mapped_column(String(120), index=True)
    kpi_id: Mapped[str | None] = mapped_column(String(120), nullable=True)
    pillar: Mapped[int | None] = mapped_column(Integer, nullable=True)
    text: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(120))
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(10), default="meeting")
    review_id: Mapped[int | None] = mapped_column(ForeignKey("reviews.id"), nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class SampleRow(Base):
    """One draw of NFA cases for a scrutiny panel."""

    __tablename__ = "samples"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    force: Mapped[str] = mapped_column(String(120), index=True)
    window_start: Mapped[str] = mapped_column(String(7))
    window_end: Mapped[str] = mapped_column(String(7))
    size_requested: Mapped[int] = mapped_column(Integer)
    population: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(200))
    drawn_by: Mapped[str] = mapped_column(String(200))
    drawn_at: Mapped[datetime] = mapped_column(DateTime)


class SampleCaseRow(Base):
    """A case in a draw: from the random sample and/or nominated by an ISVA member."""

    __tablename__ = "sample_cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"), index=True)
    case_id: Mapped[str] = mapped_column(String(120))
    offence_group: Mapped[str | None] = mapped_column(String(60), nullable=True)
    outcome_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    outcome_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    stratum: Mapped[str | None] = mapped_column(String(80), nullable=True)
    random: Mapped[bool] = mapped_column(Boolean, default=False)
    isva_nominated: Mapped[bool] = mapped_column(Boolean, default=False)
    nominated_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    __table_args__ = (UniqueConstraint("sample_id", "case_id", name="uq_sample_cases_case"),)


class ReviewRow(Base):
    """The panel's findings for one case (append-only; the latest per case counts)."""

    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sample_case_id: Mapped[int] = mapped_column(ForeignKey("sample_cases.id"), index=True)
    evidential_weakness: Mapped[bool] = mapped_column(Boolean, default=False)
    victim_engagement: Mapped[bool] = mapped_column(Boolean, default=False)
    suspect_focused_investigation: Mapped[bool] = mapped_column(Boolean, default=False)
    early_advice: Mapped[bool] = mapped_column(Boolean, default=False)
    digital_evidence: Mapped[bool] = mapped_column(Boolean, default=False)
    decision_sound: Mapped[bool] = mapped_column(Boolean)
    learning_point: Mapped[str] = mapped_column(Text, default="")
    reviewer: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)
