"""Per-event cost as an interview grows: one answer applied at turn 1 and at turn 400; prints both.

The real runner on a SQLite file (as `serve` uses it) steps one interview answer by answer. The
time of each `apply` (read, engine step, one write transaction) is recorded; the figures are the
medians over the first 20 answers and over answers 400 to 420, and their ratio.

Run: .venv/bin/python benchmarks/bench_turns.py
"""

from __future__ import annotations

import asyncio
import io
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from apscheduler.schedulers.asyncio import AsyncIOScheduler  # noqa: E402

from bot.app.outbox import OutboxSender  # noqa: E402
from bot.app.runner import InterviewRunner  # noqa: E402
from bot.app.timers import SchedulerTimers  # noqa: E402
from bot.db import open_database  # noqa: E402
from bot.repository import Placement  # noqa: E402
from bot.terminal import TerminalSurface  # noqa: E402
from flows.engine import new_interview  # noqa: E402
from flows.events import Answer  # noqa: E402
from problems import load_bank  # noqa: E402

LAST = 420
TEXT = "Reads dominate writes about 100 to 1, so we cache hot redirects with a TTL of one hour"


async def main(url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine, sessions = await open_database(url or f"sqlite+aiosqlite:///{Path(tmp) / 'turns.db'}")
        bank = load_bank()
        scheduler = AsyncIOScheduler()
        scheduler.start()
        outbox = OutboxSender(sessions, {"terminal": TerminalSurface(io.StringIO())})
        outbox.start()
        runner = InterviewRunner(sessions, bank, SchedulerTimers(scheduler), outbox, timer_window=60)
        iv = new_interview(uuid.uuid4().hex, bank["url-shortener"], minutes=6000)
        await runner.create(iv, Placement(surface="terminal", pace=1.0, clock_origin=time.time()))
        took: list[float] = []
        turns: list[int] = []
        for n in range(LAST):
            started = time.perf_counter()
            after = await runner.apply(
                iv.id, lambda i, r, now, n=n: Answer(now, f"{TEXT} (note {n})", message_id=str(n))
            )
            took.append(time.perf_counter() - started)
            turns.append(len(after.turns))
        await outbox.stop()
        scheduler.shutdown(wait=False)
        await engine.dispose()
    first = statistics.median(took[:20])
    late = statistics.median(took[400:420])
    print(f"apply one answer (read, step, write), {engine.dialect.name}:")
    print(f"  turns 1-20    ({turns[0]}-{turns[19]} stored): median {first * 1000:.2f} ms")
    print(f"  answers 400-420 ({turns[400]}-{turns[419]} stored): median {late * 1000:.2f} ms")
    print(f"  ratio late/first {late / first:.2f}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
