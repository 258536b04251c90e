"""A fake Slack Web API that records every call, and builders of signed requests as Slack sends them.

``with FakeSlack() as slack: slack.api_url`` serves it on 127.0.0.1 (``SLACK_API_URL``). It answers
like Slack for what Nightshift uses: auth.test, chat.postMessage (ts ``1700000000.000100``,
``.000200``, ...), chat.update, chat.postEphemeral, views.open and conversations.history (newest first,
with each message's metadata when ``include_all_metadata`` is set), taking JSON or form bodies as
slack_sdk sends them, checking the bearer token (``not_authed`` / ``invalid_auth``), and keeping each
message's latest text, blocks and metadata. ``fail_next`` answers the next calls to a method with 429
(and Retry-After) or 5xx, as Slack's JSON or as any body a proxy would send (an HTML error page, plain
text, nothing). ``/respond/<id>`` stands in for response URLs and records what is posted there. With
``socket=FakeSocketMode()`` it speaks Socket Mode too (``demo.fake_slack_socket``).

``signed_headers`` signs with slack_sdk's own ``SignatureVerifier``; ``slash_command_body``,
``block_actions_body`` and ``view_submission_body`` build request bodies exactly as Slack posts them
(``application/x-www-form-urlencoded``, interactions as a ``payload`` field holding JSON).
"""

import json
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from client.scripted.threaded import ThreadedServer

if TYPE_CHECKING:
    from demo.fake_slack_socket import FakeSocketMode
from documents.slack_blocks import (
    APPROVE_ACTION_ID,
    FEEDBACK_ACTION_ID,
    FEEDBACK_BLOCK_ID,
    REQUEST_CHANGES_ACTION_ID,
    feedback_modal,
)

TOKEN = "xoxb-fake-bot-token"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM_ID = "T0NIGHTS"
BOT_USER_ID = "U0NIGHTBOT"
CHANNEL_ID = "C0ONCALL"
USER_ID = "U0ALICE"
USER_NAME = "alice"
FIRST_TS = 1_700_000_000
JSON_FIELDS = ("blocks", "view", "attachments", "metadata")
"""Fields slack_sdk sends as JSON strings inside a form body."""
_BUTTON_TEXT = {APPROVE_ACTION_ID: "Approve", REQUEST_CHANGES_ACTION_ID: "Request changes"}


@dataclass
class Call:
    """One request as the fake saw it, and what it answered."""

    method: str
    """Slack API method (``chat.postMessage``) or ``respond`` for a response URL."""
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: dict[str, Any]
    status: int = 0

    @property
    def token(self) -> str | None:
        """The bearer token sent, if any."""
        auth = self.headers.get("authorization", "")
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None


@dataclass
class _Fault:
    status: int
    retry_after: str | None
    body: bytes | None
    content_type: str


@dataclass
class _State:
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    """``CHANNEL:TS`` -> the message as it is now (channel, ts, text, blocks, thread_ts)."""
    faults: dict[str, list[_Fault]] = field(default_factory=dict)
    next_ts: int = 0


