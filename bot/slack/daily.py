"""Daily problem prompts: a channel's schedule in its own time zone, one post per scheduled local day."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from slack_sdk.errors import SlackApiError

from bot.models import ScheduleRow
from bot.slack import blocks as bk
from bot.slack.escape import escape
from bot.slack.service import InterviewService, StartRequest
from flows.framework import LEVELS, PHASE_SPECS, phase_budget_seconds
from flows.problem import CATEGORIES, Problem

log = logging.getLogger("interview_bot.slack.daily")

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAYS = "mon,tue,wed,thu,fri"
# A post missed because the bot was down this long is still sent; one missed by more is not.
CATCH_UP = timedelta(minutes=15)
USAGE = (
    "Usage: `/interview daily HH:MM [time zone] [weekdays|everyday|mon,wed,fri] [level] [category]`, "
    "e.g. `/interview daily 09:30 Europe/Berlin mon,wed,fri senior`. Also `/interview daily` (show), "
    "`/interview daily off`, `/interview daily skip YYYY-MM-DD`."
)
ACTION_SOLO = "daily_start_solo"
ACTION_TEAM = "daily_start_team"
TEAM = "*team*"


class DailyInputError(ValueError):
    """A `/interview daily` command that cannot be understood; the message shows the right form."""


@dataclass(frozen=True)
class DailySettings:
    """What `/interview daily HH:MM ...` asked for."""

    hhmm: str
    tz: str | None
    days: str
    level: str
    category: str | None


def parse_days(word: str) -> str | None:
    """weekdays / everyday / a list like mon,wed,fri -> "mon,wed,fri"; None if it is not a day list."""
    low = word.lower()
    if low in ("weekdays", "weekday"):
        return WEEKDAYS
    if low in ("everyday", "daily", "every-day"):
        return ",".join(DAYS)
    parts = [p[:3] for p in low.split(",") if p]
    if parts and all(p in DAYS for p in parts) and all(len(p) >= 3 for p in low.split(",") if p):
        return ",".join(sorted(set(parts), key=DAYS.index))
    return None


def parse_settings(text: str) -> DailySettings:
    """Parse `HH:MM [tz] [days] [level] [category]` in any order after the time."""
    words = text.split()
    if not words or not re.fullmatch(r"\d{1,2}:\d{2}", words[0]):
        raise DailyInputError(f"Start with the time as HH:MM. {USAGE}")
    hour, minute = (int(x) for x in words[0].split(":"))
    if hour > 23 or minute > 59:
        raise DailyInputError(f"{words[0]} is not a time of day. {USAGE}")
    tz = days = level = category = None
    for word in words[1:]:
        low = word.lower()
        if low in LEVELS and level is None:
            level = low
        elif low in CATEGORIES and category is None:
            category = low
        elif (d := parse_days(word)) is not None and days is None:
            days = d
        elif ("/" in word or word.upper() == "UTC") and tz is None:
            try:
                ZoneInfo(word)
            except (ZoneInfoNotFoundError, ValueError):
                raise DailyInputError(
                    f"'{word}' is not a time zone; use an IANA name like America/New_York. {USAGE}"
                ) from None
            tz = word
        else:
            raise DailyInputError(f"I don't understand '{word}'. {USAGE}")
    return DailySettings(f"{hour:02d}:{minute:02d}", tz, days or WEEKDAYS, level or "senior", category)


def trigger_for(schedule: ScheduleRow) -> CronTrigger:
    """APScheduler's cron trigger for a schedule, in the channel's time zone."""
    hour, minute = (int(x) for x in schedule.hhmm.split(":"))
    return CronTrigger(hour=hour, minute=minute, day_of_week=schedule.days, timezone=ZoneInfo(schedule.tz))


def next_post(schedule: ScheduleRow, now: datetime) -> datetime | None:
    """The next post time after `now`, skipping the days to skip."""
    trigger = trigger_for(schedule)
    skips = set(json.loads(schedule.skips or "[]"))
    moment = now
    for _ in range(800):
        fire = trigger.get_next_fire_time(None, moment)
        if fire is None:
            return None
        if fire < moment:
            # APScheduler 3's CronTrigger can answer a time in the past for a wall time that
            # occurs twice (the fall-back hour); step past it rather than fire in a loop.
            moment += timedelta(hours=1)
            continue
        if fire.date().isoformat() not in skips:
            return fire
        moment = fire + timedelta(seconds=1)
    return None


def rotation_pick(candidates: list[Problem], history: list[str], channel: str) -> Problem:
    """The next problem: none repeats until every candidate has been posted in this channel."""
    slugs = {p.slug for p in candidates}
    relevant = [s for s in history if s in slugs]
    in_cycle = relevant[len(relevant) - len(relevant) % len(candidates) :] if candidates else []
    remaining = [p for p in candidates if p.slug not in set(in_cycle)] or candidates
    return min(remaining, key=lambda p: hashlib.sha1(f"{channel}:{p.slug}".encode()).hexdigest())


def prompt_blocks(problem: Problem, level: str, local_date: str) -> list[dict]:
    """The problem of the day: title, prompt, the phases and their budgets, and the two buttons."""
    phases = " · ".join(
        f"{PHASE_SPECS[p].name} {phase_budget_seconds(p, 1.0) / 60:g} min" for p in problem.phase_ids
    )
    value = json.dumps({"slug": problem.slug, "level": level, "date": local_date})
    return [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"Problem of the day: {problem.title}"[:150]},
        },
        bk._section(escape(problem.prompt)),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{level} level · {phases}"}]},
        bk.button_row(
            "daily",
            bk.button("Start my interview", ACTION_SOLO, value, "primary"),
            bk.button("Start a team interview", ACTION_TEAM, value),
        ),
    ]


class DailyService:
    """Schedules in the database, jobs derived from them, posts claimed before they are sent."""

    def __init__(self, interviews: InterviewService) -> None:
        self.iv = interviews
        self.client = interviews.client
        self.schedules = interviews.schedules

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.iv.clock(), UTC)

    # ------------------------------------------------------------ the command

    async def command(self, channel: str, user: str, rest: str) -> str:
        """Handle `/interview daily ...`; returns the reply for the user."""
        words = rest.split()
        if not words:
            return await self.describe(channel)
        if words[0].lower() == "off":
            await self.schedules.remove(channel)
            self._unarm(channel)
            return "The daily problem is off for this channel."
        if words[0].lower() == "skip":
            return await self._skip(channel, words[1:])
        try:
            wanted = parse_settings(rest)
        except DailyInputError as exc:
            return str(exc)
        tz = wanted.tz or await self._user_tz(user)
        row = await self.schedules.put(
            channel,
            self.iv.clock(),
            hhmm=wanted.hhmm,
            tz=tz,
            days=wanted.days,
            level=wanted.level,
            category=wanted.category,
            created_by=user,
        )
        self.arm(row)
        return "Daily problem set. " + await self.describe(channel)

    async def _skip(self, channel: str, args: list[str]) -> str:
        if len(args) != 1 or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", args[0]):
            return f"Give the day to skip as YYYY-MM-DD, e.g. `/interview daily skip 2026-12-25`. {USAGE}"
        try:
            day = date.fromisoformat(args[0])
        except ValueError:
            return f"{args[0]} is not a date. Use YYYY-MM-DD."
        if not await self.schedules.skip(channel, day.isoformat(), self.iv.clock()):
            return "There is no daily problem in this channel to skip. " + USAGE
        return f"Skipping {day.isoformat()}. " + await self.describe(channel)

    async def describe(self, channel: str) -> str:
        """The schedule and the next post time in the channel's zone."""
        row = await self.schedules.get(channel)
        if row is None:
            return "No daily problem in this channel. " + USAGE
        days = {WEEKDAYS: "weekdays", ",".join(DAYS): "every day"}.get(row.days, row.days)
        text = (
            f"Daily problem at {row.hhmm} {row.tz} on {days} ({row.level}, {row.category or 'any category'})."
        )
        if row.paused:
            return text + f" Paused ({row.paused_reason}); set it again to restart."
        nxt = next_post(row, self._now())
        if nxt is not None:
            text += f" Next post: {nxt.astimezone(ZoneInfo(row.tz)).strftime('%a %d %b %Y %H:%M %Z')}."
        skips = json.loads(row.skips or "[]")
        if skips:
            text += f" Skipping: {', '.join(skips)}."
        return text

    async def _user_tz(self, user: str) -> str:
        try:
            info = await self.client.users_info(user=user)
            tz = info.get("user", {}).get("tz") or "UTC"
            ZoneInfo(tz)
            return tz
        except (SlackApiError, ZoneInfoNotFoundError, ValueError):
            return "UTC"

    # ------------------------------------------------------------ jobs

    def arm(self, row: ScheduleRow, after: datetime | None = None) -> None:
        """(Re)arm the schedule's next post: one date job at a time, from the cron trigger."""
        if row.paused:
            self._unarm(row.channel)
            return
        fire = next_post(row, after or self._now())
        if fire is None:
            return
        delay = max(0.0, (fire - self._now()).total_seconds())
        self.iv.scheduler.add_job(
            self._fire,
            DateTrigger(run_date=datetime.now(UTC) + timedelta(seconds=delay)),
            args=[row.channel, fire],
            id=f"daily:{row.channel}",
            replace_existing=True,
            misfire_grace_time=int(CATCH_UP.total_seconds()),
        )

    def stop_all(self) -> None:
        """No more daily posts anywhere (the app was removed)."""
        for job in self.iv.scheduler.get_jobs():
            if job.id.startswith("daily:"):
                job.remove()

    def _unarm(self, channel: str) -> None:
        job = self.iv.scheduler.get_job(f"daily:{channel}")
        if job:
            job.remove()

    async def _fire(self, channel: str, fire: datetime) -> None:
        try:
            await self.post(channel, fire)
        finally:
            row = await self.schedules.get(channel)
            if row is not None:
                self.arm(row, after=fire + timedelta(seconds=1))

    async def rearm(self) -> int:
        """On start-up: a job per schedule, and a post missed by at most CATCH_UP is sent now."""
        rows = await self.schedules.active()
        now = self._now()
        caught_up = 0
        for row in rows:
            self.arm(row)
            due = next_post(row, now - CATCH_UP)
            if due is not None and due <= now and await self.post(row.channel, due):
                caught_up += 1
        return caught_up

    # ------------------------------------------------------------ posting

    async def post(self, channel: str, fire_time: datetime) -> bool:
        """Post the problem of the local day of `fire_time`, once; True if this call posted it."""
        row = await self.schedules.get(channel)
        history = await self.schedules.posted_problems(channel)
        if row is None or row.paused:
            return False
        tz = ZoneInfo(row.tz)
        local_date = fire_time.astimezone(tz).date().isoformat()
        if local_date in json.loads(row.skips or "[]"):
            return False
        candidates = [p for p in self.iv.bank.values() if row.category in (None, p.category)]
        problem = rotation_pick(candidates or list(self.iv.bank.values()), history, channel)
        if not await self.schedules.claim_post(channel, local_date, problem.slug, self.iv.clock()):
            return False  # already claimed: another process, a retried job, or the fall-back hour
        try:
            posted = await self.client.chat_postMessage(
                channel=channel,
                text=f"Problem of the day: {problem.title}",
                blocks=prompt_blocks(problem, row.level, local_date),
            )
        except SlackApiError as exc:
            await self._pause_after(row, exc.response.get("error", ""))
            return False
        await self.schedules.posted(channel, local_date, posted["ts"])
        return True

    async def _pause_after(self, row: ScheduleRow, error: str) -> None:
        """The bot was removed or the channel archived: pause, and tell the setter once."""
        if error not in ("not_in_channel", "is_archived", "channel_not_found"):
            log.warning("daily post in %s failed: %s", row.channel, error)
            return
        if not await self.schedules.pause(row.channel, error, self.iv.clock()):
            return
        self._unarm(row.channel)
        why = "the channel was archived" if error == "is_archived" else "I am no longer in the channel"
        try:
            dm = await self.client.conversations_open(users=row.created_by)
            await self.client.chat_postMessage(
                channel=dm["channel"]["id"],
                text=f"I paused the daily problem in <#{row.channel}>: {why}. Invite me back and run "
                f"`/interview daily {row.hhmm}` there to restart it.",
            )
        except SlackApiError as exc:
            log.warning(
                "could not tell %s about the paused schedule: %s", row.created_by, exc.response.get("error")
            )

    # ------------------------------------------------------------ the two buttons

    async def start_from_post(
        self, channel: str, post_ts: str, user: str, value: str, team: bool, tell
    ) -> None:
        """Start (or point to) the clicker's interview, or the shared team interview, on the day's problem."""
        data = json.loads(value)
        key = TEAM if team else user
        existing = await self.schedules.start_of(post_ts, key)
        if existing is not None:
            link = await self._permalink(channel, existing.thread_ts)
            which = "the team interview" if team else "your interview"
            await tell(f"You already have {which} on today's problem: {link}")
            return
        request = StartRequest(data["slug"], data["level"], None, team=team)
        thread_ts = post_ts if team else None  # the team shares the prompt's own thread
        interview_id = await self.iv.start(channel, user, request, thread_ts, tell)
        if interview_id is None:
            return
        started = (await self.iv.repository.load(interview_id))[1]
        await self.schedules.started(post_ts, key, interview_id, started.thread_ts)

    async def _permalink(self, channel: str, ts: str) -> str:
        try:
            return (await self.client.chat_getPermalink(channel=channel, message_ts=ts))["permalink"]
        except SlackApiError:
            return "(in this channel)"


