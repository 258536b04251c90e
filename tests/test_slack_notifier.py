"""SlackNotifier against a fake Slack on 127.0.0.1, through slack_sdk's real AsyncWebClient and httpx."""

from collections.abc import Iterator

import pytest

from demo.fake_slack import CHANNEL_ID, FIRST_TS, TOKEN, FakeSlack
from demo.serving import free_port
from documents.briefing import Briefing, build_briefing
from documents.facts import RunFacts
from documents.slack_blocks import briefing_blocks, decided_blocks, feedback_modal
from integrations.slack import SlackError, SlackNotifier
from tests.documents_fixtures import verified_run

TS1, TS2 = f"{FIRST_TS}.000100", f"{FIRST_TS}.000200"
MARK = "run42:briefing"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(not_in_channel=("C0PRIVATE",)) as server:
        yield server


@pytest.fixture
def notifier(slack: FakeSlack) -> SlackNotifier:
    return SlackNotifier(token=TOKEN, channel=CHANNEL_ID, api_url=slack.api_url, approvers=["U0ALICE"])


def awaiting() -> tuple[RunFacts, Briefing]:
    facts = verified_run()
    facts.message_ref = None
    return facts, build_briefing(facts)


def shipped(facts: RunFacts) -> Briefing:
    facts = facts.model_copy(update={"status": "shipped", "pr_url": "https://github.com/acme/pay/pull/7"})
    return build_briefing(facts)


def has_buttons(blocks: list[dict[str, object]]) -> bool:
    return any(block["type"] == "actions" for block in blocks)


async def test_post_briefing_returns_channel_and_ts_and_posts_the_blocks(
    slack: FakeSlack, notifier: SlackNotifier
) -> None:
    _, b = awaiting()

    ref = await notifier.post_briefing(b, channel=None, marker=MARK, again=False)

    assert ref == f"{CHANNEL_ID}:{TS1}"
    (call,) = slack.calls_to("chat.postMessage")
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.body["blocks"] == briefing_blocks(b)
    assert call.body["metadata"] == {"event_type": "nightshift_briefing", "event_payload": {"delivery": MARK}}
    assert call.body["text"].startswith("PAY-42: fix verified, ready for review")
    assert (call.body["unfurl_links"], call.body["link_names"]) == (False, False)
    assert has_buttons(slack.message(ref)["blocks"])


async def test_update_edits_the_same_message_in_place(slack: FakeSlack, notifier: SlackNotifier) -> None:
    facts, b = awaiting()
    ref = await notifier.post_briefing(b, channel=None, marker=MARK, again=False)
    assert ref is not None

    assert await notifier.update_briefing(shipped(facts), ref, marker=MARK) == ref

    (update,) = slack.calls_to("chat.update")
    assert (update.body["channel"], update.body["ts"]) == (CHANNEL_ID, TS1)
    assert len(slack.calls_to("chat.postMessage")) == 1
    message = slack.message(ref)
    assert not has_buttons(message["blocks"])
    assert "<https://github.com/acme/pay/pull/7|Pull request>" in str(message["blocks"])


async def test_an_update_of_a_deleted_message_posts_it_again(
    slack: FakeSlack, notifier: SlackNotifier
) -> None:
    _, b = awaiting()

    ref = await notifier.update_briefing(b, f"{CHANNEL_ID}:1600000000.000001", marker=MARK)

    assert ref == f"{CHANNEL_ID}:{TS1}"
    assert [call.body["channel"] for call in slack.calls_to("chat.postMessage")] == [CHANNEL_ID]
    assert slack.calls_to("chat.update")[0].status == 200  # answered ok: false, message_not_found
    assert slack.message(ref)["blocks"] == briefing_blocks(b)


async def test_a_retry_finds_the_briefing_an_earlier_attempt_posted(
    slack: FakeSlack, notifier: SlackNotifier
) -> None:
    _, b = awaiting()
    first = await notifier.post_briefing(b, channel=None, marker=MARK, again=False)  # its answer "lost"

    again = await notifier.post_briefing(b, channel=None, marker=MARK, again=True)
    other = await notifier.post_briefing(b, channel=None, marker="run43:briefing", again=True)

    assert again == first and other != first
    assert len(slack.calls_to("chat.postMessage")) == 2  # the first post and the other run's
    (history, _) = slack.calls_to("conversations.history")
    assert history.query["include_all_metadata"] in ("1", "true") and history.query["channel"] == CHANNEL_ID