class FakeSlack(ThreadedServer):
    """Slack's Web API on 127.0.0.1 for one workspace and one bot token."""

    def __init__(
        self,
        *,
        token: str = TOKEN,
        not_in_channel: tuple[str, ...] = (),
        socket: "FakeSocketMode | None" = None,
    ) -> None:
        self.token = token
        self.not_in_channel = set(not_in_channel)
        """Channels the bot is not a member of: posting there answers ``not_in_channel``."""
        self.socket = socket
        """Socket Mode (``demo.fake_slack_socket``): ``apps.connections.open`` and its WebSocket."""
        self.calls: list[Call] = []
        self._state = _State()
        self._lock = threading.Lock()
        routes: list[BaseRoute] = [
            Route("/api/{method}", self._api, methods=["GET", "POST"]),
            Route("/respond/{respond_id}", self._respond, methods=["POST"]),
        ]
        if socket is not None:
            routes.append(WebSocketRoute("/socket-mode", socket.serve))
        app = Starlette(routes=routes)
        super().__init__(app, name="fake slack")

    # -- set-up and inspection ----------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """The base URL for ``SLACK_API_URL`` / ``AsyncWebClient(base_url=...)``."""
        return f"{self.url}/api/"

    def response_url(self, respond_id: str = "1") -> str:
        """A response URL like the one Slack sends with a command or a click."""
        return f"{self.url}/respond/{respond_id}"

    def fail_next(
        self,
        method: str,
        count: int = 1,
        *,
        status: int = 429,
        retry_after: str | None = "1",
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> None:
        """Answer the next ``count`` calls to ``method`` (or ``respond``) with ``status``.

        429 carries ``Retry-After`` (when given), as Slack's rate limiting does. The answer is Slack's
        JSON error, or ``body`` as ``content_type`` when given (what a proxy in front of Slack sends).
        """
        with self._lock:
            queue = self._state.faults.setdefault(method, [])
            queue.extend(_Fault(status, retry_after, body, content_type) for _ in range(count))

    def calls_to(self, method_or_path: str) -> list[Call]:
        """Calls to a Slack method (``chat.update``), ``respond``, or a path (``/respond/1``)."""
        with self._lock:
            return [call for call in self.calls if method_or_path in (call.method, call.path)]

    def posted_briefings(self) -> list[dict[str, Any]]:
        """The messages that were posted (answered ok) with a briefing's metadata, in order."""
        return [
            call.body
            for call in self.calls_to("chat.postMessage")
            if call.status == 200 and call.body.get("metadata")
        ]

    def message(self, ref: str) -> dict[str, Any]:
        """The message at ``CHANNEL:TS`` as it is now (KeyError if none was posted there)."""
        with self._lock:
            return dict(self._state.messages[ref])

    # -- the API ------------------------------------------------------------------------------------

    async def _record(self, request: Request, method: str) -> Call:
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            body = json.loads(raw) if raw else {}
        else:
            body = dict(parse_qsl(raw.decode(), keep_blank_values=True))
            for name in JSON_FIELDS:
                if isinstance(body.get(name), str):
                    body[name] = json.loads(body[name])
        call = Call(method, request.url.path, dict(request.headers), dict(request.query_params), body)
        with self._lock:
            self.calls.append(call)
        return call

    def _fault(self, call: Call) -> Response | None:
        with self._lock:
            queue = self._state.faults.get(call.method)
            fault = queue.pop(0) if queue else None
        if fault is None:
            return None
        headers = {"Retry-After": fault.retry_after} if fault.status == 429 and fault.retry_after else {}
        if fault.body is not None:
            call.status = fault.status
            return Response(fault.body, fault.status, headers, media_type=fault.content_type)
        error = "ratelimited" if fault.status == 429 else "fatal_error"
        return _answer(call, {"ok": False, "error": error}, fault.status, headers)

    async def _api(self, request: Request) -> Response:
        call = await self._record(request, request.path_params["method"])
        fault = self._fault(call)
        if fault is not None:
            return fault
        if call.method == "apps.connections.open" and self.socket is not None:
            ws_base = "ws" + self.url.removeprefix("http")
            return _answer(call, self.socket.connections_open(call.token, ws_base))
        if call.token is None:
            return _answer(call, {"ok": False, "error": "not_authed"})
        if call.token != self.token:
            return _answer(call, {"ok": False, "error": "invalid_auth"})
        handler = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "views.open": self._views_open,
            "conversations.history": self._history,
        }.get(call.method)
        if handler is None:
            return _answer(call, {"ok": False, "error": "unknown_method"})
        return _answer(call, handler({**call.query, **call.body}))

    def _ts(self) -> str:
        with self._lock:
            self._state.next_ts += 100
            return f"{FIRST_TS}.{self._state.next_ts:06d}"

    def _auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://nightshift-test.slack.com/",
            "team": "Nightshift test",
            "user": "nightshift",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": "B0NIGHTBOT",
        }

    def _post_message(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = body.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if channel in self.not_in_channel:
            return {"ok": False, "error": "not_in_channel"}
        if not body.get("text") and not body.get("blocks"):
            return {"ok": False, "error": "no_text"}
        ts = self._ts()
        message = {
            "channel": channel,
            "ts": ts,
            "text": body.get("text", ""),
            "blocks": body.get("blocks"),
            "thread_ts": body.get("thread_ts"),
            "metadata": body.get("metadata"),
        }
        with self._lock:
            self._state.messages[f"{channel}:{ts}"] = message
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "message": {"type": "message", "user": BOT_USER_ID, **message},
        }

    def _update(self, body: dict[str, Any]) -> dict[str, Any]:
        ref = f"{body.get('channel')}:{body.get('ts')}"
        with self._lock:
            message = self._state.messages.get(ref)
            if message is None:
                return {"ok": False, "error": "message_not_found"}
            message.update(text=body.get("text", ""), blocks=body.get("blocks"))
        return {"ok": True, "channel": body["channel"], "ts": body["ts"], "text": body.get("text", "")}

    def _history(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = body.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        with_metadata = str(body.get("include_all_metadata", "")).lower() in ("1", "true")
        limit = int(body.get("limit") or 100)
        with self._lock:
            found = [m for m in self._state.messages.values() if m["channel"] == channel]
        newest_first = sorted(found, key=lambda m: m["ts"], reverse=True)[:limit]
        messages = [
            {
                "type": "message",
                "user": BOT_USER_ID,
                "ts": m["ts"],
                "text": m["text"],
                **({"metadata": m["metadata"]} if with_metadata and m.get("metadata") else {}),
            }
            for m in newest_first
        ]
        return {"ok": True, "messages": messages, "has_more": False}

    def _post_ephemeral(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("channel") or not body.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        return {"ok": True, "message_ts": self._ts()}

    def _views_open(self, body: dict[str, Any]) -> dict[str, Any]:
        view = body.get("view")
        if not body.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        if not isinstance(view, dict) or not view.get("blocks"):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": {"id": "V0FEEDBACK", "team_id": TEAM_ID, **view}}

    async def _respond(self, request: Request) -> Response:
        call = await self._record(request, "respond")
        fault = self._fault(call)
        if fault is not None:
            return fault
        call.status = 200
        return PlainTextResponse("ok")


def _answer(
    call: Call, body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    call.status = status
    return JSONResponse(body, status_code=status, headers=headers)


# -- requests as Slack sends them -------------------------------------------------------------------


def signed_headers(signing_secret: str, body: bytes, ts: int | None = None) -> dict[str, str]:
    """The headers Slack sends with ``body``, signed by slack_sdk's ``SignatureVerifier``."""
    timestamp = str(int(time.time()) if ts is None else ts)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }


def slash_command_form(
    text: str,
    *,
    user_id: str = USER_ID,
    user_name: str = USER_NAME,
    channel_id: str = CHANNEL_ID,
    response_url: str = "https://hooks.slack.com/commands/T0NIGHTS/1/abc",
    trigger_id: str = "13345224609.738474920.8088930838d88f008e0",
) -> dict[str, str]:
    """The form fields of ``/oncall <text>``; Slack sends &, < and > in ``text`` as entities."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return {
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "team_id": TEAM_ID,
        "team_domain": "nightshift-test",
        "channel_id": channel_id,
        "channel_name": "oncall",
        "user_id": user_id,
        "user_name": user_name,
        "command": "/oncall",
        "text": escaped,
        "api_app_id": "A0NIGHTAPP",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def slash_command_body(text: str, **fields: str) -> bytes:
    """``slash_command_form`` url-encoded, as the raw request body."""
    return urlencode(slash_command_form(text, **fields)).encode()


def block_actions_payload(
    run_id: str,
    *,
    action_id: str = APPROVE_ACTION_ID,
    user_id: str = USER_ID,
    user_name: str = USER_NAME,
    channel_id: str = CHANNEL_ID,
    message_ts: str = f"{FIRST_TS}.000100",
    response_url: str = "https://hooks.slack.com/actions/T0NIGHTS/2/def",
    trigger_id: str = "13345224609.738474920.8088930838d88f008e1",
) -> dict[str, Any]:
    """A ``block_actions`` payload for a click on one of the briefing's buttons."""
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": TEAM_ID},
        "api_app_id": "A0NIGHTAPP",
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id,
        "team": {"id": TEAM_ID, "domain": "nightshift-test"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "oncall"},
        "message": {
            "type": "message",
            "user": BOT_USER_ID,
            "ts": message_ts,
            "bot_id": "B0NIGHTBOT",
            "text": "briefing",
        },
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "nightshift_decision",
                "text": {"type": "plain_text", "text": _BUTTON_TEXT.get(action_id, action_id), "emoji": True},
                "value": run_id,
                "type": "button",
                "action_ts": f"{FIRST_TS + 60}.123456",
            }
        ],
    }


