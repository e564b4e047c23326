"""SchedulerTimers: due timers go to a bounded set of firing slots; re-arming a firing timer waits."""

from __future__ import annotations

import asyncio
import time

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app.timers import FIRING_AT_ONCE, SchedulerTimers


@pytest.fixture
async def scheduler():
    """A running AsyncIOScheduler, shut down after the test."""
    running = AsyncIOScheduler()
    running.start()
    yield running
    running.shutdown(wait=False)


async def test_many_due_timers_each_fire_once_a_bounded_number_at_a_time(scheduler):
    fired: list[tuple[str, str]] = []
    running = 0
    most = 0

    async def fire(interview_id: str, timer_id: str) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        fired.append((interview_id, timer_id))
        running -= 1

    timers = SchedulerTimers(scheduler, fire)
    for i in range(300):  # as after an outage: all overdue at start-up
        timers.arm(f"iv{i}", "requirements:warning", time.time() - 60)
    timers.arm("later", "requirements:warning", time.time() + 0.3)  # a job of the scheduler's
    for _ in range(500):
        if len(fired) == 301:
            break
        await asyncio.sleep(0.02)
    assert sorted(fired) == sorted(
        [(f"iv{i}", "requirements:warning") for i in range(300)] + [("later", "requirements:warning")]
    )
    assert 1 < most <= FIRING_AT_ONCE
    assert scheduler.get_jobs() == []  # the overdue ones never became jobs


async def test_a_timer_armed_again_while_it_fires_fires_again_after_not_beside_it(scheduler):
    calls: list[float] = []
    running = 0
    overlapped = False

    async def fire(interview_id: str, timer_id: str) -> None:
        nonlocal running, overlapped
        running += 1
        overlapped |= running > 1
        calls.append(time.monotonic())
        if len(calls) == 1:
            timers.arm(interview_id, timer_id, time.time() - 1)  # the step re-arms its own timer
            timers.arm(interview_id, timer_id, time.time() + 0.2)  # the last word counts
        await asyncio.sleep(0.05)
        running -= 1

    timers = SchedulerTimers(scheduler, fire)
    timers.arm("iv", "idle", time.time())
    for _ in range(100):
        if len(calls) == 2:
            break
        await asyncio.sleep(0.02)
    assert len(calls) == 2 and not overlapped
    assert calls[1] - calls[0] >= 0.2  # at the time it was armed for last, after the first
    await asyncio.sleep(0.3)
    assert len(calls) == 2


async def test_disarming_a_firing_timer_drops_its_next_wake_up_and_stop_fires_nothing_more(scheduler):
    calls: list[str] = []

    async def fire(interview_id: str, timer_id: str) -> None:
        calls.append(interview_id)
        if interview_id == "iv":
            timers.arm("iv", "idle", time.time() + 0.1)
            timers.disarm("iv", "idle")  # cancelled by the same step: no second firing
        await asyncio.sleep(0.05)

    timers = SchedulerTimers(scheduler, fire)
    timers.arm("iv", "idle", time.time())
    await asyncio.sleep(0.4)
    assert calls == ["iv"]
    timers.stop()
    timers.arm("after-stop", "idle", time.time())
    await asyncio.sleep(0.2)
    assert calls == ["iv"]


async def test_arming_a_timer_again_for_the_same_moment_keeps_its_job_and_a_new_moment_moves_it(scheduler):
    calls: list[float] = []

    async def fire(interview_id: str, timer_id: str) -> None:
        calls.append(time.monotonic())

    timers = SchedulerTimers(scheduler, fire)
    due = time.time() + 0.3
    timers.arm("iv", "idle", due)
    job = scheduler.get_job("iv:idle")
    for _ in range(3):  # the window's minutely look arms what is armed already
        timers.arm("iv", "idle", due)
    assert scheduler.get_job("iv:idle") is job  # the same job, not replaced
    started = time.monotonic()
    timers.arm("iv", "idle", due + 0.2)  # a step moved it
    assert scheduler.get_job("iv:idle") is not job
    await asyncio.sleep(0.8)
    assert len(calls) == 1 and calls[0] - started >= 0.4
    timers.arm("iv", "idle", due + 0.2)  # once fired, the same moment is a new timer: fires now
    await asyncio.sleep(0.1)
    assert len(calls) == 2 and scheduler.get_jobs() == []
