"""PagerDuty's side: V3 signatures with a secret rotating, which events start runs, a real Python
traceback read out of an alert's body, and notes added through PagerDuty's own client against a fake
REST API over HTTPS."""

import json
from collections.abc import Iterator
from pathlib import PurePath

import pytest

from config import PagerDutySettings
from demo.alerts import deployed_traceback, pagerduty_event, pagerduty_headers
from documents.alerts import Alert
from documents.facts import Ticket
from integrations.base import IntegrationError, SignatureError
from integrations.pagerduty import (
    PagerDutyClient,
    PagerDutyTrigger,
    frames_in_text,
    parse_pagerduty_webhook,
    verify_pagerduty_signature,
    webhook_secrets,
)
from tests.fakes.pagerduty import FROM, TOKEN, FakePagerDuty, alert_json

OLD, NEW = "pd-secret-old", "pd-secret-new"
BODY = json.dumps(pagerduty_event()).encode()


def signature(*secrets: str, body: bytes = BODY) -> str:
    return pagerduty_headers(secrets, body)["X-PagerDuty-Signature"]


def test_any_signature_may_match_any_configured_secret_while_one_rotates() -> None:
    assert webhook_secrets(f" {NEW}, ,{OLD} ") == [NEW, OLD]
    verify_pagerduty_signature([NEW, OLD], BODY, signature(OLD))  # PagerDuty still signs with the old one
    verify_pagerduty_signature([NEW, OLD], BODY, signature(OLD, NEW))  # both, during the switch
    verify_pagerduty_signature([NEW], BODY, signature(OLD, NEW))  # the old one retired here first


@pytest.mark.parametrize(
    ("secrets", "header", "words"),
    [
        ([NEW], None, "no X-PagerDuty-Signature"),
        ([NEW], "sha256=abc", "malformed"),
        ([NEW], signature(OLD), "not in PAGERDUTY_WEBHOOK_SECRETS"),
        ([NEW], signature(NEW, body=BODY + b" "), "altered"),
        ([], signature(NEW), "no PagerDuty webhook secret"),
    ],
    ids=["missing", "malformed", "stale secret", "tampered", "none configured"],
)
def test_a_wrong_signature_is_refused_saying_why(secrets: list[str], header: str | None, words: str) -> None:
    with pytest.raises(SignatureError, match=words):
        verify_pagerduty_signature(secrets, BODY, header)


def test_a_triggered_incident_becomes_a_ticket_and_filters_decide() -> None:
    found = parse_pagerduty_webhook(pagerduty_event(number=7, incident_id="PT4KHLK"), PagerDutySettings())
    assert isinstance(found, PagerDutyTrigger) and found.incident_id == "PT4KHLK"
    ticket = found.ticket
    assert (ticket.key, ticket.source, ticket.priority, ticket.components) == (
        "PD-7",
        "pagerduty",
        "P1",
        ["todo-service"],
    )
    assert ticket.url == "https://acme.pagerduty.com/incidents/PT4KHLK"
    assert ticket.alert is not None and ticket.alert.tags == {
        "service": "todo-service",
        "urgency": "high",
        "priority": "P1",
    }
    acknowledged = pagerduty_event(event_type="incident.acknowledged")
    assert parse_pagerduty_webhook(acknowledged, PagerDutySettings()) == (
        "'incident.acknowledged' events do not start runs (only incident.triggered)"
    )
    other = PagerDutySettings(services=["PBILLING"])
    assert parse_pagerduty_webhook(pagerduty_event(), other) == "service 'todo-service' is not in PBILLING"
    assert isinstance(
        parse_pagerduty_webhook(pagerduty_event(), PagerDutySettings(services=["pf9kmxh"])), PagerDutyTrigger
    )
    low = pagerduty_event(urgency="low")
    assert (
        parse_pagerduty_webhook(low, PagerDutySettings(urgencies=["high"])) == "urgency 'low' is not in high"
    )


