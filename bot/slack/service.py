"""The Slack interview service: turns Slack requests into inbox items and starts, over the runner."""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app.inbox import InboxItem
from bot.app.runner import InterviewRunner
from bot.repository import Placement
from bot.slack.escape import escape
from bot.stores import HistoryQueries, ScheduleStore
from flows.engine import new_interview
from flows.framework import LEVELS
from flows.problem import Problem
from flows.scoring import practice_suggestions
from problems.loader import UnknownProblem, find_problem


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


class InterviewService:
    """Interviews in Slack threads: starts them and hands everything else to the runner."""

    def __init__(
        self,
        client: AsyncWebClient,
        runner: InterviewRunner,
        scheduler: AsyncIOScheduler,
        pace: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.runner = runner
        self.bank = runner.bank
        self.repository = runner.repository
        self.history = HistoryQueries(runner.sessions)
        self.schedules = ScheduleStore(runner.sessions)
        self.scheduler = scheduler
        self.pace = pace
        self.clock = clock
        self.bot_user_id = ""
        self.team_id = ""
        self._suggestions: dict[str, dict[str, str]] = {}

    async def suggestions(self, problem: Problem) -> dict[str, str]:
        """What to practise next after `problem` (see practice_suggestions); the bank is fixed, so
        each problem's are worked out once (in a thread: the first compares the whole bank)."""
        if problem.slug not in self._suggestions:
            self._suggestions[problem.slug] = await asyncio.to_thread(
                practice_suggestions, self.bank.values(), problem
            )
        return self._suggestions[problem.slug]

    # ------------------------------------------------------------ the runner's entry points

    async def submit(self, item: InboxItem) -> bool:
        """Store what a person sent before Slack is acknowledged; False for a retry or a replay."""
        return await self.runner.inbox.submit(item)

    async def fire(self, interview_id: str, timer_id: str) -> None:
        """A timer came due."""
        await self.runner.fire(interview_id, timer_id)

    async def rearm(self) -> dict[str, int]:
        """Arm the pending timers of open interviews (start-up)."""
        return await self.runner.rearm()

    # ------------------------------------------------------------ starting

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
        if thread_ts and await self.repository.in_thread(channel, thread_ts):
            await tell_user(
                "This thread already has an interview. Say `end` to finish it, or start one elsewhere."
            )
            return None
        if thread_ts is None:
            try:
                text = (
                    f"<@{user}> is starting a team mock interview: *{escape(problem.title)}* ({request.level}). "
                    "This is a team interview: everyone in this thread answers."
                    if team
                    else f"<@{user}> is starting a mock interview: *{escape(problem.title)}* ({request.level}). "
                    "Answers go in this thread."
                )
                root = await self.client.chat_postMessage(channel=channel, text=text)
            except SlackApiError as exc:
                await tell_user(self.explain(exc))
                return None
            thread_ts = root["ts"]
        interview = new_interview(
            uuid.uuid4().hex,
            problem,
            request.level,
            request.minutes,
            suggestions=await self.suggestions(problem),
            team=team,
        )
        placement = Placement("slack", channel, thread_ts, user, self.pace, self.clock())
        if await self.runner.create(interview, placement, minutes=request.minutes) is None:
            await tell_user("This thread already has an interview.")
            return None
        return interview.id

    async def choose_problem(
        self, request: StartRequest, user: str, tell_user: Callable[[str], Awaitable[None]]
    ) -> Problem | None:
        """The requested problem (or a random one `user` has not done), after checking the request."""
        try:
            problem = self._pick_problem(request.problem, await self.repository.problems_done(user_id=user))
        except UnknownProblem as exc:
            hint = f" Closest: {', '.join(exc.suggestions)}." if exc.suggestions else ""
            await tell_user(
                f"I don't know the problem '{escape(exc.name)}'.{hint} See `/interview problems`."
            )
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

    @staticmethod
    def explain(exc: SlackApiError) -> str:
        """A Web API refusal in words for the user."""
        error = exc.response.get("error", "") if exc.response is not None else ""
        if error == "not_in_channel":
            return "I'm not in this channel yet. Invite me with `/invite @interview-bot`, then try again."
        if error in ("channel_not_found", "is_archived"):
            return "I can't post in this channel. Try a public channel I'm a member of."
        return f"Slack refused the message ({error or 'unknown error'}). Please try again."
