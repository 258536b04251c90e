"""JiraClient and JiraTracker through real httpx against a fake Jira Cloud on 127.0.0.1."""

import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from config import JiraSettings
from demo.serving import free_port
from documents.facts import Ticket
from integrations.adf import text_to_adf
from integrations.base import IntegrationError
from integrations.jira import JiraClient, JiraTracker
from tests.fakes.jira import EMAIL, TOKEN, FakeJira


class Sleeps:
    """An injected sleep that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira() as fake:
        fake.add_issue("TODO-42")
        yield fake


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def client(jira: FakeJira, sleeps: Sleeps) -> AsyncIterator[JiraClient]:
    async with httpx.AsyncClient() as http:
        yield JiraClient(base_url=jira.url, email=EMAIL, token=TOKEN, http=http, sleep=sleeps)


async def test_get_issue_gives_a_ticket_with_a_readable_description(
    jira: FakeJira, client: JiraClient
) -> None:
    ticket = await client.get_issue("TODO-42")
    assert ticket.key == "TODO-42" and ticket.source == "jira"
    assert ticket.title == "Completing a todo twice reopens it"
    assert "1. Create a todo\n2. Call `complete()` twice" in ticket.description
    assert "see the dashboard (https://grafana.example.com/d/todos)" in ticket.description
    assert ticket.url == f"{jira.url}/browse/TODO-42"
    (call,) = jira.calls
    assert (call.method, call.path, call.status) == ("GET", "/rest/api/3/issue/TODO-42", 200)
    assert call.headers["accept"] == "application/json"
    assert call.headers["authorization"].startswith("Basic ")


async def test_transition_by_status_name_uses_the_transition_leading_there(
    jira: FakeJira, client: JiraClient
) -> None:
    assert await client.transition("TODO-42", "in progress") is True
    assert jira.applied_transitions == [("TODO-42", "11")]
    assert jira.status_of("TODO-42") == "In Progress"
    (post,) = jira.calls_to("POST /transitions")
    assert post.body == {"transition": {"id": "11"}}

    assert await client.transition("TODO-42", "Send to review") is True
    assert jira.status_of("TODO-42") == "In Review"


async def test_transition_to_the_current_status_does_nothing(jira: FakeJira, client: JiraClient) -> None:
    assert await client.transition("TODO-42", "To Do") is False
    assert jira.calls_to("POST") == []


async def test_an_unknown_transition_warns_and_posts_nothing(
    jira: FakeJira, client: JiraClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="integrations.jira"):
        assert await client.transition("TODO-42", "Won't fix") is False
    assert jira.calls_to("POST") == []
    assert jira.status_of("TODO-42") == "To Do"
    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    message = record.getMessage()
    assert 'TODO-42 has no transition "Won\'t fix"' in message
    assert "'Start work' (to 'In Progress')" in message


async def test_comment_posts_an_adf_body_with_the_links(jira: FakeJira, client: JiraClient) -> None:
    links = {"Nightshift run": "https://ns.example.com/runs/r1"}
    await client.comment("TODO-42", "Nightshift opened https://github.com/acme/todo/pull/7", links=links)
    (body,) = jira.comments_on("TODO-42")
    assert body == text_to_adf("Nightshift opened https://github.com/acme/todo/pull/7", links=links)
    hrefs = [m["attrs"]["href"] for p in body["content"] for n in p["content"] for m in n.get("marks", [])]
    assert hrefs == ["https://github.com/acme/todo/pull/7", "https://ns.example.com/runs/r1"]


async def test_a_429_is_retried_after_the_retry_after_delay(
    jira: FakeJira, client: JiraClient, sleeps: Sleeps
) -> None:
    jira.fail_next(1, status=429, retry_after="2")
    ticket = await client.get_issue("TODO-42")
    assert ticket.key == "TODO-42"
    assert sleeps.delays == [2.0]
    assert [call.status for call in jira.calls] == [429, 200]


async def test_a_long_retry_after_is_capped_and_a_lasting_503_gives_up(
    jira: FakeJira, client: JiraClient, sleeps: Sleeps
) -> None:
    jira.fail_next(1, status=429, retry_after="3600")
    jira.fail_next(3, status=503, retry_after=None)
    with pytest.raises(IntegrationError, match=r"kept answering HTTP 503 .* after 3 retries"):
        await client.get_issue("TODO-42")
    assert sleeps.delays == [30.0, 2.0, 4.0]
    assert len(jira.calls) == 4


async def test_wrong_credentials_name_the_account_never_the_token(
    jira: FakeJira, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    wrong_token = "wrong-token-value-123"
    client = JiraClient(base_url=jira.url, email=EMAIL, token=wrong_token, sleep=sleeps)
    try:
        with caplog.at_level(logging.DEBUG), pytest.raises(IntegrationError) as caught:
            await client.myself()
    finally:
        await client.aclose()
    message = str(caught.value)
    assert message.startswith(f"Jira refused the credentials for {EMAIL}: HTTP 401")
    assert wrong_token not in message and wrong_token not in caplog.text
    assert sleeps.delays == []


async def test_a_missing_issue_is_named(client: JiraClient) -> None:
    with pytest.raises(IntegrationError, match="Jira has no issue TODO-999 at"):
        await client.get_issue("TODO-999")


async def test_a_key_that_is_not_an_issue_key_never_reaches_jira(jira: FakeJira, client: JiraClient) -> None:
    with pytest.raises(IntegrationError, match="is not a Jira issue key"):
        await client.comment("../../myself", "hi")
    assert jira.calls == []


async def test_myself_is_asked_once(jira: FakeJira, client: JiraClient) -> None:
    assert await client.myself() == "nightshift-bot"
    assert await client.myself() == "nightshift-bot"
    assert len(jira.calls_to("/myself")) == 1


async def test_a_comment_carries_its_marker_and_a_retry_does_not_comment_twice(
    jira: FakeJira, client: JiraClient
) -> None:
    await client.comment("TODO-42", "Nightshift opened #7", marker="r1:comment:pull_request")
    await client.comment("TODO-42", "Nightshift opened #7", marker="r1:comment:pull_request", again=True)
    await client.comment("TODO-42", "Nightshift opened #8", marker="r2:comment:pull_request", again=True)

    assert jira.comment_properties("TODO-42") == [
        [{"key": "nightshift", "value": {"delivery": "r1:comment:pull_request"}}],
        [{"key": "nightshift", "value": {"delivery": "r2:comment:pull_request"}}],
    ]
    (listing, _) = jira.calls_to("POST /comment/list")
    assert listing.query == {"expand": "properties"} and listing.body == {"ids": [10001]}


@pytest.mark.parametrize(
    ("body", "content_type", "quoted"),
    [
        (
            b"<html><body><h1>502 Bad Gateway</h1><p>The proxy got no answer.</p></body></html>",
            "text/html",
            "502 Bad Gateway The proxy got no answer.",
        ),
        (b"", "text/plain", "(empty body)"),
    ],
)
async def test_a_delivery_call_is_one_attempt_that_names_the_status_and_quotes_a_proxy_page(
    jira: FakeJira, client: JiraClient, sleeps: Sleeps, body: bytes, content_type: str, quoted: str
) -> None:
    jira.fail_next(1, status=502, retry_after=None, body=body, content_type=content_type)

    with pytest.raises(IntegrationError) as caught:
        await client.transition("TODO-42", "In Progress")

    assert (caught.value.status, caught.value.retryable, caught.value.service) == (502, True, "Jira")
    assert "HTTP 502" in str(caught.value) and quoted in str(caught.value)
    assert len(jira.calls) == 1 and sleeps.delays == []  # the delivery is retried by the outbox


async def test_no_answer_is_worth_retrying(sleeps: Sleeps) -> None:
    closed = JiraClient(base_url=f"http://127.0.0.1:{free_port()}", email=EMAIL, token=TOKEN, sleep=sleeps)
    try:
        with pytest.raises(IntegrationError) as caught:
            await closed.comment("TODO-42", "hi", marker="r1:comment")
    finally:
        await closed.aclose()
    assert caught.value.retryable and caught.value.status is None
    message = str(caught.value)
    assert "Jira POST /rest/api/3/issue/TODO-42/comment" in message and "no answer" in message


async def test_the_tracker_maps_workflow_statuses_and_comments_with_the_links(
    jira: FakeJira, client: JiraClient
) -> None:
    settings = JiraSettings(start_transition="Start work", review_transition="In Review")
    tracker = JiraTracker(client, settings)
    ticket = await client.get_issue("TODO-42")

    await tracker.transition(ticket, "In Progress", run_id="r1")
    await tracker.transition(ticket, "In Review", run_id="r1")
    assert jira.applied_transitions == [("TODO-42", "11"), ("TODO-42", "21")]

    links = {
        "Nightshift run": "https://ns.example.com/runs/r1",
        "Pull request": "https://github.com/acme/todo/pull/7",
    }
    await tracker.comment(
        ticket,
        "Nightshift opened https://github.com/acme/todo/pull/7",
        run_id="r1",
        links=links,
        marker="r1:comment",
        again=False,
    )
    (body,) = jira.comments_on("TODO-42")
    labels = [n["text"] for n in body["content"][-1]["content"] if n.get("marks")]
    assert labels == ["Nightshift run", "Pull request"]
    assert body["content"][-1]["content"][0]["marks"][0]["attrs"]["href"] == "https://ns.example.com/runs/r1"


async def test_the_tracker_leaves_tickets_from_elsewhere_alone(jira: FakeJira, client: JiraClient) -> None:
    tracker = JiraTracker(client, JiraSettings())
    slack = Ticket(key="INC-3", title="checkout is down", source="slack")
    await tracker.transition(slack, "In Progress", run_id="r1")
    await tracker.comment(slack, "Nightshift opened #7", run_id="r1", links={}, marker="m", again=False)
    assert jira.calls == []

    linked = Ticket(key="INC-3", title="from a link", source="api", url=f"{jira.url}/browse/TODO-42")
    await tracker.transition(linked, "In Progress", run_id="r1")
    assert jira.applied_transitions == [("TODO-42", "11")]


async def test_refresh_reads_the_issue_and_keeps_notes_sent_with_a_bare_key(
    jira: FakeJira, client: JiraClient
) -> None:
    tracker = JiraTracker(client, JiraSettings())
    named = Ticket(
        key="TODO-42",
        title="check the cache",
        description="TODO-42 check the cache",
        reporter="sam",
        source="jira",
        ci_run_id=77,
    )
    ticket = await tracker.refresh(named)
    assert ticket.title == "Completing a todo twice reopens it"
    assert ticket.description.startswith("## What happens\n")
    assert ticket.description.endswith("\n\nNotes from sam:\ncheck the cache")
    assert (ticket.url, ticket.reporter, ticket.ci_run_id) == (
        f"{jira.url}/browse/TODO-42",
        "Dana Reporter",
        77,
    )

    from_webhook = await tracker.refresh(ticket)
    assert "Notes from" not in from_webhook.description  # a ticket with its link is Jira's own text

    slack = Ticket(key="INC-3", title="checkout is down", source="slack")
    assert await tracker.refresh(slack) is slack
    assert len(jira.calls) == 2
