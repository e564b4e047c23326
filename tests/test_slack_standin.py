"""The Slack stand-in answers slack_sdk and slack_bolt as Slack does, and the payload helpers sign like Slack."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests import slack_payloads as sp
from tests.slack_standin import SlackStandIn

SECRET = "standin-test-secret"


@pytest.fixture
async def slack():
    """A running stand-in, stopped after the test."""
    async with SlackStandIn() as standin:
        yield standin


def client_for(slack: SlackStandIn, token: str | None = None, **kwargs) -> AsyncWebClient:
    """An AsyncWebClient on the stand-in, without retry handlers unless a test adds them."""
    return AsyncWebClient(token=token or slack.bot_token, base_url=slack.api_url, retry_handlers=[], **kwargs)


async def test_post_message_returns_fresh_increasing_ts_and_is_recorded(slack):
    """chat.postMessage answers with fresh, increasing ts values and is recorded with its arguments."""
    client = client_for(slack)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    first = await client.chat_postMessage(channel="C1", text="hello", thread_ts="1.000001", blocks=blocks)
    second = await client.chat_postMessage(channel="C1", text="again")
    assert first["ok"] and first["channel"] == "C1"
    assert float(second["ts"]) > float(first["ts"])
    assert first["ts"].count(".") == 1 and len(first["ts"].split(".")[1]) == 6
    assert first["message"]["text"] == "hello" and first["message"]["thread_ts"] == "1.000001"
    assert first["message"]["user"] == slack.bot_user_id and first["message"]["bot_id"] == slack.bot_id
    assert first["message"]["blocks"][0]["text"]["text"] == "*hi*"
    calls = slack.calls_to("chat.postMessage")
    assert [c.params["text"] for c in calls] == ["hello", "again"]
    assert calls[0].params["blocks"] == blocks  # sent as JSON, so blocks arrive as a list
    assert calls[0].headers["Authorization"] == f"Bearer {slack.bot_token}"
    assert all(c.status == 200 and c.ok for c in calls)


async def test_form_encoded_and_get_arguments_are_read_too(slack):
    """Form bodies, GET query strings and POST query strings are all read as arguments."""
    client = client_for(slack)
    blocks = json.dumps([{"type": "divider"}])
    await client.api_call("chat.postMessage", data={"channel": "C1", "text": "form", "blocks": blocks})
    call = slack.calls_to("chat.postMessage")[0]
    assert call.params["text"] == "form" and call.params["blocks"] == blocks  # a JSON string stays a string
    slack.add_user("U1", tz="Europe/Berlin")
    user = await client.users_info(user="U1")  # a GET with a query string
    assert user["user"]["tz"] == "Europe/Berlin" and user["user"]["tz_offset"] in (3600, 7200)
    assert slack.calls_to("users.info")[0].verb == "GET"
    auth = await client.auth_test()  # a POST with its arguments in the query string
    assert auth["user_id"] == "UBOT" and auth["team_id"] == "T0001" and auth["bot_id"] == "BBOT"


async def test_wrong_or_missing_tokens_are_refused_like_slack(slack):
    """A wrong token is invalid_auth, the other kind is not_allowed_token_type, none is not_authed."""
    with pytest.raises(SlackApiError) as wrong:
        await client_for(slack, token="xoxb-wrong").chat_postMessage(channel="C1", text="x")
    assert wrong.value.response["error"] == "invalid_auth" and wrong.value.response.status_code == 200
    with pytest.raises(SlackApiError) as app_token:
        await client_for(slack, token=slack.app_token).chat_postMessage(channel="C1", text="x")
    assert app_token.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as missing:
        await AsyncWebClient(base_url=slack.api_url).auth_test()
    assert missing.value.response["error"] == "not_authed"
    assert [c.error for c in slack.calls] == ["invalid_auth", "not_allowed_token_type", "not_authed"]


async def test_injected_failure_raises_that_error_then_recovers(slack):
    """fail() makes the next call a SlackApiError with that error, and only the next."""
    client = client_for(slack)
    slack.fail("chat.postMessage", "not_in_channel")
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C1", text="x")
    assert err.value.response["error"] == "not_in_channel"
    assert (await client.chat_postMessage(channel="C1", text="x"))["ok"]
    assert [c.error for c in slack.calls_to("chat.postMessage")] == ["not_in_channel", None]


async def test_a_429_is_retried_after_retry_after_seconds(slack):
    """rate_limit() is a 429 that AsyncRateLimitErrorRetryHandler waits out, then succeeds."""
    client = client_for(slack)
    client.retry_handlers = [AsyncRateLimitErrorRetryHandler(max_retry_count=1)]
    slack.rate_limit("chat.postMessage", retry_after=1)
    started = time.monotonic()
    response = await client.chat_postMessage(channel="C1", text="eventually")
    elapsed = time.monotonic() - started
    assert response["ok"]
    assert 0.95 <= elapsed < 3.0  # slack_sdk sleeps Retry-After plus up to one second of jitter
    calls = slack.calls_to("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert calls[0].error == "ratelimited" and calls[1].at - calls[0].at >= 0.95


async def test_a_429_without_a_retry_handler_surfaces_with_its_header(slack):
    """Without a retry handler the 429 reaches the caller with Retry-After."""
    slack.rate_limit("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as err:
        await client_for(slack).chat_postMessage(channel="C1", text="x")
    assert err.value.response.status_code == 429
    assert err.value.response["error"] == "ratelimited"
    assert err.value.response.headers["Retry-After"] == "7"


async def test_a_500_is_retried_by_the_server_error_handler(slack):
    """server_error() is a 500 that AsyncServerErrorRetryHandler retries; chat.update edits the message."""
    client = client_for(slack)
    fast = FixedValueRetryIntervalCalculator(0.01)
    client.retry_handlers = [AsyncServerErrorRetryHandler(max_retry_count=1, interval_calculator=fast)]
    slack.server_error("chat.update", status=500)
    posted = await client.chat_postMessage(channel="C1", text="before")
    updated = await client.chat_update(channel="C1", ts=posted["ts"], text="after")
    assert updated["message"]["text"] == "after" and updated["ts"] == posted["ts"]
    assert [c.status for c in slack.calls_to("chat.update")] == [500, 200]


async def test_files_upload_v2_with_bytes_stores_them(slack):
    """files_upload_v2's three steps work and the bytes are kept under the file ID."""
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    response = await client_for(slack).files_upload_v2(
        channel="C1", thread_ts="1.000001", content=png, filename="recap.png", title="Recap chart"
    )
    file_id = response["file"]["id"]
    assert response["files"][0]["title"] == "Recap chart"
    upload = slack.uploads[file_id]
    assert upload.content == png and upload[0] == png and upload.filename == "recap.png"
    assert upload.completed and upload.channel_id == "C1" and upload.thread_ts == "1.000001"
    assert [c.method for c in slack.calls] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    step1 = slack.calls_to("files.getUploadURLExternal")[0]
    assert step1.params == {"filename": "recap.png", "length": str(len(png))}
    complete = slack.calls_to("files.completeUploadExternal")[0]
    assert complete.params["thread_ts"] == "1.000001" and complete.params["channel_id"] == "C1"
    assert json.loads(complete.params["files"]) == [{"id": file_id, "title": "Recap chart"}]
    assert "Authorization" not in slack.calls_to("upload")[0].headers  # the upload URL is pre-authorised


