"""The real bot, in process, served over HTTP on 127.0.0.1 against the Slack stand-in."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import json
import os
import re
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.settings import Settings
from bot.slack.serve import Bot, bootstrap, http_app
from tests import slack_payloads as sp
from tests.slack_standin import SlackStandIn

SECRET = "test-signing-secret"

# `INTERVIEW_TEST_DATABASE=postgresql` runs every bot the harness starts on a fresh database of one
# throwaway PostgreSQL server (.ci/run runs the Slack end-to-end tests that way as well).
BACKEND = os.environ.get("INTERVIEW_TEST_DATABASE", "sqlite")
_pg_server = None
_pg_lock = threading.Lock()
_pg_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-rows")


_pg_databases: dict[str, str] = {}


def _postgres_url(place: Path) -> str:
    """The database of a test folder on the shared throwaway PostgreSQL server: created empty the
    first time, the same one when a test restarts its bot (as the SQLite file would be)."""
    global _pg_server
    from tests.postgres_server import PostgresServer

    with _pg_lock:
        if _pg_server is None:
            _pg_server = PostgresServer().start()
            atexit.register(_pg_server.stop)
        known = _pg_databases.get(str(place))
        if known:
            return known
        name = f"t_{uuid.uuid4().hex[:12]}"
        _pg_query(_pg_server.url, f"CREATE DATABASE {name}", ())
        url = _pg_databases[str(place)] = _pg_server.url.rsplit("/", 1)[0] + "/" + name
        return url


def _pg_query(url: str, sql: str, args: tuple) -> list[tuple]:
    """Run one statement on PostgreSQL from synchronous test code (sqlite3-style ? placeholders)."""
    import asyncpg

    count = iter(range(1, 1000))
    sql = re.sub(r"\?", lambda _m: f"${next(count)}", sql)
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")

    async def run() -> list[tuple]:
        conn = await asyncpg.connect(dsn)
        try:
            return [tuple(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()

    return _pg_pool.submit(asyncio.run, run()).result(timeout=30)


def slack_ts(offset: float = 0.0) -> str:
    """A Slack message timestamp for now (plus an offset in seconds)."""
    return f"{time.time() + offset:.6f}"


@dataclass
class RunningBot:
    """A bot under test: its URL, its database file, and ways to talk to it like Slack does."""

    bot: Bot
    url: str
    db: Path
    slack: SlackStandIn
    http: aiohttp.ClientSession
    runner: web.AppRunner
    sent: list[float] = field(default_factory=list)
    database_url: str = ""

    async def post(self, body: bytes, content_type: str, **kwargs) -> tuple[int, str]:
        """Send a signed request to POST /slack/events; returns (status, text)."""
        return await sp.post_signed(
            self.http, self.url + "/slack/events", body, content_type, SECRET, **kwargs
        )

    async def event(self, event: dict, event_id: str | None = None) -> tuple[int, str]:
        """Deliver an Events API callback."""
        return await self.post(sp.json_body(sp.event_callback(event, event_id=event_id)), "application/json")

    async def command(self, text: str, user: str = "U1", channel: str = "C1") -> tuple[int, str]:
        """Run `/interview TEXT`."""
        body = sp.slash_command(text, user_id=user, channel_id=channel)
        return await self.post(body, "application/x-www-form-urlencoded")

    async def press(
        self, user: str, action_id: str, interview_id: str, channel: str, thread_ts: str
    ) -> tuple[int, str]:
        """Press a control button on a bot message in a thread."""
        body = sp.block_actions(user, action_id, interview_id, channel, thread_ts, thread_ts=thread_ts)
        return await self.post(body, "application/x-www-form-urlencoded")

    def rows(self, sql: str, *args) -> list[tuple]:
        """Read the bot's database directly (SQLite or PostgreSQL)."""
        if self.database_url.startswith("postgresql"):
            return _pg_query(self.database_url, sql, args)
        with sqlite3.connect(self.db) as conn:
            return conn.execute(sql, args).fetchall()

    def thread_texts(self, thread_ts: str) -> list[str]:
        """Texts the bot posted in a thread, in order."""
        return [
            c.params.get("text", "")
            for c in self.slack.calls_to("chat.postMessage")
            if c.ok and c.params.get("thread_ts") == thread_ts
        ]


async def start_bot(
    slack: SlackStandIn,
    tmp_path: Path,
    pace: float = 600.0,
    database_url: str | None = None,
    clock=time.time,
    **settings_overrides,
) -> RunningBot:
    """Bootstrap the bot as `serve` does and serve it on an ephemeral port (SQLite unless told)."""
    db = tmp_path / "bot.db"
    if database_url is None and BACKEND == "postgresql":
        database_url = await asyncio.to_thread(_postgres_url, db)
    settings = Settings(
        slack_bot_token=slack.bot_token,
        slack_signing_secret=SECRET,
        slack_app_token=slack.app_token,
        slack_api_url=slack.api_url,
        database_url=database_url or f"sqlite+aiosqlite:///{db}",
        port=0,
        pace=pace,
        **settings_overrides,
    )
    bot = await bootstrap(settings, clock=clock)
    runner = web.AppRunner(http_app(bot), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return RunningBot(
        bot,
        f"http://127.0.0.1:{port}",
        db,
        slack,
        aiohttp.ClientSession(),
        runner,
        database_url=settings.database_url,
    )


async def stop_bot(running: RunningBot) -> None:
    """Stop serving and close everything."""
    await running.http.close()
    await running.runner.cleanup()
    await running.bot.close()


async def eventually(check, timeout: float = 10.0, interval: float = 0.02):
    """Wait until `check()` returns something truthy; fail with its last value."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met in {timeout}s (last value: {value!r})")


def blocks_of(call) -> list[dict]:
    """A recorded call's blocks, parsed."""
    raw = call.params.get("blocks")
    if raw is None:
        return []
    return json.loads(raw) if isinstance(raw, str) else raw
