"""The Slack app manifest asks for the least the bot needs."""

from __future__ import annotations

import re
from pathlib import Path

MANIFEST = Path(__file__).resolve().parent.parent / "bot" / "slack_manifest.yaml"
ALLOWED_SCOPES = {
    "app_mentions:read",
    "channels:history",
    "groups:history",
    "chat:write",
    "commands",
    "files:write",
    "im:write",
    "users:read",
}


def _list_under(text: str, key: str) -> list[str]:
    """The `- item` entries of a YAML list under `key:` (the manifest is kept flat enough for this)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"{key}:")
    indent = len(lines[start]) - len(lines[start].lstrip())
    items = []
    for line in lines[start + 1 :]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        m = re.match(r"\s*-\s+([^\s#]+)", line)
        if m:
            items.append(m.group(1))
    return items


def test_bot_scopes_stay_within_the_allowlist():
    scopes = set(_list_under(MANIFEST.read_text(), "bot"))
    assert scopes, "no scopes found"
    assert scopes <= ALLOWED_SCOPES, scopes - ALLOWED_SCOPES
    assert {"chat:write", "commands", "app_mentions:read"} <= scopes


def test_the_manifest_declares_the_command_events_and_interactivity():
    text = MANIFEST.read_text()
    assert "command: /interview" in text
    assert set(_list_under(text, "bot_events")) == {"app_mention", "message.channels", "message.groups"}
    assert re.search(r"interactivity:\s*\n\s*is_enabled: true", text)
    assert "xoxb-" not in text and "xapp-" not in text
