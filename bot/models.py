"""The database tables (SQLAlchemy 2 declarative); the schema itself is made by Alembic migrations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of every table."""


class InterviewRow(Base):
    """One interview: where it runs, who sits it, and the engine's state."""

    __tablename__ = "interviews"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    problem: Mapped[str] = mapped_column(String(80))
    level: Mapped[str] = mapped_column(String(16))
    minutes: Mapped[float | None] = mapped_column(Float, nullable=True)
    surface: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    end_reason: Mapped[str] = mapped_column(String(32), default="")
    team: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    thread_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    mode: Mapped[str] = mapped_column(String(16), default="solo")
    interviewer_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    creator_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    pace: Mapped[float] = mapped_column(Float, default=1.0)
    clock_origin: Mapped[float] = mapped_column(Float, default=0.0)
    state: Mapped[str] = mapped_column(Text)  # the engine's snapshot, less its setup and its turns
    # What the interview was set up with and never changes (its practice suggestions): written once.
    setup: Mapped[str | None] = mapped_column(Text, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (UniqueConstraint("channel", "thread_ts", name="uq_interview_thread"),)


class TurnRow(Base):
    """One message of an interview, with the phase and interview time it was given in."""

    __tablename__ = "turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    interview_id: Mapped[str] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[float] = mapped_column(Float)
    phase: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(64), default="")
    user_id: Mapped[str] = mapped_column(String(32), default="")
    kind: Mapped[str] = mapped_column(String(16), default="")

    __table_args__ = (UniqueConstraint("interview_id", "seq", name="uq_turn_seq"),)


class RecapRow(Base):
    """The recap of an ended interview."""

    __tablename__ = "recaps"

    interview_id: Mapped[str] = mapped_column(
        ForeignKey("interviews.id", ondelete="CASCADE"), primary_key=True
    )
    overall: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(16))
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TimerRow(Base):
    """A timer of an interview, due at a wall-clock time; claimed (fired) at most once."""

    __tablename__ = "timers"

    interview_id: Mapped[str] = mapped_column(
        ForeignKey("interviews.id", ondelete="CASCADE"), primary_key=True
    )
    timer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    due_at: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16), index=True)  # pending, fired, cancelled, missed
    updated_at: Mapped[float] = mapped_column(Float)


class InboxRow(Base):
    """Something a person sent (an answer, an edit, a control, a start), stored before it is acknowledged.

    `key` (a Slack event id, or a request's trigger id) is unique: storing the row is also the claim
    that makes a retried or replayed request a no-op. Once applied, the text lives in the turns and
    the row keeps only the claim.
    """

    __tablename__ = "inbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # message, edit, control, mention, seen
    channel: Mapped[str] = mapped_column(String(32), default="")
    thread_ts: Mapped[str] = mapped_column(String(32), default="")
    user_id: Mapped[str] = mapped_column(String(32), default="")
    ts: Mapped[str] = mapped_column(String(32), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[str] = mapped_column(Text, default="{}")
    state: Mapped[str] = mapped_column(String(12), index=True)  # pending, applied, dropped
    received_at: Mapped[float] = mapped_column(Float)


class OutboxRow(Base):
    """Something to say on a surface, written in the same transaction as the step that decided it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    interview_id: Mapped[str] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"), index=True)
    surface: Mapped[str] = mapped_column(String(16))  # the surface that delivers it (slack, terminal)
    kind: Mapped[str] = mapped_column(String(16))  # say, nudge, tell, recap, chart, fallback
    data: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(12), index=True)  # pending, sending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[float] = mapped_column(Float, default=0.0)
    lease_until: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[float] = mapped_column(Float)
    sent_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str] = mapped_column(String(64), default="")


class ScorecardRow(Base):
    """The interviewer's scorecard of a pair interview, and the candidate's self-rating."""

    __tablename__ = "scorecards"

    interview_id: Mapped[str] = mapped_column(
        ForeignKey("interviews.id", ondelete="CASCADE"), primary_key=True
    )
    interviewer_id: Mapped[str] = mapped_column(String(32))
    data: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    self_rating: Mapped[str | None] = mapped_column(Text, nullable=True)
    posted_channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    posted_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)


class ScheduleRow(Base):
    """A channel's daily problem schedule, in the channel's own time zone."""

    __tablename__ = "schedules"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    hhmm: Mapped[str] = mapped_column(String(5))
    tz: Mapped[str] = mapped_column(String(64))
    days: Mapped[str] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_by: Mapped[str] = mapped_column(String(32))
    skips: Mapped[str] = mapped_column(Text, default="[]")
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)


class DailyPostRow(Base):
    """A channel's problem of one local day; claimed before it is posted, so it is posted once."""

    __tablename__ = "daily_posts"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    local_date: Mapped[str] = mapped_column(String(10), primary_key=True)
    problem: Mapped[str] = mapped_column(String(80))
    ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    claimed_at: Mapped[float] = mapped_column(Float)


class DailyStartRow(Base):
    """Who started an interview from a daily post (user "*team*" for the shared team interview)."""

    __tablename__ = "daily_starts"

    post_ts: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    interview_id: Mapped[str] = mapped_column(String(64))
    thread_ts: Mapped[str] = mapped_column(String(32))


class HeartbeatRow(Base):
    """When a process last wrote to the database (`/healthz`)."""

    __tablename__ = "heartbeat"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[float] = mapped_column(Float)
