"""A local stand-in for Slack: the Web API, files_upload_v2's upload URL, response_url hooks and Socket Mode.

It answers slack_sdk's AsyncWebClient (JSON, form, multipart and query-string arguments), its retry handlers
(429 with Retry-After, 5xx), files_upload_v2's three steps, bolt's `respond()` and
slack_sdk.socket_mode.aiohttp.SocketModeClient, and records everything so tests can assert on it.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import secrets
import string
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import WSCloseCode, WSMsgType, web

from tests import slack_payloads

MAX_BLOCKS = 50
"""Blocks Slack accepts in one message."""
MAX_TEXT_CHARS = 40_000
"""Characters of `text` Slack accepts in one message (beyond: msg_too_long)."""
MAX_HOOK_USES = 5
"""Times Slack accepts a post to one response_url (beyond: 404 used_url)."""


@dataclass
class Call:
    """One request answered: API method (or "upload"/"response_url"), merged args, headers, monotonic time, outcome."""

    method: str
    params: dict
    headers: dict
    at: float
    status: int = 200
    error: str | None = None
    response: Any = None
    verb: str = "POST"
    path: str = ""

    @property
    def ok(self) -> bool:
        """True when Slack would have reported success (HTTP 200 and no error)."""
        return self.status == 200 and self.error is None


class Upload(NamedTuple):
    """A file's bytes as received at its upload URL, plus what files.completeUploadExternal said about it."""

    content: bytes
    filename: str
    title: str | None = None
    channel_id: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None
    completed: bool = False


@dataclass
class SocketConnection:
    """One Socket Mode WebSocket a client opened, and the messages it sent."""

    ws: web.WebSocketResponse
    headers: dict
    at: float
    received: list[dict] = field(default_factory=list)

    @property
    def open(self) -> bool:
        """True while the WebSocket is open."""
        return not self.ws.closed


@dataclass
class _Fault:
    kind: str  # "fail" | "rate_limit" | "server_error"
    remaining: int | None
    error: str = ""
    status: int = 200
    retry_after: int = 1
    extra: dict = field(default_factory=dict)


class _SlackError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


