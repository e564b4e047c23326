"""History through signed HTTP against the stand-in: the list, the export, App Home, and forget me."""

from __future__ import annotations

import json

import pytest

from bot.slack import history as hist
from tests import slack_payloads as sp
from tests.slack_harness import eventually, slack_ts
from tests.slack_standin import SlackStandIn

CHANNEL = "C1"
ME, OTHER = "U1", "U2"


@pytest.fixture
async def slack():
    async with SlackStandIn() as standin:
        for user in (ME, OTHER):
            standin.add_user(user)
        yield standin


async def say(running, thread: str, text: str, user: str = ME) -> None:
    status, _ = await running.event(sp.message_event(CHANNEL, user, text, slack_ts(), thread_ts=thread))
    assert status == 200


async def finished_interview(running, problem: str, user: str = ME) -> str:
    """Drive a real interview from a mention to its recap; return its thread."""
    thread = slack_ts()
    event = sp.app_mention_event(CHANNEL, user, f"<@UBOT> start {problem}", thread)
    assert (await running.event(event))[0] == 200
    await eventually(lambda: running.rows("SELECT status FROM interviews WHERE thread_ts = ?", thread))
    await eventually(lambda: any("*Requirements*" in t for t in running.thread_texts(thread)))
    await say(
        running, thread, "users create short links and get redirected; custom aliases? 100M urls a day", user
    )
    await say(running, thread, "end", user)
    await eventually(
        lambda: (
            running.rows(
                "SELECT count(*) FROM recaps r JOIN interviews i ON i.id = r.interview_id WHERE i.thread_ts = ?",
                thread,
            )
            == [(1,)]
        ),
        timeout=20,
    )
    return thread


def ephemeral_posts(slack) -> list[dict]:
    return [p for p in slack.response_url_posts if p.get("response_type") == "ephemeral"]


async def test_history_lists_the_users_interviews_with_score_verdict_and_a_permalink(running, slack):
    thread = await finished_interview(running, "url shortener")
    await finished_interview(running, "rate limiter", user=OTHER)
    status, _ = await running.command("history", user=ME)
    assert status == 200
    post = (await slack.wait_for_response_url())[-1]
    assert post["response_type"] == "ephemeral"
    text = " ".join(b["text"]["text"] for b in post["blocks"] if b["type"] == "section")
    overall, verdict = running.rows(
        "SELECT overall, verdict FROM recaps r JOIN interviews i "
        "ON i.id = r.interview_id WHERE i.user_id = ?",
        ME,
    )[0]
    assert "URL Shortener" in text and f"{overall}/100" in text
    assert hist.VERDICTS[verdict] in text
    assert "Rate Limiter" not in text  # another user's interview is not listed
    permalink = next(c for c in slack.calls_to("chat.getPermalink") if c.ok)
    assert permalink.params["message_ts"] == thread and permalink.params["channel"] == CHANNEL
    assert permalink.response["permalink"] in text


async def test_export_sends_a_json_file_of_transcripts_and_recaps_to_the_users_dm(running, slack):
    await finished_interview(running, "url shortener")
    await running.command("history export", user=ME)
    await slack.wait_for(
        "files.completeUploadExternal", where=lambda c: c.params.get("channel_id") == "D" + ME
    )
    upload = next(u for u in slack.uploads.values() if u.filename == hist.EXPORT_FILENAME)
    assert upload.completed and upload.channel_id == "D" + ME
    document = json.loads(upload.content)
    (item,) = document["interviews"]
    assert item["transcript"]["problem"] == "url-shortener"
    assert any("custom aliases" in t["text"] for t in item["transcript"]["turns"])
    assert {"at", "phase", "role", "text"} <= set(item["transcript"]["turns"][0])
    assert isinstance(item["recap"]["overall"], int) and item["recap"]["verdict"]
    await eventually(lambda: any("Sent 1 interview" in p.get("text", "") for p in ephemeral_posts(slack)))


async def test_app_home_shows_the_trend_weakest_phase_and_a_new_problem_that_starts(running, slack):
    await finished_interview(running, "url shortener")
    await finished_interview(running, "rate limiter")
    status, _ = await running.event(
        {"type": "app_home_opened", "user": ME, "channel": "D" + ME, "tab": "home"}
    )
    assert status == 200
    publish = (await slack.wait_for("views.publish", timeout=20))[-1]
    assert publish.ok and publish.params["user_id"] == ME
    view = publish.response["view"]
    blocks = view["blocks"]
    assert view["type"] == "home" and 0 < len(blocks) <= 100
    image = next(b for b in blocks if b["type"] == "image")
    assert image["slack_file"]["id"] in slack.uploads
    assert slack.uploads[image["slack_file"]["id"]].content[:4] == b"\x89PNG"
    recaps = [json.loads(d) for (d,) in running.rows("SELECT data FROM recaps")]
    weakest = hist.weakest_phase(recaps)
    text = json.dumps(blocks)
    assert f"Weakest phase:* {hist.PHASE_SPECS[weakest].name}" in text
    button = next(
        b["accessory"] for b in blocks if b.get("accessory", {}).get("action_id") == hist.ACTION_HOME_START
    )
    assert button["value"] not in {"url-shortener", "rate-limiter"}
    bank = running.bot.service.bank
    assert weakest in bank[button["value"]].phases
    assert hist.suggest_problem(bank, weakest, {"url-shortener", "rate-limiter"}).slug == button["value"]

    await running.press(ME, hist.ACTION_HOME_START, button["value"], "D" + ME, slack_ts())
    await eventually(
        lambda: (
            running.rows(
                "SELECT problem, channel, user_id FROM interviews WHERE problem = ?", button["value"]
            )
            == [(button["value"], "D" + ME, ME)]
        )
    )