async def test_other_methods_answer_in_slacks_shapes(slack):
    """The remaining methods answer with Slack's fields, and unknown methods with unknown_method."""
    client = client_for(slack)
    assert (await client.conversations_open(users="U1"))["channel"]["id"] == "DU1"
    info = (await client.conversations_info(channel="C1"))["channel"]
    assert info["id"] == "C1" and info["is_archived"] is False and info["is_member"] is True
    with pytest.raises(SlackApiError) as unknown_user:
        await client.users_info(user="U404")
    assert unknown_user.value.response["error"] == "user_not_found"
    posted = await client.chat_postMessage(channel="C1", text="root")
    ephemeral = await client.chat_postEphemeral(
        channel="C1", user="U2", text="only you", thread_ts=posted["ts"]
    )
    assert float(ephemeral["message_ts"]) > float(posted["ts"])
    link = await client.chat_getPermalink(channel="C1", message_ts=posted["ts"])
    assert link["permalink"].endswith("/archives/C1/p" + posted["ts"].replace(".", ""))
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": [], "callback_id": "cb"}
    opened = await client.views_open(trigger_id=sp.new_trigger_id(), view=modal)
    view_id = opened["view"]["id"]
    assert view_id.startswith("V") and opened["view"]["callback_id"] == "cb"
    assert (await client.views_update(view_id=view_id, view=modal))["view"]["id"] == view_id
    home = await client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
    assert home["view"]["type"] == "home"
    with pytest.raises(SlackApiError) as unknown_method:
        await client.api_call("chat.juggle")
    assert unknown_method.value.response["error"] == "unknown_method"


