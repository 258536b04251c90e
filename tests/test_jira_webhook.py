"""Which Jira webhooks start a run, and the Ticket they carry; every other one says why it is ignored."""

from typing import Any

import pytest

from config import JiraSettings
from integrations.jira_webhook import JiraTrigger, parse_jira_webhook, ticket_from_issue
from tests.fakes.jira import (
    BOT_ACCOUNT_ID,
    by_our_account,
    issue_created,
    issue_json,
    issue_updated,
    labels_added,
)

BASE = "https://acme.atlassian.net"
SETTINGS = JiraSettings(projects=["TODO"], issue_types=["Bug"], labels=["nightshift"])


def parse(payload: dict[str, Any], settings: JiraSettings = SETTINGS) -> JiraTrigger | str:
    return parse_jira_webhook(payload, settings, base_url=BASE, own_account_id=BOT_ACCOUNT_ID)


def test_a_bug_created_with_the_label_starts_a_run_with_a_readable_ticket() -> None:
    trigger = parse(issue_created(issue_json("TODO-42", labels=["backend", "nightshift"])))
    assert isinstance(trigger, JiraTrigger)
    assert (trigger.key, trigger.event) == ("TODO-42", "jira:issue_created")
    ticket = trigger.ticket
    assert ticket.title == "Completing a todo twice reopens it"
    assert ticket.description.startswith(
        "## What happens\n\nCompleting a todo twice reopens it. @Dana Reporter"
    )
    assert "```python\ntodo.complete()" in ticket.description
    assert (ticket.priority, ticket.labels, ticket.components) == (
        "High",
        ["backend", "nightshift"],
        ["todos"],
    )
    assert (ticket.reporter, ticket.source, ticket.url) == ("Dana Reporter", "jira", f"{BASE}/browse/TODO-42")
    assert trigger.delivery


def test_a_created_issue_without_the_label_is_ignored_with_the_reason() -> None:
    reason = parse(issue_created(issue_json("TODO-42", labels=["backend"])))
    assert reason == "ignored: TODO-42 was created without a nightshift label"


def test_adding_the_label_to_an_existing_issue_starts_a_run() -> None:
    issue = issue_json("TODO-7", labels=["backend", "Nightshift"])
    trigger = parse(labels_added(issue, ["backend"], ["backend", "Nightshift"]))
    assert isinstance(trigger, JiraTrigger)
    assert (trigger.key, trigger.event) == ("TODO-7", "jira:issue_updated")


@pytest.mark.parametrize(
    "items",
    [
        [{"field": "summary", "fromString": "old", "toString": "new"}],
        [{"field": "labels", "fromString": "nightshift", "toString": "nightshift backend"}],
        [{"field": "labels", "fromString": "nightshift backend", "toString": "backend"}],
    ],
    ids=["other field", "label already there", "label removed"],
)
def test_an_update_that_does_not_add_the_label_is_ignored(items: list[dict[str, Any]]) -> None:
    reason = parse(issue_updated(issue_json("TODO-7"), items=items))
    assert reason == "ignored: the update to TODO-7 did not add a nightshift label"


def test_an_issue_of_another_project_or_type_is_ignored() -> None:
    assert parse(issue_created(issue_json("OPS-3"))) == "ignored: OPS-3 is in project OPS, not in TODO"
    assert (
        parse(issue_created(issue_json("TODO-3", issuetype="Story")))
        == "ignored: TODO-3 is a Story, not a Bug"
    )
    everything = JiraSettings(projects=[], issue_types=[], labels=["nightshift"])
    assert isinstance(parse(issue_created(issue_json("OPS-3", issuetype="Story")), everything), JiraTrigger)


def test_an_event_caused_by_our_own_account_is_ignored() -> None:
    payload = by_our_account(issue_json("TODO-42"))
    assert parse(payload) == "ignored: caused by Nightshift's own Jira account"
    trigger = parse_jira_webhook(payload, SETTINGS, base_url=BASE, own_account_id="someone-else")
    assert isinstance(trigger, JiraTrigger)


@pytest.mark.parametrize("event", ["comment_created", "jira:issue_deleted", None])
def test_other_events_are_ignored(event: str | None) -> None:
    payload = {**issue_created(issue_json("TODO-42")), "webhookEvent": event}
    reason = parse(payload)
    assert isinstance(reason, str)
    assert reason.startswith(f"ignored: {event!r} events do not start runs")


def test_with_no_labels_configured_created_issues_start_runs_but_updates_do_not() -> None:
    any_label = JiraSettings(projects=["TODO"], labels=[])
    assert isinstance(parse(issue_created(issue_json("TODO-1", labels=[])), any_label), JiraTrigger)
    reason = parse(labels_added(issue_json("TODO-1"), [], ["nightshift"]), any_label)
    assert isinstance(reason, str) and "only created issues start runs" in reason


def test_a_payload_without_an_issue_is_ignored() -> None:
    assert (
        parse({"webhookEvent": "jira:issue_created"})
        == "ignored: the jira:issue_created payload has no issue"
    )


def test_the_delivery_id_is_the_header_when_given_else_stable_for_a_redelivery() -> None:
    payload = labels_added(issue_json("TODO-7"), [], ["nightshift"])
    first = parse(payload)
    again = parse(payload)
    assert isinstance(first, JiraTrigger) and isinstance(again, JiraTrigger)
    assert first.delivery == again.delivery == "jira:issue_updated:10007:10101"
    given = parse_jira_webhook(payload, SETTINGS, base_url=BASE, own_account_id=None, delivery="abc-123")
    assert isinstance(given, JiraTrigger) and given.delivery == "abc-123"


def test_ticket_from_a_plain_text_description_and_sparse_fields() -> None:
    issue = issue_json("TODO-9", description="It breaks.", priority=None, reporter=None, components=[])
    ticket = ticket_from_issue(issue, BASE + "/")
    assert (ticket.description, ticket.priority, ticket.reporter, ticket.components) == (
        "It breaks.",
        None,
        None,
        [],
    )
    assert ticket.url == f"{BASE}/browse/TODO-9"
