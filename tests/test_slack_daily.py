"""Daily problem prompts through signed HTTP and a scheduler driven by a clock the test controls."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.models import ScheduleRow
from bot.slack import daily as dm
from tests import slack_payloads as sp
from tests.slack_harness import eventually, start_bot, stop_bot
from tests.slack_standin import SlackStandIn

CHANNEL, SETTER, ALICE, BOB = "C1", "USETTER", "UALICE", "UBOB"


class SettableClock:
    """Wall time, unless the test pins it."""

    def __init__(self) -> None:
        self.pinned: float | None = None

    def __call__(self) -> float:
        return self.pinned if self.pinned is not None else time.time()


@pytest.fixture
async def slack():
    async with SlackStandIn() as standin:
        standin.add_user(SETTER, tz="Europe/Berlin")
        for user in (ALICE, BOB):
            standin.add_user(user)
        yield standin


@pytest.fixture
def clock():
    return SettableClock()


@pytest.fixture
async def running(slack, tmp_path, clock):
    bot = await start_bot(slack, tmp_path, pace=60, clock=clock)
    yield bot
    await stop_bot(bot)


async def daily_cmd(running, slack, text: str, user: str = SETTER) -> str:
    before = len(slack.response_url_posts)
    status, _ = await running.command(f"daily {text}".strip(), user=user, channel=CHANNEL)
    assert status == 200
    posts = await slack.wait_for_response_url(count=before + 1)
    return posts[before]["text"]


def prompts(slack) -> list:
    return [
        c
        for c in slack.calls_to("chat.postMessage")
        if c.ok and c.params.get("text", "").startswith("Problem of the day")
    ]


def daily_service(running) -> dm.DailyService:
    return running.bot.daily


async def schedule(running) -> ScheduleRow:
    async with running.bot.runner.sessions() as session:
        return await session.get(ScheduleRow, CHANNEL)


async def test_setting_showing_skipping_and_stopping_a_schedule(running, slack):
    reply = await daily_cmd(running, slack, "09:30 weekdays staff")
    assert (
        "Daily problem at 09:30 Europe/Berlin on weekdays (staff, any category)" in reply
    )  # the setter's zone
    assert "Next post:" in reply and ("CET" in reply or "CEST" in reply)
    shown = await daily_cmd(running, slack, "", user=ALICE)
    assert "09:30 Europe/Berlin" in shown
    reply = await daily_cmd(running, slack, "skip 2026-12-25")
    assert "Skipping: 2026-12-25" in reply
    reply = await daily_cmd(running, slack, "07:00 America/New_York mon,wed,fri junior geo")
    assert "07:00 America/New_York on mon,wed,fri (junior, geo)" in reply
    assert await daily_cmd(running, slack, "off") == "The daily problem is off for this channel."
    assert "No daily problem in this channel" in await daily_cmd(running, slack, "")
    assert running.rows("SELECT count(*) FROM schedules") == [(0,)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9.30", "Start with the time as HH:MM"),
        ("25:00", "is not a time of day"),
        ("09:30 Mars/Olympus", "is not a time zone"),
        ("09:30 funday", "I don't understand 'funday'"),
        ("skip tomorrow", "YYYY-MM-DD"),
        ("skip 2026-02-30", "is not a date"),
    ],
)
async def test_invalid_input_gets_the_right_form(running, slack, text, expected):
    reply = await daily_cmd(running, slack, text)
    assert expected in reply
    if "skip" not in text:
        assert "/interview daily HH:MM" in reply
    assert running.rows("SELECT count(*) FROM schedules") == [(0,)]


async def test_a_prompt_posted_by_the_scheduler_and_its_two_buttons(running, slack):
    await daily_cmd(running, slack, "09:00 UTC everyday")
    row = await schedule(running)
    fire = dm.next_post(row, datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    assert fire == datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo("UTC"))
    assert await daily_service(running).post(CHANNEL, fire)
    prompt = prompts(slack)[0]
    blocks = prompt.params["blocks"]
    assert blocks[0]["type"] == "header" and "Problem of the day" in blocks[0]["text"]["text"]
    assert "Requirements 5 min" in json.dumps(blocks)
    buttons = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons == [dm.ACTION_SOLO, dm.ACTION_TEAM]
    value = blocks[3]["elements"][0]["value"]
    post_ts = (
        prompt.response["ts"]
        if isinstance(prompt.response, dict)
        else running.rows("SELECT ts FROM daily_posts")[0][0]
    )

    async def click(user, action):
        body = sp.block_actions(user, action, value, CHANNEL, post_ts)
        status, _ = await running.post(body, "application/x-www-form-urlencoded")
        assert status == 200

    await click(ALICE, dm.ACTION_SOLO)
    await eventually(lambda: running.rows("SELECT count(*) FROM daily_starts") == [(1,)])
    alice_thread = running.rows("SELECT thread_ts FROM interviews WHERE user_id=?", ALICE)[0][0]
    assert alice_thread != post_ts
    await click(ALICE, dm.ACTION_SOLO)  # a second click points to her thread
    again = await slack.wait_for("chat.postEphemeral", where=lambda c: c.params.get("user") == ALICE)
    assert "You already have your interview" in again[0].params["text"]
    assert running.rows("SELECT count(*) FROM interviews") == [(1,)]
    await click(BOB, dm.ACTION_TEAM)
    await eventually(lambda: running.rows("SELECT count(*) FROM daily_starts") == [(2,)])
    assert running.rows("SELECT thread_ts, team FROM interviews WHERE user_id=?", BOB) == [(post_ts, 1)]
    await click(ALICE, dm.ACTION_TEAM)
    joined = await slack.wait_for(
        "chat.postEphemeral", where=lambda c: "the team interview" in c.params.get("text", "")
    )
    assert joined[0].params["user"] == ALICE
    assert running.rows("SELECT count(*) FROM interviews") == [(2,)]


async def test_rotation_never_repeats_until_the_filtered_bank_is_done(running, slack):
    await daily_cmd(running, slack, "09:00 UTC everyday storage")
    storage = sorted(p.slug for p in running.bot.service.bank.values() if p.category == "storage")
    service = daily_service(running)
    day = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    for i in range(len(storage) + 1):
        assert await service.post(CHANNEL, day + timedelta(days=i))
    posted = [r[0] for r in running.rows("SELECT problem FROM daily_posts ORDER BY local_date")]
    assert sorted(posted[: len(storage)]) == storage
    assert posted[-1] in storage


@pytest.mark.parametrize(
    ("zone", "start", "hhmm"),
    [
        ("America/New_York", "2026-03-06", "02:30"),  # spring forward: 02:30 does not exist on 03-08
        ("America/New_York", "2026-10-30", "01:30"),  # fall back: 01:30 happens twice on 11-01
        ("Europe/Berlin", "2026-03-27", "02:30"),
        ("Europe/Berlin", "2026-10-23", "02:30"),
        ("America/New_York", "2026-10-30", "09:00"),
    ],
)
async def test_one_post_per_local_day_across_daylight_saving_changes(running, slack, zone, start, hhmm):
    await daily_cmd(running, slack, f"{hhmm} {zone} everyday")
    row = await schedule(running)
    service = daily_service(running)
    tz = ZoneInfo(zone)
    now = datetime.fromisoformat(start).replace(tzinfo=tz)
    last_day = (datetime.fromisoformat(start) + timedelta(days=4)).date()
    fires = []
    while True:  # drive the schedule's trigger through five local days, firing each time it says
        fire = dm.next_post(row, now)
        if fire.astimezone(tz).date() > last_day:
            break
        fires.append(fire)
        await service.post(CHANNEL, fire)
        now = fire + timedelta(seconds=1)
    # the raw trigger also fires twice in the repeated hour: the claim keeps it to one post
    await service.post(CHANNEL, fires[2] + timedelta(hours=1))
    days = Counter(r[0] for r in running.rows("SELECT local_date FROM daily_posts"))
    assert len(days) == 5 and set(days.values()) == {1}
    assert len(prompts(slack)) == 5


async def test_two_bot_processes_on_one_database_post_once(slack, tmp_path, clock):
    first = await start_bot(slack, tmp_path, pace=60, clock=clock)
    second = await start_bot(slack, tmp_path, pace=60, clock=clock)
    try:
        await daily_cmd(first, slack, "09:00 UTC everyday")
        fire = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
        results = await asyncio.gather(
            daily_service(first).post(CHANNEL, fire),
            daily_service(second).post(CHANNEL, fire),
            daily_service(second).post(CHANNEL, fire),
        )
        assert sorted(results) == [False, False, True]
        assert len(prompts(slack)) == 1
    finally:
        await stop_bot(second)
        await stop_bot(first)


@pytest.mark.parametrize(("late", "posted"), [(timedelta(minutes=5), 1), (timedelta(hours=3), 0)])
async def test_a_restart_across_the_post_time(slack, tmp_path, clock, late, posted):
    running = await start_bot(slack, tmp_path, pace=60, clock=clock)
    await daily_cmd(running, slack, "09:00 UTC everyday")
    await stop_bot(running)  # down over 09:00
    clock.pinned = datetime(2026, 12, 3, 9, 0, tzinfo=UTC).timestamp() + late.total_seconds()
    running = await start_bot(slack, tmp_path, pace=60, clock=clock)
    try:
        assert len(prompts(slack)) == posted
        assert running.rows("SELECT local_date FROM daily_posts") == ([("2026-12-03",)] if posted else [])
    finally:
        await stop_bot(running)


@pytest.mark.parametrize("error", ["not_in_channel", "is_archived"])
async def test_a_removed_bot_or_archived_channel_pauses_and_tells_the_setter_once(running, slack, error):
    await daily_cmd(running, slack, "09:00 UTC everyday")
    slack.fail("chat.postMessage", error, times=1)
    service = daily_service(running)
    assert not await service.post(CHANNEL, datetime(2026, 12, 4, 9, 0, tzinfo=UTC))
    assert not await service.post(CHANNEL, datetime(2026, 12, 5, 9, 0, tzinfo=UTC))
    slack.clear_faults()
    row = await schedule(running)
    assert row.paused and row.paused_reason == error
    dms = [c for c in slack.calls_to("chat.postMessage") if c.ok and c.params.get("channel") == "D" + SETTER]
    assert len(dms) == 1 and "paused the daily problem" in dms[0].params["text"]
    assert "Paused" in await daily_cmd(running, slack, "")
