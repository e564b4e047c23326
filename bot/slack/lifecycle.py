"""The app's own life in the workspace: removed, or its tokens revoked, and old data let go.

Removing the app (or revoking its bot token) stops all work at once and deletes everything the bot
stored for the workspace: it can no longer post, and nobody can ask it to forget them any more.
With INTERVIEW_RETENTION_DAYS set, interviews older than that are deleted every hour.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.interval import IntervalTrigger

from bot.slack.daily import DailyService
from bot.slack.service import InterviewService

log = logging.getLogger("interview_bot.slack")

PRUNE_AFTER = timedelta(days=1)  # inbox claims and sent messages: Slack retries stop within minutes
RETENTION_JOB = "retention"


async def forget_the_workspace(service: InterviewService, daily: DailyService) -> int:
    """Stop every timer and daily post and delete everything stored; returns the interviews deleted."""
    daily.stop_all()
    count = await service.runner.purge(None)
    log.info("the app was removed or its token revoked: deleted %d interviews and all settings", count)
    return count


async def apply_retention(service: InterviewService, days: int | None) -> int:
    """Delete interviews older than `days` (if set), and old inbox claims and sent messages."""
    now = datetime.fromtimestamp(service.clock(), UTC)
    await service.runner.prune((now - PRUNE_AFTER).timestamp())
    if not days:
        return 0
    count = await service.runner.purge(now - timedelta(days=days))
    if count:
        log.info("retention: deleted %d interviews older than %d days", count, days)
    return count


def schedule_retention(service: InterviewService, days: int | None) -> None:
    """Run `apply_retention` every hour on the bot's scheduler."""
    service.scheduler.add_job(
        apply_retention,
        IntervalTrigger(hours=1),
        args=[service, days],
        id=RETENTION_JOB,
        replace_existing=True,
        next_run_time=datetime.now(UTC),
    )


def register(app, service: InterviewService, daily: DailyService) -> None:
    """Listen for the app being removed and for revoked tokens."""

    def ours(body: dict) -> bool:
        return not service.team_id or body.get("team_id") in (None, service.team_id)

    @app.event("app_uninstalled")
    async def uninstalled(body) -> None:
        if ours(body):
            await forget_the_workspace(service, daily)

    @app.event("tokens_revoked")
    async def revoked(body, event) -> None:
        if ours(body) and (event.get("tokens") or {}).get("bot"):
            await forget_the_workspace(service, daily)
