"""Storage for the Slack features' own tables (schedules, daily posts, scorecards) and the read-side
queries of history and stats, so the Slack modules never touch SQLAlchemy. Interview, turn, timer
and recap rows are written only by the runner (bot/app)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime

from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.models import (
    DailyPostRow,
    DailyStartRow,
    HeartbeatRow,
    InterviewRow,
    RecapRow,
    ScheduleRow,
    ScorecardRow,
    TurnRow,
)


class ScheduleStore:
    """A channel's daily schedule, each day's claimed post, and who started from it."""

    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def get(self, channel: str) -> ScheduleRow | None:
        """The channel's schedule, if it has one."""
        async with self._sessions() as session:
            return await session.get(ScheduleRow, channel)

    async def active(self) -> list[ScheduleRow]:
        """Every schedule that is not paused."""
        async with self._sessions() as session:
            return list(await session.scalars(select(ScheduleRow).where(ScheduleRow.paused.is_(False))))

    async def remove(self, channel: str) -> None:
        """Turn the channel's daily problem off."""
        async with self._sessions.begin() as session:
            await session.execute(delete(ScheduleRow).where(ScheduleRow.channel == channel))

    async def put(self, channel: str, now: float, **values) -> ScheduleRow:
        """Set the channel's schedule (un-pausing it); its skips are kept."""
        async with self._sessions.begin() as session:
            row = await session.get(ScheduleRow, channel)
            if row is None:
                row = ScheduleRow(channel=channel, skips="[]")
                session.add(row)
            for name, value in values.items():
                setattr(row, name, value)
            row.paused, row.paused_reason, row.updated_at = False, None, now
        return row

    async def skip(self, channel: str, day: str, now: float) -> bool:
        """Add a local date to skip; False if the channel has no schedule."""
        async with self._sessions.begin() as session:
            row = await session.get(ScheduleRow, channel)
            if row is None:
                return False
            row.skips, row.updated_at = json.dumps(sorted(set(json.loads(row.skips or "[]")) | {day})), now
        return True

    async def pause(self, channel: str, reason: str, now: float) -> bool:
        """Pause the schedule; False if it was gone or already paused."""
        async with self._sessions.begin() as session:
            row = await session.get(ScheduleRow, channel)
            if row is None or row.paused:
                return False
            row.paused, row.paused_reason, row.updated_at = True, reason, now
        return True

    async def posted_problems(self, channel: str) -> list[str]:
        """The problems the channel was given, oldest first."""
        async with self._sessions() as session:
            return list(
                await session.scalars(
                    select(DailyPostRow.problem)
                    .where(DailyPostRow.channel == channel)
                    .order_by(DailyPostRow.local_date)
                )
            )

    async def claim_post(self, channel: str, local_date: str, problem: str, now: float) -> bool:
        """Claim the channel's post of a local day; False if it was claimed before (posted once)."""
        try:
            async with self._sessions.begin() as session:
                session.add(
                    DailyPostRow(channel=channel, local_date=local_date, problem=problem, claimed_at=now)
                )
            return True
        except IntegrityError:
            return False

    async def posted(self, channel: str, local_date: str, ts: str) -> None:
        """Record where the day's post went."""
        async with self._sessions.begin() as session:
            claimed = await session.get(DailyPostRow, (channel, local_date))
            claimed.ts = ts

    async def start_of(self, post_ts: str, key: str) -> DailyStartRow | None:
        """Who (or the team, key "*team*") already started from a post."""
        async with self._sessions() as session:
            return await session.get(DailyStartRow, (post_ts, key))

    async def started(self, post_ts: str, key: str, interview_id: str, thread_ts: str) -> None:
        """Record a start from a post; a double click that raced keeps the first."""
        try:
            async with self._sessions.begin() as session:
                session.add(
                    DailyStartRow(
                        post_ts=post_ts, user_id=key, interview_id=interview_id, thread_ts=thread_ts
                    )
                )
        except IntegrityError:
            pass


