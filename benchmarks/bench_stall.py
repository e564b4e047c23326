"""Event-loop stall while the runner ends (and scores) a long interview; prints its figures.

A ticker sleeps 1 ms at a time and records the longest gap between its wake-ups while the step
that ends a 320-answer interview runs (the step, and so the scoring, runs in a worker thread).
"""

from __future__ import annotations

import asyncio
import io
import statistics
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
from flows.events import Answer, Control
from problems import load_bank

ANSWERS = 320
TEXT = (
    "We put a load balancer in front of stateless app servers, cache hot redirects in Redis with a TTL, "
    "and shard the mapping table by short code because reads dominate writes about 100 to 1."
)


async def one_run(db_url: str) -> tuple[float, float]:
    engine, sessions = await open_database(db_url)
    bank = load_bank()
    scheduler = AsyncIOScheduler()
    scheduler.start()
    outbox = OutboxSender(sessions, {"terminal": TerminalSurface(io.StringIO())})
    runner = InterviewRunner(sessions, bank, SchedulerTimers(scheduler), outbox)
    iv = new_interview(uuid.uuid4().hex, bank["url-shortener"], minutes=600)
    await runner.create(iv, Placement(surface="terminal", pace=1.0, clock_origin=time.time()))
    for n in range(ANSWERS):
        await runner.apply(iv.id, lambda i, r, now, n=n: Answer(now, f"{TEXT} ({n})", message_id=str(n)))
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    started = time.perf_counter()
    await runner.apply(iv.id, lambda i, r, now: Control(now, "end"))
    took = time.perf_counter() - started
    done.set()
    await tick
    await outbox.stop()
    scheduler.shutdown(wait=False)
    await engine.dispose()
    return took, max(gaps)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = [await one_run(f"sqlite+aiosqlite:///{Path(tmp) / f'b{i}.db'}") for i in range(3)]
    took = [t for t, _ in results]
    stall = [g for _, g in results]
    print(
        f"ending (and scoring) a {ANSWERS}-answer interview: median {statistics.median(took) * 1000:.0f} ms"
    )
    print(
        f"longest event-loop stall meanwhile: median {statistics.median(stall) * 1000:.1f} ms, "
        f"worst {max(stall) * 1000:.1f} ms (3 runs)"
    )


if __name__ == "__main__":
    asyncio.run(main())
