"""A fake Jira Cloud (REST API v3) that records every call, and builders of signed webhook deliveries.

``with FakeJira() as jira: jira.url`` serves it on 127.0.0.1. It answers like Jira Cloud for what
Nightshift uses: GET myself, GET issue, GET/POST transitions, GET/POST comment (a comment keeps the
entity properties it was created with) and POST comment/list (``expand=properties``), with basic auth
checked (401 otherwise) and a knob to answer the next calls with 429 (with Retry-After) or 5xx, as
Jira's JSON or as a proxy's page.
"""

import base64
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from client.scripted.threaded import ThreadedServer

EMAIL = "nightshift@example.com"
TOKEN = "jira-api-token-s3cret"
BOT_ACCOUNT_ID = "nightshift-bot"
REPORTER = {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Dana Reporter", "active": True}

WORKFLOW = (
    ("11", "Start work", "In Progress"),
    ("21", "Send to review", "In Review"),
    ("31", "Done", "Done"),
    ("41", "Released", "Released"),
)
"""(transition id, transition name, target status); each is offered from every other status."""


def _text(text: str, *marks: dict[str, Any]) -> dict[str, Any]:
    return {"type": "text", "text": text, **({"marks": list(marks)} if marks else {})}


def _node(kind: str, *content: dict[str, Any], **attrs: Any) -> dict[str, Any]:
    return {
        "type": kind,
        **({"attrs": attrs} if attrs else {}),
        **({"content": list(content)} if content else {}),
    }


def _item(*content: dict[str, Any]) -> dict[str, Any]:
    return _node("listItem", *content)


def _para(*content: dict[str, Any]) -> dict[str, Any]:
    return _node("paragraph", *content)


def _cell(kind: str, text: str) -> dict[str, Any]:
    return _node(kind, _para(_text(text)))


RICH_DESCRIPTION: dict[str, Any] = {
    "type": "doc",
    "version": 1,
    "content": [
        _node("heading", _text("What happens"), level=2),
        _para(
            _text("Completing a todo twice reopens it. "),
            _node("mention", id=REPORTER["accountId"], text="@Dana Reporter"),
            _text(" saw it in prod, see "),
            _text(
                "the dashboard", {"type": "link", "attrs": {"href": "https://grafana.example.com/d/todos"}}
            ),
            _text(" "),
            _node("emoji", shortName=":fire:", text="\N{FIRE}"),
        ),
        _node(
            "orderedList",
            _item(_para(_text("Create a todo"))),
            _item(_para(_text("Call "), _text("complete()", {"type": "code"}), _text(" twice"))),
            order=1,
        ),
        _node(
            "bulletList",
            _item(
                _para(_text("expected: completed")),
                _node("bulletList", _item(_para(_text("stays completed")))),
            ),
            _item(_para(_text("actual: open again"))),
        ),
        _node(
            "codeBlock", _text("todo.complete()\ntodo.complete()\nassert todo.completed"), language="python"
        ),
        _node(
            "table",
            _node("tableRow", _cell("tableHeader", "call"), _cell("tableHeader", "completed")),
            _node("tableRow", _cell("tableCell", "second"), _cell("tableCell", "False")),
        ),
        _para(
            _text("Trace: "),
            _node("inlineCard", url="https://sentry.example.com/issues/42"),
            _node("hardBreak"),
            _text("since release 1.4"),
        ),
    ],
}
"""A bug report as Jira Cloud stores it: heading, mention, link, emoji, lists, code, table, card."""


def issue_json(
    key: str,
    *,
    summary: str = "Completing a todo twice reopens it",
    description: Any = None,
    priority: str | None = "High",
    labels: list[str] | None = None,
    components: list[str] | None = None,
    reporter: Mapping[str, Any] | None = REPORTER,
    issuetype: str = "Bug",
    status: str = "To Do",
    base_url: str = "https://example.atlassian.net",
    issue_id: str | None = None,
) -> dict[str, Any]:
    """An issue in the shape of GET /rest/api/3/issue/{key} and of webhook payloads."""
    project = key.rsplit("-", 1)[0]
    number = issue_id or str(10000 + int(key.rsplit("-", 1)[1]))
    return {
        "id": number,
        "key": key,
        "self": f"{base_url}/rest/api/3/issue/{number}",
        "fields": {
            "summary": summary,
            "description": RICH_DESCRIPTION if description is None else description,
            "priority": {"id": "2", "name": priority} if priority else None,
            "labels": list(labels if labels is not None else ["nightshift"]),
            "components": [
                {"id": str(i), "name": name}
                for i, name in enumerate(components if components is not None else ["todos"])
            ],
            "reporter": dict(reporter) if reporter else None,
            "issuetype": {"id": "10004", "name": issuetype, "subtask": False},
            "project": {"id": "10000", "key": project, "name": f"{project} project"},
            "status": {"id": _status_id(status), "name": status},
        },
    }


def _status_id(name: str) -> str:
    return str(10000 + sum(name.encode()) % 1000)


@dataclass
class Call:
    """One request as the fake saw it, and what it answered."""

    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class _Fault:
    status: int
    retry_after: str | None
    body: bytes | None
    content_type: str


@dataclass
class _State:
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Issue key -> its comments as Jira keeps them (id, body, properties), oldest first."""
    next_comment: int = 0
    transitions: list[tuple[str, str]] = field(default_factory=list)
    """(issue key, transition id) applied, in order."""
    faults: list[_Fault] = field(default_factory=list)


class FakeJira(ThreadedServer):
    """A Jira Cloud site on 127.0.0.1 that answers like REST API v3 and records every call."""

    def __init__(self, *, email: str = EMAIL, token: str = TOKEN, account_id: str = BOT_ACCOUNT_ID) -> None:
        self.email = email
        self.account_id = account_id
        self._expected_auth = "Basic " + base64.b64encode(f"{email}:{token}".encode()).decode()
        self.calls: list[Call] = []
        self._state = _State()
        self._lock = threading.Lock()
        app = Starlette(
            routes=[
                Route("/rest/api/3/myself", self._myself, methods=["GET"]),
                Route("/rest/api/3/issue/{key}", self._issue, methods=["GET"]),
                Route("/rest/api/3/issue/{key}/transitions", self._transitions, methods=["GET", "POST"]),
                Route("/rest/api/3/issue/{key}/comment", self._comment, methods=["GET", "POST"]),
                Route("/rest/api/3/comment/list", self._comment_list, methods=["POST"]),
            ]
        )
        super().__init__(app, name="fake jira")

    # -- set-up and inspection ----------------------------------------------------------------------

    def add_issue(self, key: str, **fields: Any) -> dict[str, Any]:
        """Create (or replace) an issue; keyword arguments as ``issue_json``."""
        issue = issue_json(key, base_url=self.url, **fields)
        with self._lock:
            self._state.issues[key] = issue
        return issue

    def status_of(self, key: str) -> str:
        return str(self._state.issues[key]["fields"]["status"]["name"])

    def comments_on(self, key: str) -> list[dict[str, Any]]:
        """The ADF bodies of the comments posted on the issue, in order."""
        return [comment["body"] for comment in self._state.comments.get(key, [])]

    def comment_properties(self, key: str) -> list[list[dict[str, Any]]]:
        """The entity properties each comment on the issue was created with, in order."""
        return [list(comment["properties"]) for comment in self._state.comments.get(key, [])]

    @property
    def applied_transitions(self) -> list[tuple[str, str]]:
        """(issue key, transition id) of every transition applied, in order."""
        return list(self._state.transitions)

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 429,
        retry_after: str | None = "2",
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> None:
        """Answer the next ``count`` calls with ``status`` (with Retry-After when given): Jira's JSON error,
        or ``body`` as ``content_type`` (what a proxy in front of Jira sends)."""
        with self._lock:
            self._state.faults.extend(_Fault(status, retry_after, body, content_type) for _ in range(count))

    def calls_to(self, method_or_path: str) -> list[Call]:
        """Calls matching ``"POST"``, a path suffix like ``"/transitions"``, or both: ``"POST /comment"``."""
        method, _, path = method_or_path.partition(" ") if " " in method_or_path else ("", "", "")
        if not method:
            method, path = (method_or_path, "") if method_or_path.isupper() else ("", method_or_path)
        return [
            call
            for call in self.calls
            if (not method or call.method == method) and (not path or call.path.endswith(path))
        ]

    # -- the API ------------------------------------------------------------------------------------

    async def _admit(self, request: Request) -> tuple[Call, Response | None]:
        """Record the call; answer it at once for an injected fault or bad credentials."""
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        call = Call(request.method, request.url.path, dict(request.headers), dict(request.query_params), body)
        with self._lock:
            self.calls.append(call)
            fault = self._state.faults.pop(0) if self._state.faults else None
        if fault is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            if fault.body is not None:
                call.status = fault.status
                return call, Response(fault.body, fault.status, headers, media_type=fault.content_type)
            return call, _answer(call, fault.status, {"errorMessages": ["Rate limit exceeded."]}, headers)
        if request.headers.get("authorization") != self._expected_auth:
            message = "Client must be authenticated to access this resource."
            return call, _answer(call, 401, {"errorMessages": [message]})
        return call, None

    async def _myself(self, request: Request) -> Response:
        call, early = await self._admit(request)
        if early:
            return early
        me = {
            "accountId": self.account_id,
            "emailAddress": self.email,
            "displayName": "Nightshift",
            "accountType": "atlassian",
            "active": True,
        }
        return _answer(call, 200, me)

    def _find(self, call: Call, key: str) -> dict[str, Any] | Response:
        issue = self._state.issues.get(key)
        if issue is None:
            message = "Issue does not exist or you do not have permission to see it."
            return _answer(call, 404, {"errorMessages": [message], "errors": {}})
        return issue

    async def _issue(self, request: Request) -> Response:
        call, early = await self._admit(request)
        if early:
            return early
        issue = self._find(call, request.path_params["key"])
        if isinstance(issue, Response):
            return issue
        wanted = [name for name in call.query.get("fields", "").split(",") if name]
        if wanted:
            issue = {**issue, "fields": {k: v for k, v in issue["fields"].items() if k in wanted}}
        return _answer(call, 200, issue)

    async def _transitions(self, request: Request) -> Response:
        call, early = await self._admit(request)
        if early:
            return early
        key = request.path_params["key"]
        issue = self._find(call, key)
        if isinstance(issue, Response):
            return issue
        status = issue["fields"]["status"]["name"]
        offered = {tid: (name, to) for tid, name, to in WORKFLOW if to != status}
        if request.method == "GET":
            listing = [
                {
                    "id": tid,
                    "name": name,
                    "hasScreen": False,
                    "isGlobal": True,
                    "isAvailable": True,
                    "to": {"id": _status_id(to), "name": to, "statusCategory": {"key": "indeterminate"}},
                }
                for tid, (name, to) in offered.items()
            ]
            return _answer(call, 200, {"expand": "transitions", "transitions": listing})
        tid = str(((call.body or {}).get("transition") or {}).get("id", ""))
        if tid not in offered:
            message = f"Transition id '{tid}' is not valid for this issue."
            return _answer(call, 400, {"errorMessages": [message], "errors": {}})
        with self._lock:
            to = offered[tid][1]
            issue["fields"]["status"] = {"id": _status_id(to), "name": to}
            self._state.transitions.append((key, tid))
        return _answer(call, 204, None)

    async def _comment(self, request: Request) -> Response:
        call, early = await self._admit(request)
        if early:
            return early
        key = request.path_params["key"]
        issue = self._find(call, key)
        if isinstance(issue, Response):
            return issue
        if request.method == "GET":
            with self._lock:
                comments = list(self._state.comments.get(key, []))
            if call.query.get("orderBy") == "-created":
                comments.reverse()
            shown = comments[: int(call.query.get("maxResults") or 50)]
            listing = [{k: v for k, v in c.items() if k != "properties"} for c in shown]
            page = {"startAt": 0, "maxResults": len(shown), "total": len(comments)}
            return _answer(call, 200, {**page, "comments": listing})
        payload = call.body if isinstance(call.body, dict) else {}
        body = payload.get("body")
        if not isinstance(body, dict) or body.get("type") != "doc" or body.get("version") != 1:
            return _answer(
                call, 400, {"errorMessages": [], "errors": {"comment": "Comment body is not valid!"}}
            )
        with self._lock:
            self._state.next_comment += 1
            comment = {
                "id": str(10000 + self._state.next_comment),
                "author": {"accountId": self.account_id, "displayName": "Nightshift"},
                "body": body,
                "properties": list(payload.get("properties") or []),
            }
            self._state.comments.setdefault(key, []).append(comment)
        return _answer(call, 201, {k: v for k, v in comment.items() if k != "properties"})

    async def _comment_list(self, request: Request) -> Response:
        call, early = await self._admit(request)
        if early:
            return early
        ids = {str(i) for i in ((call.body or {}).get("ids") or [])}
        expand = "properties" in call.query.get("expand", "").split(",")
        with self._lock:
            found = [c for comments in self._state.comments.values() for c in comments if c["id"] in ids]
        values = [c if expand else {k: v for k, v in c.items() if k != "properties"} for c in found]
        page = {"startAt": 0, "maxResults": len(values), "total": len(values), "isLast": True}
        return _answer(call, 200, {**page, "values": values})


def _answer(call: Call, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    call.status = status
    if payload is None:
        return Response(status_code=status, headers=dict(headers or {}))
    return JSONResponse(payload, status_code=status, headers=dict(headers or {}))


# -- webhook deliveries --------------------------------------------------------------------------------


def signed_headers(secret: str, body: bytes) -> dict[str, str]:
    """Headers of a webhook delivery signed as Jira Cloud signs one (``X-Hub-Signature: sha256=...``)."""
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Hub-Signature": f"sha256={signature}",
        "X-Atlassian-Webhook-Identifier": str(uuid.uuid4()),
        "X-Atlassian-Webhook-Flow": "Primary",
    }


def issue_created(issue: Mapping[str, Any], *, user: Mapping[str, Any] = REPORTER) -> dict[str, Any]:
    """A ``jira:issue_created`` delivery for the issue."""
    return {
        "timestamp": 1_718_000_000_000,
        "webhookEvent": "jira:issue_created",
        "issue_event_type_name": "issue_created",
        "user": dict(user),
        "issue": dict(issue),
    }


def issue_updated(
    issue: Mapping[str, Any],
    *,
    items: list[dict[str, Any]],
    user: Mapping[str, Any] = REPORTER,
    changelog_id: str = "10101",
) -> dict[str, Any]:
    """A ``jira:issue_updated`` delivery whose changelog has ``items``."""
    return {
        "timestamp": 1_718_000_100_000,
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "user": dict(user),
        "issue": dict(issue),
        "changelog": {"id": changelog_id, "items": items},
    }


def labels_change(before: list[str], after: list[str]) -> dict[str, Any]:
    """A changelog item for the labels field (Jira lists labels space-separated)."""
    return {
        "field": "labels",
        "fieldtype": "jira",
        "fieldId": "labels",
        "from": None,
        "fromString": " ".join(before),
        "to": None,
        "toString": " ".join(after),
    }


def labels_added(issue: Mapping[str, Any], before: list[str], after: list[str]) -> dict[str, Any]:
    """A ``jira:issue_updated`` delivery where someone changed the labels from ``before`` to ``after``."""
    return issue_updated(issue, items=[labels_change(before, after)])


def by_our_account(issue: Mapping[str, Any], account_id: str = BOT_ACCOUNT_ID) -> dict[str, Any]:
    """A ``jira:issue_updated`` delivery caused by Nightshift itself (its own start transition)."""
    status_item = {
        "field": "status",
        "fieldtype": "jira",
        "fieldId": "status",
        "from": "10000",
        "fromString": "To Do",
        "to": "10001",
        "toString": "In Progress",
    }
    bot = {"accountId": account_id, "displayName": "Nightshift", "accountType": "atlassian"}
    return issue_updated(issue, items=[status_item, labels_change([], ["nightshift"])], user=bot)
