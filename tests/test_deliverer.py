"""The deliverer's retry rules, on a real database and the real Slack client against a fake Slack (behind
a proxy for the outages): Retry-After is honoured, a refusal is abandoned at once, a lasting outage is
abandoned after ``delivery_timeout_s``, and in each case the run records why."""

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from config import WorkflowSettings
from deliveries.deliverer import Deliverer, woken
from deliveries.door import DeliveryExecutor
from demo.fake_slack import CHANNEL_ID, TOKEN, FakeSlack
from documents.facts import RunFacts, Ticket
from hooks import HookRunner
from integrations.local import LocalForge, LocalTracker
from integrations.slack import SlackNotifier
from safety.secret_scan import SecretScanner
from store.events import EventBus
from store.outbox import Delivery, Outbox
from store.runs import Store
from tests.documents_fixtures import verified_run
from tests.fakes.outage import Outage
from tests.waiting import eventually

ATTEMPT_S = 30.0
"""No attempt here is meant to time out (the fake answers, or the proxy answers for it, at once): an
attempt timeout as long as the default, so that a loaded machine does not turn a slow answer into one
more attempt."""
FAST = {"delivery_attempt_timeout_s": ATTEMPT_S, "delivery_backoff_s": 0.05, "delivery_backoff_max_s": 0.2}
"""Short waits between attempts, so that a test's outage lasts a second or two."""


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def proxy(slack: FakeSlack) -> Iterator[Outage]:
    with Outage(slack.url) as outage:
        yield outage


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    yield store
    store.close()


@asynccontextmanager
async def deliverer_for(
    store: Store,
    proxy: Outage,
    *,
    token: str = TOKEN,
    secrets: dict[str, str] | None = None,
    **settings: float,
) -> AsyncIterator[Deliverer]:
    bus = EventBus(store)
    notifier = SlackNotifier(
        token=token, channel=CHANNEL_ID, api_url=f"{proxy.url}/api/", timeout_s=ATTEMPT_S
    )
    deliverer = Deliverer(
        outbox=Outbox(store),
        executor=DeliveryExecutor(
            notifier=notifier,
            forge=LocalForge(store),
            tracker=LocalTracker(bus.publish),
            scanner=SecretScanner(secrets or {}),
        ),
        store=store,
        bus=bus,
        hooks=HookRunner([], env={}),
        settings=WorkflowSettings.model_validate({**FAST, **settings}),
        data_dir=Path(store.url.removeprefix("sqlite:///")).parent,
    )
    await deliverer.start(worker="test")
    try:
        yield deliverer
    finally:
        await deliverer.stop()
        await bus.close()


async def briefed_run(store: Store) -> str:
    facts, _ = await store.create_run(Ticket(key="PAY-42", title="Refunds show up as charges"))

    def awaiting(current: RunFacts) -> None:
        run = verified_run()
        current.status, current.revision, current.decisions = "awaiting_decision", 1, []
        current.fix, current.tests, current.verification = run.fix, run.tests, run.verification

    await store.update(facts.run_id, awaiting)
    return facts.run_id


async def briefing(deliverer: Deliverer, run_id: str) -> Delivery:
    (row,) = await deliverer.outbox.of_run(run_id)
    return row


async def finished(deliverer: Deliverer, run_id: str, within: float = 15) -> Delivery:
    """The run's briefing delivery once it is no longer pending."""
    deadline = time.monotonic() + within
    while (row := await briefing(deliverer, run_id)).state == "pending":
        assert time.monotonic() < deadline, f"the delivery is still pending: {row}"
        await asyncio.sleep(0.02)
    return row


async def test_retry_after_is_honoured_and_the_message_lands_once(
    store: Store, slack: FakeSlack, proxy: Outage
) -> None:
    async with deliverer_for(store, proxy) as deliverer:
        run_id = await briefed_run(store)
        slack.fail_next("chat.postMessage", status=429, retry_after="2")
        await deliverer.arm_briefing(run_id)
        await eventually(lambda: bool(slack.calls_to("chat.postMessage")), within=10)
        limited = await briefing(deliverer, run_id)
        while limited.failing_since is None:  # the failure is being recorded
            limited = await briefing(deliverer, run_id)
        delivered = await finished(deliverer, run_id)

    assert limited.last_status == 429 and limited.last_attempt_at is not None
    assert limited.next_attempt_at - limited.last_attempt_at >= 2.0  # not sooner than Slack asked
    assert delivered.state == "delivered" and delivered.attempts == 2
    facts = await store.get(run_id)
    assert facts is not None and facts.message_ref == delivered.result
    assert any("slack briefing message delivered after 2 attempts" in e.text for e in facts.timeline)


