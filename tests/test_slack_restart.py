"""Durability: the bot killed mid-phase and started again, and timers missed while it was down."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys

import aiohttp
import pytest

from tests import slack_payloads as sp
from tests.slack_harness import SECRET, eventually, slack_ts, start_bot, stop_bot
from tests.slack_standin import SlackStandIn


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(slack: SlackStandIn, db_url: str, port: int, pace: float) -> subprocess.Popen:
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "DATABASE_URL": db_url,
        "INTERVIEW_PACE": str(pace),
        "PORT": str(port),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


async def _healthy(http: aiohttp.ClientSession, url: str, timeout: float = 30) -> None:
    async def ok() -> bool:
        try:
            async with http.get(url + "/healthz") as resp:
                return resp.status == 200
        except aiohttp.ClientError:
            return False

    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await ok():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the bot did not become healthy")


async def test_killed_mid_phase_and_restarted_the_interview_goes_on_and_warnings_fire_once(tmp_path):
    import sqlite3

    db = tmp_path / "bot.db"
    db_url = f"sqlite+aiosqlite:///{db}"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    async with SlackStandIn() as slack, aiohttp.ClientSession() as http:

        async def send(event: dict) -> None:
            body = sp.json_body(sp.event_callback(event))
            status, _ = await sp.post_signed(http, url + "/slack/events", body, "application/json", SECRET)
            assert status == 200

        def candidate_turns() -> list[str]:
            with sqlite3.connect(db) as conn:
                return [
                    r[0] for r in conn.execute("SELECT text FROM turns WHERE role='candidate' ORDER BY seq")
                ]

        def thread_texts(thread: str) -> list[str]:
            return [
                c.params.get("text", "")
                for c in slack.calls_to("chat.postMessage")
                if c.ok and c.params.get("thread_ts") == thread
            ]

        # pace 30: the Requirements warning is due 8 s after the start, time's up at 10 s
        proc = _serve(slack, db_url, port, pace=30)
        try:
            await _healthy(http, url)
            thread = slack_ts()
            await send(sp.app_mention_event("C1", "U1", "<@UBOT> start url shortener", thread))
            await eventually(lambda: any("*Requirements*" in t for t in thread_texts(thread)))
            await send(
                sp.message_event("C1", "U1", "do we need custom aliases?", slack_ts(), thread_ts=thread)
            )
            await eventually(lambda: candidate_turns() == ["do we need custom aliases?"])
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)

            proc = _serve(slack, db_url, port, pace=30)
            await _healthy(http, url)
            await send(
                sp.message_event(
                    "C1", "U1", "users shorten urls and get redirected", slack_ts(), thread_ts=thread
                )
            )
            await eventually(lambda: len(candidate_turns()) == 2)
            await eventually(
                lambda: any(t.startswith("Time's up for Requirements") for t in thread_texts(thread)),
                timeout=20,
            )
            await asyncio.sleep(0.5)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        texts = thread_texts(thread)
        assert texts.count("1 minute left for Requirements.") == 1
        assert sum(t.startswith("Time's up for Requirements") for t in texts) == 1
        assert candidate_turns() == ["do we need custom aliases?", "users shorten urls and get redirected"]


async def test_warnings_missed_while_down_are_not_posted_late_and_an_overdue_phase_moves_on(tmp_path):
    async with SlackStandIn() as slack:
        running = await start_bot(slack, tmp_path, pace=120)
        thread = slack_ts()
        await running.event(sp.app_mention_event("C1", "U1", "<@UBOT> start url shortener", thread))
        await eventually(lambda: any("*Requirements*" in t for t in running.thread_texts(thread)))
        await stop_bot(running)  # down before the first warning (2 s at pace 120)
        assert not any("left for Requirements" in t for t in running.thread_texts(thread))
        posted_before = len(slack.calls_to("chat.postMessage"))
        await asyncio.sleep(4.0)  # the warning (2 s), time's up (2.5 s) and auto-advance (3.75 s) all pass

        running = await start_bot(slack, tmp_path, pace=120)
        try:
            await eventually(lambda: any("*Core Entities*" in t for t in running.thread_texts(thread)))
            late = [c.params["text"] for c in slack.calls_to("chat.postMessage")[posted_before:]]
            assert not any(
                "left for Requirements" in t or t.startswith("Time's up for Requirements") for t in late
            )
            states = dict(
                running.rows("SELECT timer_id, state FROM timers WHERE timer_id LIKE 'requirements:%'")
            )
            assert states == {
                "requirements:warning": "missed",
                "requirements:time_up": "missed",
                "requirements:overrun": "fired",
            }
        finally:
            await stop_bot(running)


async def test_two_processes_firing_the_same_warning_post_it_once(tmp_path):
    async with SlackStandIn() as slack:
        first = await start_bot(slack, tmp_path, pace=600)
        second = await start_bot(slack, tmp_path, pace=600)  # the same database, armed on start-up
        try:
            thread = slack_ts()
            await first.event(sp.app_mention_event("C1", "U1", "<@UBOT> start url shortener", thread))
            await eventually(lambda: first.rows("SELECT status FROM interviews") == [("running",)])
            await second.bot.service.rearm()  # the second process derives its jobs from the database
            iid = first.rows("SELECT id FROM interviews")[0][0]
            await asyncio.gather(
                first.bot.service.fire(iid, "requirements:warning"),
                second.bot.service.fire(iid, "requirements:warning"),
                second.bot.service.fire(iid, "requirements:warning"),
            )
            await asyncio.sleep(0.6)
            texts = first.thread_texts(thread)
            assert texts.count("1 minute left for Requirements.") == 1
        finally:
            await stop_bot(second)
            await stop_bot(first)


@pytest.mark.parametrize("missing", ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"])
def test_serve_refuses_to_start_without_its_secrets(missing, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(
        {
            "SLACK_BOT_TOKEN": "xoxb-x",
            "SLACK_SIGNING_SECRET": "s",
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/b.db",
        }
    )
    env.pop(missing)
    result = subprocess.run([sys.executable, "-m", "bot", "serve"], env=env, capture_output=True, timeout=60)
    assert result.returncode == 2
    lines = [line for line in result.stderr.decode().splitlines() if line.strip()]
    assert len(lines) == 1 and missing in lines[0]
    assert "xoxb-x" not in result.stderr.decode()
