"""A fake Sentry REST API that records every call: an issue's latest event, as Sentry serves it.

``with FakeSentry() as sentry: sentry.url`` serves ``GET /api/0/organizations/{org}/issues/{id}/events/
latest/`` on 127.0.0.1 with the bearer token checked (401 otherwise). ``add_event(issue_id, event)``
takes an event as ``sentry-sdk`` captured it (``demo.alerts.capture_sentry_event``) and serves it in the
REST API's shape, as Sentry's event serializer does: camelCase frames with ``context`` as numbered
lines, the exception under ``entries``, tags as ``{key, value}``, the release as an object.
``fail_next`` answers the next calls with an error status.
"""

import threading
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from client.scripted.threaded import ThreadedServer
from demo.alerts import ORG

TOKEN = "sntrys_fake_auth_token_0123456789"


@dataclass
class Call:
    method: str
    path: str
    authorization: str | None
    status: int = 0


def api_frame(frame: dict[str, Any]) -> dict[str, Any]:
    """An SDK frame as the REST API serves it."""
    lineno = frame.get("lineno")
    pre, post = frame.get("pre_context") or [], frame.get("post_context") or []
    context = []
    if lineno is not None and frame.get("context_line") is not None:
        lines = [*pre, frame["context_line"], *post]
        context = [[lineno - len(pre) + i, line] for i, line in enumerate(lines)]
    return {
        "filename": frame.get("filename"),
        "absPath": frame.get("abs_path"),
        "module": frame.get("module"),
        "package": None,
        "platform": None,
        "instructionAddr": None,
        "symbolAddr": None,
        "function": frame.get("function"),
        "rawFunction": None,
        "symbol": None,
        "context": context,
        "lineNo": lineno,
        "colNo": None,
        "inApp": bool(frame.get("in_app")),
        "trust": None,
        "errors": None,
        "vars": None,
    }


def api_event(event: dict[str, Any], issue_id: str, project_id: str = "4505") -> dict[str, Any]:
    """An SDK event as ``GET .../issues/{id}/events/latest/`` serves it."""
    values = event["exception"]["values"]
    last = values[-1]
    frames = last["stacktrace"]["frames"]
    raised = next((f for f in reversed(frames) if f.get("in_app")), frames[-1])
    tags = {
        **dict(event.get("tags") or {}),
        "environment": event.get("environment"),
        "level": event.get("level"),
        "release": event.get("release"),
        "server_name": event.get("server_name"),
    }
    return {
        "id": event["event_id"],
        "eventID": event["event_id"],
        "groupID": issue_id,
        "projectID": project_id,
        "title": f"{last['type']}: {last['value']}",
        "message": "",
        "culprit": f"{raised.get('module')} in {raised.get('function')}",
        "location": raised.get("filename"),
        "platform": event.get("platform"),
        "type": "error",
        "dateCreated": event.get("timestamp"),
        "metadata": {"type": last["type"], "value": last["value"], "filename": raised.get("filename")},
        "tags": [{"key": k, "value": str(v)} for k, v in tags.items() if v is not None],
        "release": {"version": event["release"]} if event.get("release") else None,
        "entries": [
            {
                "type": "exception",
                "data": {
                    "values": [
                        {
                            "type": value["type"],
                            "value": value["value"],
                            "module": value.get("module"),
                            "mechanism": value.get("mechanism"),
                            "threadId": None,
                            "rawStacktrace": None,
                            "stacktrace": {
                                "frames": [api_frame(f) for f in value["stacktrace"]["frames"]],
                                "framesOmitted": None,
                                "registers": None,
                                "hasSystemFrames": True,
                            },
                        }
                        for value in values
                    ],
                    "excOmitted": None,
                    "hasSystemFrames": True,
                },
            }
        ],
        "contexts": event.get("contexts") or {},
        "sdk": event.get("sdk"),
        "user": None,
        "errors": [],
    }


class FakeSentry(ThreadedServer):
    """Sentry's REST API on 127.0.0.1, for one organization, answering with the events added."""

    def __init__(self, *, token: str = TOKEN, organization: str = ORG) -> None:
        self.organization = organization
        self.calls: list[Call] = []
        self._token = token
        self._events: dict[str, dict[str, Any]] = {}
        self._faults: list[int] = []
        self._lock = threading.Lock()
        app = Starlette(
            routes=[
                Route(
                    "/api/0/organizations/{org}/issues/{issue_id}/events/{event_id}/",
                    self._event,
                    methods=["GET"],
                )
            ]
        )
        super().__init__(app, name="fake sentry")

    def add_event(self, issue_id: str, event: dict[str, Any]) -> None:
        """Make ``event`` (as sentry-sdk captured it) the issue's latest."""
        with self._lock:
            self._events[issue_id] = api_event(event, issue_id)

    def fail_next(self, count: int = 1, *, status: int = 503) -> None:
        with self._lock:
            self._faults += [status] * count

    async def _event(self, request: Request) -> Response:
        call = Call(request.method, request.url.path, request.headers.get("authorization"))
        with self._lock:
            self.calls.append(call)
            fault = self._faults.pop(0) if self._faults else None
            event = self._events.get(request.path_params["issue_id"])
        if fault is not None:
            call.status = fault
            return JSONResponse({"detail": "Internal Error"}, status_code=fault)
        if call.authorization != f"Bearer {self._token}":
            call.status = 401
            return JSONResponse({"detail": "Invalid token"}, status_code=401)
        if request.path_params["org"] != self.organization or event is None:
            call.status = 404
            return JSONResponse({"detail": "The requested resource does not exist"}, status_code=404)
        if request.path_params["event_id"] != "latest":
            call.status = 404
            return JSONResponse({"detail": "Event not found"}, status_code=404)
        call.status = 200
        return JSONResponse(event)
