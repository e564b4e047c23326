"""Timers on APScheduler: one date job per pending timer row, derived from the rows."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.app.ports import Clock


class SchedulerTimers:
    """The Timers port on an AsyncIOScheduler; `clock` may run ahead of the real one in tests."""

    def __init__(
        self,
        scheduler: AsyncIOScheduler,
        fire: Callable[[str, str], Awaitable[None]] | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.scheduler = scheduler
        self.fire = fire
        self.clock = clock

    def arm(self, interview_id: str, timer_id: str, due_wall: float) -> None:
        """Fire at `due_wall` on `clock` (now, if that has passed)."""
        delay = max(0.0, due_wall - self.clock())
        self.scheduler.add_job(
            self._fire,
            DateTrigger(run_date=datetime.fromtimestamp(time.time() + delay, UTC)),
            args=[interview_id, timer_id],
            id=f"{interview_id}:{timer_id}",
            replace_existing=True,
            misfire_grace_time=None,
        )

    async def _fire(self, interview_id: str, timer_id: str) -> None:
        if self.fire is not None:  # wired by the composition root after both sides exist
            await self.fire(interview_id, timer_id)

    def disarm(self, interview_id: str, timer_id: str) -> None:
        """Drop the job of one timer."""
        job = self.scheduler.get_job(f"{interview_id}:{timer_id}")
        if job is not None:
            job.remove()