def register(app, daily: DailyService, subcommands: dict) -> None:
    """Add `/interview daily` and the prompt's two buttons to the app."""

    async def daily_command(*, ack, command, respond, rest) -> None:
        await ack()
        reply = await daily.command(command["channel_id"], command["user_id"], rest)
        await respond(text=reply, response_type="ephemeral", replace_original=False)

    subcommands["daily"] = bk.Subcommand(
        "daily [HH:MM [zone] [days] [level] [category] | off | skip YYYY-MM-DD]",
        "a problem of the day in this channel at a set time",
        daily_command,
    )

    async def start(ack, body, action, client, team: bool) -> None:
        await ack()
        user = body["user"]["id"]
        channel = body.get("channel", {}).get("id") or body["container"]["channel_id"]
        post_ts = body.get("message", {}).get("ts") or body["container"]["message_ts"]

        async def tell(text: str) -> None:
            await client.chat_postEphemeral(channel=channel, user=user, text=text)

        await daily.start_from_post(channel, post_ts, user, action["value"], team, tell)

    @app.action(ACTION_SOLO)
    async def start_solo(ack, body, action, client) -> None:
        await start(ack, body, action, client, team=False)

    @app.action(ACTION_TEAM)
    async def start_team(ack, body, action, client) -> None:
        await start(ack, body, action, client, team=True)
