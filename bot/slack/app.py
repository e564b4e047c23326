"""The bolt AsyncApp: thin listeners that acknowledge first, then hand the work to the service."""

from __future__ import annotations

import logging
import re

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.app.inbox import InboxItem
from bot.settings import Settings
from bot.slack import blocks as bk
from bot.slack import daily as daily_mod
from bot.slack import history, lifecycle, team
from bot.slack import pair as pair_mod
from bot.slack.escape import escape, from_slack, mention
from bot.slack.service import InterviewService, parse_start
from flows.engine import ALREADY_DONE

log = logging.getLogger("interview_bot.slack")

_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")


def start_words(text: str, bot_user_id: str) -> str | None:
    """What follows `start` in a message that mentions the bot and says start first; else None.

    "<@UBOT> start url shortener" -> "url shortener"; "<@U2> restarted it" or "we started" -> None.
    """
    if not any(m.group(1) == bot_user_id for m in _MENTION.finditer(text or "")):
        return None
    first, _, rest = _MENTION.sub(" ", text).strip().partition(" ")
    return from_slack(rest).strip() if first.lower() == "start" else None


def inbox_item(body: dict, bot_user_id: str) -> InboxItem | None:
    """What an Events API callback brings to the inbox: an answer, an edit, a mention, or just its id."""
    event_id = body.get("event_id") if body.get("type") == "event_callback" else None
    if not event_id:
        return None
    event = body.get("event") or {}
    channel = event.get("channel", "")
    if event.get("type") == "app_mention":
        thread_ts = event.get("thread_ts") or event.get("ts", "")
        return InboxItem(
            event_id,
            "mention",
            channel,
            thread_ts,
            event.get("user", ""),
            event.get("ts", ""),
            event.get("text", ""),
        )
    if event.get("type") == "message":
        subtype = event.get("subtype")
        if subtype == "message_changed":
            message = event.get("message") or {}
            thread_ts = message.get("thread_ts")
            if thread_ts and thread_ts != message.get("ts") and not message.get("bot_id"):
                return InboxItem(
                    event_id,
                    "edit",
                    channel,
                    thread_ts,
                    message.get("user", ""),
                    message.get("ts", ""),
                    from_slack(message.get("text", "")),
                )
        elif subtype is None and not event.get("bot_id"):
            thread_ts, user, text = event.get("thread_ts"), event.get("user", ""), event.get("text", "")
            in_thread = thread_ts and thread_ts != event.get("ts")
            starts = start_words(text, bot_user_id) is not None  # the app_mention event handles those
            if in_thread and user and user != bot_user_id and not starts:
                return InboxItem(
                    event_id, "message", channel, thread_ts, user, event.get("ts", ""), from_slack(text)
                )
    return InboxItem(event_id, "seen")


def _where(body: dict) -> tuple[str, str]:
    """The channel and thread of the message a button was on."""
    channel = body.get("channel", {}).get("id") or body.get("container", {}).get("channel_id", "")
    message = body.get("message", {})
    return channel, message.get("thread_ts") or message.get("ts") or body.get("container", {}).get(
        "message_ts", ""
    )