async def test_mark_deciding_removes_the_buttons_at_once(slack: FakeSlack, notifier: SlackNotifier) -> None:
    _, b = awaiting()
    ref = await notifier.post_briefing(b, channel=None, marker=MARK, again=False)
    assert ref is not None

    await notifier.mark_deciding(ref, "Approving...", by="U0ALICE", briefing=b)

    blocks = slack.message(ref)["blocks"]
    assert not has_buttons(blocks)
    assert blocks[0]["text"]["text"] == "PAY-42 · P2 → P1 (triage) · Refunds show up as charges"
    assert blocks[1]["elements"][0]["text"] == "Approving... (by <@U0ALICE>)"
    assert slack.message(ref)["text"] == "Approving... (by <@U0ALICE>)"


async def test_mark_deciding_after_a_restart_redraws_the_whole_briefing(slack: FakeSlack) -> None:
    _, b = awaiting()
    first = SlackNotifier(token=TOKEN, channel=CHANNEL_ID, api_url=slack.api_url)
    ref = await first.post_briefing(b, channel=None, marker=MARK, again=False)
    assert ref is not None
    restarted = SlackNotifier(token=TOKEN, channel=CHANNEL_ID, api_url=slack.api_url)

    await restarted.mark_deciding(ref, "Changes requested: <!channel> retry", by="U0ALICE", briefing=b)

    blocks = slack.message(ref)["blocks"]
    assert not has_buttons(blocks)
    assert blocks == decided_blocks(b, "Changes requested: <!channel> retry (by <@U0ALICE>)")
    assert blocks[1]["elements"][0]["text"] == "Changes requested: &lt;!channel&gt; retry (by <@U0ALICE>)"
    assert len(blocks) == len(briefing_blocks(b))  # the whole briefing, less its buttons, plus the line


async def test_a_429_is_one_attempt_that_says_when_to_try_again(
    slack: FakeSlack, notifier: SlackNotifier
) -> None:
    _, b = awaiting()
    slack.fail_next("chat.postMessage", status=429, retry_after="7")

    with pytest.raises(SlackError) as caught:
        await notifier.post_briefing(b, channel=None, marker=MARK, again=False)

    assert [call.status for call in slack.calls_to("chat.postMessage")] == [429]  # the outbox retries
    assert (caught.value.retryable, caught.value.retry_after_s, caught.value.status) == (True, 7.0, 429)
    assert "ratelimited" in str(caught.value) and "HTTP 429" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "body", "content_type", "quoted"),
    [
        (
            502,
            b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>"
            b"<hr><center>nginx</center></body></html>",
            "text/html",
            "502 Bad Gateway 502 Bad Gateway nginx",
        ),
        (
            503,
            b"upstream connect error or disconnect/reset before headers",
            "text/plain",
            "upstream connect error or disconnect/reset before headers",
        ),
        (500, b"", "application/json", "(empty body)"),
        (504, b"{not json", "application/json", "{not json"),
    ],
)
async def test_an_answer_that_is_not_slacks_names_the_status_and_quotes_the_body(
    slack: FakeSlack, notifier: SlackNotifier, status: int, body: bytes, content_type: str, quoted: str
) -> None:
    _, b = awaiting()
    slack.fail_next("chat.postMessage", status=status, body=body, content_type=content_type)

    with pytest.raises(SlackError) as caught:
        await notifier.post_briefing(b, channel=None, marker=MARK, again=False)

    message = str(caught.value)
    assert message.startswith(f"Slack chat.postMessage failed: HTTP {status}: ") and quoted in message
    assert caught.value.retryable and caught.value.status == status


async def test_no_answer_at_all_is_worth_retrying(notifier: SlackNotifier) -> None:
    _, b = awaiting()
    closed = SlackNotifier(token=TOKEN, channel=CHANNEL_ID, api_url=f"http://127.0.0.1:{free_port()}/api/")

    with pytest.raises(SlackError) as caught:
        await closed.post_briefing(b, channel=None, marker=MARK, again=False)

    assert caught.value.retryable and caught.value.status is None
    assert str(caught.value).startswith("Slack chat.postMessage failed: no answer (")


