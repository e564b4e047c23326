"""Slack's text markup, decoded on the way in and encoded on the way out, here and nowhere else.

Everything the engine, the bank and the store hold is plain text. Slack sends message text with
`&`, `<` and `>` escaped and with mentions, channel references and links as `<...>` markup; it
is turned into what the person saw before it is stored. Every piece of user or problem text that
goes into a bot message is escaped, so it can never ping (`<!channel>`, `<!subteam^...>`,
`<@U...>`), reference a channel or hide a link behind a label.
"""

from __future__ import annotations

import re

_MARKUP = re.compile(r"<([^<>]*)>")
_USER_ID = re.compile(r"[UW][A-Z0-9]+")


def escape(text: str) -> str:
    """Plain text made inert in a Slack message (mrkdwn or plain): & < > escaped."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_all(value):
    """`escape` applied to every string inside a JSON-like value (a recap, say)."""
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, dict):
        return {k: escape_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_all(v) for v in value]
    return value


def mention(user_id: str) -> str:
    """A ping for a real Slack user id; anything else is shown as escaped text."""
    return f"<@{user_id}>" if _USER_ID.fullmatch(user_id or "") else escape(user_id or "someone")


def _plain_markup(match: re.Match) -> str:
    inner = match.group(1)
    target, _, label = inner.partition("|")
    if target.startswith("@"):  # <@U123> or <@U123|bob>
        return "@" + (label or target[1:])
    if target.startswith("#"):  # <#C123|general>
        return "#" + (label or target[1:])
    if target.startswith("!"):  # <!channel>, <!here>, <!subteam^S1|@team>, <!date^...|text>
        word = target[1:].split("^", 1)[0]
        return label or "@" + word
    if label:  # a link with a label: show both, so nothing hides where it goes
        return f"{label} ({target})"
    return target


def from_slack(text: str) -> str:
    """The plain text a person saw for Slack message text: markup spelled out, entities decoded."""
    plain = _MARKUP.sub(_plain_markup, text or "")
    return plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
