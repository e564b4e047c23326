"""Benchmark: how fast the bot acknowledges Slack requests over HTTP (200 events).

Runs the real bot (bootstrap as `serve` does, SQLite file, APScheduler) against the local Slack
stand-in, starts one interview, then sends 200 signed message events into its thread, one after
another, timing each HTTP round trip until the acknowledgement. Prints median, p95 and worst.

Run: .venv/bin/python benchmarks/bench_ack.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import slack_payloads as sp  # noqa: E402
from tests.slack_harness import eventually, slack_ts, start_bot, stop_bot  # noqa: E402
from tests.slack_standin import SlackStandIn  # noqa: E402

EVENTS = 200


async def main() -> None:
    async with SlackStandIn() as slack:
        running = await start_bot(slack, Path(tempfile.mkdtemp()), pace=1)
        try:
            thread = slack_ts()
            await running.event(sp.app_mention_event("C1", "U1", "<@UBOT> start url shortener", thread))
            await eventually(lambda: running.rows("SELECT status FROM interviews") == [("running",)])
            times = []
            for i in range(EVENTS):
                text = f"answer {i}: a load balancer in front of app servers, a redis cache for hot codes"
                body = sp.json_body(
                    sp.event_callback(sp.message_event("C1", "U1", text, slack_ts(), thread_ts=thread))
                )
                t0 = time.perf_counter()
                status, _ = await running.post(body, "application/json")
                times.append((time.perf_counter() - t0) * 1000)
                assert status == 200
            await eventually(
                lambda: running.rows("SELECT count(*) FROM turns WHERE role='candidate'") == [(EVENTS,)],
                timeout=120,
            )
        finally:
            await stop_bot(running)
    times.sort()
    print(
        f"acknowledgement over HTTP, {EVENTS} events: median {statistics.median(times):.1f} ms, "
        f"p95 {times[int(0.95 * len(times)) - 1]:.1f} ms, worst {times[-1]:.1f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
