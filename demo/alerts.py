"""Alerts as Sentry and PagerDuty send them, for the demo trigger and the tests.

Sentry: ``capture_sentry_event`` lays the sample repository's code out as a deployed release (under
``srv/todo-app/releases/<release>/``, beside a request handler that is not part of the repository),
makes the handler complete a todo that does not exist, and lets the real ``sentry-sdk`` capture the
``TodoNotFound`` it raises, through a transport that keeps the event instead of sending it. It runs in a
subprocess, so the SDK's global state never touches the caller. ``sentry_event_alert`` wraps that event
the way Sentry's integration platform sends an issue alert (``Sentry-Hook-Resource: event_alert``): the
SDK's event plus what Sentry's processing adds to it (title, culprit, metadata, the tags as pairs, the
issue and the URLs), as its webhook documentation shows. ``sentry_issue_created`` is the documented
``issue``/``created`` payload for the same issue. ``sentry_headers`` signs a body as Sentry does.

PagerDuty: ``pagerduty_event`` is a V3 webhook payload following PagerDuty's published example;
``pagerduty_headers`` signs it with each of the given secrets, as PagerDuty does while a secret rotates.

Needs ``sentry-sdk`` (in the ``dev`` extra) for the capture only.
"""

import hashlib
import hmac
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from demo.playground import SAMPLE_REPO

ORG = "acme"
PROJECT = "todo-service"
PROJECT_ID = 4505
SENTRY_WEB = "https://acme.sentry.io"
SENTRY_API = "https://sentry.io/api/0"
RELEASE = "todo-service@1.4.0"
_PRINTED = ("EVENT ", "TRACEBACK ")
HANDLER = "app/handlers.py"
"""The deployed service's request handler: it calls the repository's code but is not part of it."""

_HANDLER_SOURCE = '''\
"""HTTP handlers of the deployed todo service."""

from todo.service import TodoService

SERVICE = TodoService()


def complete_todo(request):
    """POST /todos/<id>/complete"""
    todo = SERVICE.complete(request["todo_id"])
    return {"id": todo.id, "completed": todo.completed}
'''

_SERVER = """\
import json, sys, traceback
release, environment, todo_id, with_sentry = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
if with_sentry == "sentry":
    import sentry_sdk
    from sentry_sdk.transport import Transport

    class KeepEvents(Transport):
        def capture_envelope(self, envelope):
            event = envelope.get_event()
            if event is not None:
                print("EVENT " + json.dumps(event, default=str), flush=True)

    sentry_sdk.init(
        dsn="https://public@sentry.invalid/1", transport=KeepEvents, release=release,
        environment=environment, server_name="web-1", default_integrations=False,
        auto_enabling_integrations=False, in_app_include=["todo", "app"], include_local_variables=False,
    )
sys.path.insert(0, ".")
from app.handlers import complete_todo
try:
    complete_todo({"todo_id": todo_id})
except Exception:
    print("TRACEBACK " + json.dumps(traceback.format_exc()), flush=True)
    if with_sentry == "sentry":
        sentry_sdk.capture_exception()
        sentry_sdk.flush()
"""


def capture_sentry_event(
    todo_id: object = 7, *, release: str = RELEASE, environment: str = "production"
) -> dict[str, Any]:
    """The event ``sentry-sdk`` captures when the deployed service is asked to complete ``todo_id`` (no
    such todo): ``TodoNotFound`` raised in ``todo/service.py``, called from the handler."""
    if importlib.util.find_spec("sentry_sdk") is None:
        raise RuntimeError(
            "capturing a Sentry event needs sentry-sdk: pip install sentry-sdk (in the dev extra)"
        )
    event: dict[str, Any] = json.loads(_run_deployed(todo_id, release, environment, sentry=True)["EVENT"])
    return event


def deployed_traceback(todo_id: object = 7, *, release: str = RELEASE) -> str:
    """The traceback Python prints for the same failure, as a monitor would put it in an alert."""
    text: str = json.loads(_run_deployed(todo_id, release, "production", sentry=False)["TRACEBACK"])
    return text