class SlackStandIn:
    """Slack's Web API, upload URLs, response_url hooks and Socket Mode, on 127.0.0.1 at an ephemeral port."""

    bot_token = "xoxb-test-token"
    """The bot token every Web API method but apps.connections.open wants."""
    app_token = "xapp-test-token"
    """The app-level token apps.connections.open wants."""
    bot_user_id = "UBOT"
    """The bot's user ID (auth.test user_id)."""
    bot_id = "BBOT"
    """The bot's bot ID."""
    team_id = "T0001"
    """The workspace ID."""
    app_id = "A0001"
    """The app ID."""
    team_domain = "standin"
    """The workspace's subdomain, as in permalinks."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, validate_blocks: bool = True) -> None:
        """A stand-in that is not listening yet; `validate_blocks` checks Block Kit limits like Slack."""
        self.host = host
        self.port = port
        self.validate_blocks = validate_blocks
        self.calls: list[Call] = []
        self.uploads: dict[str, Upload] = {}
        self.response_url_posts: list[dict] = []
        self.socket_connections: list[SocketConnection] = []
        self.socket_acks: dict[str, dict] = {}
        self.envelopes: list[dict] = []
        self.messages: dict[tuple[str, str], dict] = {}
        self.views: dict[str, dict] = {}
        self.users: dict[str, dict] = {}
        self.channels: dict[str, dict] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._pending_uploads: dict[str, dict] = {}
        self._upload_tokens: dict[str, str] = {}
        self._hook_uses: Counter[str] = Counter()
        self._opened_dms: set[str] = set()
        self._last_ts_us = 0
        self._counter = 0
        self._runner: web.AppRunner | None = None
        self._cond: asyncio.Condition | None = None
        self._previous_response_base: str | None = None
        self._methods: dict[str, tuple[Callable[[dict], dict], str]] = {
            "auth.test": (self._auth_test, "bot"),
            "chat.postMessage": (self._chat_post_message, "bot"),
            "chat.update": (self._chat_update, "bot"),
            "chat.postEphemeral": (self._chat_post_ephemeral, "bot"),
            "chat.getPermalink": (self._chat_get_permalink, "bot"),
            "views.open": (self._views_open, "bot"),
            "views.update": (self._views_update, "bot"),
            "views.publish": (self._views_publish, "bot"),
            "conversations.open": (self._conversations_open, "bot"),
            "conversations.info": (self._conversations_info, "bot"),
            "conversations.replies": (self._conversations_replies, "bot"),
            "users.info": (self._users_info, "bot"),
            "files.getUploadURLExternal": (self._files_get_upload_url, "bot"),
            "files.completeUploadExternal": (self._files_complete_upload, "bot"),
            "apps.connections.open": (self._apps_connections_open, "app"),
        }
        self.add_user(self.bot_user_id, is_bot=True, name="interview-bot")

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> SlackStandIn:
        """Listen on the host and port (0: ephemeral); new response_url links now point here."""
        self._cond = asyncio.Condition()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("POST", "/api/{method}", self._api)
        app.router.add_route("GET", "/api/{method}", self._api)
        app.router.add_post("/upload/v1/{token}", self._upload)
        app.router.add_post("/commands/{team}/{hook_id}/{secret}", self._hook)
        app.router.add_post("/actions/{team}/{hook_id}/{secret}", self._hook)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._previous_response_base = slack_payloads.set_response_url_base(self.base_url)
        return self

    async def stop(self) -> None:
        """Close open WebSockets, stop listening, and point response_url links back where they were."""
        for conn in self.socket_connections:
            if conn.open:
                await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"stand-in stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            slack_payloads.set_response_url_base(self._previous_response_base)

    async def go_offline(self) -> None:
        """Stop listening, as if Slack were unreachable: connections are refused; state is kept."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def go_online(self) -> None:
        """Listen again on the same port after go_offline."""
        if self._runner is None:
            previous = self._previous_response_base
            await self.start()
            slack_payloads.set_response_url_base(self.base_url)
            self._previous_response_base = previous

    async def __aenter__(self) -> SlackStandIn:
        """Start; `async with SlackStandIn() as slack:`."""
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop."""
        await self.stop()

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """The Web API base URL for AsyncWebClient(base_url=...), ending in "/"."""
        return f"{self.base_url}/api/"

    @property
    def socket_url(self) -> str:
        """The WebSocket URL apps.connections.open hands out."""
        return f"ws://{self.host}:{self.port}/socket"

    # ------------------------------------------------------------ set-up, faults and inspection

    def add_user(
        self,
        user_id: str,
        tz: str = "America/New_York",
        is_bot: bool = False,
        name: str | None = None,
        deleted: bool = False,
        real_name: str | None = None,
    ) -> None:
        """Make users.info know `user_id`."""
        self.users[user_id] = {
            "id": user_id,
            "tz": tz,
            "is_bot": is_bot,
            "name": name or user_id.lower(),
            "deleted": deleted,
            "real_name": real_name or (name or user_id),
        }

    def add_channel(
        self,
        channel_id: str,
        name: str | None = None,
        is_member: bool = True,
        is_archived: bool = False,
        is_private: bool = False,
    ) -> None:
        """Describe a channel; posting where the bot is not a member or the channel is archived then fails."""
        self.channels[channel_id] = {
            "name": name or channel_id.lower(),
            "is_member": is_member,
            "is_archived": is_archived,
            "is_private": is_private,
        }

    def fail(self, method: str, error: str = "not_in_channel", times: int | None = 1, **extra: Any) -> None:
        """Answer the next `times` calls to `method` (None: all) with {"ok": false, "error": error, **extra}."""
        self._faults.setdefault(method, []).append(_Fault("fail", times, error=error, extra=extra))

    def rate_limit(self, method: str, retry_after: int = 1, times: int | None = 1) -> None:
        """Answer the next `times` calls to `method` with HTTP 429, Retry-After and error "ratelimited"."""
        self._faults.setdefault(method, []).append(
            _Fault("rate_limit", times, error="ratelimited", status=429, retry_after=retry_after)
        )

    def server_error(self, method: str, status: int = 500, times: int | None = 1) -> None:
        """Answer the next `times` calls to `method` with HTTP `status` (slack_sdk retries only 500 and 503)."""
        self._faults.setdefault(method, []).append(
            _Fault("server_error", times, error="internal_error", status=status)
        )

    def clear_faults(self, method: str | None = None) -> None:
        """Forget injected faults, for one method or all."""
        if method is None:
            self._faults.clear()
        else:
            self._faults.pop(method, None)

    def reset(self) -> None:
        """Forget recorded calls, uploads, hook posts, envelopes, acks and faults (users and channels stay)."""
        self.calls.clear()
        self.uploads.clear()
        self.response_url_posts.clear()
        self.envelopes.clear()
        self.socket_acks.clear()
        self._faults.clear()

    def calls_to(self, method: str) -> list[Call]:
        """Recorded calls to `method`, in order, failed ones included (see Call.status and Call.error)."""
        return [c for c in self.calls if c.method == method]

    def summary(self) -> str:
        """What was called so far, e.g. "auth.test x1, chat.postMessage x2 (failed: 429 ratelimited)"."""
        if not self.calls:
            return "nothing"
        parts = []
        for method, n in Counter(c.method for c in self.calls).items():
            failed = [f"{c.status} {c.error}" for c in self.calls if c.method == method and not c.ok]
            parts.append(f"{method} x{n}" + (f" (failed: {', '.join(failed)})" if failed else ""))
        return ", ".join(parts)

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 10.0,
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Wait until at least `count` calls to `method` (matching `where`) are recorded; return them all."""

        def matching() -> list[Call]:
            return [c for c in self.calls if c.method == method and (where is None or where(c))]

        if not await self._wait_until(lambda: len(matching()) >= count, timeout):
            filtered = " matching `where`" if where is not None else ""
            raise AssertionError(
                f"expected {count} call(s) to {method}{filtered} within {timeout}s, got {len(matching())}; "
                f"calls so far: {self.summary()}"
            )
        return matching()

    async def wait_for_response_url(self, count: int = 1, timeout: float = 10.0) -> list[dict]:
        """Wait until at least `count` messages were posted to response_url links; return them."""
        if not await self._wait_until(lambda: len(self.response_url_posts) >= count, timeout):
            raise AssertionError(
                f"expected {count} response_url post(s) within {timeout}s, got {len(self.response_url_posts)}; "
                f"calls so far: {self.summary()}"
            )
        return list(self.response_url_posts)

    # ------------------------------------------------------------ Socket Mode

    async def wait_for_socket(self, timeout: float = 10.0, count: int = 1) -> SocketConnection:
        """Wait until `count` WebSockets were opened in all and one is open; return the newest open one."""

        def ready() -> bool:
            return len(self.socket_connections) >= count and self._open_socket() is not None

        if not await self._wait_until(ready, timeout):
            raise AssertionError(
                f"no Socket Mode client connected within {timeout}s "
                f"({len(self.socket_connections)} connection(s) so far; calls: {self.summary()})"
            )
        conn = self._open_socket()
        assert conn is not None
        return conn

    async def send_socket_envelope(
        self,
        type_: str,
        payload: dict,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        envelope_id: str | None = None,
    ) -> str:
        """Send an envelope ("events_api", "slash_commands" or "interactive") to the newest client; return its id.

        accepts_response_payload=None means what Slack sends: true for slash commands, view submissions and
        block suggestions, false otherwise. retry_attempt/retry_reason are sent for events_api only, as Slack does.
        """
        conn = self._open_socket()
        if conn is None:
            raise AssertionError(f"no Socket Mode client is connected (calls so far: {self.summary()})")
        if accepts_response_payload is None:
            accepts_response_payload = type_ == "slash_commands" or (
                type_ == "interactive" and payload.get("type") in ("view_submission", "block_suggestion")
            )
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id or str(uuid.uuid4()),
            "payload": payload,
            "type": type_,
            "accepts_response_payload": accepts_response_payload,
        }
        if type_ == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason
        self.envelopes.append(envelope)
        await conn.ws.send_str(json.dumps(envelope))
        return envelope["envelope_id"]

    async def send_socket_disconnect(self, reason: str = "refresh_requested") -> None:
        """Send the {"type": "disconnect"} message Slack sends before it drops a connection."""
        conn = self._open_socket()
        if conn is None:
            raise AssertionError("no Socket Mode client is connected")
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-standin"}}
        await conn.ws.send_str(json.dumps(message))

    async def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> dict:
        """Wait for the client's acknowledgement of an envelope ({"envelope_id", "payload"?}); return it."""
        if not await self._wait_until(lambda: envelope_id in self.socket_acks, timeout):
            raise AssertionError(
                f"envelope {envelope_id} was not acknowledged within {timeout}s "
                f"(acks: {sorted(self.socket_acks)}; calls: {self.summary()})"
            )
        return self.socket_acks[envelope_id]

    def _open_socket(self) -> SocketConnection | None:
        for conn in reversed(self.socket_connections):
            if conn.open:
                return conn
        return None

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, timeout=2.0)
        await ws.prepare(request)
        conn = SocketConnection(ws, dict(request.headers), time.monotonic())
        async with self._condition:
            self.socket_connections.append(conn)
            self._condition.notify_all()
        hello = {
            "type": "hello",
            "num_connections": sum(1 for c in self.socket_connections if c.open),
            "debug_info": {
                "host": "applink-standin",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.app_id},
        }
        await ws.send_str(json.dumps(hello))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    data = {"raw": msg.data}
                async with self._condition:
                    conn.received.append(data)
                    if isinstance(data, dict) and "envelope_id" in data:
                        self.socket_acks[data["envelope_id"]] = data
                    self._condition.notify_all()
        finally:
            async with self._condition:
                self._condition.notify_all()
        return ws

    # ------------------------------------------------------------ HTTP plumbing

    @property
    def _condition(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    async def _wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        async with self._condition:
            try:
                await asyncio.wait_for(self._condition.wait_for(predicate), timeout)
            except TimeoutError:
                return predicate()
        return True

    async def _record(self, call: Call) -> None:
        async with self._condition:
            self.calls.append(call)
            self._condition.notify_all()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params, form_token, parse_error = await self._read_params(request)
        call = Call(
            method, params, dict(request.headers), time.monotonic(), verb=request.method, path=request.path
        )
        status, body, headers = self._answer(method, params, self._token(request, form_token), parse_error)
        call.status, call.response = status, body
        call.error = None if body.get("ok") else body.get("error", "unknown_error")
        await self._record(call)
        return web.json_response(body, status=status, headers=headers)

    @staticmethod
    async def _read_params(request: web.Request) -> tuple[dict, str | None, str | None]:
        """Query string, then the JSON, form or multipart body; returns (params, form token, parse error)."""
        params: dict[str, Any] = dict(request.query)
        form_token = None
        if not request.body_exists:
            return params, None, None
        ctype = request.content_type
        if ctype == "application/json":
            raw = await request.read()
            try:
                data = json.loads(raw) if raw.strip() else {}
            except ValueError:
                return params, None, "invalid_json"
            if not isinstance(data, dict):
                return params, None, "invalid_json"
            params.update(data)
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, str):
                    params[key] = value
                else:
                    size = len(value.file.read())
                    params[key] = f"<file {value.filename!r}, {size} bytes>"
            form_token = params.get("token") if isinstance(params.get("token"), str) else None
        else:
            raw = (await request.read()).decode("utf-8", "replace")
            params.update(dict(parse_qsl(raw, keep_blank_values=True)))
        return params, form_token, None

    @staticmethod
    def _token(request: web.Request, form_token: str | None) -> str | None:
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip() or None
        return form_token

    def _answer(
        self, method: str, params: dict, token: str | None, parse_error: str | None
    ) -> tuple[int, dict, dict]:
        spec = self._methods.get(method)
        if spec is None:
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        handler, wants = spec
        expected = self.app_token if wants == "app" else self.bot_token
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if token != expected:
            known = token in (self.bot_token, self.app_token)
            return 200, {"ok": False, "error": "not_allowed_token_type" if known else "invalid_auth"}, {}
        fault = self._take_fault(method)
        if fault is not None:
            return self._fault_answer(fault)
        if parse_error:
            return 200, {"ok": False, "error": parse_error}, {}
        try:
            return 200, handler(params), {}
        except _SlackError as exc:
            return 200, {"ok": False, "error": exc.error, **exc.extra}, {}

    def _take_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.pop(0)
        return fault

    @staticmethod
    def _fault_answer(fault: _Fault) -> tuple[int, dict, dict]:
        body = {"ok": False, "error": fault.error, **fault.extra}
        if fault.kind == "rate_limit":
            return 429, body, {"Retry-After": str(fault.retry_after)}
        return fault.status, body, {}

    # ------------------------------------------------------------ upload URL and response_url hooks

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = self._upload_tokens.get(request.match_info["token"])
        content = b""
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if part.filename is not None or part.name == "file":  # type: ignore[union-attr]
                    content = await part.read()  # type: ignore[union-attr]
                    break
        else:
            content = await request.read()
        pending = self._pending_uploads.get(file_id or "", {})
        call = Call(
            "upload",
            {"file_id": file_id, "filename": pending.get("filename"), "length": len(content)},
            dict(request.headers),
            time.monotonic(),
            path=request.path,
        )
        fault = self._take_fault("upload")
        if file_id is None:
            status, text = 404, "not_found"
        elif fault is not None:
            status, text = (fault.status if fault.status != 200 else 400), fault.error
        else:
            status, text = 200, f"OK - {len(content)}"
            self.uploads[file_id] = Upload(content, pending.get("filename") or "Uploaded file")
        call.status, call.response = status, text
        call.error = None if status == 200 else text
        await self._record(call)
        headers = {"Retry-After": str(fault.retry_after)} if fault and fault.kind == "rate_limit" else None
        return web.Response(status=status, text=text, content_type="text/plain", headers=headers)

    async def _hook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            form = dict(parse_qsl(raw.decode("utf-8", "replace")))
            try:
                body = json.loads(form["payload"])
            except (KeyError, ValueError):
                body = None
        self._hook_uses[request.path] += 1
        if not isinstance(body, dict):
            status, text = 400, "invalid_payload"
        elif self._hook_uses[request.path] > MAX_HOOK_USES:
            status, text = 404, "used_url"
        elif not any(body.get(k) for k in ("text", "blocks", "attachments", "delete_original")):
            status, text = 400, "no_text"
        else:
            status, text = 200, "ok"
            self.response_url_posts.append(body)
        call = Call(
            "response_url",
            body if isinstance(body, dict) else {"raw": raw.decode("utf-8", "replace")},
            dict(request.headers),
            time.monotonic(),
            status=status,
            error=None if status == 200 else text,
            response=text,
            path=request.path,
        )
        await self._record(call)
        return web.Response(status=status, text=text, content_type="text/html")

    # ------------------------------------------------------------ Web API methods

    def _auth_test(self, params: dict) -> dict:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": "Stand-in Workspace",
            "user": "interview-bot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: dict) -> dict:
        channel = self._postable_channel(params.get("channel"))
        text, blocks = self._message_content(params)
        ts = self._next_ts()
        message = self._bot_message(text, ts, blocks, params.get("thread_ts"))
        metadata = params.get("metadata")
        if isinstance(metadata, str):
            try:
                metadata = json.loads(metadata)
            except ValueError:
                raise _SlackError("invalid_metadata_format") from None
        if metadata is not None:
            if not isinstance(metadata, dict) or not metadata.get("event_type"):
                raise _SlackError("invalid_metadata_format")
            message = {**message, "metadata": metadata}
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _conversations_replies(self, params: dict) -> dict:
        channel, thread = params.get("channel"), params.get("ts")
        if not channel or channel not in self.channels and not any(c == channel for c, _ in self.messages):
            raise _SlackError("channel_not_found")
        if not thread:
            raise _SlackError("invalid_arguments")
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        found = []
        for (ch, ts), message in sorted(self.messages.items(), key=lambda kv: float(kv[0][1])):
            if ch == channel and (ts == thread or message.get("thread_ts") == thread):
                found.append(
                    message if with_metadata else {k: v for k, v in message.items() if k != "metadata"}
                )
        if not found:
            raise _SlackError("thread_not_found")
        return {"ok": True, "messages": found, "has_more": False, "response_metadata": {"next_cursor": ""}}

    def _chat_update(self, params: dict) -> dict:
        channel, ts = params.get("channel"), params.get("ts")
        if not channel:
            raise _SlackError("channel_not_found")
        message = self.messages.get((channel, ts or ""))
        if message is None:
            raise _SlackError("message_not_found")
        text, blocks = self._message_content(params)
        message = {**message, "text": text}
        if blocks is not None:
            message["blocks"] = blocks
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "text": text, "message": message}

    def _chat_post_ephemeral(self, params: dict) -> dict:
        self._postable_channel(params.get("channel"))
        if not params.get("user"):
            raise _SlackError("user_not_in_channel")
        self._message_content(params)
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_get_permalink(self, params: dict) -> dict:
        channel, ts = params.get("channel"), params.get("message_ts")
        if not channel:
            raise _SlackError("channel_not_found")
        if not ts:
            raise _SlackError("message_not_found")
        link = f"https://{self.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        thread_ts = self.messages.get((channel, ts), {}).get("thread_ts")
        if thread_ts and thread_ts != ts:
            link += f"?thread_ts={thread_ts}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _views_open(self, params: dict) -> dict:
        if not params.get("trigger_id"):
            raise _SlackError("invalid_trigger_id")
        view = self._build_view(params, view_id=None)
        return {"ok": True, "view": view}

    def _views_update(self, params: dict) -> dict:
        view_id = params.get("view_id")
        external_id = params.get("external_id")
        current = self.views.get(view_id) if view_id else None
        if current is None and external_id:
            current = next((v for v in self.views.values() if v.get("external_id") == external_id), None)
        if current is None:
            raise _SlackError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise _SlackError("hash_conflict")
        view = self._build_view(params, view_id=current["id"])
        return {"ok": True, "view": view}

    def _views_publish(self, params: dict) -> dict:
        user_id = params.get("user_id")
        if not user_id:
            raise _SlackError("invalid_arguments")
        existing = next((v for v in self.views.values() if v.get("_home_of") == user_id), None)
        view = self._build_view(params, view_id=existing["id"] if existing else None)
        if view["type"] != "home":
            raise _SlackError("invalid_arguments")
        self.views[view["id"]]["_home_of"] = user_id
        return {"ok": True, "view": view}

    def _conversations_open(self, params: dict) -> dict:
        if params.get("channel"):
            return {"ok": True, "channel": {"id": params["channel"]}}
        users = [u for u in str(params.get("users") or "").split(",") if u.strip()]
        if not users:
            raise _SlackError("users_list_not_supplied")
        channel_id = "D" + users[0].strip() if len(users) == 1 else "G" + "".join(u.strip() for u in users)
        response: dict[str, Any] = {"ok": True, "channel": {"id": channel_id}}
        if channel_id in self._opened_dms:
            response.update({"no_op": True, "already_open": True})
        self._opened_dms.add(channel_id)
        return response

    def _conversations_info(self, params: dict) -> dict:
        channel_id = params.get("channel")
        if not channel_id:
            raise _SlackError("channel_not_found")
        info = self.channels.get(channel_id, {})
        created = 1_700_000_000
        if channel_id.startswith("D"):
            channel = {
                "id": channel_id,
                "created": created,
                "is_im": True,
                "is_org_shared": False,
                "user": channel_id[1:],
                "is_user_deleted": False,
                "priority": 0,
            }
        else:
            name = info.get("name", channel_id.lower())
            channel = {
                "id": channel_id,
                "name": name,
                "is_channel": not info.get("is_private", False),
                "is_group": False,
                "is_im": False,
                "is_mpim": False,
                "is_private": info.get("is_private", False),
                "created": created,
                "is_archived": info.get("is_archived", False),
                "is_general": False,
                "unlinked": 0,
                "name_normalized": name,
                "is_shared": False,
                "is_org_shared": False,
                "is_ext_shared": False,
                "is_pending_ext_shared": False,
                "is_member": info.get("is_member", True),
                "creator": "U0000000000",
                "topic": {"value": "", "creator": "", "last_set": 0},
                "purpose": {"value": "", "creator": "", "last_set": 0},
            }
        return {"ok": True, "channel": channel}

    def _users_info(self, params: dict) -> dict:
        user = self.users.get(params.get("user") or "")
        if user is None:
            raise _SlackError("user_not_found")
        try:
            now = datetime.now(ZoneInfo(user["tz"]))
        except (ZoneInfoNotFoundError, ValueError):
            now = datetime.now(ZoneInfo("UTC"))
        offset = now.utcoffset()
        return {
            "ok": True,
            "user": {
                "id": user["id"],
                "team_id": self.team_id,
                "name": user["name"],
                "deleted": user["deleted"],
                "color": "9f69e7",
                "real_name": user["real_name"],
                "tz": user["tz"],
                "tz_label": now.tzname(),
                "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
                "profile": {
                    "real_name": user["real_name"],
                    "display_name": user["name"],
                    "team": self.team_id,
                },
                "is_admin": False,
                "is_owner": False,
                "is_primary_owner": False,
                "is_restricted": False,
                "is_ultra_restricted": False,
                "is_bot": user["is_bot"],
                "is_app_user": False,
                "updated": 1_700_000_000,
            },
        }

    def _files_get_upload_url(self, params: dict) -> dict:
        filename = params.get("filename")
        length = params.get("length")
        if not filename or length in (None, ""):
            raise _SlackError("invalid_arguments")
        try:
            length = int(length)
        except (TypeError, ValueError):
            raise _SlackError("invalid_arguments") from None
        file_id = "F" + self._random_id(10)
        token = secrets.token_urlsafe(24)
        self._pending_uploads[file_id] = {
            "filename": filename,
            "length": length,
            "alt_txt": params.get("alt_txt"),
            "snippet_type": params.get("snippet_type"),
        }
        self._upload_tokens[token] = file_id
        return {"ok": True, "upload_url": f"{self.base_url}/upload/v1/{token}", "file_id": file_id}

    def _files_complete_upload(self, params: dict) -> dict:
        raw = params.get("files")
        try:
            files = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            raise _SlackError("invalid_arguments") from None
        if not isinstance(files, list) or not files:
            raise _SlackError("invalid_arguments")
        channel_id = params.get("channel_id") or None
        if channel_id:
            self._postable_channel(channel_id)
        out = []
        for f in files:
            file_id = f.get("id") if isinstance(f, dict) else None
            if file_id not in self._pending_uploads or file_id not in self.uploads:
                raise _SlackError("file_not_found")
            upload = self.uploads[file_id]._replace(
                title=f.get("title") or self.uploads[file_id].filename,
                channel_id=channel_id,
                thread_ts=params.get("thread_ts") or None,
                initial_comment=params.get("initial_comment") or None,
                completed=True,
            )
            self.uploads[file_id] = upload
            out.append(self._file_object(file_id, upload))
        return {"ok": True, "files": out}

    def _apps_connections_open(self, params: dict) -> dict:
        return {"ok": True, "url": self.socket_url}

    # ------------------------------------------------------------ helpers for methods

    def _postable_channel(self, channel: Any) -> str:
        if not channel or not isinstance(channel, str):
            raise _SlackError("channel_not_found")
        if channel[0] in "UW":  # posting to a user ID posts in the DM with them
            channel = "D" + channel
        info = self.channels.get(channel)
        if info is not None:
            if info["is_archived"]:
                raise _SlackError("is_archived")
            if not info["is_member"]:
                raise _SlackError("not_in_channel")
        return channel

    def _message_content(self, params: dict) -> tuple[str, list[dict] | None]:
        text = params.get("text") or ""
        blocks = self._parse_blocks(params.get("blocks"))
        if not text and not blocks and not params.get("attachments") and not params.get("markdown_text"):
            raise _SlackError("no_text")
        if len(text) > MAX_TEXT_CHARS:
            raise _SlackError("msg_too_long")
        return text, blocks

    def _bot_message(self, text: str, ts: str, blocks: list[dict] | None, thread_ts: Any) -> dict:
        message: dict[str, Any] = {
            "user": self.bot_user_id,
            "type": "message",
            "ts": ts,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "text": text,
            "team": self.team_id,
            "bot_profile": {
                "id": self.bot_id,
                "app_id": self.app_id,
                "name": "interview-bot",
                "deleted": False,
                "team_id": self.team_id,
            },
        }
        if blocks:
            message["blocks"] = blocks
        if thread_ts:
            message["thread_ts"] = str(thread_ts)
        return message

    def _parse_blocks(self, raw: Any) -> list[dict] | None:
        if raw is None or raw == "":
            return None
        try:
            blocks = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            raise _SlackError("invalid_blocks_format") from None
        if not isinstance(blocks, list):
            raise _SlackError("invalid_blocks_format")
        blocks = [dict(b) if isinstance(b, dict) else b for b in blocks]
        if self.validate_blocks:
            errors = _block_errors(blocks)
            if errors:
                raise _SlackError(
                    "invalid_blocks",
                    errors=errors,
                    response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
                )
        for block in blocks:
            if isinstance(block, dict) and "block_id" not in block:
                block["block_id"] = self._random_id(5, string.ascii_letters + string.digits)
        return blocks

    def _build_view(self, params: dict, view_id: str | None) -> dict:
        raw = params.get("view")
        try:
            spec = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            raise _SlackError("invalid_arguments") from None
        if not isinstance(spec, dict) or spec.get("type") not in ("modal", "home"):
            raise _SlackError("invalid_arguments")
        blocks = self._parse_blocks(spec.get("blocks") or []) or []
        view_id = view_id or "V" + self._random_id(10)
        previous = self.views.get(view_id, {})
        view = {
            "id": view_id,
            "team_id": self.team_id,
            "type": spec["type"],
            "blocks": blocks,
            "private_metadata": spec.get("private_metadata", ""),
            "callback_id": spec.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": spec.get("title"),
            "clear_on_close": bool(spec.get("clear_on_close", False)),
            "notify_on_close": bool(spec.get("notify_on_close", False)),
            "close": spec.get("close"),
            "submit": spec.get("submit"),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "external_id": spec.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self.views[view_id] = {
            **view,
            **({"_home_of": previous["_home_of"]} if "_home_of" in previous else {}),
        }
        return view

    def _file_object(self, file_id: str, upload: Upload) -> dict:
        name = upload.filename
        mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        filetype = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        now = int(time.time())
        private = f"https://files.slack.com/files-pri/{self.team_id}-{file_id}/{name}"
        return {
            "id": file_id,
            "created": now,
            "timestamp": now,
            "name": name,
            "title": upload.title,
            "mimetype": mimetype,
            "filetype": filetype,
            "pretty_type": filetype.upper(),
            "user": self.bot_user_id,
            "user_team": self.team_id,
            "editable": False,
            "size": len(upload.content),
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": False,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": private,
            "url_private_download": private.replace("files-pri", "files-pri/download", 1),
            "permalink": f"https://{self.team_domain}.slack.com/files/{self.bot_user_id}/{file_id}/{name}",
            "comments_count": 0,
            "shares": {},
            "channels": [],
            "groups": [],
            "ims": [],
            "has_more_shares": False,
            "has_rich_preview": False,
            "file_access": "visible",
        }

    def _next_ts(self) -> str:
        """A message ts: wall-clock microseconds, strictly increasing across the stand-in."""
        now_us = time.time_ns() // 1000
        self._last_ts_us = max(now_us, self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    @staticmethod
    def _random_id(n: int, alphabet: str = string.ascii_uppercase + string.digits) -> str:
        return "".join(secrets.choice(alphabet) for _ in range(n))


def _text_of(obj: Any) -> str:
    return obj.get("text", "") if isinstance(obj, dict) else ""


def _block_errors(blocks: list) -> list[str]:
    """Block Kit limits Slack enforces on messages, as Slack words its `invalid_blocks` errors."""
    errors: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        errors.append(f"must be less than {MAX_BLOCKS + 1} items [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"[json-pointer:/blocks/{i}"
        if not isinstance(block, dict) or not block.get("type"):
            errors.append(f"missing required field: type {where}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if len(str(block_id)) > 255:
                errors.append(f"must be less than 256 characters {where}/block_id]")
            if block_id in block_ids:
                errors.append(f"duplicate block_id {where}/block_id]")
            block_ids.add(block_id)
        kind = block["type"]
        if kind == "section":
            fields = block.get("fields") or []
            if not block.get("text") and not fields:
                errors.append(f"must provide either text or fields {where}]")
            if len(_text_of(block.get("text"))) > 3000:
                errors.append(f"must be less than 3001 characters {where}/text/text]")
            if len(fields) > 10:
                errors.append(f"must be less than 11 items {where}/fields]")
            for j, f in enumerate(fields):
                if len(_text_of(f)) > 2000:
                    errors.append(f"must be less than 2001 characters {where}/fields/{j}/text]")
        elif kind == "header":
            text = _text_of(block.get("text"))
            if not text:
                errors.append(f"missing required field: text {where}]")
            elif len(text) > 150:
                errors.append(f"must be less than 151 characters {where}/text/text]")
        elif kind in ("actions", "context"):
            elements = block.get("elements") or []
            limit = 25 if kind == "actions" else 10
            if not elements:
                errors.append(f"missing required field: elements {where}]")
            if len(elements) > limit:
                errors.append(f"must be less than {limit + 1} items {where}/elements]")
            action_ids: set[str] = set()
            for j, element in enumerate(elements):
                if not isinstance(element, dict):
                    continue
                action_id = element.get("action_id")
                if action_id is not None:
                    if len(str(action_id)) > 255:
                        errors.append(f"must be less than 256 characters {where}/elements/{j}/action_id]")
                    if action_id in action_ids:
                        errors.append(f"duplicate action_id {where}/elements/{j}/action_id]")
                    action_ids.add(action_id)
                if element.get("type") == "button":
                    if len(_text_of(element.get("text"))) > 75:
                        errors.append(f"must be less than 76 characters {where}/elements/{j}/text/text]")
                    if len(str(element.get("value", ""))) > 2000:
                        errors.append(f"must be less than 2001 characters {where}/elements/{j}/value]")
    return errors
