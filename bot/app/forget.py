"""Deleting inside the runner's write path: `forget me`, and purges (uninstall, retention).

`forget me` removes everything of one person.

Interviews they sat are deleted with every row; their messages leave other people's interviews
(turn rows and stored state alike), quotes of them leave stored recaps, scorecards they wrote go,
and their id leaves interviewer and creator columns, schedules they set (which keep working) and
daily starts. A team interview they started keeps the teammates' messages.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import (
    DailyPostRow,
    DailyStartRow,
    InboxRow,
    InterviewRow,
    OutboxRow,
    RecapRow,
    ScheduleRow,
    ScorecardRow,
    TimerRow,
    TurnRow,
)
from bot.repository import InterviewRepository

REMOVED = "(removed at the author's request)"
MIN_QUOTE_CHARS = 12
_QUOTE_SPLIT = re.compile(r"[\"“”‘’…]")


@dataclass(frozen=True)
class Forgotten:
    """What `forget me` deleted."""

    interviews: int
    messages: int
    recaps: int

    def sentence(self) -> str:
        """E.g. "Deleted 3 interviews, 41 messages and 2 recaps"."""
        return (
            f"Deleted {_plural(self.interviews, 'interview')}, {_plural(self.messages, 'message')} "
            f"and {_plural(self.recaps, 'recap')}"
        )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _flat(text: str) -> str:
    return " ".join(text.split()).lower()


def redact_recap(recap: dict, user: str, texts: list[str]) -> dict:
    """The recap without `user`: their contributions gone, quotes of their `texts` replaced."""
    said = [_flat(t) for t in texts if t.strip()]

    def quotes_them(value: str) -> bool:
        for piece in _QUOTE_SPLIT.split(value):
            piece = " ".join(piece.split()).lower()
            if len(piece) >= MIN_QUOTE_CHARS and any(piece in s for s in said):
                return True
        return False

    def scrub(value):
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items() if k != user}
        if isinstance(value, list):
            return [scrub(v) for v in value if v != user]
        if isinstance(value, str):
            if quotes_them(value):
                return REMOVED
            return value.replace(f"<@{user}>", "someone").replace(f"@{user}", "someone")
        return value

    return scrub(recap)


async def forget_in(
    session: AsyncSession, repository: InterviewRepository, user: str
) -> tuple[Forgotten, list[tuple[str, str]]]:
    """Remove `user` in one transaction; returns what was deleted and the pending timers that went."""
    own_rows = list(await session.scalars(select(InterviewRow).where(InterviewRow.user_id == user)))
    kept_team = {r.id for r in own_rows if r.team}  # teammates' messages stay
    own = [r.id for r in own_rows if r.id not in kept_team]
    touched = set(
        await session.scalars(select(TurnRow.interview_id).where(TurnRow.user_id == user).distinct())
    )
    touched |= set(
        await session.scalars(
            select(InterviewRow.id).where(
                or_(InterviewRow.interviewer_id == user, InterviewRow.creator_id == user)
            )
        )
    )
    touched = (touched | kept_team) - set(own)
    own_turns = await session.scalar(
        select(func.count()).select_from(TurnRow).where(TurnRow.interview_id.in_(own))
    )
    recaps = await session.scalar(
        select(func.count()).select_from(RecapRow).where(RecapRow.interview_id.in_(own))
    )
    their_turns = 0
    for interview_id in sorted(touched):
        # Take the interview's lock (row lock on PostgreSQL, the write lock on SQLite) before reading it.
        await session.execute(
            update(InterviewRow)
            .where(InterviewRow.id == interview_id)
            .values(version=InterviewRow.version)
            .execution_options(synchronize_session=False)
        )
        row = await session.get(InterviewRow, interview_id, populate_existing=True)
        if row is None:
            continue
        interview = await repository.rebuild_in(session, row)
        texts = [t.text for t in interview.turns if t.user == user]
        their_turns += len(texts)
        if texts:
            kept = tuple(t for t in interview.turns if t.user != user)
            # Turn rows are numbered by their place in the state: renumber them from the scrubbed state.
            await session.execute(delete(TurnRow).where(TurnRow.interview_id == interview_id))
            await session.flush()
            await repository.save_in(session, dataclasses.replace(interview, turns=kept), row.version)
        recap = await session.get(RecapRow, interview_id)
        if recap is not None:
            recap.data = json.dumps(redact_recap(json.loads(recap.data), user, texts))
        await session.execute(
            update(InterviewRow)
            .where(InterviewRow.id == interview_id)
            .values(
                user_id=None if row.user_id == user else row.user_id,
                interviewer_id=None if row.interviewer_id == user else row.interviewer_id,
                creator_id=None if row.creator_id == user else row.creator_id,
                version=InterviewRow.version + 1,  # a copy kept in memory is stale now
            )
            .execution_options(synchronize_session=False)
        )
    pending = await _delete_interviews(session, own)
    await session.execute(delete(ScorecardRow).where(ScorecardRow.interviewer_id == user))
    await session.execute(delete(DailyStartRow).where(DailyStartRow.user_id == user))
    await session.execute(delete(InboxRow).where(InboxRow.user_id == user))
    await session.execute(update(ScheduleRow).where(ScheduleRow.created_by == user).values(created_by=""))
    return Forgotten(len(own), int(own_turns or 0) + their_turns, int(recaps or 0)), pending


async def purge_in(session: AsyncSession, before: datetime | None) -> tuple[int, list[tuple[str, str]]]:
    """Delete interviews created before `before` with all their rows, or with None everything the
    bot stored (the app was removed). Returns how many interviews went and their pending timers."""
    query = select(InterviewRow.id)
    if before is not None:
        query = query.where(InterviewRow.created_at < before)
    ids = list(await session.scalars(query))
    pending = await _delete_interviews(session, ids)
    if before is None:
        for table in (InboxRow, ScheduleRow, DailyPostRow, DailyStartRow, ScorecardRow):
            await session.execute(delete(table))
    return len(ids), pending


async def _delete_interviews(session: AsyncSession, ids: list[str]) -> list[tuple[str, str]]:
    """Delete interviews with every row of theirs; returns the pending timers that went with them."""
    pending = [
        (t.interview_id, t.timer_id)
        for t in await session.scalars(
            select(TimerRow).where(TimerRow.interview_id.in_(ids), TimerRow.state == "pending")
        )
    ]
    for table in (TurnRow, RecapRow, TimerRow, ScorecardRow, OutboxRow):
        await session.execute(delete(table).where(table.interview_id.in_(ids)))
    await session.execute(delete(DailyStartRow).where(DailyStartRow.interview_id.in_(ids)))
    await session.execute(delete(InterviewRow).where(InterviewRow.id.in_(ids)))
    return pending
