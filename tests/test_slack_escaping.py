"""Hostile text through every path that echoes it: no ping, channel reference or masked link."""

from __future__ import annotations

import json
import re

from bot.slack import blocks as bk
from tests import slack_payloads as sp
from tests.slack_harness import eventually, slack_ts, start_bot, stop_bot
from tests.slack_standin import SlackStandIn
from tests.test_slack_pair import PHASES, scorecard_values

CHANNEL = "C1"
ALICE, BOB, INTERVIEWER = "U1", "U2", "U3"
# As Slack delivers them in message text: the markup of @channel, a user group, a channel, a link.
PAYLOADS = "<!channel> <!here> <!subteam^S1|@eng> <#C9|secret> <https://evil.example|click here> <@U0BOSS>"
FORBIDDEN = re.compile(r"<!|<#C9|<https://evil|<@U0BOSS")


def outgoing(slack: SlackStandIn) -> list[str]:
    """Every text the bot sent Slack: Web API calls (text, blocks, views) and response_url posts."""
    sent = [json.dumps(c.params) for c in slack.calls if c.method != "auth.test"]
    return sent + [json.dumps(p) for p in slack.response_url_posts]


async def test_hostile_text_is_inert_on_every_path_that_shows_it(tmp_path):
    async with SlackStandIn() as slack:
        for user in (ALICE, BOB, INTERVIEWER):
            slack.add_user(user)
        running = await start_bot(slack, tmp_path, pace=1.0)
        try:

            async def say(thread: str, user: str, text: str) -> None:
                event = sp.message_event(CHANNEL, user, text, slack_ts(), thread_ts=thread)
                assert (await running.event(event))[0] == 200

            # start: an unknown problem named with the payload, by mention and by command
            bad = slack_ts()
            await running.event(sp.app_mention_event(CHANNEL, ALICE, f"<@UBOT> start {PAYLOADS}", bad))
            await eventually(lambda: any("know the problem" in t for t in running.thread_texts(bad)))
            await running.command(f"start {PAYLOADS}", user=ALICE)
            await slack.wait_for_response_url()
            await running.command(f"nonsense{PAYLOADS}", user=ALICE)

            # a team interview: answers, a hint, the recap and the team contributions
            thread = slack_ts()
            await running.event(
                sp.app_mention_event(CHANNEL, ALICE, "<@UBOT> start team url shortener", thread)
            )
            await eventually(lambda: any("*Requirements*" in t for t in running.thread_texts(thread)))
            await say(thread, ALICE, f"users shorten links {PAYLOADS} and get redirected")
            await say(thread, BOB, f"do we need custom aliases? {PAYLOADS}")
            await say(thread, ALICE, "hint")
            await say(thread, BOB, f"{PAYLOADS} we cache redirects in redis -> fast reads")
            await say(thread, ALICE, "end")
            await eventually(lambda: any("Team contributions" in t for t in running.thread_texts(thread)), 20)

            # history, App Home and stats show it again
            await running.command("history", user=ALICE)
            await running.event(
                {"type": "app_home_opened", "user": ALICE, "channel": "D" + ALICE, "tab": "home"}
            )
            await slack.wait_for("views.publish")
            await running.command("stats", user=BOB)

            # a pair interview: written feedback in the merged recap, sent privately (a DM)
            await running.command(f"pair <@{INTERVIEWER}> <@{BOB}> url shortener", user=ALICE)
            pair = await eventually(
                lambda: running.rows("SELECT id, thread_ts FROM interviews WHERE mode = 'pair'")
            )
            iid, pair_thread = pair[0]
            await say(pair_thread, BOB, f"users shorten links {PAYLOADS}")
            body = sp.block_actions(
                INTERVIEWER, bk.ACTION_END, iid, CHANNEL, pair_thread, thread_ts=pair_thread
            )
            await running.post(body, "application/x-www-form-urlencoded")
            await slack.wait_for("views.open")
            choice = {"destination": {"type": "radio_buttons", "selected_option": {"value": "candidate"}}}
            values = scorecard_values(PHASES, destination=choice)
            values["strengths"] = {"text": {"type": "plain_text_input", "value": f"clear {PAYLOADS}"}}
            values["to_fix"] = {"text": {"type": "plain_text_input", "value": f"deeper {PAYLOADS}"}}
            view = sp.view_submission(
                INTERVIEWER, "pair_scorecard", values, private_metadata=json.dumps({"interview_id": iid})
            )
            await running.post(view, "application/x-www-form-urlencoded")
            await eventually(
                lambda: [
                    c for c in slack.calls_to("chat.postMessage") if c.params.get("channel") == "D" + BOB
                ]
            )
            await running.bot.runner.inbox.settle()

            sent = outgoing(slack)
            leaks = [s[:300] for s in sent if FORBIDDEN.search(s)]
            assert leaks == []
            everything = "\n".join(sent)
            # the paths did show the text (so the check above saw it), spelled out as people saw it:
            # message text is decoded on the way in; what was typed in a modal is escaped on the way out
            assert everything.count("@channel @here @eng #secret click here (https://evil.example)") >= 4
            assert "&lt;!channel&gt; &lt;!here&gt;" in everything
        finally:
            await stop_bot(running)