async def test_channels_described_as_archived_or_not_joined_refuse_posts(slack):
    """add_channel() states make chat.postMessage fail as Slack would."""
    slack.add_channel("C2", is_member=False)
    slack.add_channel("C3", is_archived=True)
    client = client_for(slack)
    for channel, error in (("C2", "not_in_channel"), ("C3", "is_archived")):
        with pytest.raises(SlackApiError) as err:
            await client.chat_postMessage(channel=channel, text="x")
        assert err.value.response["error"] == error
    assert (await client.conversations_info(channel="C2"))["channel"]["is_member"] is False


async def test_blocks_over_slacks_limits_are_invalid_blocks(slack):
    """Blocks beyond Slack's limits are invalid_blocks; a message with nothing in it is no_text."""
    client = client_for(slack)
    too_many = [{"type": "divider"}] * 51
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C1", text="x", blocks=too_many)
    assert err.value.response["error"] == "invalid_blocks"
    long_section = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel="C1", text="x", blocks=long_section)
    with pytest.warns(UserWarning, match="text"), pytest.raises(SlackApiError) as no_text:
        await client.chat_postMessage(channel="C1")
    assert no_text.value.response["error"] == "no_text"


async def test_wait_for_returns_matching_calls_or_fails_listing_what_was_called(slack):
    """wait_for() returns once a matching call arrives and otherwise fails with a summary."""
    client = client_for(slack)
    later = asyncio.get_running_loop().call_later(
        0.05, lambda: asyncio.ensure_future(client.chat_postMessage(channel="C1", text="late"))
    )
    calls = await slack.wait_for(
        "chat.postMessage", timeout=5, where=lambda c: c.params.get("text") == "late"
    )
    assert calls[0].params["text"] == "late"
    later.cancel()
    with pytest.raises(AssertionError, match=r"chat.update.*chat.postMessage x1"):
        await slack.wait_for("chat.update", timeout=0.1)
    slack.reset()
    assert slack.calls == [] and slack.calls_to("chat.postMessage") == []


async def test_socket_mode_client_connects_receives_an_envelope_and_its_ack_is_recorded(slack):
    """SocketModeClient connects with the app token, gets hello and envelopes, acks, and reconnects."""
    received: list[SocketModeRequest] = []
    messages: list[dict] = []
    web_client = AsyncWebClient(base_url=slack.api_url)
    client = SocketModeClient(app_token=slack.app_token, web_client=web_client, ping_interval=1)

    async def on_request(sm_client, req: SocketModeRequest) -> None:
        received.append(req)
        await sm_client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))

    async def on_message(sm_client, message: dict, raw: str | None) -> None:
        messages.append(message)

    client.socket_mode_request_listeners.append(on_request)
    client.message_listeners.append(on_message)
    try:
        await client.connect()
        await slack.wait_for_socket(timeout=5)
        opened = slack.calls_to("apps.connections.open")
        assert len(opened) == 1 and opened[0].headers["Authorization"] == f"Bearer {slack.app_token}"
        event = sp.event_callback(sp.app_mention_event("C1", "U1", "<@UBOT> start", sp.new_ts()))
        envelope_id = await slack.send_socket_envelope("events_api", event)
        ack = await slack.wait_for_ack(envelope_id, timeout=5)
        assert ack == {"envelope_id": envelope_id}
        assert received[0].type == "events_api" and received[0].payload["event"]["type"] == "app_mention"
        assert received[0].retry_attempt == 0 and received[0].accepts_response_payload is False
        assert messages[0]["type"] == "hello" and messages[0]["connection_info"]["app_id"] == slack.app_id

        command = sp.slash_command_payload("help")
        envelope_id = await slack.send_socket_envelope("slash_commands", command)
        await slack.wait_for_ack(envelope_id, timeout=5)
        assert received[1].accepts_response_payload is True and received[1].payload["command"] == "/interview"

        await slack.send_socket_disconnect()  # Slack's refresh: the client opens a new connection
        await slack.wait_for_socket(timeout=5, count=2)
        assert len(slack.calls_to("apps.connections.open")) == 2
    finally:
        await client.close()


