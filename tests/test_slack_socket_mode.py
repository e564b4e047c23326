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
