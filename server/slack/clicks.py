"""What a click in Slack does once it is acknowledged: decide, and answer in Slack.

Approve sends the decision and redraws the briefing without its buttons ("Approving..."); Ship
revision N approves that earlier revision as it was briefed ("Shipping revision N..."); Request
changes opens the feedback modal, whose submission sends the decision with the feedback; a click that
cannot be taken gets an ephemeral line saying why. What this sends to Slack goes through the outbound
door (``deliveries.door``) like every other send, once: a click's answer is not worth retrying later.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from deliveries.door import DeliveryExecutor, Send
from documents.briefing import build_briefing
from integrations.slack import ButtonClick, FeedbackSubmitted, SlackNotifier
from server.outcomes import Accepted
from server.service import RunService

logger = logging.getLogger("nightshift.webhooks")


@dataclass(frozen=True, slots=True)
class SlackClicks:
    slack: SlackNotifier
    door: DeliveryExecutor
    service: RunService

    async def approve(self, click: ButtonClick) -> None:
        """Approve, or (Ship revision N) approve that earlier revision as it was briefed."""
        facts = await self.service.run(click.run_id)
        ref = facts.message_ref or f"{click.channel_id}:{click.message_ts}"
        outcome = await self.service.decide(
            facts.run_id, "approve", by=click.user_name, ship_revision=click.revision
        )
        if isinstance(outcome, Accepted):
            doing = f"Shipping revision {click.revision}..." if click.revision else "Approving..."
            await self._mark_deciding(facts.run_id, ref, doing, click.user_id)
        else:
            await self.ephemeral(click.channel_id, click.user_id, f"Run {facts.run_id}: {outcome.reason}")

    async def request_changes(self, submitted: FeedbackSubmitted) -> None:
        facts = await self.service.run(submitted.run_id)
        outcome = await self.service.decide(
            facts.run_id, "request_changes", feedback=submitted.feedback, by=submitted.user_name
        )
        if not isinstance(outcome, Accepted):
            logger.warning("request changes on %s refused: %s", facts.run_id, outcome.reason)
        elif facts.message_ref:
            text = f"Changes requested: {submitted.feedback}"
            await self._mark_deciding(facts.run_id, facts.message_ref, text, submitted.user_id)

    async def open_modal(self, trigger_id: str, run_id: str) -> None:
        await self._send(
            "open feedback modal",
            run_id,
            {"trigger_id": trigger_id, "run_id": run_id},
            lambda s: self.slack.open_feedback_modal(s.payload["trigger_id"], s.payload["run_id"]),
        )

    async def ephemeral(self, channel: str, user: str, text: str) -> None:
        await self._send(
            "ephemeral",
            None,
            {"channel": channel, "user": user, "text": text},
            lambda s: self.slack.ephemeral(s.payload["channel"], s.payload["user"], s.payload["text"]),
        )

    async def _mark_deciding(self, run_id: str, ref: str, text: str, by: str | None) -> None:
        facts = await self.service.run(run_id)
        await self._send(
            "redraw briefing",
            run_id,
            {"ref": ref, "text": text, "by": by, "briefing": build_briefing(facts)},
            lambda s: self.slack.mark_deciding(
                s.payload["ref"], s.payload["text"], by=s.payload["by"], briefing=s.payload["briefing"]
            ),
        )

    async def _send(
        self,
        action: str,
        run_id: str | None,
        payload: dict[str, Any],
        perform: Callable[[Send], Awaitable[None]],
    ) -> None:
        await self.door.send(Send("slack", action, run_id, payload), perform)


async def in_background(work: Callable[..., Awaitable[None]], *args: Any) -> None:
    """Run ``work`` after the answer is sent; a failure is logged (nobody waits for it)."""
    try:
        await work(*args)
    except Exception:
        logger.exception("background webhook work failed")