async def test_bolt_socket_mode_handler_acks_a_slash_command_with_its_payload(slack):
    """bolt's AsyncSocketModeHandler acks a slash command with ack()'s text as the payload."""
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

    app = AsyncApp(client=client_for(slack), signing_secret="socket-mode-has-no-signing-secret")

    @app.command("/interview")
    async def command(ack):
        await ack(text="help text")

    app_client = AsyncWebClient(token=slack.app_token, base_url=slack.api_url)
    handler = AsyncSocketModeHandler(app, slack.app_token, web_client=app_client)
    await handler.connect_async()
    try:
        await slack.wait_for_socket(timeout=5)
        envelope_id = await slack.send_socket_envelope("slash_commands", sp.slash_command_payload("help"))
        ack = await slack.wait_for_ack(envelope_id, timeout=5)
        assert ack == {"envelope_id": envelope_id, "payload": {"text": "help text"}}
    finally:
        await handler.close_async()


async def test_sign_matches_slack_sdks_verifier(slack):
    """sign() is accepted by slack_sdk's SignatureVerifier and rejected when anything changes."""
    body = sp.json_body(sp.event_callback(sp.message_event("C1", "U1", "hi", sp.new_ts())))
    verifier = SignatureVerifier(SECRET)
    headers = sp.sign(body, SECRET)
    assert verifier.is_valid_request(body, headers)
    assert not verifier.is_valid_request(body + b" ", headers)
    assert not verifier.is_valid_request(body, sp.sign(body, "another-secret"))
    assert not verifier.is_valid_request(body, sp.sign(body, SECRET, timestamp=int(time.time()) - 6 * 60))
    fixed = sp.sign(b"payload=x", "s", timestamp=1_531_420_618)
    assert fixed["X-Slack-Request-Timestamp"] == "1531420618"
    assert fixed["X-Slack-Signature"] == SignatureVerifier("s").generate_signature(
        timestamp="1531420618", body=b"payload=x"
    )


async def test_bolt_accepts_and_routes_the_signed_payloads(slack):
    """bolt verifies the signed payloads and routes each to its listener; respond() reaches the stand-in."""
    seen: dict[str, dict] = {}
    app = AsyncApp(signing_secret=SECRET, client=client_for(slack), process_before_response=True)

    @app.command("/interview")
    async def command(ack, command, respond):
        await ack()
        seen["command"] = command
        await respond(text="started", response_type="ephemeral")

    @app.event("app_mention")
    async def mentioned(event, context):
        seen["mention"] = {**event, "bot_user_id": context.bot_user_id}

    @app.event("message")
    async def message(event):
        seen.setdefault("messages", []).append(event)

    @app.action("interview_next")
    async def next_button(ack, body, action):
        await ack()
        seen["action"] = {
            "user": body["user"]["id"],
            "value": action["value"],
            "container": body["container"],
        }

    @app.view("answer")
    async def submitted(ack, view):
        await ack()
        seen["view"] = view["state"]["values"]

    async def dispatch(body: bytes, content_type: str) -> int:
        headers = {**sp.sign(body, SECRET), "content-type": content_type}
        response = await app.async_dispatch(AsyncBoltRequest(body=body.decode(), headers=headers))
        return response.status

    form, js = "application/x-www-form-urlencoded", "application/json"
    assert await dispatch(sp.slash_command("start url shortener", user_id="U9"), form) == 200
    thread = sp.new_ts()
    mention = sp.app_mention_event("C1", "U9", "<@UBOT> start", thread)
    assert await dispatch(sp.json_body(sp.event_callback(mention)), js) == 200
    reply = sp.message_event("C1", "U9", "an answer", sp.new_ts(), thread_ts=thread)
    edit = sp.message_changed_event(
        "C1", "U9", "edited", reply["ts"], thread, sp.new_ts(), previous_text="an answer"
    )
    bot = sp.bot_message_event("C1", "beep", sp.new_ts(), thread_ts=thread)
    for event in (reply, edit, bot):
        assert await dispatch(sp.json_body(sp.event_callback(event)), js) == 200
    assert (
        await dispatch(sp.block_actions("U9", "interview_next", "iv1", "C1", sp.new_ts(), thread), form)
        == 200
    )
    values = {"answer_block": {"answer_input": "my design"}}
    assert await dispatch(sp.view_submission("U9", "answer", values, private_metadata="iv1"), form) == 200
    forged = sp.json_body(sp.event_callback(mention))
    bad = await app.async_dispatch(
        AsyncBoltRequest(body=forged.decode(), headers={**sp.sign(forged, "nope"), "content-type": js})
    )
    assert bad.status == 401

    assert seen["command"]["text"] == "start url shortener" and seen["command"]["user_id"] == "U9"
    assert seen["mention"]["text"] == "<@UBOT> start" and seen["mention"]["bot_user_id"] == "UBOT"
    assert seen["mention"]["blocks"][0]["elements"][0]["elements"][0] == {"type": "user", "user_id": "UBOT"}
    assert [m.get("subtype") for m in seen["messages"]] == [None, "message_changed", "bot_message"]
    assert seen["messages"][1]["message"]["text"] == "edited"
    assert seen["messages"][1]["message"]["thread_ts"] == thread
    assert seen["action"]["user"] == "U9" and seen["action"]["value"] == "iv1"
    container = seen["action"]["container"]
    assert (
        container["channel_id"] == "C1" and container["thread_ts"] == thread and not container["is_ephemeral"]
    )
    assert seen["view"] == {
        "answer_block": {"answer_input": {"type": "plain_text_input", "value": "my design"}}
    }
    # respond() reached the stand-in through the command's response_url
    posts = await slack.wait_for_response_url(timeout=5)
    assert posts == [{"text": "started", "response_type": "ephemeral"}]
    assert slack.calls_to("auth.test")  # bolt checks the bot token once, like with real Slack