def view_submission_payload(
    run_id: str, feedback: str | None, *, user_id: str = USER_ID, user_name: str = USER_NAME
) -> dict[str, Any]:
    """A ``view_submission`` of the feedback modal (``feedback`` None: the input left empty)."""
    view = feedback_modal(run_id)
    value = {"type": "plain_text_input", "value": feedback}
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "nightshift-test"},
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": TEAM_ID},
        "api_app_id": "A0NIGHTAPP",
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "trigger_id": "13345224609.738474920.8088930838d88f008e2",
        "view": {
            **view,
            "id": "V0FEEDBACK",
            "team_id": TEAM_ID,
            "state": {"values": {FEEDBACK_BLOCK_ID: {FEEDBACK_ACTION_ID: value}}},
            "hash": "156772938.1827394",
            "previous_view_id": None,
            "root_view_id": "V0FEEDBACK",
            "app_id": "A0NIGHTAPP",
            "bot_id": "B0NIGHTBOT",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def interaction_body(payload: dict[str, Any]) -> bytes:
    """An interaction request body: ``payload=<JSON>``, url-encoded."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def block_actions_body(run_id: str, **fields: str) -> bytes:
    return interaction_body(block_actions_payload(run_id, **fields))


def view_submission_body(run_id: str, feedback: str | None, **fields: str) -> bytes:
    return interaction_body(view_submission_payload(run_id, feedback, **fields))
