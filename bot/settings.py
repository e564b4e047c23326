"""Configuration, read once from the environment into a frozen object; explicit arguments win."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.llm import LlmConfig

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///interview_bot.db"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message is one line for the user."""


@dataclass(frozen=True)
class Settings:
    """Everything the bot reads from its environment."""

    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_api_url: str = DEFAULT_SLACK_API_URL
    database_url: str = DEFAULT_DATABASE_URL
    port: int = 3000
    pace: float = 1.0
    retention_days: int | None = None  # interviews older than this are deleted; None keeps them
    llm: LlmConfig | None = None  # INTERVIEW_LLM_*: a model that judges phases beside the rubric

    def __repr__(self) -> str:  # never print tokens
        return (
            f"Settings(slack_api_url={self.slack_api_url!r}, port={self.port}, pace={self.pace}, "
            f"tokens={'set' if self.slack_bot_token else 'unset'})"
        )


def _positive_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise SettingsError(f"{name} must be a positive number")
    return value


def _retention_days(raw: str) -> int | None:
    if not raw.strip():
        return None
    try:
        days = int(raw)
    except ValueError:
        raise SettingsError(f"INTERVIEW_RETENTION_DAYS must be a whole number of days, not {raw!r}") from None
    if not 1 <= days <= 36500:
        raise SettingsError("INTERVIEW_RETENTION_DAYS must be between 1 and 36500")
    return days


def _llm(env: Mapping[str, str]) -> LlmConfig | None:
    from bot.llm import LlmConfig  # bot.llm reports its errors as SettingsError, defined above

    return LlmConfig.from_env(env)


def load_settings(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (None means 'not given')."""
    env = os.environ if env is None else env
    port_raw = env.get("PORT", "3000")
    try:
        port = int(port_raw)
    except ValueError:
        raise SettingsError(f"PORT must be an integer, not {port_raw!r}") from None
    api_url = env.get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
    if not api_url.endswith("/"):
        api_url += "/"
    values: dict[str, object] = {
        "slack_bot_token": env.get("SLACK_BOT_TOKEN", ""),
        "slack_signing_secret": env.get("SLACK_SIGNING_SECRET", ""),
        "slack_app_token": env.get("SLACK_APP_TOKEN", ""),
        "slack_api_url": api_url,
        "database_url": env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        "port": port,
        "pace": _positive_float("INTERVIEW_PACE", env.get("INTERVIEW_PACE", "1") or "1"),
        "retention_days": _retention_days(env.get("INTERVIEW_RETENTION_DAYS", "")),
        "llm": _llm(env),
    }
    for key, value in overrides.items():
        if value is not None:
            values[key] = value
    return Settings(**values)