async def test_a_refusal_is_abandoned_at_once_and_the_run_says_why(store: Store, proxy: Outage) -> None:
    async with deliverer_for(store, proxy, token="xoxb-revoked") as deliverer:
        run_id = await briefed_run(store)
        await deliverer.arm_briefing(run_id)
        abandoned = await finished(deliverer, run_id)

    assert (abandoned.state, abandoned.attempts) == ("abandoned", 1)
    assert abandoned.last_error is not None and "invalid_auth" in abandoned.last_error
    facts = await store.get(run_id)
    assert facts is not None
    (note,) = [e.text for e in facts.timeline if "abandoned" in e.text]
    assert note.startswith(
        "slack briefing message abandoned: refused: Slack chat.postMessage failed: invalid_auth"
    )


async def test_a_lasting_outage_is_abandoned_after_the_delivery_timeout(store: Store, proxy: Outage) -> None:
    proxy.fail("html")
    async with deliverer_for(store, proxy, delivery_timeout_s=1.5) as deliverer:
        run_id = await briefed_run(store)
        await deliverer.arm_briefing(run_id)
        abandoned = await finished(deliverer, run_id)
        health = (await deliverer.outbox.health())["slack"]

    assert abandoned.state == "abandoned" and abandoned.attempts >= 3 and abandoned.last_status in (502, 503)
    assert health.degraded and health.pending == 0 and "HTTP 50" in (health.last_error or "")
    facts = await store.get(run_id)
    assert facts is not None
    (note,) = [e.text for e in facts.timeline if "abandoned" in e.text]
    assert "abandoned: not delivered within 1.5s; last error: Slack " in note and "failed: HTTP 50" in note


async def test_a_briefing_and_a_pull_request_carrying_a_secret_are_never_sent(
    store: Store, slack: FakeSlack, proxy: Outage
) -> None:
    """A secret that reached the run's facts base64-encoded (say, in a fix's explanation) stops the
    Slack message and the pull request at the door: abandoned at once, the run naming the secret."""
    secret = "ghp_R4nd0mTok3nValue0123456789"
    leaked = base64.b64encode(f"token={secret}".encode()).decode()
    async with deliverer_for(store, proxy, secrets={"GITHUB_TOKEN": secret}) as deliverer:
        run_id = await briefed_run(store)

        def explain(facts: RunFacts) -> None:
            assert facts.fix is not None
            facts.fix = facts.fix.model_copy(update={"explanation": f"Decoded it: {leaked}"})
            facts.branch = "fix/PAY-42-leak"

        await store.update(run_id, explain)
        await deliverer.arm_briefing(run_id)
        stopped = await finished(deliverer, run_id)
        pull_body = {"title": "Fix", "body": f"Notes: {leaked}", "diff": "", "draft": True, "labels": []}
        await deliverer.record(run_id, "pull_request", f"{run_id}:pull_request", pull_body)
        deadline = time.monotonic() + 15
        while any(row.state == "pending" for row in await deliverer.outbox.of_run(run_id)):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)

    assert stopped.state == "abandoned"
    assert slack.calls_to("chat.postMessage") == [] and await store.pull_requests(run_id=run_id) == []
    facts = await store.get(run_id)
    assert facts is not None
    assert facts.withheld == [
        "the slack post briefing was not sent: it contains the secret GITHUB_TOKEN (base64); "
        "nothing of it left Nightshift",
        "the local open pull request was not sent: it contains the secret GITHUB_TOKEN (base64); "
        "nothing of it left Nightshift",
    ]


@pytest.mark.parametrize("turns", range(4))
async def test_a_stop_that_arrives_with_a_wake_up_still_ends_the_wait(turns: int) -> None:
    """The deliverer's loop sleeps in ``woken`` between looks; ``stop`` cancels it. A cancellation that
    arrives in the same turns of the event loop as a wake-up (a delivery recorded as the worker stops)
    must still end the loop, or the worker never finishes stopping."""
    wake = asyncio.Event()
    sleeper = asyncio.create_task(woken(wake, within_s=60))
    await asyncio.sleep(0)  # it is waiting
    wake.set()
    for _ in range(turns):  # the wake-up travels through the waits' callbacks meanwhile
        await asyncio.sleep(0)
    accepted = sleeper.cancel()  # False once the wait has returned on its own
    await asyncio.wait([sleeper], timeout=10)
    assert sleeper.cancelled() == accepted, "the cancellation was swallowed: the loop would go on after stop"