class ScorecardStore:
    """A pair interview's scorecard, where its merged recap was posted, and the self-rating."""

    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def interview_and_card(self, interview_id: str) -> tuple[InterviewRow | None, ScorecardRow | None]:
        """The interview row and its scorecard (either may be missing)."""
        async with self._sessions() as session:
            row = await session.get(InterviewRow, interview_id)
            card = await session.get(ScorecardRow, interview_id) if row else None
            return row, card

    async def save(self, interview_id: str, interviewer: str, data: dict, now: float) -> None:
        """Store the scorecard (or its edit)."""
        async with self._sessions.begin() as session:
            stored = await session.get(ScorecardRow, interview_id)
            if stored is None:
                session.add(
                    ScorecardRow(
                        interview_id=interview_id,
                        interviewer_id=interviewer,
                        data=json.dumps(data),
                        submitted_at=now,
                        updated_at=now,
                    )
                )
            else:
                stored.data, stored.updated_at = json.dumps(data), now

    async def posted(self, interview_id: str, channel: str, ts: str) -> None:
        """Where the merged recap went, so an edit can update it."""
        async with self._sessions.begin() as session:
            stored = await session.get(ScorecardRow, interview_id)
            stored.posted_channel, stored.posted_ts = channel, ts

    async def rate_self(self, interview_id: str, rating: dict) -> None:
        """Store the candidate's self-rating."""
        async with self._sessions.begin() as session:
            card = await session.get(ScorecardRow, interview_id)
            card.self_rating = json.dumps(rating)


class HistoryQueries:
    """Read-only questions about stored interviews: a user's history, a channel's activity."""

    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def of_user(self, user: str, limit: int | None = None) -> list[tuple[InterviewRow, dict | None]]:
        """The user's interviews (as the candidate), newest first, each with its recap if any."""
        query = (
            select(InterviewRow, RecapRow)
            .outerjoin(RecapRow, RecapRow.interview_id == InterviewRow.id)
            .where(InterviewRow.user_id == user)
            .order_by(InterviewRow.created_at.desc(), InterviewRow.id)
        )
        if limit is not None:
            query = query.limit(limit)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [(row, json.loads(recap.data) if recap else None) for row, recap in rows]

    async def channel_activity(
        self, channel: str
    ) -> tuple[list[tuple[str, str | None, bool, datetime]], dict[str, set[str]], dict[str, dict]]:
        """A channel's interviews (id, candidate, team, created), who answered in each, and the recaps
        that were shown in the channel (a pair interview's only if its recap was posted there)."""
        async with self._sessions() as session:
            rows = [
                (r.id, r.user_id, bool(r.team), r.created_at)
                for r in (
                    await session.execute(
                        select(
                            InterviewRow.id, InterviewRow.user_id, InterviewRow.team, InterviewRow.created_at
                        ).where(InterviewRow.channel == channel)
                    )
                ).all()
            ]
            ids = [r[0] for r in rows]
            authors: dict[str, set[str]] = defaultdict(set)
            recaps: dict[str, dict] = {}
            if ids:
                turns = await session.execute(
                    select(TurnRow.interview_id, TurnRow.user_id)
                    .where(TurnRow.interview_id.in_(ids), TurnRow.role == "candidate", TurnRow.user_id != "")
                    .distinct()
                )
                for interview_id, user in turns:
                    authors[interview_id].add(user)
                public = (InterviewRow.mode != "pair") | (ScorecardRow.posted_channel == channel)
                for interview_id, data in await session.execute(
                    select(RecapRow.interview_id, RecapRow.data)
                    .join(InterviewRow, InterviewRow.id == RecapRow.interview_id)
                    .outerjoin(ScorecardRow, ScorecardRow.interview_id == RecapRow.interview_id)
                    .where(RecapRow.interview_id.in_(ids), public)
                ):
                    recaps[interview_id] = json.loads(data)
        return rows, authors, recaps


async def can_write(sessions: async_sessionmaker, name: str, now: float) -> bool:
    """Whether the database takes a write now (a full disk or a stuck lock says no)."""
    try:
        async with sessions.begin() as session:
            if session.bind.dialect.name == "postgresql":
                # The server gives up on a held lock by itself: a cancelled wait would leave the
                # connection busy and the health check hanging.
                await session.execute(text("SET LOCAL lock_timeout = '1s'"))
            await session.merge(HeartbeatRow(name=name, at=now))
        return True
    except Exception:  # noqa: BLE001 - any failure to write is the answer
        return False
