"""The Slack interview service: engine steps stored in the database, then carried out in Slack."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import and_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.models import InterviewRow, ProcessedEventRow, RecapRow, TimerRow
from bot.repository import InterviewRepository, Placement, StaleInterview
from bot.slack import blocks as bk
from flows.engine import Interview, new_interview, step
from flows.events import (
    Answer,
    CancelTimer,
    Control,
    Edit,
    Effect,
    Event,
    Finish,
    Nudge,
    Say,
    ScheduleTimer,
    Start,
    TimerFired,
)
from flows.framework import LEVELS, parse_control
from flows.problem import Problem
from flows.scoring import practice_suggestions
from problems.loader import UnknownProblem, find_problem

log = logging.getLogger("interview_bot.slack")

# A warning more than this many seconds late (the bot was down) is dropped: never late by over a second.
LATE_TOLERANCE = 1.0
SAVE_ATTEMPTS = 8


@dataclass(frozen=True)
class StartRequest:
    """What `/interview start` or a mention asked for."""

    problem: str | None
    level: str
    minutes: float | None
    team: bool = False


def parse_start(text: str) -> StartRequest:
    """`team url shortener staff 45` -> problem, level, minutes and the team flag, in any order."""
    words = text.split()
    level = "senior"
    minutes: float | None = None
    team = False
    rest: list[str] = []
    for word in words:
        low = word.lower()
        if low == "team":
            team = True
        elif low in LEVELS:
            level = low
        elif re.fullmatch(r"\d{1,3}(\.\d+)?", low) and minutes is None:
            minutes = float(low)
        else:
            rest.append(word)
    return StartRequest(" ".join(rest) or None, level, minutes, team)


def _tracked(method):
    """Count a call as work in flight, so shutdown can wait for it before closing the database."""

    @functools.wraps(method)
    async def wrapper(self, *args, **kwargs):
        self._inflight += 1
        self._idle.clear()
        try:
            return await method(self, *args, **kwargs)
        finally:
            self._inflight -= 1
            if self._inflight == 0:
                self._idle.set()

    return wrapper


class InterviewService:
    """Runs interviews in Slack threads; the database is the source of truth, timers derive from it."""

    def __init__(
        self,
        client: AsyncWebClient,
        sessions: async_sessionmaker,
        bank: dict[str, Problem],
        scheduler: AsyncIOScheduler,
        pace: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.sessions = sessions
        self.bank = bank
        self.repository = InterviewRepository(sessions, bank)
        self.scheduler = scheduler
        self.pace = pace
        self.clock = clock
        self.bot_user_id = ""
        self._locks: dict[str, asyncio.Lock] = {}
        self.pair = None  # the PairService, when pair interviews are enabled
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def drain(self, timeout: float = 10.0) -> bool:
        """Wait for work in flight (a listener or a timer mid-write) to finish; False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False

    # ------------------------------------------------------------ events already seen

    @_tracked
    async def claim_event(self, event_id: str) -> bool:
        """Record a Slack event id; False if it was handled before (a retry)."""
        try:
            async with self.sessions.begin() as session:
                session.add(ProcessedEventRow(event_id=event_id, received_at=self.clock()))
            return True
        except IntegrityError:
            return False

    # ------------------------------------------------------------ starting

    @_tracked
    async def start(
        self,
        channel: str,
        user: str,
        request: StartRequest,
        thread_ts: str | None,
        tell_user: Callable[[str], Awaitable[None]],
        team: bool = False,
    ) -> str | None:
        """Start an interview in `thread_ts` (or under a new root message); return its id.

        A team interview (`team`, or `request.team`) takes answers from everyone in the thread.
        """
        team = team or request.team
        problem = await self.choose_problem(request, user, tell_user)
        if problem is None:
            return None
        if thread_ts and await self._open_in_thread(channel, thread_ts):
            await tell_user(
                "This thread already has an interview. Say `end` to finish it, or start one elsewhere."
            )
            return None
        if thread_ts is None:
            try:
                text = (
                    f"<@{user}> is starting a team mock interview: *{problem.title}* ({request.level}). "
                    "This is a team interview: everyone in this thread answers."
                    if team
                    else f"<@{user}> is starting a mock interview: *{problem.title}* ({request.level}). "
                    "Answers go in this thread."
                )
                root = await self.client.chat_postMessage(channel=channel, text=text)
            except SlackApiError as exc:
                await tell_user(self._explain(exc))
                return None
            thread_ts = root["ts"]
        interview_id = uuid.uuid4().hex
        interview = new_interview(
            interview_id,
            problem,
            request.level,
            request.minutes,
            suggestions=practice_suggestions(self.bank.values(), problem),
            team=team,
        )
        origin = self.clock()
        placement = Placement("slack", channel, thread_ts, user, self.pace, origin)
        try:
            await self.repository.add(interview, placement, minutes=request.minutes)
        except IntegrityError:
            await tell_user("This thread already has an interview.")
            return None
        await self._apply(interview_id, lambda iv, row, now: Start(now))
        return interview_id

    async def choose_problem(
        self, request: StartRequest, user: str, tell_user: Callable[[str], Awaitable[None]]
    ) -> Problem | None:
        """The requested problem (or a random one `user` has not done), after checking the request."""
        try:
            problem = self._pick_problem(request.problem, await self._done_by(user))
        except UnknownProblem as exc:
            hint = f" Closest: {', '.join(exc.suggestions)}." if exc.suggestions else ""
            await tell_user(f"I don't know the problem '{exc.name}'.{hint} See `/interview problems`.")
            return None
        if request.minutes is not None and not 5 <= request.minutes <= 180:
            await tell_user("Minutes must be between 5 and 180, e.g. `/interview start url shortener 45`.")
            return None
        return problem

    def _pick_problem(self, name: str | None, done: set[str]) -> Problem:
        if name:
            return find_problem(name, self.bank)
        fresh = [p for p in self.bank.values() if p.slug not in done] or list(self.bank.values())
        return random.choice(fresh)

    async def _done_by(self, user: str) -> set[str]:
        return await self.repository.problems_done(user_id=user)

    async def _open_in_thread(self, channel: str, thread_ts: str) -> InterviewRow | None:
        async with self.sessions() as session:
            return await session.scalar(
                select(InterviewRow).where(
                    InterviewRow.channel == channel,
                    InterviewRow.thread_ts == thread_ts,
                )
            )

    @staticmethod
    def _explain(exc: SlackApiError) -> str:
        error = exc.response.get("error", "") if exc.response is not None else ""
        if error == "not_in_channel":
            return "I'm not in this channel yet. Invite me with `/invite @interview-bot`, then try again."
        if error in ("channel_not_found", "is_archived"):
            return "I can't post in this channel. Try a public channel I'm a member of."
        return f"Slack refused the message ({error or 'unknown error'}). Please try again."

    # ------------------------------------------------------------ messages and buttons

    @_tracked
    async def on_message(self, channel: str, thread_ts: str, user: str, text: str, ts: str) -> None:
        """A message in a thread: answers and controls, or a teammate's comment in a solo interview."""
        row = await self._open_in_thread(channel, thread_ts)
        if row is None or row.status == "ended" or not user or user == self.bot_user_id:
            return
        word = parse_control(text)
        if row.mode == "pair":
            if user not in (row.user_id, row.interviewer_id):
                return
            role = "interviewer" if user == row.interviewer_id else "candidate"
            if word and word != "time" and role == "candidate":
                return  # phase control belongs to the interviewer
        elif row.team or user == row.user_id:
            role = "candidate"  # in a team interview everyone answers, and anyone's control word counts
        else:
            role, word = "comment", None  # a teammate talking in a solo interview: kept, not scored

        def make(iv: Interview, row: InterviewRow, now: float) -> Event:
            if word:
                return Control(now, word, user)
            return Answer(self._at(row, float(ts)), text, message_id=ts, user=user, role=role)

        await self._apply(row.id, make)

    @_tracked
    async def on_edit(self, channel: str, thread_ts: str, user: str, text: str, ts: str) -> None:
        """An edited message: the new text replaces the answer (or comment) it edits."""
        row = await self._open_in_thread(channel, thread_ts)
        if row is None or row.status == "ended":
            return
        if row.mode == "pair" and user not in (row.user_id, row.interviewer_id):
            return
        await self._apply(row.id, lambda iv, row, now: Edit(now, ts, text))

    @_tracked
    async def on_button(self, interview_id: str, user: str, action_id: str) -> str | None:
        """A control button; returns a refusal for anyone but the candidate."""
        loaded = await self.repository.load(interview_id)
        if loaded is None:
            return "That interview no longer exists."
        _, row = loaded
        if row.mode == "pair" and user != row.interviewer_id:
            return "Only the interviewer can do that."
        if row.mode != "pair" and not row.team and user != row.user_id:
            return "Only the candidate can do that."
        if row.status == "ended":
            return "This interview has ended."
        word = bk.CONTROL_ACTIONS[action_id]
        await self._apply(interview_id, lambda iv, row, now: Control(now, word, user))
        return None

    # ------------------------------------------------------------ timers

    @_tracked
    async def fire(self, interview_id: str, timer_id: str) -> None:
        """A scheduled timer came due: claim it in the database, then step the engine."""
        if timer_id.startswith("scorecard:"):
            if self.pair is not None:
                await self.pair.fallback(interview_id)
            return
        await self._apply(interview_id, lambda iv, row, now: TimerFired(now, timer_id), claim=timer_id)

    def _arm(self, interview_id: str, timer_id: str, due_wall: float) -> None:
        delay = max(0.0, due_wall - self.clock())
        self.scheduler.add_job(
            self.fire,
            DateTrigger(run_date=datetime.fromtimestamp(time.time() + delay, UTC)),
            args=[interview_id, timer_id],
            id=f"{interview_id}:{timer_id}",
            replace_existing=True,
            misfire_grace_time=None,
        )

    def _disarm(self, interview_id: str, timer_id: str) -> None:
        job_id = f"{interview_id}:{timer_id}"
        if self.scheduler.get_job(job_id):
            self.scheduler.remove_job(job_id)

    @_tracked
    async def rearm(self) -> dict[str, int]:
        """On start-up: arm every pending timer of every open interview at its true remaining time.

        A warning whose moment passed while the bot was down is dropped, not posted late; an
        auto-advance or idle close that is due fires now, so the phase moves on if it should have.
        """
        now = self.clock()
        counts = {"armed": 0, "missed": 0, "due_now": 0}
        async with self.sessions.begin() as session:
            rows = (
                await session.execute(
                    select(TimerRow)
                    .join(InterviewRow, InterviewRow.id == TimerRow.interview_id)
                    .where(
                        TimerRow.state == "pending",
                        (InterviewRow.status != "ended") | TimerRow.timer_id.like("scorecard:%"),
                    )
                )
            ).scalars()
            for t in rows:
                late = now - t.due_at
                kind = t.timer_id.rpartition(":")[2]
                if late > LATE_TOLERANCE and kind in ("warning", "time_up", "checkpoint"):
                    t.state, t.updated_at = "missed", now
                    counts["missed"] += 1
                elif late > 0:
                    self._arm(t.interview_id, t.timer_id, now)
                    counts["due_now"] += 1
                else:
                    self._arm(t.interview_id, t.timer_id, t.due_at)
                    counts["armed"] += 1
        return counts

    # ------------------------------------------------------------ the one write path

    def _at(self, row: InterviewRow, wall: float) -> float:
        """Interview-clock seconds for a wall-clock time."""
        return (wall - row.clock_origin) * row.pace

    def _wall(self, row: InterviewRow, at: float) -> float:
        return row.clock_origin + at / row.pace

    def _lock(self, interview_id: str) -> asyncio.Lock:
        return self._locks.setdefault(interview_id, asyncio.Lock())

    async def _apply(
        self,
        interview_id: str,
        make_event: Callable[[Interview, InterviewRow, float], Event | None],
        claim: str | None = None,
    ) -> None:
        """Load, step, store (with its timers) in one transaction, then post: no lost update."""
        async with self._lock(interview_id):
            for _ in range(SAVE_ATTEMPTS):
                loaded = await self.repository.load(interview_id)
                if loaded is None:
                    return
                interview, row = loaded
                event = make_event(interview, row, self._at(row, self.clock()))
                if event is None:
                    return
                after, effects = step(interview, event)
                try:
                    async with self.sessions.begin() as session:
                        if claim is not None and not await self._claim_timer(session, interview_id, claim):
                            return
                        if after == interview and not effects:
                            return
                        await self.repository.save_in(session, after, expected_version=row.version)
                        await self._store_timers(session, row, effects)
                        for effect in effects:
                            if isinstance(effect, Finish):
                                session.add(
                                    RecapRow(
                                        interview_id=interview_id,
                                        overall=effect.recap["overall"],
                                        verdict=effect.recap["verdict"],
                                        data=json.dumps(effect.recap),
                                        created_at=datetime.now(UTC),
                                    )
                                )
                    break
                except StaleInterview:
                    await asyncio.sleep(0.01)  # another process saved first: reload and step again
            else:
                log.warning("gave up saving interview %s after %d attempts", interview_id, SAVE_ATTEMPTS)
                return
            await self._carry_out(row, after, effects)

    async def _claim_timer(self, session: AsyncSession, interview_id: str, timer_id: str) -> bool:
        """Mark a pending timer fired; only one process (or retried job) wins."""
        result = await session.execute(
            update(TimerRow)
            .where(
                and_(
                    TimerRow.interview_id == interview_id,
                    TimerRow.timer_id == timer_id,
                    TimerRow.state == "pending",
                )
            )
            .values(state="fired", updated_at=self.clock())
        )
        return result.rowcount == 1

    async def _store_timers(self, session: AsyncSession, row: InterviewRow, effects: list[Effect]) -> None:
        now = self.clock()
        for effect in effects:
            if isinstance(effect, ScheduleTimer):
                due = self._wall(row, effect.due_at)
                existing = await session.get(TimerRow, (row.id, effect.timer_id))
                if existing is None:
                    session.add(
                        TimerRow(
                            interview_id=row.id,
                            timer_id=effect.timer_id,
                            due_at=due,
                            state="pending",
                            updated_at=now,
                        )
                    )
                else:
                    existing.due_at, existing.state, existing.updated_at = due, "pending", now
            elif isinstance(effect, CancelTimer):
                await session.execute(
                    update(TimerRow)
                    .where(
                        TimerRow.interview_id == row.id,
                        TimerRow.timer_id == effect.timer_id,
                        TimerRow.state == "pending",
                    )
                    .values(state="cancelled", updated_at=now)
                )
            await session.flush()

    async def _carry_out(self, row: InterviewRow, interview: Interview, effects: list[Effect]) -> None:
        for effect in effects:
            try:
                if isinstance(effect, Say):
                    await self.client.chat_postMessage(
                        channel=row.channel,
                        thread_ts=row.thread_ts,
                        text=effect.text,
                        blocks=bk.bot_message(effect.text, effect.kind, row.id, row.mode),
                    )
                elif isinstance(effect, Nudge):
                    await self.client.chat_postEphemeral(
                        channel=row.channel,
                        user=row.interviewer_id,
                        thread_ts=row.thread_ts,
                        text=effect.text,
                    )
                elif isinstance(effect, ScheduleTimer):
                    self._arm(row.id, effect.timer_id, self._wall(row, effect.due_at))
                elif isinstance(effect, CancelTimer):
                    self._disarm(row.id, effect.timer_id)
                elif isinstance(effect, Finish):
                    if row.mode == "pair" and self.pair is not None:
                        await self.pair.finished(row, effect.recap)
                    else:
                        await self._post_recap(row, effect.recap)
            except SlackApiError as exc:
                log.warning(
                    "Slack refused %s for interview %s: %s",
                    type(effect).__name__,
                    row.id,
                    exc.response.get("error"),
                )

    async def _post_recap(self, row: InterviewRow, recap: dict) -> None:
        for chunk in bk.split_messages(bk.recap_blocks(recap)):
            await self.client.chat_postMessage(
                channel=row.channel, thread_ts=row.thread_ts, text=bk.recap_fallback_text(recap), blocks=chunk
            )
        if row.team and recap.get("contributions"):
            await self.client.chat_postMessage(
                channel=row.channel, thread_ts=row.thread_ts, text=contributions_text(recap)
            )
        from bot.chart import recap_chart_png

        png = await asyncio.to_thread(recap_chart_png, recap)
        await self.client.files_upload_v2(
            channel=row.channel,
            thread_ts=row.thread_ts,
            content=png,
            filename="recap.png",
            title=f"Recap chart: {recap.get('title', recap['problem'])}",
        )


def contributions_text(recap: dict) -> str:
    """A team recap's contributions: each person's messages by phase and the concepts they covered."""
    names = {p["phase"]: p.get("name", p["phase"]) for p in recap.get("phases", [])}
    concepts = recap.get("contributed_concepts", {})
    lines = ["*Team contributions* (the team is scored as a whole):"]
    for user, by_phase in recap.get("contributions", {}).items():
        phases = ", ".join(f"{names.get(ph, ph)} {n}" for ph, n in by_phase.items())
        line = f"• <@{user}>: {phases}"
        if concepts.get(user):
            line += f"; covered {', '.join(concepts[user])}"
        lines.append(line)
    return "\n".join(lines)
