"""The real bot against a bare slack-bolt app, side by side, under open-loop load; prints both.

Each side runs as a process of its own, as deployed: `interview-bot serve` on a SQLite file, and
a bare slack-bolt AsyncApp over aiohttp that acknowledges every message event and posts one
threaded reply (this script with --bare-app). This process holds the Slack Web API stand-in both
post to and the load generator, so on a 2-core machine each server gets a core and the generator
and stand-in the other. Rounds are interleaved. The bot gets `time` (a control that always
answers) in threads with open interviews. Requests are sent at fixed times (open loop: a slow
server does not slow the generator). For each side: acknowledgements (HTTP round trips), replies
(from the send to the stand-in receiving the reply in that thread), p50/p99, and the share
handled within 3 s.

Then: the highest rate each side sustains (every event replied to within 3 s, none refused), on
a ladder of rates; 1,000 warnings due in the same second (how late each reaches Slack); start-up
with 10,000 open interviews (bootstrap until the port is open, and a new `serve` process until
healthy). With --postgres, the same ladder against one and against two `interview-bot serve`
processes sharing one PostgreSQL database, the load spread over both as a load balancer would.

With --quota=C as well, that comparison is run again with each `serve` process held to C cores
(a cgroup CPU quota; needs root and cgroup v1): on a 2-core machine one unheld process with
PostgreSQL and the benchmark already fills the machine, so only held processes show what a
second one adds.

Run: .venv/bin/python benchmarks/bench_serve.py [--quick] [--postgres | --only-postgres] [--quota=0.3]
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import random
import re
import socket
import sqlite3
import subprocess
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


async def bare_app(
    api_url: str, token: str, http: aiohttp.ClientSession, port: int = 0
) -> tuple[str, web.AppRunner]:
    """The floor: a slack-bolt AsyncApp that acks and posts one threaded reply per message."""
    client = AsyncWebClient(token=token, base_url=api_url, session=http)
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
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    return f"http://127.0.0.1:{runner.addresses[0][1]}", runner


async def serve_bare_app(port: int) -> None:
    """--bare-app PORT: the bare app on its own, until terminated (token and API URL from the env)."""
    async with aiohttp.ClientSession() as http:
        await bare_app(os.environ["SLACK_API_URL"], os.environ["SLACK_BOT_TOKEN"], http, port)
        await asyncio.Event().wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bare_process(slack: SlackStandIn, port: int) -> subprocess.Popen:
    env = {**os.environ, "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.api_url}
    return subprocess.Popen([sys.executable, __file__, "--bare-app", str(port)], env=env)


def stop_process(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cpu_ticks() -> tuple[int, int]:
    """Busy and total CPU ticks of the whole machine so far (/proc/stat), every core together."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


