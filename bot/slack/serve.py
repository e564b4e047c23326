"""`interview-bot serve`: the bot over HTTP (aiohttp) or Socket Mode, with its database and timers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.app.outbox import OutboxSender
from bot.app.runner import InterviewRunner
from bot.app.timers import SchedulerTimers
from bot.db import AsyncEngine, open_database
from bot.settings import Settings, SettingsError
from bot.slack import lifecycle
from bot.slack.app import build_app
from bot.slack.daily import DailyService
from bot.slack.pair import PairService
from bot.slack.service import InterviewService
from bot.slack.surface import SlackSurface
from bot.stores import can_write
from problems import load_bank

log = logging.getLogger("interview_bot.serve")

_TOKEN = re.compile(r"xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+")
MAX_BODY_BYTES = 1024 * 1024
TIMER_WINDOW = 120.0  # seconds ahead that timers hold a scheduler job; polled every half of it
HEALTH_SECONDS = 2.0  # a database that cannot take a small write this fast is not healthy
HEARTBEAT = f"serve:{socket.gethostname()}:{os.getpid()}"


class RedactTokens(logging.Filter):
    """Scrub anything shaped like a Slack token from every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _TOKEN.search(message):
            record.msg, record.args = _TOKEN.sub("[token]", message), ()
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """Log to standard error, with tokens redacted."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("slack_bolt").setLevel(logging.WARNING)
    logging.getLogger("slack_sdk").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


@dataclass
class Bot:
    """Everything `serve` wires together: one shared HTTP session, one client, one app."""

    settings: Settings
    engine: AsyncEngine
    http: aiohttp.ClientSession
    client: AsyncWebClient
    scheduler: AsyncIOScheduler
    runner: InterviewRunner
    outbox: OutboxSender
    service: InterviewService
    pair: PairService
    daily: DailyService
    app: AsyncApp

    async def close(self) -> None:
        """Stop timers, let work in flight finish, then close the HTTP session and the database.

        What is stored but not yet applied or sent stays in the inbox and outbox for the next start.
        """
        self.scheduler.shutdown(wait=False)
        if not await self.runner.stop():
            log.warning("closing with work still in flight")
        await self.outbox.stop()
        await self.http.close()
        await self.engine.dispose()


def web_client(settings: Settings, session: aiohttp.ClientSession, token: str) -> AsyncWebClient:
    """A Web API client on the shared session, retrying connection errors, 5xx and 429s."""
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        session=session,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


async def bootstrap(settings: Settings, clock: Callable[[], float] = time.time) -> Bot:
    """The composition root: database, client, scheduler, runner, surfaces, plugins and app.

    Then what a previous run left: timers re-armed, inbox rows applied, outbox rows sent.
    """
    engine, sessions = await open_database(settings.database_url)
    http = aiohttp.ClientSession()
    client = web_client(settings, http, settings.slack_bot_token)
    scheduler = AsyncIOScheduler()
    surface = SlackSurface(client)
    outbox = OutboxSender(sessions, {"slack": surface}, clock=clock)
    timers = SchedulerTimers(scheduler, clock=clock)
    runner = InterviewRunner(
        sessions, load_bank(), timers, outbox, clock=clock, timer_window=TIMER_WINDOW, llm=settings.llm
    )
    timers.fire = runner.fire
    service = InterviewService(client, runner, scheduler, pace=settings.pace, clock=clock)
    try:
        auth = await client.auth_test()  # once, here: never on a request's path
    except Exception as exc:  # noqa: BLE001 - reported in one line, without the token
        await http.close()
        await engine.dispose()
        raise SettingsError(
            f"Slack rejected the bot token or is unreachable: {exc.__class__.__name__}"
        ) from None
    service.bot_user_id = auth.get("user_id", "")
    service.team_id = auth.get("team_id", "")
    pair = PairService(service)
    surface.pair = pair
    daily = DailyService(service)
    app = build_app(settings, client, service, pair, daily, auth.data)
    scheduler.start()
    counts = await runner.rearm()
    caught_up = await daily.rearm()
    outbox.start()
    runner.start()
    lifecycle.schedule_retention(service, settings.retention_days)
    scheduler.add_job(runner.arm_window, IntervalTrigger(seconds=TIMER_WINDOW / 2), id="timer-window")
    log.info("re-armed timers: %s; daily posts caught up: %d", counts, caught_up)
    return Bot(settings, engine, http, client, scheduler, runner, outbox, service, pair, daily, app)


def http_app(bot: Bot) -> web.Application:
    """POST /slack/events (signed requests only) and GET /healthz.

    Without a signing secret (Socket Mode needs none) only /healthz is served.
    """
    secret = bot.settings.slack_signing_secret
    verifier = SignatureVerifier(secret) if secret else None

    async def slack_events(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return web.json_response({"error": "request too large"}, status=413)
        body = await request.read()
        if len(body) > MAX_BODY_BYTES:
            return web.json_response({"error": "request too large"}, status=413)
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        try:
            valid = bool(timestamp and signature) and verifier.is_valid(body, timestamp, signature)
        except ValueError:  # a timestamp that is not a number
            valid = False
        if not valid:
            log.info("rejected a request with a missing or invalid signature or a stale timestamp")
            return web.json_response({"error": "invalid request"}, status=401)
        bolt_response = await bot.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    async def healthz(_request: web.Request) -> web.Response:
        try:
            ok = await asyncio.wait_for(
                can_write(bot.runner.sessions, HEARTBEAT, time.time()), HEALTH_SECONDS
            )
        except TimeoutError:
            ok = False
        return web.json_response({"ok": ok}, status=200 if ok else 503)

    application = web.Application(client_max_size=MAX_BODY_BYTES)
    if verifier is not None:
        application.router.add_post("/slack/events", slack_events)
    application.router.add_get("/healthz", healthz)
    return application


async def run(settings: Settings, socket_mode: bool, stop: asyncio.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or `stop` is set)."""
    bot = await bootstrap(settings)
    # What start-up made (modules, the problem bank, the app) lives as long as the process: keep it
    # out of the garbage collector's sight, so that a full collection, which stops the event loop,
    # does not scan it every time (~25 ms for it alone).
    gc.collect()
    gc.freeze()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    runner: web.AppRunner | None = None
    handler = None
    try:
        if socket_mode:
            from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

            app_client = web_client(settings, bot.http, settings.slack_app_token)
            handler = AsyncSocketModeHandler(bot.app, settings.slack_app_token, web_client=app_client)
            await handler.connect_async()
            log.info("connected over Socket Mode")
        runner = web.AppRunner(http_app(bot), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "0.0.0.0", settings.port)  # noqa: S104 - Slack must reach it
        await site.start()
        log.info("listening on port %d (POST /slack/events, GET /healthz)", settings.port)
        print(f"interview-bot: serving on port {settings.port}", flush=True)
        await stop.wait()
    finally:
        if handler is not None:
            await handler.close_async()
        if runner is not None:
            await runner.cleanup()
        await bot.close()


def serve(settings: Settings, socket_mode: bool = False) -> int:
    """Entry point of `interview-bot serve`: check settings, then run."""
    if not settings.slack_bot_token:
        raise SettingsError("SLACK_BOT_TOKEN is not set: create the app from the manifest (see README)")
    if socket_mode and not settings.slack_app_token:
        raise SettingsError("SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token (xapp-...)")
    if not socket_mode and not settings.slack_signing_secret:
        raise SettingsError("SLACK_SIGNING_SECRET is not set: HTTP mode verifies every request with it")
    configure_logging()
    asyncio.run(run(settings, socket_mode))
    return 0
