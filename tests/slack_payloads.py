"""Requests in the shapes Slack sends them (Events API, slash commands, interactivity), and their signing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import string
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import aiohttp

TEAM_ID = "T0001"
"""The workspace the payloads come from (the stand-in's team_id)."""
TEAM_DOMAIN = "standin"
"""That workspace's subdomain."""
APP_ID = "A0001"
"""The app the payloads are for (the stand-in's app_id)."""
BOT_USER_ID = "UBOT"
"""The app's bot user (the stand-in's bot_user_id)."""
BOT_ID = "BBOT"
"""The app's bot ID (the stand-in's bot_id)."""
VERIFICATION_TOKEN = "standin-verification-token"
"""The deprecated verification token Slack still puts in every payload (bolt ignores it unless configured)."""

HOOKS_BASE = "https://hooks.slack.com"
"""Where response_url links point when no stand-in is running."""

_response_url_base: str | None = None

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>|<#(C[A-Z0-9]+)(?:\|[^>]*)?>")


# ---------------------------------------------------------------- ids, urls and signing


def set_response_url_base(base: str | None) -> str | None:
    """Point new response_url links at `base` (None: hooks.slack.com); returns the previous base."""
    global _response_url_base
    previous, _response_url_base = _response_url_base, base
    return previous


def new_response_url(kind: str = "commands", team_id: str = TEAM_ID) -> str:
    """A fresh response_url like Slack's, on the running stand-in when there is one."""
    base = (_response_url_base or HOOKS_BASE).rstrip("/")
    return f"{base}/{kind}/{team_id}/{_digits(13)}/{secrets.token_urlsafe(18)}"


def new_trigger_id() -> str:
    """A fresh trigger_id in Slack's format (digits.digits.hex)."""
    return f"{_digits(13)}.{_digits(12)}.{secrets.token_hex(16)}"


def new_event_id() -> str:
    """A fresh Events API event_id ("Ev" + 9 upper-case letters and digits)."""
    return "Ev" + _random_id(9)


def new_ts(offset: float = 0.0) -> str:
    """A message timestamp for now (plus `offset` seconds), as Slack formats it."""
    return f"{time.time() + offset:.6f}"


def sign(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 signature headers for `body`: HMAC-SHA256 of "v0:{ts}:{body}" with the signing secret."""
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    base = b"v0:" + ts.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + digest}


def retry_headers(num: int = 1, reason: str = "http_timeout") -> dict[str, str]:
    """The headers Slack adds when it delivers an event again."""
    return {"X-Slack-Retry-Num": str(num), "X-Slack-Retry-Reason": reason}


def json_body(d: dict) -> bytes:
    """A payload as the compact UTF-8 JSON body Slack sends."""
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def form_body(fields: dict[str, Any]) -> bytes:
    """Fields as an application/x-www-form-urlencoded body."""
    return urlencode(fields).encode("ascii")


async def post_signed(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    content_type: str,
    secret: str,
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    """POST a body signed like Slack signs it; returns (status, response text)."""
    all_headers = {
        "Content-Type": content_type,
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        **sign(body, secret, timestamp),
        **(headers or {}),
    }
    async with session.post(url, data=body, headers=all_headers) as resp:
        return resp.status, await resp.text()


# ---------------------------------------------------------------- Events API


def event_callback(
    event: dict,
    event_id: str | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
) -> dict:
    """The Events API envelope around `event` (the JSON body of the HTTP request, or the Socket Mode payload)."""
    context = {
        "et": event.get("type", ""),
        "tid": team_id,
        "aid": api_app_id,
        "cid": event.get("channel", ""),
    }
    encoded = (
        base64.urlsafe_b64encode(json.dumps(context, separators=(",", ":")).encode()).decode().rstrip("=")
    )
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or new_event_id(),
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + encoded,
    }


def url_verification(challenge: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P") -> dict:
    """The one-off check Slack makes when the Request URL is saved."""
    return {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}


def rich_text(text: str) -> list[dict]:
    """The rich_text block Slack's clients attach to a typed message, mentions as user/channel elements."""
    elements: list[dict] = []
    pos = 0
    for match in _MENTION.finditer(text):
        if match.start() > pos:
            elements.append({"type": "text", "text": text[pos : match.start()]})
        if match.group(1):
            elements.append({"type": "user", "user_id": match.group(1)})
        else:
            elements.append({"type": "channel", "channel_id": match.group(2)})
        pos = match.end()
    if pos < len(text):
        elements.append({"type": "text", "text": text[pos:]})
    return [
        {
            "type": "rich_text",
            "block_id": _random_id(5, string.ascii_letters + string.digits),
            "elements": [{"type": "rich_text_section", "elements": elements}],
        }
    ]


def message_event(
    channel: str,
    user: str,
    text: str,
    ts: str,
    thread_ts: str | None = None,
    channel_type: str = "channel",
    team_id: str = TEAM_ID,
) -> dict:
    """A `message` event as a person's new message (top level, or a reply when `thread_ts` is given)."""
    event = _typed_message(user, text, ts, thread_ts, team_id)
    event.update({"channel": channel, "event_ts": ts, "channel_type": channel_type})
    return event


def app_mention_event(
    channel: str, user: str, text: str, ts: str, thread_ts: str | None = None, team_id: str = TEAM_ID
) -> dict:
    """An `app_mention` event; `text` carries the mention, e.g. "<@UBOT> start url shortener"."""
    event = _typed_message(user, text, ts, thread_ts, team_id)
    event["type"] = "app_mention"
    event.update({"channel": channel, "event_ts": ts})
    return event


def message_changed_event(
    channel: str,
    user: str,
    new_text: str,
    ts: str,
    thread_ts: str | None,
    edited_ts: str,
    previous_text: str = "",
    channel_type: str = "channel",
    team_id: str = TEAM_ID,
) -> dict:
    """A `message` event, subtype `message_changed`: the message at `ts` edited at `edited_ts`."""
    message = {
        **_typed_message(user, new_text, ts, thread_ts, team_id),
        "edited": {"user": user, "ts": edited_ts},
    }
    previous = _typed_message(user, previous_text, ts, thread_ts, team_id)
    return {
        "type": "message",
        "subtype": "message_changed",
        "message": message,
        "previous_message": previous,
        "channel": channel,
        "hidden": True,
        "ts": edited_ts,
        "event_ts": edited_ts,
        "channel_type": channel_type,
    }


def bot_message_event(
    channel: str,
    text: str,
    ts: str,
    thread_ts: str | None = None,
    bot_id: str = "B0OTHER",
    username: str = "other-bot",
    app_id: str = "A0OTHER",
    channel_type: str = "channel",
) -> dict:
    """A `message` event, subtype `bot_message`, from another app's bot."""
    event: dict[str, Any] = {
        "type": "message",
        "subtype": "bot_message",
        "text": text,
        "ts": ts,
        "username": username,
        "bot_id": bot_id,
        "app_id": app_id,
        "channel": channel,
        "event_ts": ts,
        "channel_type": channel_type,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


# ---------------------------------------------------------------- slash commands


def slash_command_payload(
    text: str,
    user_id: str = "U1",
    channel_id: str = "C1",
    command: str = "/interview",
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
    response_url: str | None = None,
    user_name: str | None = None,
    channel_name: str | None = None,
) -> dict[str, str]:
    """A slash command's fields, in Slack's order (the form body over HTTP, the payload over Socket Mode)."""
    if channel_name is None:
        channel_name = "directmessage" if channel_id.startswith("D") else "general"
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name or user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url or new_response_url("commands", team_id),
        "trigger_id": trigger_id or new_trigger_id(),
    }


def slash_command(
    text: str,
    user_id: str = "U1",
    channel_id: str = "C1",
    command: str = "/interview",
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
    response_url: str | None = None,
) -> bytes:
    """A slash command as the form-encoded body Slack POSTs."""
    return form_body(
        slash_command_payload(text, user_id, channel_id, command, team_id, trigger_id, response_url)
    )


# ---------------------------------------------------------------- interactivity


def block_actions_payload(
    user_id: str,
    action_id: str,
    value: str,
    channel_id: str,
    message_ts: str,
    thread_ts: str | None = None,
    block_id: str = "controls",
    message_text: str = "",
    message_blocks: list[dict] | None = None,
    button_text: str = "Button",
    response_url: str | None = None,
    team_id: str = TEAM_ID,
) -> dict:
    """A button press on a bot message, as the `block_actions` payload."""
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel_id,
        "is_ephemeral": False,
    }
    message: dict[str, Any] = {
        "user": BOT_USER_ID,
        "type": "message",
        "ts": message_ts,
        "bot_id": BOT_ID,
        "app_id": APP_ID,
        "text": message_text,
        "team": team_id,
        "blocks": message_blocks if message_blocks is not None else [],
    }
    if thread_ts:
        container["thread_ts"] = thread_ts
        message["thread_ts"] = thread_ts
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": new_trigger_id(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "directmessage" if channel_id.startswith("D") else "general"},
        "message": message,
        "state": {"values": {}},
        "response_url": response_url or new_response_url("actions", team_id),
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": button_text, "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def block_actions(
    user_id: str,
    action_id: str,
    value: str,
    channel_id: str,
    message_ts: str,
    thread_ts: str | None = None,
    block_id: str = "controls",
) -> bytes:
    """A button press as the body Slack POSTs: "payload=" + the URL-encoded JSON."""
    payload = block_actions_payload(user_id, action_id, value, channel_id, message_ts, thread_ts, block_id)
    return interactive_body(payload)


def view_submission_payload(
    user_id: str,
    callback_id: str,
    values: dict,
    private_metadata: str = "",
    view_id: str = "V1",
    team_id: str = TEAM_ID,
) -> dict:
    """A modal submitted, as the `view_submission` payload; plain strings in `values` become text inputs."""
    state = {
        block_id: {
            action_id: v if isinstance(v, dict) else {"type": "plain_text_input", "value": v}
            for action_id, v in actions.items()
        }
        for block_id, actions in values.items()
    }
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": new_trigger_id(),
        "view": {
            "id": view_id,
            "team_id": team_id,
            "type": "modal",
            "blocks": [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": state},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": {"type": "plain_text", "text": "Modal", "emoji": True},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": None,
            "submit": {"type": "plain_text", "text": "Submit", "emoji": True},
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": APP_ID,
            "external_id": "",
            "app_installed_team_id": team_id,
            "bot_id": BOT_ID,
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_submission(
    user_id: str, callback_id: str, values: dict, private_metadata: str = "", view_id: str = "V1"
) -> bytes:
    """A modal submitted, as the body Slack POSTs: "payload=" + the URL-encoded JSON."""
    return interactive_body(view_submission_payload(user_id, callback_id, values, private_metadata, view_id))


def interactive_body(payload: dict) -> bytes:
    """An interactivity payload as the form body Slack POSTs ("payload=" + URL-encoded compact JSON)."""
    return form_body({"payload": json.dumps(payload, separators=(",", ":"))})


# ---------------------------------------------------------------- internals


def _typed_message(user: str, text: str, ts: str, thread_ts: str | None, team_id: str) -> dict:
    message: dict[str, Any] = {
        "type": "message",
        "user": user,
        "text": text,
        "ts": ts,
        "client_msg_id": str(uuid.uuid4()),
        "team": team_id,
        "blocks": rich_text(text),
    }
    if thread_ts:
        message["thread_ts"] = thread_ts
    return message


def _digits(n: int) -> str:
    return str(secrets.randbelow(9) + 1) + "".join(secrets.choice(string.digits) for _ in range(n - 1))


def _random_id(n: int, alphabet: str = string.ascii_uppercase + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))
