"""The real bot against a bare slack-bolt app, side by side, under open-loop load; prints both.

Both serve HTTP on 127.0.0.1 against the same Slack Web API stand-in, driven by the same load
generator in one run, rounds interleaved. The bare app acknowledges every message event and posts
one threaded reply. The bot gets `time` (a control that always answers) in threads with open
interviews. Requests are sent at fixed times (open loop: a slow server does not slow the
generator). For each side: acknowledgements (HTTP round trips), replies (from the send to the
stand-in receiving the reply in that thread), p50/p99, and the share handled within 3 s.

Run: .venv/bin/python benchmarks/bench_serve.py [--quick]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections import defaultdict, deque
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request  # noqa: E402
from slack_bolt.async_app import AsyncApp  # noqa: E402
from slack_sdk.web.async_client import AsyncWebClient  # noqa: E402

from tests import slack_payloads as sp  # noqa: E402
from tests.slack_harness import SECRET, eventually, slack_ts, start_bot, stop_bot  # noqa: E402
from tests.slack_standin import SlackStandIn  # noqa: E402

SECONDS = 4.0
DEADLINE = 3.0  # Slack retries what is not acknowledged within 3 s


async def bare_app(slack: SlackStandIn, http: aiohttp.ClientSession) -> tuple[str, web.AppRunner]:
    """The floor: a slack-bolt AsyncApp that acks and posts one threaded reply per message."""
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, session=http)
    app = AsyncApp(client=client, signing_secret=SECRET, process_before_response=False)

    @app.event("message")
    async def reply(event, client) -> None:
        await client.chat_postMessage(channel=event["channel"], thread_ts=event["thread_ts"], text="ok")

    async def handle(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    application = web.Application()
    application.router.add_post("/slack/events", handle)
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return f"http://127.0.0.1:{runner.addresses[0][1]}", runner


async def load(
    http: aiohttp.ClientSession, slack: SlackStandIn, url: str, threads: list[str], rate: float, text: str
) -> dict:
    """Send `rate` events a second for SECONDS, round-robin over `threads`; collect the figures."""
    sends: dict[str, deque] = defaultdict(deque)
    acks: list[float] = []
    failed = 0
    first_call = len(slack.calls)
    start = time.monotonic()
    count = int(rate * SECONDS)

    async def one(i: int) -> None:
        nonlocal failed
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        thread = threads[i % len(threads)]
        body = sp.json_body(
            sp.event_callback(sp.message_event("C1", "U1", text, slack_ts(), thread_ts=thread))
        )
        sent = time.monotonic()
        sends[thread].append(sent)
        try:
            status, _ = await sp.post_signed(http, url + "/slack/events", body, "application/json", SECRET)
        except aiohttp.ClientError:
            status = 0
        acks.append(time.monotonic() - sent)
        failed += status != 200

    await asyncio.gather(*(one(i) for i in range(count)))
    await asyncio.sleep(DEADLINE)  # let replies still on their way arrive
    replies: list[float] = []
    for call in slack.calls[first_call:]:
        if call.method == "chat.postMessage" and call.ok and sends.get(call.params.get("thread_ts")):
            replies.append(call.at - sends[call.params["thread_ts"]].popleft())
    return {"sent": count, "failed": failed, "acks": sorted(acks), "replies": sorted(replies)}


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(p * len(values)))] * 1000 if values else float("nan")


def line(name: str, r: dict) -> str:
    within = sum(1 for v in r["replies"] if v <= DEADLINE) / r["sent"]
    return (
        f"  {name:<5} ack p50 {pct(r['acks'], 0.5):7.1f} ms  p99 {pct(r['acks'], 0.99):7.1f} ms | "
        f"reply p50 {pct(r['replies'], 0.5):7.1f} ms  p99 {pct(r['replies'], 0.99):7.1f} ms | "
        f"replied within 3 s {within:6.1%}  ({r['failed']} not acknowledged)"
    )


async def open_interviews(running, n: int) -> list[str]:
    """Start `n` more interviews by mention; wait until they are open and their openings posted."""
    before = running.rows("SELECT count(*) FROM interviews")[0][0]
    threads = []
    for i in range(n):
        thread = slack_ts(i / 1e4)
        await running.event(sp.app_mention_event("C1", "U1", "<@UBOT> start url shortener", thread))
        threads.append(thread)
    await eventually(lambda: running.rows("SELECT count(*) FROM interviews") == [(before + n,)], timeout=600)
    await eventually(lambda: running.rows("SELECT count(*) FROM outbox WHERE state != 'sent'") == [(0,)], 600)
    return threads


async def main(quick: bool) -> None:
    sizes = (100,) if quick else (100, 1000)
    rates = (50, 100) if quick else (50, 100, 200)
    async with SlackStandIn(validate_blocks=False) as slack, aiohttp.ClientSession() as http:
        bare_url, bare_runner = await bare_app(slack, http)
        running = await start_bot(slack, Path(tempfile.mkdtemp()), pace=1)
        try:
            opened: list[str] = []
            for size in sizes:
                opened += await open_interviews(running, size - len(opened))
                bare_threads = [f"{1e9 + i:.6f}" for i in range(size)]
                print(f"{size} open interviews")
                for rate in rates:
                    ours = await load(http, slack, running.url, opened, rate, "time")
                    bare = await load(http, slack, bare_url, bare_threads, rate, "time")
                    print(f" {rate} events/s for {SECONDS:.0f} s")
                    print(line("bare", bare))
                    print(line("ours", ours))
                    ratio = (pct(bare["acks"], 0.99) / pct(ours["acks"], 0.99)) if ours["acks"] else 0
                    print(f"  ack p99 ratio bare/ours {ratio:.2f}")
        finally:
            await stop_bot(running)
            await bare_runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main("--quick" in sys.argv))
