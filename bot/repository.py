"""InterviewRepository: interviews, their turns and recaps in the database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from bot.models import InterviewRow, RecapRow, TurnRow
from flows.engine import Interview, Turn
from flows.problem import Problem
from flows.snapshot import from_snapshot, to_snapshot
from problems import load_bank


class StaleInterview(RuntimeError):
    """Another writer saved the interview first (optimistic concurrency); reload and retry."""


@dataclass(frozen=True)
class Placement:
    """Where an interview runs."""

    surface: str = "terminal"
    channel: str | None = None
    thread_ts: str | None = None
    user_id: str | None = None
    pace: float = 1.0
    clock_origin: float = 0.0
    interviewer_id: str | None = None
    creator_id: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


# Snapshot fields fixed when the interview is made: stored once in their own column (`setup`),
# not rewritten with the state at every step (the suggestions were ~80% of a stored state).
SETUP_KEYS = ("suggestions",)


def _stored(interview: Interview) -> tuple[dict, dict]:
    """The interview's snapshot (without its turns) split into (state, setup)."""
    state = to_snapshot(interview, with_turns=False)
    return state, {key: state.pop(key) for key in SETUP_KEYS}


def _save_statement(ended: bool, checked: bool, setup: bool):
    """UPDATE of an interview's state, raising its version (and checking it, when `checked`; and
    its setup, when `setup`). Built once: a statement object keeps its compiled form, so a step
    does not build it again."""
    table = InterviewRow.__table__
    where = [table.c.id == bindparam("b_id")]
    if checked:
        where.append(table.c.version == bindparam("b_version"))
    values = {
        "status": bindparam("b_status"),
        "end_reason": bindparam("b_end_reason"),
        "state": bindparam("b_state"),
        "version": table.c.version + 1,
    }
    if ended:
        values["ended_at"] = bindparam("b_ended_at")
    if setup:
        values["setup"] = bindparam("b_setup")
    return update(table).where(*where).values(**values)


_SAVE = {
    (ended, checked, setup): _save_statement(ended, checked, setup)
    for ended in (False, True)
    for checked in (False, True)
    for setup in (False, True)
}
_INSERT_TURNS = insert(TurnRow.__table__)


