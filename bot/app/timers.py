"""Timers on APScheduler: one date job per pending timer row due soon, derived from the rows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.app.ports import Clock

log = logging.getLogger("interview_bot.timers")

# Timers stepped at once, at most. When many fall due together (a restart after an outage, a
# thousand warnings in one second) they queue for these slots instead of all contending for the
# database at once, and requests (and health checks) still get their turn between them.
FIRING_AT_ONCE = 16


class SchedulerTimers:
    """The Timers port on an AsyncIOScheduler; `clock` may run ahead of the real one in tests.

    A timer due later is an APScheduler date job. One already due is not: it goes straight to the
    firing slots (adding thousands of due jobs makes the scheduler wake and scan its due jobs once
    per job). A timer armed again while it is firing is armed once its firing is over (the firing
    claims the row; a new due time for it must not be lost, nor run twice at once)."""

    def __init__(
        self,
        scheduler: AsyncIOScheduler,
        fire: Callable[[str, str], Awaitable[None]] | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.scheduler = scheduler
        self.fire = fire
        self.clock = clock
        self._firing: set[str] = set()  # timers queued for a slot or firing now
        self._after: dict[str, float] = {}  # armed again while firing: when, once it is over
        self._armed: dict[str, float] = {}  # timers holding a scheduler job, and when it is due
        self._slots: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task] = set()
        self._stopped = False

    def arm(self, interview_id: str, timer_id: str, due_wall: float) -> None:
        """Fire at `due_wall` on `clock` (now, if that has passed)."""
        key = f"{interview_id}:{timer_id}"
        if key in self._firing:
            self._after[key] = due_wall
            return
        delay = due_wall - self.clock()
        if delay <= 0:
            self._drop_job(key)
            self._start(interview_id, timer_id)
            return
        if self._armed.get(key) == due_wall:
            return  # its job is there already (the window is re-armed every minute)
        self._armed[key] = due_wall
        self.scheduler.add_job(
            self._fire,
            DateTrigger(run_date=datetime.fromtimestamp(time.time() + delay, UTC)),
            args=[interview_id, timer_id],
            id=key,
            replace_existing=True,
            misfire_grace_time=None,
        )

    def _start(self, interview_id: str, timer_id: str) -> None:
        self._firing.add(f"{interview_id}:{timer_id}")
        task = asyncio.get_running_loop().create_task(self._run(interview_id, timer_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fire(self, interview_id: str, timer_id: str) -> None:
        """A job came due (APScheduler runs this)."""
        key = f"{interview_id}:{timer_id}"
        self._armed.pop(key, None)  # the scheduler dropped the job as it ran it
        if key in self._firing:  # already firing: it claims the row once
            return
        self._firing.add(key)
        await self._run(interview_id, timer_id)

    async def _run(self, interview_id: str, timer_id: str) -> None:
        key = f"{interview_id}:{timer_id}"
        if self._slots is None:
            self._slots = asyncio.Semaphore(FIRING_AT_ONCE)
        try:
            async with self._slots:
                # `fire` is wired by the composition root after both sides exist.
                if self.fire is not None and not self._stopped:
                    await self.fire(interview_id, timer_id)
        except Exception:  # a job's failure is logged, as APScheduler did for the job
            log.exception("timer %s failed", key)
        finally:
            self._firing.discard(key)
            later = self._after.pop(key, None)
            if later is not None:
                self.arm(interview_id, timer_id, later)

    def disarm(self, interview_id: str, timer_id: str) -> None:
        """Drop the job of one timer (one firing now goes on: its claim finds the row cancelled)."""
        key = f"{interview_id}:{timer_id}"
        self._after.pop(key, None)
        self._drop_job(key)

    def stop(self) -> None:
        """Fire nothing more: timers waiting for a slot are left (their rows stay pending)."""
        self._stopped = True

    def _drop_job(self, key: str) -> None:
        if self._armed.pop(key, None) is None:
            return  # no job of ours
        with contextlib.suppress(JobLookupError):
            self.scheduler.remove_job(key)