async def test_app_home_with_one_scored_interview_shows_text_not_a_chart(running, slack):
    await finished_interview(running, "url shortener")
    await running.event({"type": "app_home_opened", "user": ME, "channel": "D" + ME, "tab": "home"})
    blocks = (await slack.wait_for("views.publish", timeout=20))[-1].response["view"]["blocks"]
    assert not [b for b in blocks if b["type"] == "image"]
    assert "one more scored interview" in json.dumps(blocks)


def counts(running, user: str, people_only: bool = False) -> dict[str, int]:
    """The user's rows; `people_only` leaves out the bot's turns (a running interview's timers add them)."""
    own = "SELECT id FROM interviews WHERE user_id = ?"
    people = " AND role != 'bot'" if people_only else ""
    return {
        "interviews": running.rows("SELECT count(*) FROM interviews WHERE user_id = ?", user)[0][0],
        "turns": running.rows(f"SELECT count(*) FROM turns WHERE interview_id IN ({own}){people}", user)[0][
            0
        ],
        "recaps": running.rows(f"SELECT count(*) FROM recaps WHERE interview_id IN ({own})", user)[0][0],
        "timers": running.rows(f"SELECT count(*) FROM timers WHERE interview_id IN ({own})", user)[0][0],
        "scorecards": running.rows(f"SELECT count(*) FROM scorecards WHERE interview_id IN ({own})", user)[0][
            0
        ],
    }


async def test_forget_me_deletes_everything_of_the_user_and_nothing_of_anyone_else(running, slack):
    await finished_interview(running, "url shortener")
    await finished_interview(running, "rate limiter")
    await finished_interview(running, "url shortener", user=OTHER)
    # a pair interview of OTHER in which ME is the interviewer and speaks
    await running.command(f"pair <@{ME}|me> <@{OTHER}|other> ticketmaster", user=OTHER)
    await eventually(
        lambda: running.rows("SELECT status FROM interviews WHERE mode = 'pair'") == [("running",)]
    )
    pair_id, pair_thread = running.rows("SELECT id, thread_ts FROM interviews WHERE mode = 'pair'")[0]
    await say(running, pair_thread, "walk me through the booking flow", user=ME)
    await say(running, pair_thread, "users reserve a seat, then pay", user=OTHER)
    await eventually(
        lambda: (
            running.rows("SELECT count(*) FROM turns WHERE user_id = ? AND interview_id = ?", ME, pair_id)
            == [(1,)]
        )
    )
    await eventually(
        lambda: (
            running.rows("SELECT count(*) FROM turns WHERE user_id = ? AND interview_id = ?", OTHER, pair_id)
            == [(1,)]
        )
    )
    mine = counts(running, ME)
    assert mine["interviews"] == 2 and mine["recaps"] == 2 and mine["turns"] > 0 and mine["timers"] > 0
    others_before = counts(running, OTHER, people_only=True)
    others_turns = (
        "SELECT count(*) FROM turns WHERE user_id != ? AND role != 'bot' "
        "AND interview_id NOT IN (SELECT id FROM interviews WHERE user_id = ?)"
    )
    other_turns_before = running.rows(others_turns, ME, ME)[0][0]
    pair_turns = "SELECT count(*) FROM turns WHERE interview_id = ? AND role != 'bot'"
    pair_turns_before = running.rows(pair_turns, pair_id)[0][0]

    await running.command("forget me", user=ME)
    post = (await slack.wait_for_response_url())[-1]
    buttons = [e for b in post["blocks"] if b["type"] == "actions" for e in b["elements"]]
    confirm = next(e for e in buttons if e["action_id"] == hist.ACTION_FORGET_CONFIRM)
    assert confirm["value"] == ME and any(e["action_id"] == hist.ACTION_FORGET_CANCEL for e in buttons)
    assert counts(running, ME) == mine  # nothing deleted before the confirmation

    await running.press(ME, hist.ACTION_FORGET_CONFIRM, ME, CHANNEL, slack_ts())
    done = await eventually(
        lambda: [p for p in slack.response_url_posts if p.get("text", "").startswith("Deleted")]
    )
    expected = f"Deleted 2 interviews, {mine['turns'] + 1} messages and 2 recaps."
    assert done[0]["text"] == expected
    assert counts(running, ME) == dict.fromkeys(mine, 0)
    assert running.rows("SELECT count(*) FROM turns WHERE user_id = ?", ME) == [(0,)]
    assert counts(running, OTHER, people_only=True) == {**others_before, "turns": others_before["turns"] - 1}
    assert running.rows(others_turns, ME, ME)[0][0] == other_turns_before
    assert running.rows("SELECT count(*) FROM turns WHERE role != 'bot'")[0][0] == other_turns_before
    assert running.rows(pair_turns, pair_id)[0][0] == pair_turns_before - 1
    texts = [t for (t,) in running.rows("SELECT text FROM turns WHERE interview_id = ?", pair_id)]
    assert "walk me through the booking flow" not in json.dumps(texts)
    assert "users reserve a seat, then pay" in json.dumps(texts)
    state = running.rows("SELECT state FROM interviews WHERE id = ?", pair_id)[0][0]
    assert "walk me through" not in state and "reserve a seat" not in state  # turns are rows, not state
    assert running.rows("SELECT count(*) FROM interviews") == [(2,)]


