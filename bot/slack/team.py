"""Team practice in a channel: `/interview stats` for this week's interviews, scores and streaks."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.slack import blocks as bk
from bot.slack.escape import mention
from flows import framework as fw

WEEK = timedelta(days=7)


@dataclass(frozen=True)
class _Activity:
    id: str
    user_id: str | None
    team: bool
    created_at: datetime


@dataclass(frozen=True)
class ChannelStats:
    """This week's team practice in one channel."""

    channel: str
    interviews: int
    team_interviews: int
    participants: list[str]
    phase_averages: dict[str, float]  # phase id -> average score over this week's recaps
    recaps: int
    streaks: dict[str, int]  # user -> consecutive days with an interview, counting back from today


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def streak(days: set[date], today: date, scheduled=lambda day: True) -> int:
    """Consecutive scheduled days with an interview, counting back from today (0 if none today).

    Days the channel's schedule leaves out (weekends of a weekday schedule, skipped holidays)
    neither count nor break a streak; without a schedule every calendar day is scheduled.
    """
    count, day = 0, today
    for _ in range(3660):
        if scheduled(day):
            if day not in days:
                break
            count += 1
        day -= timedelta(days=1)
    return count


async def _schedule_of(service, channel: str):
    """The channel's daily schedule: (its zone, a test of whether a local date is scheduled)."""
    row = await service.schedules.get(channel)
    if row is None:
        return UTC, lambda day: True
    weekdays = {("mon", "tue", "wed", "thu", "fri", "sat", "sun").index(d) for d in row.days.split(",")}
    skips = set(json.loads(row.skips or "[]"))
    return ZoneInfo(row.tz), lambda day: day.weekday() in weekdays and day.isoformat() not in skips


async def channel_stats(service, channel: str) -> ChannelStats:
    """Read the channel's interviews, participants, recaps and streaks from the database."""
    now = datetime.fromtimestamp(service.clock(), UTC)
    rows, authors, recaps = await service.history.channel_activity(channel)
    rows = [_Activity(*r) for r in rows]

    zone, scheduled = await _schedule_of(service, channel)
    days_by_user: dict[str, set[date]] = defaultdict(set)
    week_ids: list[str] = []
    participants: list[str] = []
    team_count = 0
    for r in sorted(rows, key=lambda r: _utc(r.created_at)):
        created = _utc(r.created_at)
        people = ({r.user_id} if r.user_id else set()) | (authors[r.id] if r.team else set())
        for person in people:
            days_by_user[person].add(created.astimezone(zone).date())
        if now - created <= WEEK:
            week_ids.append(r.id)
            team_count += bool(r.team)
            participants += sorted(p for p in people if p not in participants)

    scores: dict[str, list[int]] = defaultdict(list)
    week_recaps = [recaps[i] for i in week_ids if i in recaps]
    for recap in week_recaps:
        for p in recap.get("phases", []):
            scores[p["phase"]].append(p["score"])
    averages = {ph: round(sum(scores[ph]) / len(scores[ph]), 1) for ph in fw.PHASE_SPECS if scores.get(ph)}
    today = now.astimezone(zone).date()
    streaks = {p: streak(days_by_user[p], today, scheduled) for p in participants}
    return ChannelStats(channel, len(week_ids), team_count, participants, averages, len(week_recaps), streaks)


def stats_text(stats: ChannelStats) -> str:
    """The stats as one ephemeral message."""
    if not stats.interviews:
        return (
            f"No interviews in <#{stats.channel}> in the last 7 days. Start one with `/interview start team`."
        )
    plural = "s" if stats.interviews != 1 else ""
    lines = [
        f"*This week in <#{stats.channel}>* (last 7 days): {stats.interviews} interview{plural}"
        f" ({stats.team_interviews} team).",
        "Participants: " + ", ".join(mention(p) for p in stats.participants),
    ]
    if stats.phase_averages:
        averages = ", ".join(
            f"{fw.PHASE_SPECS[ph].name} {avg:.1f}" for ph, avg in stats.phase_averages.items()
        )
        lines.append(
            f"Average score per phase over {stats.recaps} recap{'s' if stats.recaps != 1 else ''}: {averages}"
        )
    else:
        lines.append("No recaps yet this week.")
    ranked = sorted(stats.streaks.items(), key=lambda kv: (-kv[1], stats.participants.index(kv[0])))
    lines.append(
        "Streaks (consecutive days with an interview): "
        + ", ".join(f"{mention(p)} {n} day{'s' if n != 1 else ''}" for p, n in ranked)
    )
    return "\n".join(lines)


def register(app, service, subcommands: dict) -> None:
    """Add `/interview stats` to the subcommands of `/interview`."""

    async def stats(*, ack, command, respond, rest) -> None:
        """This week's interviews, participants, per-phase averages and streaks in the channel."""
        await ack()
        text = stats_text(await channel_stats(service, command["channel_id"]))
        await respond(text=text, response_type="ephemeral", replace_original=False)

    subcommands["stats"] = bk.Subcommand(
        "stats", "this week's interviews, scores and streaks in this channel", stats
    )