async def test_a_refused_token_is_an_error_naming_the_variable(slack: FakeSlack) -> None:
    _, b = awaiting()
    wrong = SlackNotifier(token="xoxb-revoked", channel=CHANNEL_ID, api_url=slack.api_url)

    with pytest.raises(SlackError, match=r"postMessage failed: invalid_auth .*SLACK_BOT_TOKEN") as error:
        await wrong.post_briefing(b, channel=None, marker=MARK, again=False)

    assert error.value.code == "invalid_auth" and not error.value.retryable
    assert slack.calls_to("chat.postMessage")[0].token == "xoxb-revoked"


async def test_the_briefing_goes_to_the_runs_own_channel_or_falls_back(
    slack: FakeSlack, notifier: SlackNotifier
) -> None:
    _, b = awaiting()

    assert await notifier.post_briefing(b, channel="C0TEAM", marker=MARK, again=False) == f"C0TEAM:{TS1}"
    uninvited = await notifier.post_briefing(b, channel="C0PRIVATE", marker=MARK, again=False)
    assert uninvited == f"{CHANNEL_ID}:{TS2}"  # the bot was never invited to C0PRIVATE

    assert [call.body["channel"] for call in slack.calls_to("chat.postMessage")] == [
        "C0TEAM",
        "C0PRIVATE",
        CHANNEL_ID,
    ]


async def test_open_feedback_modal_sends_the_trigger_and_the_run(
    slack: FakeSlack, notifier: SlackNotifier
) -> None:
    await notifier.open_feedback_modal("13345224609.738474920.8088930838d88f008e1", "run-7f3a")

    (call,) = slack.calls_to("views.open")
    assert call.body["trigger_id"] == "13345224609.738474920.8088930838d88f008e1"
    assert call.body["view"] == feedback_modal("run-7f3a")
    assert call.body["view"]["private_metadata"] == "run-7f3a"
    assert call.token == TOKEN


async def test_ephemeral_goes_to_one_user(slack: FakeSlack, notifier: SlackNotifier) -> None:
    await notifier.ephemeral(CHANNEL_ID, "U0BOB", "Only <@U0ALICE> may decide on Nightshift runs.")

    (call,) = slack.calls_to("chat.postEphemeral")
    assert (call.body["channel"], call.body["user"]) == (CHANNEL_ID, "U0BOB")
    assert call.body["text"] == "Only <@U0ALICE> may decide on Nightshift runs."


async def test_respond_posts_json_to_the_response_url(slack: FakeSlack, notifier: SlackNotifier) -> None:
    payload = {"response_type": "ephemeral", "text": "On it: run run-7f3a"}

    await notifier.respond(slack.response_url("7"), payload)

    (call,) = slack.calls_to("/respond/7")
    assert call.body == payload and call.headers["content-type"] == "application/json"
    assert "authorization" not in call.headers
    slack.fail_next("respond", status=404)
    with pytest.raises(SlackError, match="response_url answered 404"):
        await notifier.respond(slack.response_url("8"), payload)


@pytest.mark.parametrize(
    "url", ["http://hooks.example.com/commands/1", "file:///etc/passwd", "ftp://127.0.0.1/x", "not a url"]
)
async def test_respond_refuses_anything_but_https_or_loopback_http(
    slack: FakeSlack, notifier: SlackNotifier, url: str
) -> None:
    with pytest.raises(SlackError, match=r"must be an https URL|is not a URL"):
        await notifier.respond(url, {"text": "x"})

    assert not slack.calls


def test_the_api_url_must_be_https_so_the_token_is_never_sent_in_clear() -> None:
    with pytest.raises(SlackError, match="SLACK_API_URL must be an https URL"):
        SlackNotifier(token=TOKEN, channel=CHANNEL_ID, api_url="http://slack.example.com/api/")


def test_approvers_decide_and_no_approvers_means_everyone(notifier: SlackNotifier) -> None:
    assert notifier.is_approver("U0ALICE") and not notifier.is_approver("U0BOB")
    anyone = SlackNotifier(token=TOKEN, channel=CHANNEL_ID, api_url="https://slack.com/api/")
    assert anyone.is_approver("U0BOB")