async def test_post_signed_sends_what_a_server_can_verify(slack):
    """post_signed() sends a verifiable body with its content type and extra headers."""
    received: dict = {}

    async def handler(request: aiohttp.web.Request) -> aiohttp.web.Response:
        body = await request.read()
        received["valid"] = SignatureVerifier(SECRET).is_valid_request(body, dict(request.headers))
        received["content_type"] = request.content_type
        received["retry"] = request.headers.get("X-Slack-Retry-Num")
        return aiohttp.web.Response(text="fine")

    app = aiohttp.web.Application()
    app.router.add_post("/slack/events", handler)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    try:
        async with aiohttp.ClientSession() as session:
            body = sp.json_body(sp.event_callback(sp.message_event("C1", "U1", "hi", sp.new_ts())))
            status, text = await sp.post_signed(
                session, url, body, "application/json", SECRET, headers=sp.retry_headers(1)
            )
    finally:
        await runner.cleanup()
    assert (status, text) == (200, "fine")
    assert received == {"valid": True, "content_type": "application/json", "retry": "1"}


async def test_response_urls_point_at_the_running_stand_in_and_allow_five_uses(slack):
    """response_url links point at the stand-in, which accepts five posts per link, like Slack."""
    url = sp.slash_command_payload("start")["response_url"]
    assert url.startswith(slack.base_url + "/commands/T0001/")
    async with aiohttp.ClientSession() as session:
        statuses = []
        for i in range(6):
            async with session.post(url, json={"text": f"reply {i}"}) as resp:
                statuses.append((resp.status, await resp.text()))
    assert statuses[:5] == [(200, "ok")] * 5 and statuses[5] == (404, "used_url")
    assert [p["text"] for p in slack.response_url_posts] == [f"reply {i}" for i in range(5)]


async def test_payloads_fall_back_to_hooks_slack_com_when_no_stand_in_runs():
    """Without a stand-in, links point at hooks.slack.com; slash command fields come in Slack's order."""
    url = sp.slash_command_payload("start")["response_url"]
    assert url.startswith("https://hooks.slack.com/commands/T0001/")
    body = sp.slash_command("start url shortener")
    parsed = AsyncBoltRequest(
        body=body.decode(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert list(parsed.body) == [
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    ]
    callback = sp.event_callback({"type": "app_mention", "channel": "C1"})
    assert callback["event_id"].startswith("Ev") and callback["authorizations"][0]["user_id"] == "UBOT"
    assert callback["event_context"].startswith("4-")
