"""SlackNotifier against a fake Slack on 127.0.0.1, through slack_sdk's real AsyncWebClient and httpx."""

import time
from collections.abc import Iterator

import pytest

from demo.fake_slack import CHANNEL_ID, FIRST_TS, TOKEN, FakeSlack
from documents.briefing import Briefing, build_briefing
from documents.facts import RunFacts
from documents.slack_blocks import briefing_blocks, decided_blocks, feedback_modal
from integrations.slack import SlackError, SlackNotifier
from tests.documents_fixtures import verified_run

TS1, TS2 = f"{FIRST_TS}.000100", f"{FIRST_TS}.000200"


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
    facts, b = awaiting()

    ref = await notifier.post_briefing(facts, b)

    assert ref == f"{CHANNEL_ID}:{TS1}"
    (call,) = slack.calls_to("chat.postMessage")
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.body["blocks"] == briefing_blocks(b)
    assert call.body["text"].startswith("PAY-42: fix verified, ready for review")
    assert (call.body["unfurl_links"], call.body["link_names"]) == (False, False)
    assert has_buttons(slack.message(ref)["blocks"])


async def test_update_edits_the_same_message_in_place(slack: FakeSlack, notifier: SlackNotifier) -> None:
    facts, b = awaiting()
    ref = await notifier.post_briefing(facts, b)
    assert ref is not None

    await notifier.update_briefing(facts, shipped(facts), ref)

    (update,) = slack.calls_to("chat.update")
    assert (update.body["channel"], update.body["ts"]) == (CHANNEL_ID, TS1)
    assert len(slack.calls_to("chat.postMessage")) == 1
    message = slack.message(ref)
    assert not has_buttons(message["blocks"])
    assert "<https://github.com/acme/pay/pull/7|Pull request>" in str(message["blocks"])


async def test_update_without_a_message_or_of_a_deleted_one_posts_a_new_message(
    slack: FakeSlack, notifier: SlackNotifier
) -> None:
    facts, b = awaiting()

    await notifier.update_briefing(facts, b, None)
    await notifier.update_briefing(facts, b, f"{CHANNEL_ID}:1600000000.000001")

    assert [call.body["channel"] for call in slack.calls_to("chat.postMessage")] == [CHANNEL_ID, CHANNEL_ID]
    assert slack.calls_to("chat.update")[0].status == 200  # answered ok: false, message_not_found
    assert slack.message(f"{CHANNEL_ID}:{TS2}")["blocks"] == briefing_blocks(b)


async def test_mark_deciding_removes_the_buttons_at_once(slack: FakeSlack, notifier: SlackNotifier) -> None:
    facts, b = awaiting()
    ref = await notifier.post_briefing(facts, b)
    assert ref is not None

    await notifier.mark_deciding(ref, "Approving...", by="U0ALICE", briefing=b)

    blocks = slack.message(ref)["blocks"]
    assert not has_buttons(blocks)
    assert blocks[0]["text"]["text"] == "PAY-42 · P1 · Refunds show up as charges"
    assert blocks[1]["elements"][0]["text"] == "Approving... (by <@U0ALICE>)"
    assert slack.message(ref)["text"] == "Approving... (by <@U0ALICE>)"


async def test_mark_deciding_after_a_restart_redraws_the_whole_briefing(slack: FakeSlack) -> None:
    facts, b = awaiting()
    first = SlackNotifier(token=TOKEN, channel=CHANNEL_ID, api_url=slack.api_url)
    ref = await first.post_briefing(facts, b)
    assert ref is not None
    restarted = SlackNotifier(token=TOKEN, channel=CHANNEL_ID, api_url=slack.api_url)

    await restarted.mark_deciding(ref, "Changes requested: <!channel> retry", by="U0ALICE", briefing=b)

    blocks = slack.message(ref)["blocks"]
    assert not has_buttons(blocks)
    assert blocks == decided_blocks(b, "Changes requested: <!channel> retry (by <@U0ALICE>)")
    assert blocks[1]["elements"][0]["text"] == "Changes requested: &lt;!channel&gt; retry (by <@U0ALICE>)"
    assert len(blocks) == len(briefing_blocks(b))  # the whole briefing, less its buttons, plus the line


async def test_a_429_is_retried_after_retry_after(slack: FakeSlack, notifier: SlackNotifier) -> None:
    facts, b = awaiting()
    slack.fail_next("chat.postMessage", status=429, retry_after="1")
    started = time.monotonic()

    ref = await notifier.post_briefing(facts, b)

    assert time.monotonic() - started >= 1.0
    assert [call.status for call in slack.calls_to("chat.postMessage")] == [429, 200]
    assert ref == f"{CHANNEL_ID}:{TS1}"


async def test_a_500_is_retried(slack: FakeSlack, notifier: SlackNotifier) -> None:
    facts, b = awaiting()
    ref = await notifier.post_briefing(facts, b)
    assert ref is not None
    slack.fail_next("chat.update", status=500)

    await notifier.update_briefing(facts, shipped(facts), ref)

    assert [call.status for call in slack.calls_to("chat.update")] == [500, 200]
    assert not has_buttons(slack.message(ref)["blocks"])


async def test_a_refused_token_is_an_error_naming_the_variable(slack: FakeSlack) -> None:
    facts, b = awaiting()
    wrong = SlackNotifier(token="xoxb-revoked", channel=CHANNEL_ID, api_url=slack.api_url)

    with pytest.raises(SlackError, match=r"postMessage failed: invalid_auth .*SLACK_BOT_TOKEN") as error:
        await wrong.post_briefing(facts, b)

    assert error.value.code == "invalid_auth"
    assert slack.calls_to("chat.postMessage")[0].token == "xoxb-revoked"


async def test_the_briefing_goes_to_the_runs_own_channel_or_falls_back(
    slack: FakeSlack, notifier: SlackNotifier
) -> None:
    facts, b = awaiting()

    facts.message_ref = "C0TEAM:"
    assert await notifier.post_briefing(facts, b) == f"C0TEAM:{TS1}"
    facts.message_ref = "C0PRIVATE:"  # the bot was never invited there
    assert await notifier.post_briefing(facts, b) == f"{CHANNEL_ID}:{TS2}"

    assert [call.body["channel"] for call in slack.calls_to("chat.postMessage")] == [
        "C0TEAM",
        "C0PRIVATE",
        CHANNEL_ID,
    ]


async def test_notify_replies_in_the_briefings_thread_or_names_the_ticket(
    slack: FakeSlack, notifier: SlackNotifier
) -> None:
    facts, b = awaiting()
    facts.message_ref = await notifier.post_briefing(facts, b)

    await notifier.notify(facts, "PR opened: https://github.com/acme/pay/pull/7 <!here>")
    facts.message_ref = None
    await notifier.notify(facts, "Run failed & stopped")

    _, reply, alone = slack.calls_to("chat.postMessage")
    assert (reply.body["channel"], reply.body["thread_ts"]) == (CHANNEL_ID, TS1)
    assert reply.body["text"] == "PR opened: https://github.com/acme/pay/pull/7 &lt;!here&gt;"
    assert "thread_ts" not in alone.body
    assert alone.body["text"] == "PAY-42: Run failed &amp; stopped"


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