def process_cpu(pid: int) -> float:
    """CPU seconds (user and system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(
    http: aiohttp.ClientSession,
    slack: SlackStandIn,
    urls: list[str],
    threads: list[str],
    rate: float,
    text: str,
) -> dict:
    """Send `rate` events a second for SECONDS, round-robin over `threads` (and over `urls`, as a
    load balancer would); collect the figures."""
    sends: dict[str, deque] = defaultdict(deque)
    acks: list[float] = []
    failed = 0
    first_call = len(slack.calls)
    start = time.monotonic()
    count = int(rate * SECONDS)
    pick = random.Random(7)

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
            url = urls[pick.randrange(len(urls))]
            status, _ = await sp.post_signed(http, url + "/slack/events", body, "application/json", SECRET)
        except aiohttp.ClientError:
            status = 0
        acks.append(time.monotonic() - sent)
        failed += status != 200

    # What the benchmark has kept so far (every call the stand-in recorded) out of the collector's
    # sight: its full collections took tens of milliseconds by the third round, in this process,
    # and showed up as the servers' latency.
    gc.collect()
    gc.freeze()
    busy_before, total_before = cpu_ticks()
    await asyncio.gather(*(one(i) for i in range(count)))
    busy_after, total_after = cpu_ticks()
    await asyncio.sleep(DEADLINE)  # let replies still on their way arrive
    replies: list[float] = []
    last_second: list[float] = []  # replies to the events sent in the round's last second
    for call in slack.calls[first_call:]:
        if call.method == "chat.postMessage" and call.ok and sends.get(call.params.get("thread_ts")):
            sent = sends[call.params["thread_ts"]].popleft()
            replies.append(call.at - sent)
            if sent >= start + SECONDS - 1.0:
                last_second.append(call.at - sent)
    # An overloaded round leaves a backlog: let it drain (no post for a second), so its late
    # replies are not taken for the next round's.
    for _ in range(120):
        seen = len(slack.calls)
        await asyncio.sleep(1.0)
        if len(slack.calls) == seen:
            break
    return {
        "sent": count,
        "failed": failed,
        "acks": sorted(acks),
        "replies": sorted(replies),
        "last_second": sorted(last_second),
        # the machine's CPU in use while the events were sent, all cores together (2 cores: 200%)
        "cpu": (busy_after - busy_before) / max(1, total_after - total_before) * (os.cpu_count() or 1),
    }


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(p * len(values)))] * 1000 if values else float("nan")


def line(name: str, r: dict) -> str:
    within = sum(1 for v in r["replies"] if v <= DEADLINE) / r["sent"]
    return (
        f"  {name:<5} ack p50 {pct(r['acks'], 0.5):7.1f} ms  p99 {pct(r['acks'], 0.99):7.1f} ms | "
        f"reply p50 {pct(r['replies'], 0.5):7.1f} ms  p99 {pct(r['replies'], 0.99):7.1f} ms | "
        f"replied within 3 s {within:6.1%}  ({r['failed']} not acknowledged) | "
        f"last second's slowest {pct(r['last_second'], 1.0):6.0f} ms | CPU {r['cpu']:5.0%}"
    )


async def open_interviews(http: aiohttp.ClientSession, url: str, db: Path, n: int) -> list[str]:
    """Start `n` more interviews by mention; wait until they are open and their openings posted."""
    before = sqlite_rows(db, "SELECT count(*) FROM interviews")[0][0]
    threads = []
    for i in range(n):
        thread = slack_ts(i / 1e4)
        body = sp.json_body(
            sp.event_callback(sp.app_mention_event("C1", "U1", "<@UBOT> start url shortener", thread))
        )
        await sp.post_signed(http, url + "/slack/events", body, "application/json", SECRET)
        threads.append(thread)
    await eventually(
        lambda: sqlite_rows(db, "SELECT count(*) FROM interviews") == [(before + n,)], timeout=600
    )
    await eventually(
        lambda: sqlite_rows(db, "SELECT count(*) FROM outbox WHERE state != 'sent'") == [(0,)], 600
    )
    return threads


def sqlite_rows(db: Path, sql: str, args: tuple = ()) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


LADDER = (100, 200, 300, 400, 500, 600, 800, 1000, 1200, 1600, 2000, 2400, 3200)


QUOTA_PERIOD_US = 10_000
COST_RATE = 60  # events/s a process, at which the PostgreSQL comparison measures CPU per event
KEPT_UP = 1.0  # seconds: the events of a round's last second all replied to within this


def within_deadline(r: dict) -> bool:
    """Every event acknowledged and replied to within the deadline (in a round of SECONDS)."""
    return r["failed"] == 0 and sum(1 for v in r["replies"] if v <= DEADLINE) == r["sent"]


def sustained(r: dict) -> bool:
    """Within the deadline, and the server kept up: the replies to the round's last second of
    events came within KEPT_UP. (The deadline alone lets a queue grow all round: a server that
    handles X events a second passes a 4 s round at up to 1.75 X, the last events waiting 3 s.)"""
    return within_deadline(r) and bool(r["last_second"]) and r["last_second"][-1] <= KEPT_UP


async def ladder(
    http, slack, urls: list[str], threads: list[str], name: str, refine: int = 2
) -> tuple[int, dict, int]:
    """The highest rate that `urls` (round-robin) sustain, from LADDER and then `refine` halvings
    of the gap to the first rate they did not; prints each step. Also the figures at that rate,
    and the highest rung of LADDER at which every reply still came within the deadline."""
    best, at_best, failed, deadline_best = 0, {}, None, 0
    for rate in LADDER:
        r = await load(http, slack, urls, threads, rate, "time")
        print(line(f"{name}@{rate}", r))
        if not within_deadline(r):
            failed = failed or rate
            break
        deadline_best = rate
        if failed is None and sustained(r):
            best, at_best = rate, r
        elif failed is None:
            failed = rate
    for _ in range(refine if best and failed else 0):
        rate = (best + failed) // 2
        r = await load(http, slack, urls, threads, rate, "time")
        print(line(f"{name}@{rate}", r))
        if sustained(r):
            best, at_best = rate, r
        else:
            failed = rate
    return best, at_best, deadline_best


async def warnings_due_together(
    http: aiohttp.ClientSession, slack: SlackStandIn, db: Path, port: int, count: int
) -> subprocess.Popen:
    """Stop the bot, move `count` open interviews so their Requirements warning falls due in the
    same second, start it again, let traffic in those threads bring them into its memory (as in a
    busy hour), and measure how late each warning reaches Slack. Returns the new bot process."""
    due = time.time() + 30.0
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT t.interview_id, t.due_at, i.thread_ts FROM timers t JOIN interviews i ON i.id = t.interview_id "
            "WHERE t.state = 'pending' AND t.timer_id = 'requirements:warning' AND i.status = 'running' "
            "LIMIT ?",
            (count,),
        ).fetchall()
        for interview_id, due_at, _ in rows:
            shift = due - due_at  # the interview started that much earlier, as far as its clock goes
            conn.execute(
                "UPDATE interviews SET clock_origin = clock_origin + ?, version = version + 1 WHERE id = ?",
                (shift, interview_id),
            )
            conn.execute(
                "UPDATE timers SET due_at = due_at + ? WHERE interview_id = ? AND state = 'pending'",
                (shift, interview_id),
            )
    bot = serve_process(slack, f"sqlite+aiosqlite:///{db}", port)
    url = f"http://127.0.0.1:{port}"
    await healthy(http, url)
    warmed = time.time()
    await load(http, slack, [url], [thread for _, _, thread in rows], 250, "time")
    await eventually(
        lambda: sqlite_rows(db, "SELECT count(*) FROM outbox WHERE state != 'sent'") == [(0,)], 60
    )
    print(
        f"  (the restarted bot stepped the {len(rows)} moved interviews once in {time.time() - warmed:.1f} s)"
    )
    first_call = len(slack.calls)
    due_mono = time.monotonic() + (due - time.time())
    await asyncio.sleep(max(0.0, due - time.time() - 0.5))
    cpu_before = process_cpu(bot.pid)
    await asyncio.sleep(4.5)
    cpu_burst = process_cpu(bot.pid) - cpu_before
    await asyncio.sleep(6.0)
    late = sorted(
        c.at - due_mono
        for c in slack.calls[first_call:]
        # "N minutes left for Requirements." (an answer to `time` goes on: "...; about N left in ...")
        if c.method == "chat.postMessage"
        and re.fullmatch(r"[^;]* left for [^;]*\.", str(c.params.get("text", "")))
    )
    print(
        f"{len(rows)} warnings due at the same second: {len(late)} posted; lateness p50 "
        f"{pct(late, 0.5):.0f} ms, p99 {pct(late, 0.99):.0f} ms, last {late[-1] * 1000 if late else float('nan'):.0f} ms; "
        f"the bot used {cpu_burst:.2f} s of CPU from 0.5 s before to 4 s after"
    )
    return bot


def clone_interviews(db: Path, total: int) -> int:
    """Copy the open interviews (rows, turns, timers) until `total` are open; returns how many."""
    import sqlite3

    with sqlite3.connect(db) as conn:

        def columns(table: str) -> list[str]:
            return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]

        ids = [r[0] for r in conn.execute("SELECT id FROM interviews WHERE status != 'ended'")]
        copies = 0
        while len(ids) * (copies + 1) < total:
            copies += 1
            suffix = f"-{copies}"
            cols = columns("interviews")
            picked = ", ".join(
                f"id || '{suffix}'" if c == "id" else f"thread_ts || '{suffix}'" if c == "thread_ts" else c
                for c in cols
            )
            conn.execute(
                f"INSERT INTO interviews ({', '.join(cols)}) SELECT {picked} FROM interviews "
                "WHERE status != 'ended' AND id NOT LIKE '%-%'"
            )
            for table in ("turns", "timers"):
                cols = [c for c in columns(table) if c != "id"]
                # Each copy's timers fall due two minutes after the last one's, so the 10,000 are
                # spread over twenty minutes, as after a busy hour (not all due at once).
                picked = ", ".join(
                    f"interview_id || '{suffix}'"
                    if c == "interview_id"
                    else f"due_at + {copies * 120}"
                    if c == "due_at"
                    else c
                    for c in cols
                )
                conn.execute(
                    f"INSERT INTO {table} ({', '.join(cols)}) SELECT {picked} FROM {table} "
                    "WHERE interview_id IN (SELECT id FROM interviews WHERE status != 'ended' "
                    "AND id NOT LIKE '%-%')"
                )
        return conn.execute("SELECT count(*) FROM interviews WHERE status != 'ended'").fetchone()[0]


def serve_process(slack: SlackStandIn, db_url: str, port: int) -> subprocess.Popen:
    """`interview-bot serve` in its own process, as deployed."""
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "DATABASE_URL": db_url,
        "INTERVIEW_PACE": "1",
        "PORT": str(port),
    }
    # Its log goes to a file beside the benchmark's database, to read after a surprising figure.
    log = Path(tempfile.gettempdir()) / f"bench-serve-{port}.log"
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-m", "bot", "serve"], env=env, stdout=out, stderr=out)


async def healthy(http: aiohttp.ClientSession, url: str, every: float = 0.1) -> None:
    for _ in range(int(60 / every)):
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(url + "/healthz") as resp:
                if resp.status == 200:
                    return
        await asyncio.sleep(every)
    raise RuntimeError(f"{url} did not become healthy")


def cpu_quota(pid: int, cores: float) -> Path | None:
    """Hold a process to `cores` of CPU with a cgroup (v1 CFS quota); its group, or None where
    this machine does not allow it (no cgroup v1 cpu controller, or not root)."""
    group = Path("/sys/fs/cgroup/cpu") / f"interview-bot-bench-{pid}"
    try:
        group.mkdir(exist_ok=True)
        # A short period (10 ms, not the default 100 ms): the process runs its share in small
        # slices, like a slower core, rather than in one burst and then a long stop every period.
        (group / "cpu.cfs_period_us").write_text(str(QUOTA_PERIOD_US))
        (group / "cpu.cfs_quota_us").write_text(str(int(cores * QUOTA_PERIOD_US)))
        (group / "cgroup.procs").write_text(str(pid))
    except OSError:
        return None
    return group


async def postgres_processes(
    slack: SlackStandIn, http: aiohttp.ClientSession, interviews: int, quota: float | None = None
) -> None:
    """The ladder against one, then two `serve` processes on one PostgreSQL database. With `quota`,
    each process is held to that many cores, so that on a small machine the bot processes, not the
    machine, are what runs out: whether a second process adds what the first can do."""
    from tests.postgres_server import PostgresServer
    from tests.slack_harness import _pg_query

    server = PostgresServer().start()
    procs: list[subprocess.Popen] = []
    groups: list[Path] = []

    async def start(count: int) -> list[str] | None:
        """`count` fresh `serve` processes (what ran before stopped first); their URLs."""
        for proc in procs:
            stop_process(proc)
        procs.clear()
        urls = []
        for _ in range(count):
            port = free_port()
            procs.append(serve_process(slack, db_url, port))
            if quota is not None:
                group = cpu_quota(procs[-1].pid, quota)
                if group is None:
                    print("  (no CPU quota on this machine: it needs root and cgroup v1's cpu controller)")
                    return None
                groups.append(group)
            urls.append(f"http://127.0.0.1:{port}")
            await healthy(http, urls[-1])
        return urls

    async def cost_per_event(urls: list[str]) -> float:
        """The `serve` processes' CPU (all of them together) per event, in milliseconds, over three
        rounds at COST_RATE events/s per process: a rate every setup here keeps up with, so that what
        is compared is the work an event makes, not how each copes with a backlog (which the ladder's
        verdict mixes in, and which under a CPU quota moves a lot between runs). Per process, as an
        event costs a process more the fewer it gets a second (fewer share each wake-up and commit)."""
        spent, sent = 0.0, 0
        for _ in range(3):
            before = sum(process_cpu(proc.pid) for proc in procs)
            r = await load(http, slack, urls, threads, COST_RATE * len(urls), "time")
            spent += sum(process_cpu(proc.pid) for proc in procs) - before
            sent += r["sent"]
        return spent / max(sent, 1) * 1000

    try:
        _pg_query(server.url, "CREATE DATABASE bench", ())
        db_url = server.url.rsplit("/", 1)[0] + "/bench"
        urls = await start(1)
        if urls is None:
            return
        threads = []
        for i in range(interviews):
            thread = slack_ts(i / 1e4)
            body = sp.json_body(
                sp.event_callback(sp.app_mention_event("C1", "U1", "<@UBOT> start url shortener", thread))
            )
            await sp.post_signed(http, urls[0] + "/slack/events", body, "application/json", SECRET)
            threads.append(thread)

        def opened() -> bool:
            return _pg_query(db_url, "SELECT count(*) FROM interviews", ())[0][0] == interviews

        await eventually(opened, timeout=600)
        await asyncio.sleep(3.0)  # let the openings be posted
        held = f", each held to {quota:.2f} of a core" if quota is not None else ""
        print(f"PostgreSQL, {interviews} open interviews, `serve` processes behind one load balancer{held}:")
        # One process alone, then two started afresh (a process keeps the interviews it steps
        # until it stops: see bot/app/holds.py), the load spread over both at random.
        one_cost = await cost_per_event(urls)
        one, at_one, one_deadline = await ladder(http, slack, urls, threads, "1 proc")
        urls = await start(2)
        if urls is None:
            return
        two_cost = await cost_per_event(urls)
        two, _, two_deadline = await ladder(http, slack, urls, threads, "2 procs")
        print(f"  one process {one} events/s, two processes {two} events/s, ratio {two / max(one, 1):.2f}")
        print(
            f"  CPU per event at {COST_RATE} events/s a process, the bot processes together: one {one_cost:.2f} ms, "
            f"two {two_cost:.2f} ms, so two processes with a core each can do ~{2 * one_cost / two_cost:.2f}x one"
        )
        print(
            f"  (every reply within 3 s, kept up or not: one {one_deadline}, two {two_deadline}, "
            f"ratio {two_deadline / max(one_deadline, 1):.2f})"
        )
        if at_one and quota is None:
            # At one process's best the machine was this busy (bot, PostgreSQL, this benchmark): if
            # a second process did not make an event cheaper, it could not go past this multiple.
            cores = os.cpu_count() or 1
            print(
                f"  this machine's bound: one process at {one}/s kept {at_one['cpu']:.0%} of its {cores * 100}% "
                f"busy, so two can do at most ~{cores / max(at_one['cpu'], 0.01):.2f}x one here"
            )
    finally:
        for proc in procs:
            stop_process(proc)
        for group in groups:
            with contextlib.suppress(OSError):
                group.rmdir()
        server.stop()


async def main(quick: bool, postgres: bool, only_postgres: bool = False, quota: float | None = None) -> None:
    if only_postgres:
        connector = aiohttp.TCPConnector(limit=0)
        async with (
            SlackStandIn(validate_blocks=False) as slack,
            aiohttp.ClientSession(connector=connector) as http,
        ):
            await postgres_processes(slack, http, 100)
            if quota is not None:
                await postgres_processes(slack, http, 100, quota)
        return
    sizes = (100,) if quick else (100, 1000)
    rates = (50, 100) if quick else (50, 100, 200)
    folder = Path(tempfile.mkdtemp())
    db = folder / "bot.db"
    connector = aiohttp.TCPConnector(limit=0)  # open loop: no cap on requests in flight
    async with (
        SlackStandIn(validate_blocks=False) as slack,
        aiohttp.ClientSession(connector=connector) as http,
    ):
        bare_port, bot_port = free_port(), free_port()
        bare_url, bot_url = f"http://127.0.0.1:{bare_port}", f"http://127.0.0.1:{bot_port}"
        procs = {
            "bare": bare_process(slack, bare_port),
            "bot": serve_process(slack, f"sqlite+aiosqlite:///{db}", bot_port),
        }
        try:
            await healthy(http, bot_url)
            await wait_listening(http, bare_url)
            opened: list[str] = []
            for size in sizes:
                opened += await open_interviews(http, bot_url, db, size - len(opened))
                bare_threads = [f"{1e9 + i:.6f}" for i in range(size)]
                if size == max(sizes):
                    stop_process(procs["bot"])
                    procs["bot"] = await warnings_due_together(http, slack, db, bot_port, size)
                print(f"{size} open interviews")
                for rate in rates:
                    ours = await load(http, slack, [bot_url], opened, rate, "time")
                    bare = await load(http, slack, [bare_url], bare_threads, rate, "time")
                    print(f" {rate} events/s for {SECONDS:.0f} s")
                    print(line("bare", bare))
                    print(line("ours", ours))
                    for label, p in (("p50", 0.5), ("p99", 0.99)):
                        print(
                            f"  ours/bare ack {label} {pct(ours['acks'], p) / pct(bare['acks'], p):5.1f}x  "
                            f"reply {label} {pct(ours['replies'], p) / pct(bare['replies'], p):5.1f}x"
                        )
            print(
                f"highest sustained rate ({len(opened)} open interviews; every reply within 3 s, "
                f"the last second's within {KEPT_UP:.0f} s):"
            )
            bare_best, _, bare_deadline = await ladder(
                http, slack, [bare_url], [f"{2e9 + i:.6f}" for i in range(len(opened))], "bare"
            )
            ours_best, _, ours_deadline = await ladder(http, slack, [bot_url], opened, "ours")
            print(
                f"  bare {'>= ' if bare_best == LADDER[-1] else ''}{bare_best} events/s, ours {ours_best} "
                f"events/s, ratio {'<= ' if bare_best == LADDER[-1] else ''}{ours_best / bare_best:.2f}"
            )
            top = " (the top of the ladder)" if bare_deadline == LADDER[-1] else ""
            print(
                f"  (every reply within 3 s, kept up or not: bare {bare_deadline}{top}, ours {ours_deadline}, "
                f"ratio {ours_deadline / max(bare_deadline, 1):.2f})"
            )
        finally:
            for proc in procs.values():
                stop_process(proc)
        if not quick:
            open_now = await asyncio.to_thread(clone_interviews, db, 10_000)
            started = time.perf_counter()
            running = await start_bot(slack, folder, pace=1)
            took = time.perf_counter() - started
            print(
                f"start-up with {open_now} open interviews: bootstrap to port open {took * 1000:.0f} ms (in this process)"
            )
            await stop_bot(running)
            # Three fresh processes, asked every 5 ms (at 100 ms, the poll alone could add a tenth)
            fresh = []
            for _ in range(3):
                port = free_port()
                started = time.perf_counter()
                proc = serve_process(slack, f"sqlite+aiosqlite:///{db}", port)
                await healthy(http, f"http://127.0.0.1:{port}", every=0.005)
                fresh.append(time.perf_counter() - started)
                stop_process(proc)
            print(
                "  a new `interview-bot serve` process (Python start, imports, bank): healthy in "
                + ", ".join(f"{took * 1000:.0f}" for took in fresh)
                + f" ms (median {sorted(fresh)[1] * 1000:.0f})"
            )
        if postgres:
            await postgres_processes(slack, http, 100)
            if quota is not None:
                await postgres_processes(slack, http, 100, quota)


async def wait_listening(http: aiohttp.ClientSession, url: str) -> None:
    """Until something answers HTTP at `url` (the bare app has no health route: any status will do)."""
    for _ in range(600):
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(url + "/"):
                return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


if __name__ == "__main__":
    if "--bare-app" in sys.argv:
        asyncio.run(serve_bare_app(int(sys.argv[sys.argv.index("--bare-app") + 1])))
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.CRITICAL)  # jobs cut short when a bot stops
    quota = next((float(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--quota=")), None)
    asyncio.run(main("--quick" in sys.argv, "--postgres" in sys.argv, "--only-postgres" in sys.argv, quota))
