"""The bolt AsyncApp: thin listeners that acknowledge first, then hand the work to the service."""

from __future__ import annotations

import logging
import re

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings
from bot.slack import blocks as bk
from bot.slack import daily, history, team
from bot.slack import pair as pair_mod
from bot.slack.service import InterviewService, parse_start

log = logging.getLogger("interview_bot.slack")

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def build_app(settings: Settings, client: AsyncWebClient, service: InterviewService) -> AsyncApp:
    """The Slack app, built from settings and its collaborators (no module-level app)."""
    app = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret or "socket-mode-has-no-signing-secret",
        process_before_response=False,
        ignoring_self_events_enabled=True,
        raise_error_for_unhandled_request=False,
    )

    # `/interview <sub>` handlers added by the feature modules: name -> async (ack, command, respond, rest)
    subcommands: dict = {}
    # --- feature modules register here (each adds its own subcommands, actions and events) ---
    history.register(app, service, subcommands)
    team.register(app, service, subcommands)
    daily.register(app, service, subcommands)

    @app.middleware
    async def handle_each_event_once(body: dict, next) -> BoltResponse | None:  # noqa: A002
        """A retried event (same event_id) is handled once; the claim lives in the database."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not await service.claim_event(event_id):
            return BoltResponse(status=200, body="")
        return await next()

    @app.command("/interview")
    async def interview_command(ack, command, respond) -> None:
        words = (command.get("text") or "").strip().split(maxsplit=1)
        sub = words[0].lower() if words else "help"
        rest = words[1] if len(words) > 1 else ""
        if sub == "help":
            await ack(text=bk.HELP_TEXT)
            return
        if sub == "problems":
            await ack(text=bk.problems_text(service.bank))
            return
        if sub == "pair":
            await ack()

            async def tell_pair(text: str) -> None:
                await respond(text=text, response_type="ephemeral", replace_original=False)

            if service.pair is None:
                await tell_pair("Pair interviews are not enabled.")
                return
            await service.pair.start(command["channel_id"], command["user_id"], rest, tell_pair)
            return
        handler = subcommands.get(sub)
        if handler is not None:
            await handler(ack=ack, command=command, respond=respond, rest=rest)
            return
        if sub != "start":
            await ack(text=f"I don't know `/interview {sub}`. " + bk.HELP_TEXT)
            return
        await ack()

        async def tell(text: str) -> None:
            await respond(text=text, response_type="ephemeral", replace_original=False)

        await service.start(command["channel_id"], command["user_id"], parse_start(rest), None, tell)

    @app.event("app_mention")
    async def mentioned(event, client) -> None:
        text = _MENTION.sub("", event.get("text", "")).strip()
        channel, user = event["channel"], event.get("user", "")
        thread_ts = event.get("thread_ts") or event["ts"]

        async def tell(message: str) -> None:
            await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=f"<@{user}> {message}")

        first, _, rest = text.partition(" ")
        if first.lower() != "start":
            await tell("Say `@interview-bot start [problem] [level] [minutes]` to start an interview here.")
            return
        await service.start(channel, user, parse_start(rest), thread_ts, tell)

    @app.event("message")
    async def thread_message(event) -> None:
        subtype = event.get("subtype")
        if subtype == "message_changed":
            message = event.get("message", {})
            thread_ts = message.get("thread_ts")
            if thread_ts and thread_ts != message.get("ts") and not message.get("bot_id"):
                await service.on_edit(
                    event["channel"],
                    thread_ts,
                    message.get("user", ""),
                    message.get("text", ""),
                    message["ts"],
                )
            return
        if subtype is not None or event.get("bot_id"):
            return  # bot messages, joins, deletions and the like are not answers
        thread_ts = event.get("thread_ts")
        user = event.get("user", "")
        if not thread_ts or thread_ts == event.get("ts") or user == service.bot_user_id:
            return
        if _MENTION.search(event.get("text", "")) and "start" in event.get("text", "").lower():
            return  # a mention that starts an interview is handled by app_mention
        await service.on_message(event["channel"], thread_ts, user, event.get("text", ""), event["ts"])

    async def refuse(client, body: dict, text: str) -> None:
        channel = body.get("channel", {}).get("id") or body.get("container", {}).get("channel_id")
        message = body.get("message", {})
        await client.chat_postEphemeral(
            channel=channel,
            user=body["user"]["id"],
            text=text,
            thread_ts=message.get("thread_ts") or message.get("ts"),
        )

    @app.action(re.compile(r"^interview_(next|hint|end|pause|resume)$"))
    async def control_button(ack, body, action, client) -> None:
        await ack()
        user = body["user"]["id"]
        refusal = await service.on_button(action["value"], user, action["action_id"])
        if refusal:
            await refuse(client, body, refusal)
        elif action["action_id"] == bk.ACTION_END and service.pair is not None:
            # the interviewer ended a pair interview: the scorecard opens at once
            refusal = await service.pair.open_scorecard(action["value"], user, body["trigger_id"])
            if refusal and "interviewer" in refusal:
                await refuse(client, body, refusal)

    @app.action(pair_mod.ACTION_CANCEL)
    async def cancel_pair(ack, body, action, client) -> None:
        await ack()
        refusal = await service.pair.cancel(action["value"], body["user"]["id"])
        if refusal:
            await refuse(client, body, refusal)

    @app.action(pair_mod.ACTION_SCORECARD)
    async def open_scorecard(ack, body, action, client) -> None:
        await ack()
        refusal = await service.pair.open_scorecard(action["value"], body["user"]["id"], body["trigger_id"])
        if refusal:
            await refuse(client, body, refusal)

    @app.action(pair_mod.ACTION_SELF_RATING)
    async def open_self_rating(ack, body, action, client) -> None:
        await ack()
        refusal = await service.pair.open_self_rating(action["value"], body["user"]["id"], body["trigger_id"])
        if refusal:
            await refuse(client, body, refusal)

    @app.view("pair_scorecard")
    async def scorecard_submitted(ack, body, view) -> None:
        user = body["user"]["id"]
        scorecard, errors = await service.pair.check_scorecard(user, view)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        await service.pair.save_scorecard(user, view, scorecard)

    @app.view("pair_self_rating")
    async def self_rating_submitted(ack, body, view) -> None:
        rating, errors = await service.pair.check_self_rating(body["user"]["id"], view)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        await service.pair.save_self_rating(view, rating)

    @app.error
    async def on_error(error, body) -> None:
        # Never log the body: it can carry users' text. The type and the error are enough.
        log.error(
            "listener failed on a %s request: %r",
            body.get("type", "?") if isinstance(body, dict) else "?",
            error,
        )

    return app