def build_app(
    settings: Settings,
    client: AsyncWebClient,
    service: InterviewService,
    pair: pair_mod.PairService,
    daily: daily_mod.DailyService,
    auth: dict,
) -> AsyncApp:
    """The Slack app, built from settings and its collaborators (no module-level app).

    `auth` is the auth.test answer the bot got at start-up: bolt authorizes every request from it,
    so no request ever waits on a Web API call before it is acknowledged.
    """

    async def authorize(**_) -> AuthorizeResult:
        return AuthorizeResult.from_auth_test_response(auth_test_response=auth, bot_token=client.token)

    app = AsyncApp(
        name="interview-bot",  # without one, bolt reads the whole call stack (~15 ms at start-up)
        # the same session, base URL and retries, without a token: it comes from `authorize`
        client=AsyncWebClient(
            base_url=client.base_url,
            session=client.session,
            timeout=client.timeout,
            retry_handlers=client.retry_handlers,
        ),
        authorize=authorize,
        signing_secret=settings.slack_signing_secret or "socket-mode-has-no-signing-secret",
        process_before_response=False,
        ignoring_self_events_enabled=True,
        raise_error_for_unhandled_request=False,
    )
    runner = service.runner

    # `/interview <sub>`: the app's own, then what the feature modules add; help is generated from it
    subcommands: dict[str, bk.Subcommand] = {
        "start": bk.Subcommand(
            "start [team] [problem] [junior|senior|staff] [minutes]", "start an interview in a thread here"
        ),
        "pair": bk.Subcommand(
            "pair @interviewer @candidate [problem] [level] [minutes]",
            "a pair interview; the interviewer gets a private guide and a scorecard",
        ),
        "problems": bk.Subcommand("problems", "the problem bank"),
    }
    # --- feature modules register here (each adds its own subcommands, actions and events) ---
    history.register(app, service, subcommands)
    team.register(app, service, subcommands)
    daily_mod.register(app, daily, subcommands)
    lifecycle.register(app, service, daily)
    subcommands["help"] = bk.Subcommand("help", "this list")

    @app.middleware
    async def store_before_ack(body: dict, next) -> BoltResponse | None:  # noqa: A002
        """Answers, edits and mentions are stored in the inbox before the acknowledgement, in the
        same insert that claims the event id; a retried event or a replayed command finds the claim."""
        item = inbox_item(body, service.bot_user_id)
        if item is None and body.get("command") and body.get("trigger_id"):
            item = InboxItem(f"command:{body['trigger_id']}", "seen")
        if item is not None:
            if not await service.submit(item):
                return BoltResponse(status=200, body="")
            if item.kind != "seen":
                return BoltResponse(status=200, body="")  # the runner applies it from the inbox
        return await next()

    async def mentioned(item: InboxItem) -> None:
        async def tell(message: str) -> None:
            await client.chat_postMessage(
                channel=item.channel, thread_ts=item.thread_ts, text=f"{mention(item.user)} {message}"
            )

        rest = start_words(item.text, service.bot_user_id)
        if rest is None:
            await tell("Say `@interview-bot start [problem] [level] [minutes]` to start an interview here.")
            return
        await service.start(item.channel, item.user, parse_start(rest), item.thread_ts, tell)

    runner.inbox.handlers["mention"] = mentioned

    @app.event("message")
    async def other_message() -> None:
        """Messages that are no answer (bot posts, joins, top-level chatter): acknowledged, nothing else."""

    @app.command("/interview")
    async def interview_command(ack, command, respond) -> None:
        words = (command.get("text") or "").strip().split(maxsplit=1)
        sub = words[0].lower() if words else "help"
        raw = words[1] if len(words) > 1 else ""
        rest = from_slack(raw)  # with should_escape, Slack sends mentions and & < > as markup
        if sub == "help":
            await ack(text=bk.help_text(subcommands))
            return
        if sub == "problems":
            await ack(text=bk.problems_text(service.bank))
            return
        if sub == "pair":
            await ack()

            async def tell_pair(text: str) -> None:
                await respond(text=text, response_type="ephemeral", replace_original=False)

            await pair.start(command["channel_id"], command["user_id"], raw, tell_pair)
            return
        entry = subcommands.get(sub)
        if entry is not None and entry.handler is not None:
            await entry.handler(ack=ack, command=command, respond=respond, rest=rest)
            return
        if sub != "start":
            await ack(text=f"I don't know `/interview {escape(sub)}`. " + bk.help_text(subcommands))
            return
        await ack()

        async def tell(text: str) -> None:
            await respond(text=text, response_type="ephemeral", replace_original=False)

        await service.start(command["channel_id"], command["user_id"], parse_start(rest), None, tell)

    async def refuse(client, body: dict, text: str) -> None:
        channel = body.get("channel", {}).get("id") or body.get("container", {}).get("channel_id")
        message = body.get("message", {})
        await client.chat_postEphemeral(
            channel=channel,
            user=body["user"]["id"],
            text=text,
            thread_ts=message.get("thread_ts") or message.get("ts"),
        )

    async def control(body: dict, action: dict, word: str, interview_id: str, **data) -> bool:
        """Store a button press in the inbox (claimed by its trigger id); False for a replay."""
        channel, thread_ts = _where(body)
        key = body.get("trigger_id") or f"{action.get('action_ts', '')}:{body['user']['id']}"
        item = InboxItem(
            f"action:{key}",
            "control",
            channel,
            thread_ts,
            body["user"]["id"],
            action.get("action_ts", ""),
            data={"interview_id": interview_id, "word": word, **data},
        )
        return await service.submit(item)

    @app.action(re.compile(r"^interview_(next|hint|end|pause|resume)$"))
    async def control_button(ack, body, action, client) -> None:
        interview_id, shown_for = bk.parse_control_value(action["value"])
        word = bk.CONTROL_ACTIONS[action["action_id"]]
        fresh = await control(body, action, word, interview_id, shown_for=shown_for)
        await ack()
        if not fresh:
            await refuse(client, body, ALREADY_DONE)
            return
        if action["action_id"] == bk.ACTION_END:
            row = await service.repository.in_thread(*_where(body))
            if row is not None and row.mode == "pair" and body["user"]["id"] == row.interviewer_id:
                # the interviewer ended a pair interview: the scorecard opens at once (the trigger expires)
                await runner.inbox.flush(*_where(body))
                refusal = await pair.open_scorecard(interview_id, body["user"]["id"], body["trigger_id"])
                if refusal and "interviewer" in refusal:
                    await refuse(client, body, refusal)

    @app.action(pair_mod.ACTION_CANCEL)
    async def cancel_pair(ack, body, action, client) -> None:
        who = body["user"].get("username") or body["user"].get("name") or "someone"
        fresh = await control(body, action, "cancel", action["value"], by=f"@{who}")
        await ack()
        if not fresh:
            await refuse(client, body, ALREADY_DONE)

    @app.action(pair_mod.ACTION_SCORECARD)
    async def open_scorecard(ack, body, action, client) -> None:
        await ack()
        refusal = await pair.open_scorecard(action["value"], body["user"]["id"], body["trigger_id"])
        if refusal:
            await refuse(client, body, refusal)

    @app.action(pair_mod.ACTION_SELF_RATING)
    async def open_self_rating(ack, body, action, client) -> None:
        await ack()
        refusal = await pair.open_self_rating(action["value"], body["user"]["id"], body["trigger_id"])
        if refusal:
            await refuse(client, body, refusal)

    @app.view("pair_scorecard")
    async def scorecard_submitted(ack, body, view) -> None:
        user = body["user"]["id"]
        scorecard, errors = await pair.check_scorecard(user, view)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        await pair.save_scorecard(user, view, scorecard)

    @app.view("pair_self_rating")
    async def self_rating_submitted(ack, body, view) -> None:
        rating, errors = await pair.check_self_rating(body["user"]["id"], view)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        await pair.save_self_rating(view, rating)

    @app.error
    async def on_error(error, body) -> None:
        # Never log the body: it can carry users' text. The type and the error are enough.
        log.error(
            "listener failed on a %s request: %r",
            body.get("type", "?") if isinstance(body, dict) else "?",
            error,
        )

    return app