class InterviewRepository:
    """Stores interviews (the engine's snapshot), each turn with its phase and time, and the recap."""

    def __init__(self, sessions: async_sessionmaker, bank: dict[str, Problem] | None = None) -> None:
        self._sessions = sessions
        self._bank = bank

    async def add(self, interview: Interview, placement: Placement, minutes: float | None = None) -> None:
        """Store a new interview."""
        await self._sessions.write(self.add_sync, interview, placement, minutes)

    def add_sync(
        self, session: Session, interview: Interview, placement: Placement, minutes: float | None = None
    ) -> None:
        """`add` in a synchronous session (a write function, see bot.db.Sessions.write)."""
        state, setup = _stored(interview)
        session.add(
            InterviewRow(
                id=interview.id,
                problem=interview.problem.slug,
                level=interview.level,
                minutes=minutes,
                surface=placement.surface,
                status=interview.status,
                team=interview.team,
                channel=placement.channel,
                thread_ts=placement.thread_ts,
                user_id=placement.user_id,
                mode=interview.mode,
                interviewer_id=placement.interviewer_id,
                creator_id=placement.creator_id,
                pace=placement.pace,
                clock_origin=placement.clock_origin,
                state=json.dumps(state),
                setup=json.dumps(setup),
                version=0,
                created_at=_now(),
            )
        )
        session.flush()
        self._write_turns(session.connection(), interview)

    async def save(
        self, interview: Interview, expected_version: int | None = None, before: Interview | None = None
    ) -> int:
        """Write the interview's state and any new or edited turns; return the new version (see
        `save_sync` for `before`)."""
        return await self._sessions.write_rows(self.save_sync, interview, expected_version, before)

    async def save_in(
        self,
        session: AsyncSession,
        interview: Interview,
        expected_version: int | None = None,
        before: Interview | None = None,
    ) -> int:
        """`save` inside a transaction the caller holds."""
        return await session.run_sync(
            lambda sync: self.save_sync(sync.connection(), interview, expected_version, before)
        )

    def save_sync(
        self,
        connection: Connection,
        interview: Interview,
        expected_version: int | None = None,
        before: Interview | None = None,
    ) -> int:
        """`save` on a connection in a transaction. With `before` (the state it replaces, as
        stored), only the turns from the first one that changed are written, not all of them; and
        the setup only if it changed (it never does in an interview's life: it is written once)."""
        state, setup = _stored(interview)
        values = {
            "b_id": interview.id,
            "b_status": interview.status,
            "b_end_reason": interview.end_reason,
            "b_state": json.dumps(state),
        }
        if interview.status == "ended":
            values["b_ended_at"] = _now()
        if expected_version is not None:
            values["b_version"] = expected_version
        same_setup = before is not None and all(
            getattr(before, key) == getattr(interview, key) for key in SETUP_KEYS
        )
        if not same_setup:
            values["b_setup"] = json.dumps(setup)
        statement = _SAVE[(interview.status == "ended", expected_version is not None, not same_setup)]
        result = connection.execute(statement, values)
        if result.rowcount != 1:
            raise StaleInterview(interview.id)
        if before is not None and before.started_at == interview.started_at:
            self._write_changed_turns(connection, before, interview)
        else:
            self._write_turns(connection, interview)
        if expected_version is not None:
            return expected_version + 1
        table = InterviewRow.__table__
        return int(connection.scalar(select(table.c.version).where(table.c.id == interview.id)))

    @staticmethod
    def _turn_values(interview: Interview, turn) -> dict:
        return {
            "at": round(turn.at - interview.started_at, 3),
            "phase": turn.phase,
            "role": turn.role,
            "text": turn.text,
            "message_id": turn.message_id,
            "user_id": turn.user,
            "kind": turn.kind,
        }

    def _write_changed_turns(self, connection: Connection, before: Interview, after: Interview) -> None:
        """Rows from the first turn that differs on (usually just the appended ones)."""
        table = TurnRow.__table__
        first = 0
        old, new = before.turns, after.turns
        while first < min(len(old), len(new)) and (old[first] is new[first] or old[first] == new[first]):
            first += 1
        added = []
        for seq in range(first, len(new)):
            values = self._turn_values(after, new[seq])
            if seq < len(old):
                connection.execute(
                    update(table).where(table.c.interview_id == after.id, table.c.seq == seq).values(**values)
                )
            else:
                added.append({"interview_id": after.id, "seq": seq, **values})
        if added:
            connection.execute(_INSERT_TURNS, added)
        if len(new) < len(old):  # fewer turns than stored (never from the engine; forget rewrites all)
            connection.execute(delete(table).where(table.c.interview_id == after.id, table.c.seq >= len(new)))

    def _write_turns(self, connection: Connection, interview: Interview) -> None:
        table = TurnRow.__table__
        rows = connection.execute(
            select(
                table.c.seq, table.c.at, table.c.phase, table.c.role, table.c.text, table.c.message_id
            ).where(table.c.interview_id == interview.id)
        )
        stored = {r[0]: tuple(r[1:]) for r in rows.all()}
        added = []
        for seq, turn in enumerate(interview.turns):
            values = self._turn_values(interview, turn)
            if seq not in stored:
                added.append({"interview_id": interview.id, "seq": seq, **values})
            elif stored[seq] != (values["at"], turn.phase, turn.role, turn.text, turn.message_id):
                connection.execute(
                    update(table)
                    .where(table.c.interview_id == interview.id, table.c.seq == seq)
                    .values(**values)
                )
        if added:
            connection.execute(_INSERT_TURNS, added)

    async def load(self, interview_id: str) -> tuple[Interview, InterviewRow] | None:
        """The interview (rebuilt from its snapshot and turns) and its row, or None."""
        async with self._sessions() as session:
            row = await session.get(InterviewRow, interview_id)
            if row is None:
                return None
            return await self.rebuild_in(session, row), row

    async def rebuild(self, row: InterviewRow) -> Interview:
        """The engine's interview from a stored row (its turns read from their rows)."""
        async with self._sessions() as session:
            return await self.rebuild_in(session, row)

    async def rebuild_in(self, session: AsyncSession, row: InterviewRow) -> Interview:
        """`rebuild` inside a session the caller holds. The stored state leaves the turns out (they
        are rows of their own, appended one by one); a state stored before that still holds them."""
        bank = self._bank if self._bank is not None else load_bank()
        data = json.loads(row.state)
        if row.setup:
            data.update(json.loads(row.setup))
        turns = None
        if "turns" not in data:
            started = float(data.get("started_at") or 0.0)
            rows = await session.execute(
                select(
                    TurnRow.at,
                    TurnRow.phase,
                    TurnRow.role,
                    TurnRow.text,
                    TurnRow.message_id,
                    TurnRow.user_id,
                    TurnRow.kind,
                )
                .where(TurnRow.interview_id == row.id)
                .order_by(TurnRow.seq)
            )
            turns = [
                Turn(started + at, phase, role, text, message_id or "", user or "", kind or "")
                for at, phase, role, text, message_id, user, kind in rows.all()
            ]
        return from_snapshot(data, bank[row.problem], turns)

    async def turns(self, interview_id: str) -> list[TurnRow]:
        """The stored turns of an interview, in order."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(TurnRow).where(TurnRow.interview_id == interview_id).order_by(TurnRow.seq)
            )
            return list(rows)

    async def recap(self, interview_id: str) -> dict | None:
        """The stored recap of an interview, or None."""
        async with self._sessions() as session:
            row = await session.get(RecapRow, interview_id)
        return json.loads(row.data) if row else None

    async def in_thread(self, channel: str, thread_ts: str) -> InterviewRow | None:
        """The interview that runs in a thread, if any."""
        async with self._sessions() as session:
            return await session.scalar(
                select(InterviewRow).where(
                    InterviewRow.channel == channel, InterviewRow.thread_ts == thread_ts
                )
            )

    async def problems_done(self, user_id: str | None = None, surface: str | None = None) -> set[str]:
        """Slugs of the problems already interviewed on (by a user, or on a surface)."""
        query = select(InterviewRow.problem).distinct()
        if user_id is not None:
            query = query.where(InterviewRow.user_id == user_id)
        if surface is not None:
            query = query.where(InterviewRow.surface == surface)
        async with self._sessions() as session:
            return set(await session.scalars(query))

    async def count(self) -> int:
        """How many interviews are stored."""
        async with self._sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(InterviewRow)))
