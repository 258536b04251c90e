"""A fake PagerDuty REST API (over HTTPS, as the real client insists) that records every call.

``with FakePagerDuty() as pagerduty: pagerduty.url`` serves, on ``https://127.0.0.1:PORT`` with a
certificate from a test CA (``pagerduty.ca_file``; point ``SSL_CERT_FILE`` at it so the client trusts
it), what Nightshift uses: ``GET /incidents/{id}/alerts`` (classic pagination), ``GET`` and ``POST
/incidents/{id}/notes``. The token is checked (``Authorization: Token token=...``, 401 otherwise), and
creating a note needs a ``From`` header, as with an account-level token. Any ``PUT`` (acknowledging or
resolving an incident) is answered and recorded, so a test can assert there was none. ``fail_next``
answers the next calls (all, or those matching a method and path) with an error status, as PagerDuty
does during an outage.
"""

import hashlib
import itertools
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from client.scripted.threaded import ThreadedServer

TOKEN = "u+pagerduty-fake-token-0123"
FROM = "oncall-bot@example.com"


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class _Incident:
    alerts: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)


def alert_json(
    incident_id: str, *, summary: str, details: dict[str, Any], severity: str = "critical"
) -> dict[str, Any]:
    """An alert in the shape of PagerDuty's REST API (``GET /incidents/{id}/alerts``)."""
    alert_id = "Q" + hashlib.sha256(f"{incident_id}:{summary}".encode()).hexdigest()[:6].upper()
    return {
        "id": alert_id,
        "type": "alert",
        "summary": summary,
        "self": f"https://api.pagerduty.com/alerts/{alert_id}",
        "html_url": f"https://acme.pagerduty.com/alerts/{alert_id}",
        "created_at": "2024-05-01T02:14:03Z",
        "status": "triggered",
        "alert_key": f"{incident_id}-{alert_id}",
        "service": {"id": "PF9KMXH", "type": "service_reference", "summary": "todo-service"},
        "incident": {"id": incident_id, "type": "incident_reference"},
        "suppressed": False,
        "severity": severity,
        "body": {"type": "alert_body", "contexts": [], "details": details},
    }


class FakePagerDuty(ThreadedServer):
    """PagerDuty's REST API v2 on 127.0.0.1 over HTTPS, for the incidents added."""

    def __init__(self, *, token: str = TOKEN) -> None:
        self.calls: list[Call] = []
        self._token = token
        self._incidents: dict[str, _Incident] = {}
        self._faults: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._dir = tempfile.TemporaryDirectory(prefix="fake-pagerduty-")
        ca = trustme.CA()
        self.ca_file = str(Path(self._dir.name) / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        certificate = str(Path(self._dir.name) / "server.pem")
        ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(certificate)
        app = Starlette(
            routes=[
                Route("/incidents/{incident_id}/alerts", self._alerts, methods=["GET"]),
                Route("/incidents/{incident_id}/notes", self._notes, methods=["GET", "POST"]),
                Route("/{path:path}", self._other, methods=["GET", "POST", "PUT", "DELETE"]),
            ]
        )
        super().__init__(app, name="fake pagerduty", certificate=certificate)

    def stop(self) -> None:
        super().stop()
        self._dir.cleanup()

    # -- set-up and inspection ----------------------------------------------------------------------

    def add_incident(self, incident_id: str, alerts: list[dict[str, Any]]) -> None:
        with self._lock:
            self._incidents[incident_id] = _Incident(alerts=list(alerts))

    def notes_on(self, incident_id: str) -> list[str]:
        """The content of the notes on the incident, oldest first."""
        return [note["content"] for note in self._incidents[incident_id].notes]

    def fail_next(self, count: int = 1, *, status: int = 503, only: str = "") -> None:
        """Answer the next ``count`` calls (those whose ``METHOD path`` contains ``only``) with ``status``."""
        with self._lock:
            self._faults += [(status, only)] * count

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    # -- the API ------------------------------------------------------------------------------------

    async def _admit(self, request: Request) -> tuple[Call, Response | None]:
        raw = await request.body()
        call = Call(request.method, request.url.path, dict(request.headers), raw.decode(errors="replace"))
        with self._lock:
            self.calls.append(call)
            fault = next((f for f in self._faults if f[1] in f"{request.method} {request.url.path}"), None)
            if fault is not None:
                self._faults.remove(fault)
        if fault is not None:
            return call, _answer(call, fault[0], {"error": {"message": "Service Unavailable", "code": 5000}})
        if request.headers.get("authorization") != f"Token token={self._token}":
            return call, _answer(call, 401, {"error": {"message": "Unauthorized", "code": 2006}})
        incident = self._incidents.get(request.path_params.get("incident_id", ""))
        if "incident_id" in request.path_params and incident is None:
            return call, _answer(call, 404, {"error": {"message": "Incident Not Found", "code": 5001}})
        return call, None

    async def _alerts(self, request: Request) -> Response:
        call, early = await self._admit(request)
        if early:
            return early
        alerts = self._incidents[request.path_params["incident_id"]].alerts
        offset, limit = int(request.query_params.get("offset", 0)), int(request.query_params.get("limit", 25))
        page = alerts[offset : offset + limit]
        more = offset + limit < len(alerts)
        return _answer(
            call, 200, {"alerts": page, "limit": limit, "offset": offset, "more": more, "total": None}
        )

    async def _notes(self, request: Request) -> Response:
        call, early = await self._admit(request)
        if early:
            return early
        incident = self._incidents[request.path_params["incident_id"]]
        if request.method == "GET":
            return _answer(call, 200, {"notes": list(incident.notes)})
        if not request.headers.get("from"):
            errors = ["A valid user email is required in the From header"]
            return _answer(
                call, 400, {"error": {"message": "Invalid Input Provided", "code": 2001, "errors": errors}}
            )
        content = (await request.json()).get("note", {}).get("content")
        if not isinstance(content, str) or not content:
            errors = ["Note content can't be blank"]
            return _answer(
                call, 400, {"error": {"message": "Invalid Input Provided", "code": 2001, "errors": errors}}
            )
        note = {
            "id": f"PN{next(self._ids):05d}",
            "user": {"id": "PBOT001", "type": "user_reference", "summary": request.headers["from"]},
            "channel": {"summary": "The PagerDuty REST API"},
            "content": content,
            "created_at": "2024-05-01T02:15:00Z",
        }
        with self._lock:
            incident.notes.append(note)
        return _answer(call, 201, {"note": note})

    async def _other(self, request: Request) -> Response:
        call, early = await self._admit(request)
        if early:
            return early
        return _answer(call, 200 if request.method == "PUT" else 404, {})


def _answer(call: Call, status: int, body: dict[str, Any]) -> Response:
    call.status = status
    return JSONResponse(body, status_code=status)