def test_the_frames_of_a_python_traceback_are_read_from_text() -> None:
    frames = frames_in_text(f"Error rate over 5%\n{deployed_traceback(9)}")
    assert [(PurePath(f.abs_path or "").parts[-2:], f.lineno, f.function) for f in frames][1:] == [
        (("app", "handlers.py"), 10, "complete_todo"),
        (("todo", "service.py"), 55, "complete"),
        (("todo", "service.py"), 50, "get"),
    ]  # after the web server's own frame
    assert frames[-1].line == "raise TodoNotFound(todo_id)"
    assert frames_in_text("nothing like a traceback here") == []


@pytest.fixture
def pagerduty(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePagerDuty]:
    with FakePagerDuty() as fake:
        monkeypatch.setenv("SSL_CERT_FILE", fake.ca_file)  # trust the fake's certificate, as for a private CA
        yield fake


def incident_ticket(incident_id: str = "PGR0VU2") -> Ticket:
    alert = Alert(source="pagerduty", subject=incident_id, title="5xx on complete")
    return Ticket(key="PD-2", title="5xx on complete", source="pagerduty", alert=alert)


async def test_the_alerts_are_read_and_a_note_is_added_once(pagerduty: FakePagerDuty) -> None:
    details = {"error": "TodoNotFound", "traceback": deployed_traceback(9), "host": "web-1"}
    pagerduty.add_incident("PGR0VU2", [alert_json("PGR0VU2", summary="5xx on complete", details=details)])
    client = PagerDutyClient(token=TOKEN, api_url=pagerduty.url, from_email=FROM)
    ticket = incident_ticket()
    assert ticket.alert is not None
    alert = await client.complete(ticket.alert)
    assert (
        "5xx on complete (critical)" in alert.details and "TodoNotFound: no todo with id 9" in alert.details
    )
    assert [frame.function for frame in alert.frames][-2:] == ["complete", "get"]

    await client.note(ticket, "Nightshift is working on this incident", run_id="r1", again=False)
    await client.note(ticket, "Nightshift is working on this incident", run_id="r1", again=True)  # a retry
    assert pagerduty.notes_on("PGR0VU2") == ["Nightshift is working on this incident"]
    assert all(call.headers["authorization"] == f"Token token={TOKEN}" for call in pagerduty.calls)
    assert pagerduty.calls_to("POST")[0].headers["from"] == FROM
    assert pagerduty.calls_to("PUT") == []  # never acknowledged, never resolved
    client.close()


async def test_refusals_and_outages_say_whether_a_retry_can_help(pagerduty: FakePagerDuty) -> None:
    pagerduty.add_incident("PGR0VU2", [])
    ticket = incident_ticket()
    pagerduty.fail_next(status=503)
    client = PagerDutyClient(token=TOKEN, api_url=pagerduty.url, from_email=FROM)
    with pytest.raises(IntegrationError, match="HTTP 503") as outage:
        await client.note(ticket, "note", run_id="r1", again=False)
    without_from = PagerDutyClient(token=TOKEN, api_url=pagerduty.url)
    with pytest.raises(IntegrationError, match="set PAGERDUTY_FROM") as refused:
        await without_from.note(ticket, "note", run_id="r1", again=False)
    wrong = PagerDutyClient(token="not-the-token", api_url=pagerduty.url, from_email=FROM)
    with pytest.raises(IntegrationError, match="check PAGERDUTY_API_TOKEN") as unauthorized:
        await wrong.note(ticket, "note", run_id="r1", again=False)
    assert outage.value.retryable and not refused.value.retryable and not unauthorized.value.retryable
    assert "not-the-token" not in str(unauthorized.value)
    assert pagerduty.notes_on("PGR0VU2") == []
    with pytest.raises(IntegrationError, match="https"):
        PagerDutyClient(token=TOKEN, api_url="http://127.0.0.1:1")
