"""The Slack app manifest: valid by Slack's manifest fields, and matched to what the code does."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "bot" / "slack_manifest.yaml"

# Slack's manifest reference (api.slack.com/reference/manifests), the parts this app can use. Unknown
# keys are refused, so a typo is caught here rather than by Slack.
_STR = {"type": "string"}
_BOOL = {"type": "boolean"}
_URL = {"type": "string", "pattern": r"^https://"}
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["display_information"],
    "properties": {
        "_metadata": {"type": "object"},
        "display_information": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 35},
                "description": {"type": "string", "maxLength": 140},
                "long_description": {"type": "string", "minLength": 175, "maxLength": 4000},
                "background_color": {"type": "string", "pattern": r"^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$"},
            },
        },
        "features": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "app_home": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "home_tab_enabled": _BOOL,
                        "messages_tab_enabled": _BOOL,
                        "messages_tab_read_only_enabled": _BOOL,
                    },
                },
                "bot_user": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["display_name"],
                    "properties": {
                        "display_name": {"type": "string", "maxLength": 80},
                        "always_online": _BOOL,
                    },
                },
                "slash_commands": {
                    "type": "array",
                    "maxItems": 50,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["command", "description"],
                        "properties": {
                            "command": {"type": "string", "pattern": r"^/[a-z0-9_-]{1,31}$"},
                            "description": {"type": "string", "maxLength": 2000},
                            "url": _URL,
                            "usage_hint": {"type": "string", "maxLength": 1000},
                            "should_escape": _BOOL,
                        },
                    },
                },
            },
        },
        "oauth_config": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "redirect_urls": {"type": "array", "items": _URL},
                "scopes": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "bot": {
                            "type": "array",
                            "items": {"type": "string", "pattern": r"^[a-z_.]+(:[a-z_.]+)*$"},
                        },
                        "user": {"type": "array", "items": _STR},
                    },
                },
            },
        },
        "settings": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "event_subscriptions": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "request_url": _URL,
                        "bot_events": {"type": "array", "maxItems": 100, "items": _STR, "uniqueItems": True},
                        "user_events": {"type": "array", "items": _STR},
                    },
                },
                "interactivity": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["is_enabled"],
                    "properties": {
                        "is_enabled": _BOOL,
                        "request_url": _URL,
                        "message_menu_options_url": _URL,
                    },
                },
                "org_deploy_enabled": _BOOL,
                "socket_mode_enabled": _BOOL,
                "token_rotation_enabled": _BOOL,
                "allowed_ip_address_ranges": {"type": "array", "items": _STR},
            },
        },
    },
}

# The scope each Web API method the code calls needs (None: no scope). A call missing here fails the
# test below, so a new call is looked up before it ships.
METHOD_SCOPES = {
    "auth_test": None,
    "chat_postMessage": "chat:write",
    "chat_postEphemeral": "chat:write",
    "chat_update": "chat:write",
    "chat_getPermalink": None,
    "conversations_open": "im:write",
    "conversations_replies": "channels:history",
    "users_info": "users:read",
    "views_open": None,
    "views_publish": None,
    "files_upload_v2": "files:write",
}
# Events the bot takes through its inbox middleware rather than a decorator, and what to subscribe.
INBOX_EVENTS = {"app_mention": {"app_mention"}, "message": {"message.channels", "message.groups"}}
EVENT_SCOPES = {
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
}


def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def _code() -> str:
    return "\n".join(p.read_text() for p in sorted((ROOT / "bot").rglob("*.py")))


def test_the_manifest_is_valid_by_slacks_manifest_fields():
    jsonschema.validate(manifest(), SCHEMA)


def test_every_event_the_code_listens_to_is_subscribed():
    subscribed = set(manifest()["settings"]["event_subscriptions"]["bot_events"])
    listened = set(re.findall(r'@app\.event\("([a-z_]+)"\)', _code()))
    needed = set()
    for event in listened | set(INBOX_EVENTS):
        needed |= INBOX_EVENTS.get(event, {event})
    assert needed - subscribed == set()
    assert "app_home_opened" in listened and manifest()["features"]["app_home"]["home_tab_enabled"] is True


def test_every_web_api_method_used_has_its_scope_and_nothing_more_is_asked():
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    used = set(re.findall(r"client\.([A-Za-z_0-9]+)\(", _code()))
    unknown = used - set(METHOD_SCOPES)
    assert unknown == set(), f"look up the scope of {unknown} and add it to METHOD_SCOPES"
    needed = {METHOD_SCOPES[m] for m in used} - {None}
    needed |= {
        EVENT_SCOPES[e]
        for e in manifest()["settings"]["event_subscriptions"]["bot_events"]
        if e in EVENT_SCOPES
    }
    needed |= {"commands"}
    assert needed - scopes == set(), "a scope the code needs is missing"
    assert scopes - needed == set(), "a scope nothing uses is asked for"


def test_every_command_is_handled_and_the_header_tells_the_truth():
    commands = {c["command"] for c in manifest()["features"]["slash_commands"]}
    handled = set(re.findall(r'@app\.command\("(/[a-z_-]+)"\)', _code()))
    assert commands == handled
    settings = manifest()["settings"]
    header = " ".join(line.lstrip("# ") for line in MANIFEST.read_text().splitlines() if line.startswith("#"))
    if settings["socket_mode_enabled"]:
        assert "socket_mode_enabled: true" not in header
    else:
        assert "set socket_mode_enabled to true" in header
    assert "xoxb-" not in MANIFEST.read_text() and "xapp-" not in MANIFEST.read_text()