async def test_the_forget_confirmation_is_refused_for_anyone_else_and_cancel_keeps_everything(running, slack):
    await finished_interview(running, "url shortener")
    before = counts(running, ME)
    await running.command("forget me", user=ME)
    await slack.wait_for_response_url()
    await running.press(OTHER, hist.ACTION_FORGET_CONFIRM, ME, CHANNEL, slack_ts())
    refusal = await eventually(
        lambda: [p for p in slack.response_url_posts if "Only the person" in p.get("text", "")]
    )
    assert refusal[0]["response_type"] == "ephemeral"
    assert counts(running, ME) == before and before["interviews"] == 1
    await running.press(ME, hist.ACTION_FORGET_CANCEL, ME, CHANNEL, slack_ts())
    await eventually(lambda: [p for p in slack.response_url_posts if p.get("text") == "Nothing was deleted."])
    assert counts(running, ME) == before


async def test_forget_me_takes_the_user_out_of_teammates_recaps_schedules_and_team_interviews(running, slack):
    mine_text = "we shard the click counters by short code and batch them every second"
    # a team interview OTHER started, where ME answers (and is quoted in the recap)
    theirs = slack_ts()
    await running.event(sp.app_mention_event(CHANNEL, OTHER, "<@UBOT> start team url shortener", theirs))
    await eventually(lambda: any("*Requirements*" in t for t in running.thread_texts(theirs)))
    await say(running, theirs, mine_text, user=ME)
    await say(running, theirs, "users create short links and get redirected", user=OTHER)
    await say(running, theirs, "end", user=OTHER)
    theirs_id = (
        await eventually(lambda: running.rows("SELECT id FROM interviews WHERE thread_ts = ?", theirs))
    )[0][0]
    await eventually(
        lambda: running.rows("SELECT count(*) FROM recaps WHERE interview_id = ?", theirs_id) == [(1,)]
    )
    before = running.rows("SELECT data FROM recaps WHERE interview_id = ?", theirs_id)[0][0]
    assert ME in json.loads(before)["contributions"]
    # a team interview ME started, where OTHER answers
    mine = slack_ts()
    await running.event(sp.app_mention_event(CHANNEL, ME, "<@UBOT> start team rate limiter", mine))
    await eventually(lambda: any("*Requirements*" in t for t in running.thread_texts(mine)))
    await say(running, mine, "limit each api key to 100 requests a minute", user=OTHER)
    await say(running, mine, "a token bucket per user in redis", user=ME)
    mine_id = (await eventually(lambda: running.rows("SELECT id FROM interviews WHERE thread_ts = ?", mine)))[
        0
    ][0]
    await eventually(
        lambda: (
            running.rows("SELECT count(*) FROM turns WHERE interview_id = ? AND role = 'candidate'", mine_id)
            == [(2,)]
        )
    )
    # a schedule ME set
    await running.command("daily 09:00 UTC", user=ME)
    await eventually(lambda: running.rows("SELECT created_by FROM schedules") == [(ME,)])

    await running.command("forget me", user=ME)
    await slack.wait_for_response_url()
    await running.press(ME, hist.ACTION_FORGET_CONFIRM, ME, CHANNEL, slack_ts())
    await eventually(lambda: [p for p in slack.response_url_posts if p.get("text", "").startswith("Deleted")])

    recap = running.rows("SELECT data FROM recaps WHERE interview_id = ?", theirs_id)[0][0]
    assert ME not in recap and "shard the click counters" not in recap
    assert OTHER in json.loads(recap)["contributions"]
    kept = running.rows(
        "SELECT text, user_id FROM turns WHERE interview_id = ? AND role = 'candidate'", mine_id
    )
    assert kept == [("limit each api key to 100 requests a minute", OTHER)]  # the teammate's words stay
    assert running.rows("SELECT user_id FROM interviews WHERE id = ?", mine_id) == [(None,)]
    assert running.rows("SELECT created_by, hhmm FROM schedules") == [("", "09:00")]  # it keeps working
    for table, column in (("turns", "user_id"), ("interviews", "user_id"), ("inbox", "user_id")):
        assert running.rows(f"SELECT count(*) FROM {table} WHERE {column} = ?", ME) == [(0,)]
    states = " ".join(r[0] for r in running.rows("SELECT state FROM interviews"))
    assert "token bucket per user" not in states and "shard the click counters" not in states
