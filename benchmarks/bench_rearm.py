"""Start-up re-arming with 10,000 open interviews: with the timer window and without; prints figures.

Each interview has its phase timers and an idle timer pending, due over the next 20 minutes, as
after a busy hour. Only the timers due within the window get a scheduler job.
"""

from __future__ import annotations

import asyncio
import io
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app.outbox import OutboxSender
from bot.app.runner import InterviewRunner
from bot.app.timers import SchedulerTimers
from bot.db import open_database
from bot.repository import Placement
from bot.terminal import TerminalSurface
from flows.engine import new_interview
from problems import load_bank

OPEN = 10_000


def copy_interviews(db: Path, template: str, now: float) -> None:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT * FROM interviews WHERE id = ?", (template,)).fetchone()
        columns = [d[1] for d in conn.execute("PRAGMA table_info(interviews)")]
        slot = columns.index("id")
        thread = columns.index("thread_ts")
        rows, timers = [], []
        for n in range(OPEN):
            copy = list(row)
            copy[slot], copy[thread] = uuid.uuid4().hex, f"{now + n:.6f}"
            rows.append(copy)
            for k, kind in enumerate(
                ("requirements:warning", "requirements:time_up", "requirements:overrun", "idle")
            ):
                timers.append((copy[slot], kind, now + (n % 1200) + k * 30, "pending", now))
        conn.executemany(f"INSERT INTO interviews VALUES ({','.join('?' * len(columns))})", rows)
        conn.executemany("INSERT INTO timers VALUES (?, ?, ?, ?, ?)", timers)


async def measure(db: Path, window: float | None) -> tuple[float, int, dict]:
    engine, sessions = await open_database(f"sqlite+aiosqlite:///{db}")
    scheduler = AsyncIOScheduler()
    scheduler.start()
    outbox = OutboxSender(sessions, {"slack": TerminalSurface(io.StringIO())})
    runner = InterviewRunner(sessions, load_bank(), SchedulerTimers(scheduler), outbox, timer_window=window)
    started = time.perf_counter()
    counts = await runner.rearm()
    took = time.perf_counter() - started
    jobs = len(scheduler.get_jobs())
    scheduler.shutdown(wait=False)
    await engine.dispose()
    return took, jobs, counts


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "rearm.db"
        engine, sessions = await open_database(f"sqlite+aiosqlite:///{db}")
        bank = load_bank()
        scheduler = AsyncIOScheduler()
        runner = InterviewRunner(sessions, bank, SchedulerTimers(scheduler), OutboxSender(sessions, {}))
        iv = new_interview("template", bank["url-shortener"])
        now = time.time()
        await runner.create(
            iv, Placement(surface="slack", channel="C1", thread_ts="t", pace=1.0, clock_origin=now)
        )
        await engine.dispose()
        copy_interviews(db, "template", now)
        for window in (None, 120.0):
            took, jobs, counts = await measure(db, window)
            label = "no window (every timer)" if window is None else f"{window:.0f} s window"
            print(f"re-arm {OPEN:,} open interviews, {label}: {took * 1000:.0f} ms, {jobs:,} scheduler jobs")


if __name__ == "__main__":
    asyncio.run(main())