def _run_deployed(
    todo_id: object, release: str, environment: str, *, sentry: bool, sample: Path = SAMPLE_REPO
) -> dict[str, str]:
    """Run the handler of the deployed release on ``todo_id``; what it printed, by kind (``EVENT``, the
    SDK's event; ``TRACEBACK``, the formatted exception)."""
    with tempfile.TemporaryDirectory(prefix="nightshift-capture-") as scratch:
        deployed = Path(scratch) / "srv" / "todo-app" / "releases" / release.rpartition("@")[2]
        shutil.copytree(sample / "todo", deployed / "todo", ignore=shutil.ignore_patterns("__pycache__"))
        (deployed / "app").mkdir()
        (deployed / "app" / "__init__.py").write_text("")
        (deployed / HANDLER).write_text(_HANDLER_SOURCE)
        server = Path(scratch) / "server.py"  # the web server's own frame: outside the release
        server.write_text(_SERVER)
        done = subprocess.run(
            [sys.executable, str(server), release, environment, json.dumps(todo_id), "sentry" * sentry],
            cwd=deployed,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    printed = dict(line.split(" ", 1) for line in done.stdout.splitlines() if line.startswith(_PRINTED))
    wanted = ("EVENT", "TRACEBACK") if sentry else ("TRACEBACK",)
    if done.returncode != 0 or any(kind not in printed for kind in wanted):
        raise RuntimeError(
            f"the deployed handler did not report (exit {done.returncode}): {done.stderr[-2000:]}"
        )
    return printed


def sentry_event_alert(
    event: Mapping[str, Any], *, issue_id: str = "4242", rule: str = "Errors in production"
) -> dict[str, Any]:
    """``event`` as Sentry's issue-alert webhook carries it, in ``data.event``."""
    captured = dict(event)
    exception = captured["exception"]["values"][-1]
    frames = exception["stacktrace"]["frames"]
    raised = next(frame for frame in reversed(frames) if frame.get("in_app"))
    title = f"{exception['type']}: {exception['value']}"
    event_id = str(captured["event_id"])
    tags = {
        **dict(captured.get("tags") or {}),
        "environment": captured.get("environment"),
        "level": captured.get("level", "error"),
        "release": captured.get("release"),
        "server_name": captured.get("server_name"),
        "handled": "yes",
        "mechanism": "generic",
    }
    processed = {
        **captured,
        "_ref": PROJECT_ID,
        "_ref_version": 2,
        "culprit": f"{raised['module']} in {raised['function']}",
        "datetime": captured.get("timestamp") or datetime.now(UTC).isoformat(),
        "fingerprint": ["{{ default }}"],
        "hashes": [hashlib.md5(title.encode(), usedforsecurity=False).hexdigest()],
        "issue_id": issue_id,
        "issue_url": f"{SENTRY_API}/issues/{issue_id}/",
        "location": raised["filename"],
        "metadata": {
            "filename": raised["filename"],
            "function": raised["function"],
            "type": exception["type"],
            "value": exception["value"],
        },
        "project": PROJECT_ID,
        "tags": [[key, str(value)] for key, value in tags.items() if value is not None],
        "title": title,
        "type": "error",
        "url": f"{SENTRY_API}/projects/{ORG}/{PROJECT}/events/{event_id}/",
        "web_url": f"{SENTRY_WEB}/issues/{issue_id}/events/{event_id}/",
    }
    return {
        "action": "triggered",
        "actor": {"id": "sentry", "name": "Sentry", "type": "application"},
        "data": {
            "event": processed,
            "triggered_rule": rule,
            "issue_alert": {"title": rule, "settings": []},
        },
        "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},
    }


def sentry_issue_created(event_alert: Mapping[str, Any]) -> dict[str, Any]:
    """The ``issue``/``created`` webhook for the issue of an ``event_alert`` payload: no stack trace."""
    event = event_alert["data"]["event"]
    issue_id = event["issue_id"]
    return {
        "action": "created",
        "actor": {"id": "sentry", "name": "Sentry", "type": "application"},
        "data": {
            "issue": {
                "id": issue_id,
                "shortId": f"{PROJECT.upper()}-{issue_id}",
                "title": event["title"],
                "culprit": event["culprit"],
                "level": event.get("level", "error"),
                "metadata": event["metadata"],
                "platform": "python",
                "project": {"id": str(PROJECT_ID), "name": PROJECT, "slug": PROJECT, "platform": "python"},
                "status": "unresolved",
                "substatus": "new",
                "type": "error",
                "count": "1",
                "userCount": 0,
                "firstSeen": event["datetime"],
                "lastSeen": event["datetime"],
                "url": f"{SENTRY_API}/organizations/{ORG}/issues/{issue_id}/",
                "web_url": f"{SENTRY_WEB}/issues/{issue_id}/",
                "project_url": f"{SENTRY_API}/projects/{ORG}/{PROJECT}/",
            }
        },
        "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},
    }


def sentry_headers(
    secret: str, body: bytes, *, resource: str = "event_alert", request_id: str | None = None
) -> dict[str, str]:
    """The headers Sentry sends with ``body``: its resource, a request id, and the signature (the hex
    HMAC-SHA256 of the body keyed with the integration's client secret)."""
    return {
        "Content-Type": "application/json",
        "Request-ID": request_id or str(uuid.uuid4()),
        "Sentry-Hook-Resource": resource,
        "Sentry-Hook-Timestamp": str(int(datetime.now(UTC).timestamp())),
        "Sentry-Hook-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
    }


def pagerduty_event(
    *,
    event_type: str = "incident.triggered",
    incident_id: str = "PGR0VU2",
    number: int = 2,
    title: str = "todo-service: 5xx on POST /todos/{id}/complete",
    service: tuple[str, str] = ("PF9KMXH", "todo-service"),
    urgency: str = "high",
    priority: str | None = "P1",
    event_id: str | None = None,
    domain: str = "https://acme.pagerduty.com",
    api: str = "https://api.pagerduty.com",
) -> dict[str, Any]:
    """A V3 webhook payload about an incident, shaped like PagerDuty's published example."""
    service_id, service_name = service

    def ref(kind: str, path: str, ident: str, summary: str) -> dict[str, str]:
        return {
            "html_url": f"{domain}/{path}/{ident}",
            "id": ident,
            "self": f"{api}/{path}/{ident}",
            "summary": summary,
            "type": f"{kind}_reference",
        }

    incident = {
        "id": incident_id,
        "type": "incident",
        "self": f"{api}/incidents/{incident_id}",
        "html_url": f"{domain}/incidents/{incident_id}",
        "number": number,
        "status": "triggered",
        "incident_key": uuid.uuid5(uuid.NAMESPACE_URL, incident_id).hex,
        "created_at": "2024-05-01T02:14:03Z",
        "title": title,
        "service": ref("service", "services", service_id, service_name),
        "assignees": [ref("user", "users", "PTUXL6G", "On-call Engineer")],
        "escalation_policy": ref("escalation_policy", "escalation_policies", "PUS0KTE", "Default"),
        "teams": [ref("team", "teams", "PFCVPS0", "Engineering")],
        "priority": {
            "html_url": f"{domain}/account/incident_priorities",
            "id": "PSO75BM",
            "self": f"{api}/priorities/PSO75BM",
            "summary": priority,
            "type": "priority_reference",
        }
        if priority
        else None,
        "urgency": urgency,
        "conference_bridge": None,
        "resolve_reason": None,
    }
    return {
        "event": {
            "id": event_id or str(uuid.uuid4()),
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2024-05-01T02:14:05.169Z",
            "agent": ref("service", "services", service_id, service_name),
            "client": {"name": "Monitoring"},
            "data": incident,
        }
    }


def pagerduty_headers(secrets: Sequence[str], body: bytes) -> dict[str, str]:
    """The headers PagerDuty sends with ``body``: ``X-PagerDuty-Signature`` with one ``v1=`` signature
    per secret (two while a secret rotates), and the webhook's id."""
    signatures = ",".join(
        "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest() for secret in secrets
    )
    return {
        "Content-Type": "application/json",
        "X-PagerDuty-Signature": signatures,
        "X-Webhook-Id": str(uuid.uuid4()),
        "X-Webhook-Subscription": "PSSBY5U",
    }
