"""Sentry's side: the signature, which webhooks start runs, and an event that sentry-sdk really
captured read the same from the webhook's shape and from the REST API's, through the real httpx client
against a fake Sentry."""

import json
from typing import Any

import pytest

from config import SentrySettings
from demo.alerts import capture_sentry_event, sentry_event_alert, sentry_headers, sentry_issue_created
from documents.alerts import Alert
from integrations.base import IntegrationError, SignatureError
from integrations.sentry import SentryClient, SentryTrigger, parse_sentry_webhook, verify_sentry_signature
from tests.fakes.sentry import TOKEN, FakeSentry
from tests.model_fixtures import SleepRecorder

SECRET = "sentry-client-secret-1"


@pytest.fixture(scope="module")
def captured() -> dict[str, Any]:
    return capture_sentry_event(7)


def trigger(resource: str, payload: dict[str, Any], **settings: Any) -> SentryTrigger | str:
    return parse_sentry_webhook(resource, payload, SentrySettings(**settings))


BODY = json.dumps({"action": "triggered"}).encode()


def test_the_signature_is_the_hex_hmac_of_the_raw_body() -> None:
    verify_sentry_signature(SECRET, BODY, sentry_headers(SECRET, BODY)["Sentry-Hook-Signature"])


@pytest.mark.parametrize(
    ("body", "header", "words"),
    [
        (BODY, None, "no Sentry-Hook-Signature"),
        (BODY, "sha256=abc", "malformed"),
        (BODY, sentry_headers("the-old-secret", BODY)["Sentry-Hook-Signature"], "differs"),
        (BODY + b" ", sentry_headers(SECRET, BODY)["Sentry-Hook-Signature"], "altered"),
    ],
    ids=["missing", "malformed", "stale secret", "tampered"],
)
def test_a_wrong_signature_is_refused_saying_why(body: bytes, header: str | None, words: str) -> None:
    with pytest.raises(SignatureError, match=words):
        verify_sentry_signature(SECRET, body, header)


def test_an_event_alert_becomes_a_ticket_with_the_in_app_frames(captured: dict[str, Any]) -> None:
    found = trigger("event_alert", sentry_event_alert(captured, issue_id="4242"))
    assert isinstance(found, SentryTrigger) and found.issue_id == "4242"
    ticket, alert = found.ticket, found.ticket.alert
    assert alert is not None
    assert (ticket.key, ticket.source, ticket.title) == (
        "SENTRY-4242",
        "sentry",
        "TodoNotFound: no todo with id 7",
    )
    assert ticket.url == alert.web_url and alert.web_url.endswith(
        f"/issues/4242/events/{captured['event_id']}/"
    )
    assert (alert.exception_type, alert.exception_value) == ("TodoNotFound", "no todo with id 7")
    assert (alert.culprit, alert.release, alert.environment) == (
        "todo.service in get",
        "todo-service@1.4.0",
        "production",
    )
    assert alert.tags["server_name"] == "web-1"
    assert [(f.filename, f.lineno, f.function) for f in alert.frames] == [
        ("app/handlers.py", 10, "complete_todo"),
        ("todo/service.py", 55, "complete"),
        ("todo/service.py", 50, "get"),
    ]  # the web server's own frame is not in-app
    assert alert.frames[-1].line == "            raise TodoNotFound(todo_id)"
    assert alert.frames[-1].abs_path is not None and alert.frames[-1].abs_path.endswith(
        "/1.4.0/todo/service.py"
    )
    assert "Culprit: todo.service in get" in ticket.description


def test_filters_decide_which_alerts_start_runs(captured: dict[str, Any]) -> None:
    payload = sentry_event_alert(captured)
    staging = sentry_event_alert(capture_sentry_event(7, environment="staging"))
    assert trigger("event_alert", staging) == "environment 'staging' is not in production"
    assert isinstance(trigger("event_alert", staging, environments=[]), SentryTrigger)
    assert isinstance(trigger("event_alert", payload, projects=["todo-service"]), SentryTrigger)
    assert trigger("event_alert", payload, projects=["billing"]) == "project todo-service is not in billing"
    assert trigger("event_alert", payload, min_level="fatal") == "level 'error' is below min_level 'fatal'"
    assert "do not start runs" in str(trigger("installation", {"action": "created", "data": {}}))
    resolved = {**sentry_issue_created(payload), "action": "resolved"}
    assert trigger("issue", resolved) == "issue 'resolved' webhooks do not start runs (only created)"
    assert trigger("event_alert", {"action": "triggered"}) == "the event_alert payload has no data"


def test_a_new_issue_starts_a_run_without_a_stack(captured: dict[str, Any]) -> None:
    found = trigger("issue", sentry_issue_created(sentry_event_alert(captured, issue_id="77")))
    assert isinstance(found, SentryTrigger) and found.ticket.alert is not None
    assert found.ticket.key == "SENTRY-77" and found.ticket.alert.frames == []
    assert found.ticket.alert.culprit == "todo.service in get"


async def test_the_latest_event_is_read_from_the_rest_api_like_the_webhook_carries_it(
    captured: dict[str, Any],
) -> None:
    from_webhook = trigger("event_alert", sentry_event_alert(captured, issue_id="4242"))
    assert isinstance(from_webhook, SentryTrigger) and from_webhook.ticket.alert is not None
    bare = Alert(source="sentry", subject="4242", title="TodoNotFound: no todo with id 7")
    with FakeSentry() as sentry:
        sentry.add_event("4242", captured)
        waits = SleepRecorder()
        client = SentryClient(token=TOKEN, organization="acme", api_url=sentry.url, sleep=waits)
        completed = await client.complete(bare)
        wrong = SentryClient(token="not-the-token", organization="acme", api_url=sentry.url)
        with pytest.raises(IntegrationError, match=r"401.*check SENTRY_AUTH_TOKEN") as refused:
            await wrong.complete(bare)
        sentry.fail_next(status=503)  # a moment's outage: retried
        assert (await client.complete(bare)).frames == completed.frames
        sentry.fail_next(3, status=503)  # a longer one: said, after two retries
        with pytest.raises(IntegrationError, match="HTTP 503") as outage:
            await client.complete(bare)
    assert completed.frames == from_webhook.ticket.alert.frames  # the same frames and source lines
    assert (completed.release, completed.environment) == ("todo-service@1.4.0", "production")
    assert not refused.value.retryable and outage.value.retryable
    assert len(waits.delays) == 3  # one retry for the first outage, two for the second
    assert [call.authorization for call in sentry.calls[:1]] == [f"Bearer {TOKEN}"]
    assert TOKEN not in str(refused.value)
