"""The interview runner: the only code that writes interview, turn, timer and recap rows.

Every surface (a Slack thread, a terminal) hands it events; it loads the interview, steps the
engine, and stores the new state, its timers, its recap and what to say (the outbox) in one
transaction. Nothing is said before it is stored, and nothing stored is left unsaid: the outbox
sender delivers it. What people send over Slack arrives through the inbox (bot.app.inbox), stored
before Slack is acknowledged, and is applied through here in order per thread, again after a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import Session

from bot.app.forget import Forgotten, forget_in, purge_in
from bot.app.holds import Holds
from bot.app.inbox import InboxWorker, settle_inbox_row
from bot.app.outbox import LEASE_SECONDS, Leased, OutboxSender
from bot.app.ports import Clock, Place, Timers
from bot.db import upsert
from bot.llm import LlmConfig, llm_review
from bot.models import InboxRow, InterviewRow, OutboxRow, RecapRow, TimerRow, TurnRow
from bot.repository import InterviewRepository, Placement, StaleInterview
from flows.engine import Interview, control_token, step, to_transcript
from flows.events import (
    CancelTimer,
    Effect,
    Event,
    Finish,
    Nudge,
    Say,
    ScheduleTimer,
    Start,
    Tell,
    TimerFired,
)
from flows.problem import Problem

log = logging.getLogger("interview_bot.runner")

SAVE_ATTEMPTS = 12
# A warning more than this many seconds late (the bot was down) is dropped: never late by over a second.
LATE_TOLERANCE = 1.0
FALLBACK_TIMER = "scorecard:fallback"
FALLBACK_SECONDS = 24 * 3600
# Interviews kept in memory between steps, by stored version: a step reads only the interview's row
# (its state is small: the turns are rows of their own), not every turn again. Most recently used.
CACHE_SIZE = 4096
# Interviews with fewer turns than this are stepped on the event loop (scoring 320 answers, about
# 650 turns, takes ~20 ms; benchmarks/bench_stall.py measures the loop while one is scored).
INLINE_STEP_TURNS = 200


# The step's statements, built once (a statement object keeps its compiled form).
_INTERVIEWS, _INBOX, _TIMERS, _OUTBOX = (
    InterviewRow.__table__,
    InboxRow.__table__,
    TimerRow.__table__,
    OutboxRow.__table__,
)
# Takes the interview's row lock (SQLite: the write lock) if nobody saved a newer version.
_LOCK_VERSION = (
    update(_INTERVIEWS)
    .where(_INTERVIEWS.c.id == bindparam("b_id"), _INTERVIEWS.c.version == bindparam("b_version"))
    .values(version=_INTERVIEWS.c.version)
)
_TAKE_INBOX = (
    update(_INBOX)
    .where(_INBOX.c.id == bindparam("b_id"), _INBOX.c.state == "pending")
    .values(state="applied", text="")
)
_SET_TIMER = (  # a pending timer fired or cancelled
    update(_TIMERS)
    .where(
        _TIMERS.c.interview_id == bindparam("b_interview"),
        _TIMERS.c.timer_id == bindparam("b_timer"),
        _TIMERS.c.state == "pending",
    )
    .values(state=bindparam("b_state"), updated_at=bindparam("b_at"))
)
_INSERT_OUTBOX = insert(_OUTBOX).returning(_OUTBOX.c.id, sort_by_parameter_order=True)
_MISS_TIMER = (
    update(_TIMERS)
    .where(
        _TIMERS.c.interview_id == bindparam("b_interview"),
        _TIMERS.c.timer_id == bindparam("b_timer"),
        _TIMERS.c.state == "pending",
        _TIMERS.c.due_at == bindparam("b_due"),
    )
    .values(state="missed", updated_at=bindparam("b_at"))
)
_UNSENT = select(_OUTBOX.c.id).where(
    _OUTBOX.c.interview_id == bindparam("b_interview"), _OUTBOX.c.state.in_(("pending", "sending"))
)


class _AlreadyDone(Exception):
    """The inbox row or timer a step was for was taken by another process: roll the step back."""


MakeEvent = Callable[[Interview, InterviewRow, float], Event | Tell | None]


def place_of(row: InterviewRow) -> Place:
    """Where a stored interview runs."""
    return Place(
        surface=row.surface,
        interview_id=row.id,
        channel=row.channel or "",
        thread_ts=row.thread_ts or "",
        mode=row.mode,
        team=bool(row.team),
        candidate=row.user_id or "",
        interviewer=row.interviewer_id or "",
    )


class InterviewRunner:
    """Steps interviews for every surface: inbox in, one transaction per step, outbox out."""

    def __init__(
        self,
        sessions: async_sessionmaker,
        bank: dict[str, Problem],
        timers: Timers,
        outbox: OutboxSender,
        clock: Clock = time.time,
        timer_window: float | None = None,
        llm: LlmConfig | None = None,
    ) -> None:
        self.sessions = sessions
        # Optional: a chat-completions model that judges each phase beside the rubric (bot/llm.py).
        self.llm = llm
        self.bank = bank
        self.repository = InterviewRepository(sessions, bank)
        self.timers = timers
        self.outbox = outbox
        self.clock = clock
        # Only timers due within this many seconds hold a scheduler job; `arm_window` arms the next
        # ones as they come near, so start-up and memory grow with what is due soon, not what is open.
        self.timer_window = timer_window
        self._locks: dict[str, asyncio.Lock] = {}
        self._cache: OrderedDict[str, tuple[int, Interview, InterviewRow]] = OrderedDict()
        self.inbox = InboxWorker(self)
        # Several processes on PostgreSQL: one at a time steps an interview (see bot.app.holds).
        self.holds: Holds | None = None
        if getattr(sessions, "dialect", "") == "postgresql":
            self.holds = Holds(sessions.engine, self._noticed)
        self._holds_started: asyncio.Task | None = None
        self._stopping = False
        self.discarded = 0  # steps thrown away because another process had saved the interview first
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    # ------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Apply what a previous run stored but did not apply, and keep watching the inbox."""
        self._stopping = False
        if self.holds is not None and self._holds_started is None:
            self._holds_started = asyncio.create_task(self.holds.start(), name="holds")
        self.inbox.start()

    async def stop(self, timeout: float = 10.0) -> bool:
        """Stop taking new inbox work and wait for work in flight; False on timeout."""
        self._stopping = True
        self.timers.stop()
        await self.inbox.stop()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            if self._holds_started is not None:
                with contextlib.suppress(Exception):
                    await self._holds_started
                await self.holds.stop()  # its locks go: another process takes what is left
                self._holds_started = None

    def _noticed(self, interview_id: str, work: str | None) -> None:
        """Another process stored a message for an interview this process holds: apply it (handed
        over with the notice, or read from the inbox when the notice could not carry it)."""
        if self._stopping:
            return
        if work is not None and self.inbox.hand_over(work):
            return
        kept = self._cache.get(interview_id)
        if kept is not None and kept[2].thread_ts:
            self.inbox.kick(kept[2].channel, kept[2].thread_ts)

    @contextlib.contextmanager
    def busy(self):
        """Count work in flight, so `stop` can wait for it before the database is closed."""
        self._inflight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._inflight -= 1
            if self._inflight == 0:
                self._idle.set()

    def _lock(self, interview_id: str) -> asyncio.Lock:
        return self._locks.setdefault(interview_id, asyncio.Lock())

    def _remember(self, interview: Interview, version: int, row: InterviewRow) -> None:
        """Keep the interview (and its row) as stored at `version`, after its transaction committed.
        Every change to an interview row raises its version, so a copy that is no longer current
        fails the next step's conditional write (StaleInterview) and is read again."""
        if interview.status == "ended":
            self._cache.pop(interview.id, None)
            if self.holds is not None:
                self.holds.release(interview.id)
            return
        self._cache[interview.id] = (version, interview, row)
        self._cache.move_to_end(interview.id)
        while len(self._cache) > CACHE_SIZE:
            gone, _ = self._cache.popitem(last=False)
            if self.holds is not None:
                self.holds.release(gone)

    # ------------------------------------------------------------ starting

    async def create(
        self, interview: Interview, placement: Placement, minutes: float | None = None
    ) -> Interview | None:
        """Store a new interview, already started, with its first messages; None if its thread has one."""
        at = (self.clock() - placement.clock_origin) * placement.pace
        after, effects = step(interview, Start(at))
        with self.busy():
            for attempt in range(SAVE_ATTEMPTS):
                try:
                    self.outbox.is_new(after.id)
                    row, effects, handed = await self.sessions.write(
                        self._write_new, after, placement, minutes, effects
                    )
                    self._remember(after, row.version, row)
                    if row.thread_ts:
                        self.inbox.remember_thread(row.channel, row.thread_ts, row.id)
                    break
                except IntegrityError:
                    return None
                except OperationalError:
                    await asyncio.sleep(0.02 * (attempt + 1))
            else:
                return None
            self._after_commit(row, effects, handed)
            if self.holds is not None:
                await self.holds.take(after.id)  # its next messages are this process's to apply
        return after

    def _write_new(
        self, session: Session, after: Interview, placement: Placement, minutes: float | None, effects: list
    ) -> tuple[InterviewRow, list[Effect], list[Leased] | None]:
        self.repository.add_sync(session, after, placement, minutes)
        row = session.get(InterviewRow, after.id)
        effects, handed = self._record(session.connection(), row, after, effects, self.outbox.sole(after.id))
        return row, effects, handed

    # ------------------------------------------------------------ the one write path

    def at(self, row: InterviewRow, wall: float) -> float:
        """Interview-clock seconds for a wall-clock time."""
        return (wall - row.clock_origin) * row.pace

    def _wall(self, row: InterviewRow, at: float) -> float:
        return row.clock_origin + at / row.pace

    async def apply(
        self,
        interview_id: str,
        make_event: MakeEvent,
        claim: str | None = None,
        inbox_id: int | None = None,
        work: Callable[[], str] | None = None,
    ) -> Interview | None:
        """Load, step and store (state, turns, timers, recap, outbox, inbox mark) in one transaction.

        `claim`: a timer that must still be pending (it is marked fired); `inbox_id`: the inbox row
        this applies (marked applied). Either already taken -> nothing happens. Returns the new state.
        `work`: the inbox row as JSON, passed on to the process that holds the interview if another
        does (see Holds.take).
        """
        with self.busy():
            async with self._lock(interview_id):
                for attempt in range(SAVE_ATTEMPTS):
                    try:
                        done = await self._apply_once(interview_id, make_event, claim, inbox_id, work)
                        break
                    except StaleInterview:
                        self.discarded += 1
                        await asyncio.sleep(0.01)  # another process saved first: reload and step again
                    except OperationalError:
                        await asyncio.sleep(0.02 * (attempt + 1))  # briefly locked: try again
                else:
                    log.warning("gave up saving interview %s after %d attempts", interview_id, SAVE_ATTEMPTS)
                    return None
            if done is None:
                return None
            row, after, effects, handed = done
            self._after_commit(row, effects, handed)
            return after

    async def _review(self, after: Interview, effects: list[Effect]) -> list[Effect]:
        """With LLM mode on, the recap of an ending step is judged by the model too (never raises)."""
        if self.llm is None or not any(isinstance(e, Finish) and e.recap for e in effects):
            return effects
        transcript = to_transcript(after)
        out: list[Effect] = []
        for effect in effects:
            if isinstance(effect, Finish) and effect.recap:
                effect = dataclasses.replace(
                    effect, recap=await llm_review(self.llm, after.problem, transcript, effect.recap)
                )
            out.append(effect)
        return out

    async def _apply_once(
        self,
        interview_id: str,
        make_event: MakeEvent,
        claim: str | None,
        inbox_id: int | None,
        work: Callable[[], str] | None = None,
    ) -> tuple[InterviewRow, Interview, list[Effect], list[Leased] | None] | None:
        if self.holds is not None and not await self.holds.take(interview_id, work):
            return None  # another process holds it and has been told: it applies the inbox row
        kept = self._cache.get(interview_id)
        if kept is not None:  # as this process last stored it; the write below checks it is still so
            version, interview, row = kept
            self._cache.move_to_end(interview_id)
        else:
            async with self.sessions() as reader:
                row = await reader.get(InterviewRow, interview_id)
                interview = None if row is None else await self.repository.rebuild_in(reader, row)
            if row is None or interview is None:  # forgotten or purged meanwhile
                self.inbox.forget_threads({interview_id})
                if inbox_id is not None:
                    await settle_inbox_row(self.sessions, inbox_id, "dropped")
                return None
            version = row.version
        event = make_event(interview, row, self.at(row, self.clock()))
        if event is None:
            after, effects = interview, []
        elif isinstance(event, Tell):
            after, effects = interview, [event]
        else:
            # Pure, but the step that ends an interview scores it, which grows with its turns: a long
            # interview is stepped off the loop. A short one's scoring takes a few milliseconds,
            # less than the hand-over to a thread and back costs every step.
            if len(interview.turns) < INLINE_STEP_TURNS:
                after, effects = step(interview, event)
            else:
                after, effects = await asyncio.to_thread(step, interview, event)
            effects = await self._review(after, effects)
        # Every unsent row of the interview is this sender's if it was so at this process's last
        # step and the copy kept from that step is still current (the write below checks that).
        sole = kept is not None and self.outbox.sole(interview_id)
        try:
            stored, effects, handed = await self.sessions.write_rows(
                self._write_step, row, interview, after, version, effects, inbox_id, claim, sole
            )
        except _AlreadyDone:
            return None
        except StaleInterview:
            self._cache.pop(interview_id, None)
            raise
        self._remember(after, stored, row)
        if after == interview and not effects:
            return None  # nothing changed (the inbox row is marked applied all the same)
        return row, after, effects, handed

    def _write_step(
        self,
        connection: Connection,
        row: InterviewRow,
        interview: Interview,
        after: Interview,
        version: int,
        effects: list[Effect],
        inbox_id: int | None,
        claim: str | None,
        sole: bool,
    ) -> tuple[int, list[Effect], list[Leased] | None]:
        """One step's transaction (a write function: see bot.db.Sessions.write)."""
        # First the interview's write lock (SQLite) or row lock (PostgreSQL), taken only if nobody
        # saved a newer version since it was read: otherwise StaleInterview, and the caller reads and
        # steps again. Saving the new state is that lock when there is one.
        if after != interview:
            stored = self.repository.save_sync(connection, after, expected_version=version, before=interview)
        else:
            locked = connection.execute(_LOCK_VERSION, {"b_id": row.id, "b_version": version})
            if locked.rowcount != 1:
                raise StaleInterview(row.id)
            stored = version
        if inbox_id is not None and not self._take_inbox(connection, inbox_id):
            raise _AlreadyDone  # another process applied it: undo the save
        if claim is not None and not self._claim_timer(connection, row.id, claim):
            raise _AlreadyDone
        handed: list[Leased] | None = []
        if effects:
            effects, handed = self._record(connection, row, after, effects, sole)
        return stored, effects, handed

    def _take_inbox(self, connection: Connection, inbox_id: int) -> bool:
        return connection.execute(_TAKE_INBOX, {"b_id": inbox_id}).rowcount == 1

    def _claim_timer(self, connection: Connection, interview_id: str, timer_id: str) -> bool:
        """Mark a pending timer fired; only one process (or retried job) wins."""
        result = connection.execute(
            _SET_TIMER,
            {"b_interview": interview_id, "b_timer": timer_id, "b_state": "fired", "b_at": self.clock()},
        )
        return result.rowcount == 1

    def _record(
        self, connection: Connection, row: InterviewRow, after: Interview, effects: list[Effect], sole: bool
    ) -> tuple[list[Effect], list[Leased] | None]:
        """The timers, recap and outbox rows of a step, in the step's transaction. Returns the
        effects to arm, and the outbox rows stored already leased to this process's sender (None:
        rows were stored for the sender to claim from the table). `sole`: the sender is known to
        hold every unsent row of the interview (see OutboxSender.sole), so the table is not read."""
        extra: list[Effect] = []
        now = self.clock()
        place = place_of(row).to_dict()
        token = control_token(after)
        said: list[dict] = []

        def say(outbox_kind: str, **data) -> None:
            said.append({"kind": outbox_kind, "data": json.dumps({"place": place, **data})})

        for effect in effects:
            if isinstance(effect, ScheduleTimer):
                self._upsert_timer(connection, row.id, effect.timer_id, self._wall(row, effect.due_at))
            elif isinstance(effect, CancelTimer):
                self._cancel_timer(connection, row.id, effect.timer_id)
            elif isinstance(effect, Say):
                say("say", text=effect.text, kind=effect.kind, phase=effect.phase, token=token)
            elif isinstance(effect, Nudge):
                say("nudge", text=effect.text, phase=effect.phase)
            elif isinstance(effect, Tell):
                say("tell", user=effect.user, text=effect.text)
            elif isinstance(effect, Finish):
                recap = {
                    "interview_id": row.id,
                    "overall": int(effect.recap["overall"]),
                    "verdict": effect.recap["verdict"],
                    "data": json.dumps(effect.recap),
                    "created_at": datetime.now(UTC),
                }
                connection.execute(
                    upsert(connection.dialect.name, RecapRow.__table__, ["interview_id"], recap)
                )
                say("recap", recap=effect.recap)
                say("chart", recap=effect.recap)
                if row.mode == "pair":  # the automatic recap goes to the candidate if no scorecard comes
                    due = now + FALLBACK_SECONDS  # a wall-clock day, whatever the interview's pace
                    self._upsert_timer(connection, row.id, FALLBACK_TIMER, due)
                    extra.append(ScheduleTimer(FALLBACK_TIMER, self.at(row, due)))
        handed: list[Leased] | None = []
        if said:
            # Leased to this process's sender at once when nothing of the interview waits before
            # them: it is handed the rows after the commit and needs no transaction to claim them.
            mine = self.outbox.takes(row.id)
            leased = mine is not None and (sole or self._nothing_else_unsent(connection, row.id, mine))
            state = {"state": "sending", "attempts": 1, "lease_until": now + LEASE_SECONDS} if leased else {}
            values = [
                {
                    "interview_id": row.id,
                    "surface": row.surface,
                    "state": "pending",
                    "created_at": now,
                    "attempts": 0,
                    "not_before": 0.0,
                    "lease_until": 0.0,
                    "error": "",
                    **one,
                    **state,
                }
                for one in said
            ]
            result = connection.execute(_INSERT_OUTBOX, values)
            handed = None
            if leased:
                handed = [
                    Leased(outbox_id, v["kind"], v["data"], v["attempts"])
                    for (outbox_id,), v in zip(result.all(), values, strict=True)
                ]
        return effects + extra, handed

    @staticmethod
    def _nothing_else_unsent(connection: Connection, interview_id: str, mine: frozenset[int]) -> bool:
        """No unsent outbox row of the interview but those this process's sender holds."""
        unsent = connection.execute(_UNSENT, {"b_interview": interview_id})
        return all(outbox_id in mine for (outbox_id,) in unsent)

    def _upsert_timer(self, connection: Connection, interview_id: str, timer_id: str, due: float) -> None:
        values = {
            "interview_id": interview_id,
            "timer_id": timer_id,
            "due_at": due,
            "state": "pending",
            "updated_at": self.clock(),
        }
        connection.execute(
            upsert(connection.dialect.name, TimerRow.__table__, ["interview_id", "timer_id"], values)
        )

    def _cancel_timer(self, connection: Connection, interview_id: str, timer_id: str) -> None:
        connection.execute(
            _SET_TIMER,
            {"b_interview": interview_id, "b_timer": timer_id, "b_state": "cancelled", "b_at": self.clock()},
        )

    def _after_commit(self, row: InterviewRow, effects: list[Effect], handed: list[Leased] | None) -> None:
        """Arm and disarm wake-ups for the stored timers, and start delivering what was said."""
        horizon = None if self.timer_window is None else self.clock() + self.timer_window
        for effect in effects:
            if isinstance(effect, ScheduleTimer):
                due = self._wall(row, effect.due_at)
                if horizon is None or due <= horizon:
                    self.timers.arm(row.id, effect.timer_id, due)
                else:
                    self.timers.disarm(row.id, effect.timer_id)  # a re-armed timer moved out of reach
            elif isinstance(effect, CancelTimer):
                self.timers.disarm(row.id, effect.timer_id)
            elif isinstance(effect, Finish):
                self._locks.pop(row.id, None)  # nothing more will happen to it
        if handed:
            self.outbox.hand(row.id, handed)
        elif handed is None or not self.outbox.sole(row.id):
            self.outbox.kick(row.id)  # rows in the table, its own or another process's: claim them

    # ------------------------------------------------------------ forgetting a person

    async def forget(self, user: str) -> Forgotten:
        """Remove everything of `user` (see bot.app.forget), under the locks of the interviews it
        touches and retried while they are busy; raises RuntimeError if it never got through."""
        with self.busy():
            for attempt in range(SAVE_ATTEMPTS):
                async with self.sessions() as session:
                    ids = set(
                        await session.scalars(
                            select(InterviewRow.id).where(
                                or_(
                                    InterviewRow.user_id == user,
                                    InterviewRow.interviewer_id == user,
                                    InterviewRow.creator_id == user,
                                )
                            )
                        )
                    )
                    ids |= set(
                        await session.scalars(select(TurnRow.interview_id).where(TurnRow.user_id == user))
                    )
                async with contextlib.AsyncExitStack() as stack:
                    for interview_id in sorted(ids):  # one order everywhere: no deadlock between two forgets
                        await stack.enter_async_context(self._lock(interview_id))
                    try:
                        async with self.sessions.begin() as session:
                            forgotten, dropped = await forget_in(session, self.repository, user)
                    except (StaleInterview, OperationalError):
                        await asyncio.sleep(0.02 * (attempt + 1))
                        continue
                for interview_id, timer_id in dropped:
                    self.timers.disarm(interview_id, timer_id)
                for interview_id in ids:  # no copy of what they said stays in memory either
                    self._cache.pop(interview_id, None)
                self.inbox.forget_threads(ids)
                return forgotten
        raise RuntimeError(f"could not forget a user after {SAVE_ATTEMPTS} attempts")

    async def purge(self, before: datetime | None = None) -> int:
        """Delete interviews created before `before` (retention), or everything (the app was
        removed from the workspace); their timers are disarmed. Returns how many interviews went."""
        with self.busy():
            for attempt in range(SAVE_ATTEMPTS):
                try:
                    async with self.sessions.begin() as session:
                        count, dropped = await purge_in(session, before)
                    break
                except OperationalError:
                    await asyncio.sleep(0.02 * (attempt + 1))
            else:
                raise RuntimeError("the database stayed locked during a purge")
        for interview_id, timer_id in dropped:
            self.timers.disarm(interview_id, timer_id)
            self._locks.pop(interview_id, None)
        if count:
            self._cache.clear()  # the purged ones are gone; the rest are read again when next stepped
            self.inbox.forget_threads()
        return count

    async def prune(self, before: float) -> None:
        """Drop inbox claims and sent outbox rows older than `before` (wall seconds): they only
        guard against Slack's retries, which stop within minutes."""
        async with self.sessions.begin() as session:
            await session.execute(
                delete(InboxRow).where(InboxRow.received_at < before, InboxRow.state != "pending")
            )
            await session.execute(
                delete(OutboxRow).where(OutboxRow.created_at < before, OutboxRow.state == "sent")
            )

    # ------------------------------------------------------------ timers

    async def fire(self, interview_id: str, timer_id: str) -> Interview | None:
        """A wake-up came due: claim its timer row and step the engine (or send the pair fallback)."""
        if timer_id == FALLBACK_TIMER:
            await self._fallback(interview_id)
            return None
        return await self.apply(interview_id, lambda iv, row, now: TimerFired(now, timer_id), claim=timer_id)

    async def _fallback(self, interview_id: str) -> None:
        """No scorecard a day after a pair interview ended: the automatic recap goes to the candidate."""
        with self.busy():
            async with self.sessions.begin() as session:
                timer = await session.get(TimerRow, (interview_id, FALLBACK_TIMER))
                if timer is None or timer.state != "pending":
                    return
                if timer.due_at > self.clock() + LATE_TOLERANCE:  # early: wake at the true time
                    self.timers.arm(interview_id, FALLBACK_TIMER, timer.due_at)
                    return
                if not await session.run_sync(
                    lambda sync: self._claim_timer(sync.connection(), interview_id, FALLBACK_TIMER)
                ):
                    return
                row = await session.get(InterviewRow, interview_id)
                recap = await session.get(RecapRow, interview_id)
                if row is None or recap is None:
                    return
                session.add(
                    OutboxRow(
                        interview_id=interview_id,
                        surface=row.surface,
                        kind="fallback",
                        data=json.dumps({"place": place_of(row).to_dict(), "recap": json.loads(recap.data)}),
                        state="pending",
                        created_at=self.clock(),
                    )
                )
            self.outbox.kick(interview_id)

    async def cancel_timer(self, interview_id: str, timer_id: str) -> None:
        """Drop a pending timer (the scorecard arrived, so no fallback)."""
        await self.sessions.write_one(
            _SET_TIMER,
            {"b_interview": interview_id, "b_timer": timer_id, "b_state": "cancelled", "b_at": self.clock()},
        )
        self.timers.disarm(interview_id, timer_id)

    async def rearm(self) -> dict[str, int]:
        """On start-up: arm the pending timers of open interviews at their true remaining time.

        A warning whose moment passed while the bot was down is dropped, not posted late; an
        auto-advance or idle close that is due fires now, so the phase moves on if it should have.
        With a timer window only the timers due within it are armed (see `arm_window`).
        """
        return await self.arm_window(startup=True)

    async def arm_window(self, startup: bool = False) -> dict[str, int]:
        """Arm the pending timers due within the window (all of them without one); run it every
        half window. At start-up, warnings missed while the bot was down are marked missed.

        It reads in a session of its own, not a write transaction: writes (the acknowledgements'
        inbox inserts among them) go on while it looks, and arming a timer already armed for the
        same moment costs nothing (see SchedulerTimers.arm)."""
        now = self.clock()
        counts = {"armed": 0, "missed": 0, "due_now": 0}
        query = (
            select(TimerRow.interview_id, TimerRow.timer_id, TimerRow.due_at)
            .join(InterviewRow, InterviewRow.id == TimerRow.interview_id)
            .where(
                TimerRow.state == "pending",
                InterviewRow.surface.in_(list(self.outbox.surfaces)),  # a terminal runs its own
                (InterviewRow.status != "ended") | (TimerRow.timer_id == FALLBACK_TIMER),
            )
        )
        if self.timer_window is not None:
            query = query.where(TimerRow.due_at <= now + self.timer_window)
        async with self.sessions() as session:
            rows = (await session.execute(query)).all()
        missed: list[dict] = []
        for interview_id, timer_id, due_at in rows:
            late = now - due_at
            kind = timer_id.rpartition(":")[2]
            if startup and late > LATE_TOLERANCE and kind in ("warning", "time_up", "checkpoint"):
                missed.append(
                    {"b_interview": interview_id, "b_timer": timer_id, "b_due": due_at, "b_at": now}
                )
            elif late > 0:
                self.timers.arm(interview_id, timer_id, now)
                counts["due_now"] += 1
            else:
                self.timers.arm(interview_id, timer_id, due_at)
                counts["armed"] += 1
        if missed:
            await self.sessions.write_rows(_mark_missed, missed)
            counts["missed"] = len(missed)
        return counts


def _mark_missed(connection: Connection, missed: list[dict]) -> None:
    """Warnings whose moment passed while the bot was down: never posted late. Only a row still
    pending at the due time that was read is marked (a step may have armed it again since)."""
    connection.execute(_MISS_TIMER, missed)
