"""The same interview over Socket Mode: envelopes over a WebSocket from the stand-in, acknowledged."""

from __future__ import annotations

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

from bot.slack.serve import web_client
from tests import slack_payloads as sp
from tests.slack_harness import eventually, slack_ts, start_bot, stop_bot
from tests.slack_standin import SlackStandIn


async def test_an_interview_over_socket_mode_runs_in_its_thread_to_the_recap(tmp_path):
    async with SlackStandIn() as slack:
        running = await start_bot(slack, tmp_path, pace=600)
        settings = running.bot.settings
        handler = AsyncSocketModeHandler(
            running.bot.app,
            settings.slack_app_token,
            web_client=web_client(settings, running.bot.http, settings.slack_app_token),
        )
        try:
            await handler.connect_async()
            await slack.wait_for_socket()
            opened = slack.calls_to("apps.connections.open")
            assert opened and opened[0].headers.get("Authorization") == f"Bearer {slack.app_token}"

            thread = slack_ts()
            mention = sp.event_callback(
                sp.app_mention_event("C1", "U1", "<@UBOT> start url shortener", thread)
            )
            envelope = await slack.send_socket_envelope("events_api", mention)
            await slack.wait_for_ack(envelope)
            await eventually(lambda: any("*Requirements*" in t for t in running.thread_texts(thread)))

            for text in (
                "do we need custom aliases? users shorten urls",
                "next",
                "next",
                "next",
                "next",
                "next",
            ):
                event = sp.event_callback(sp.message_event("C1", "U1", text, slack_ts(), thread_ts=thread))
                await slack.wait_for_ack(await slack.send_socket_envelope("events_api", event))
            await slack.wait_for("files.completeUploadExternal", timeout=20)

            command = sp.slash_command_payload("help", user_id="U1", channel_id="C1")
            acked = await slack.wait_for_ack(await slack.send_socket_envelope("slash_commands", command))
            assert "/interview start" in str(acked.get("payload", ""))
        finally:
            await handler.close_async()
            await stop_bot(running)
        texts = running.thread_texts(thread)
        assert any(t.startswith("Recap:") for t in texts)
        assert running.rows("SELECT status FROM interviews") == [("ended",)]
        assert [r[0] for r in running.rows("SELECT phase FROM turns WHERE role='candidate'")] == [
            "requirements"
        ]


async def test_serve_over_socket_mode_needs_no_signing_secret(tmp_path):
    import asyncio
    import os
    import signal
    import subprocess
    import sys

    import aiohttp

    from tests.test_slack_restart import _free_port, _healthy

    async with SlackStandIn() as slack, aiohttp.ClientSession() as http:
        port = _free_port()
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_APP_TOKEN": slack.app_token,
            "SLACK_API_URL": slack.api_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            "PORT": str(port),
        }
        env.pop("SLACK_SIGNING_SECRET", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--socket-mode"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            await _healthy(http, f"http://127.0.0.1:{port}")
            await slack.wait_for_socket()
            thread = slack_ts()
            mention = sp.event_callback(
                sp.app_mention_event("C1", "U1", "<@UBOT> start url shortener", thread)
            )
            await slack.wait_for_ack(await slack.send_socket_envelope("events_api", mention))
            await slack.wait_for(
                "chat.postMessage", where=lambda c: "*Requirements*" in c.params.get("text", ""), timeout=10
            )
            async with http.post(f"http://127.0.0.1:{port}/slack/events", data=b"{}") as resp:
                assert resp.status == 404  # no signing secret: no HTTP events, nothing to forge
        finally:
            proc.send_signal(signal.SIGTERM)
            output = await asyncio.to_thread(lambda: proc.communicate(timeout=15)[0].decode())
        assert proc.returncode == 0
        assert "Traceback" not in output


async def test_no_request_waits_on_auth_test_after_start_up(tmp_path):
    async with SlackStandIn() as slack:
        running = await start_bot(slack, tmp_path, pace=1.0)
        try:
            slack.server_error("auth.test", times=None)  # the Web API is in trouble from now on
            status, body = await running.command("help")
            assert status == 200 and "/interview start" in body
            assert len(slack.calls_to("auth.test")) == 1  # the one at start-up
        finally:
            await stop_bot(running)
