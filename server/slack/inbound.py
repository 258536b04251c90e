"""What Slack sends, handled once for both of its doors: the HTTP webhooks and Socket Mode.

A door authenticates the sender and parses the transport (the HTTP route checks the v0 signature over
the raw body and refuses a replay, ``slack.SlackRoute``; Socket Mode is a connection opened with the
app token, its envelopes deduplicated by id, ``server.slack.socket_mode``), then hands the payload here:
``SlackInbound.command`` for ``/oncall`` answers with the ephemeral message (a run is recorded before,
its work starts in the background); ``SlackInbound.interaction`` for a button or the feedback modal
answers with an ``Acknowledgement``: what Slack gets back at once (the modal's errors, or nothing) and
the work to do once that answer is on its way (``then``), since Slack wants it within 3 seconds. Who may
decide is checked here, so it holds on both doors.
"""

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from documents.facts import UNNUMBERED_KEY, Ticket
from integrations.slack import FeedbackSubmitted, SlackNotifier, parse_command, parse_interaction
from integrations.slack_payloads import interaction_from
from server.models import SlackMessage, SlackModalErrors
from server.outcomes import DescriptionTooLong
from server.service import RunService
from server.slack.clicks import SlackClicks
from store.runs import QueueFull
from telemetry.logs import bind

logger = logging.getLogger("nightshift.webhooks")

USAGE = (
    "*Nightshift* — an on-call engineer that fixes bugs while you sleep.\n"
    "• `/oncall <what is broken>`: start a run; the briefing is posted here with Approve / Request changes\n"
    "• `/oncall PROJ-123 [notes]`: start a run for a Jira issue (its status and comments follow the run)\n"
    "• `/oncall status`: the runs in progress\n"
    "• `/oncall help`: this message"
)


class NotASlackPayload(ValueError):
    """The payload is not a command or an interaction Nightshift knows; the reason says which field."""


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """What Slack gets back at once, and the work to do once it is sent."""

    answer: SlackModalErrors | None = None
    then: Callable[[], Awaitable[None]] | None = None


@dataclass(frozen=True, slots=True)
class SlackInbound:
    slack: SlackNotifier
    clicks: SlackClicks
    service: RunService
    with_jira: bool
    """Jira is live: a command starting with an issue key is a run for that issue."""

    async def command(self, fields: Mapping[str, str]) -> SlackMessage:
        """``/oncall ...``: usage, status, or a new run named in the ephemeral answer."""
        try:
            command = parse_command(fields)
        except ValueError as exc:
            raise NotASlackPayload(f"not a slash command: {exc}") from None
        if command.subcommand == "help":
            return _ephemeral(USAGE)
        if command.subcommand == "status":
            return _ephemeral(await self._status())
        words = command.text.strip()
        title = (words.removeprefix(command.jira_key or "").strip() or words).splitlines()[0][:300]
        ticket = Ticket(
            key=command.jira_key or UNNUMBERED_KEY,
            title=title or "Incident from Slack",
            description=words,
            reporter=command.user_name,
            source="jira" if self.with_jira and command.jira_key else "slack",
        )
        try:
            facts = (await self.service.start(ticket)).facts
        except DescriptionTooLong as too_long:
            return _ephemeral(f"Not started: {too_long}")
        except QueueFull as full:
            return _ephemeral(f"Not started: {full}; try again later")
        return _ephemeral(
            f"On it: run `{facts.run_id}` for {facts.ticket.key}. The briefing will be posted in "
            f"<#{self.slack.channel}> with Approve / Request changes. Follow it live: {facts.web_url}"
        )

    async def _status(self) -> str:
        runs = await self.service.active(limit=20)
        if not runs:
            return "No runs in progress."
        return "\n".join(f"• `{r.run_id}` {r.ticket.key} — {r.ticket.title[:80]}: *{r.status}*" for r in runs)

    async def interaction(self, payload: str | Mapping[str, Any]) -> Acknowledgement:
        """A click on Approve or Request changes, or the feedback modal submitted: ``payload`` as the
        HTTP form's JSON text, or decoded (a Socket Mode envelope's)."""
        try:
            if isinstance(payload, str):
                interaction = parse_interaction(payload)
            else:
                interaction = interaction_from(payload)
        except ValueError as exc:
            raise NotASlackPayload(f"not a Slack interaction: {exc}") from None
        bind(run_id=interaction.run_id)
        clicks = self.clicks
        if not self.slack.is_approver(interaction.user_id):
            logger.info("%s may not decide on runs; refused", interaction.user_name)
            allowed = ", ".join(f"<@{user}>" for user in self.slack.approvers)
            refusal = f"Only {allowed} may decide on Nightshift runs."
            if isinstance(interaction, FeedbackSubmitted):
                refused = {"feedback": refusal}
                return Acknowledgement(SlackModalErrors(response_action="errors", errors=refused))
            channel, user = interaction.channel_id, interaction.user_id
            return Acknowledgement(then=lambda: clicks.ephemeral(channel, user, refusal))
        if isinstance(interaction, FeedbackSubmitted):
            submitted = interaction
            if not submitted.feedback.strip():
                missing = {"feedback": "Say what should change."}
                return Acknowledgement(SlackModalErrors(response_action="errors", errors=missing))
            logger.info("changes requested from Slack by %s", submitted.user_name)
            return Acknowledgement(then=lambda: clicks.request_changes(submitted))
        click = interaction
        if click.kind in ("approve", "ship_revision"):
            logger.info("approved from Slack by %s", click.user_name)
            return Acknowledgement(then=lambda: clicks.approve(click))
        return Acknowledgement(then=lambda: clicks.open_modal(click.trigger_id, click.run_id))


def _ephemeral(text: str) -> SlackMessage:
    return SlackMessage(response_type="ephemeral", text=text)
