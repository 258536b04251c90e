"""Slack, Jira and GitHub webhooks: verify the raw body, acknowledge fast, work in the background.

Slack wants an answer within 3 seconds: a command is acknowledged with an ephemeral message naming the
run (the run itself starts in the background); a button click is acknowledged at once and acted on in
a background task. Duplicate deliveries are recognised by their delivery ids (Jira) or the failing
commit (GitHub) and start nothing new. What a click makes Nightshift send to Slack (the message redrawn
without its buttons, the feedback modal, an ephemeral line) goes through the outbound door
(``deliveries.door``) like every other send, once: a click's answer is not worth retrying later.
"""

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from deliveries.door import Send
from documents.briefing import build_briefing
from documents.facts import UNNUMBERED_KEY, Ticket
from integrations.base import SignatureError
from integrations.github import GitHubForge, parse_workflow_run, verify_github_signature
from integrations.jira import JiraClient, parse_jira_webhook, verify_jira_signature
from integrations.slack import (
    WINDOW_S,
    ButtonClick,
    FeedbackSubmitted,
    SlackNotifier,
    parse_command,
    parse_interaction,
    verify_slack_request,
)
from server.service import ApiError, Reply, Service, parse_form
from store.runs import ACTIVE_STATUSES

logger = logging.getLogger("nightshift.webhooks")

USAGE = (
    "*Nightshift* — an on-call engineer that fixes bugs while you sleep.\n"
    "• `/oncall <what is broken>`: start a run; the briefing is posted here with Approve / Request changes\n"
    "• `/oncall PROJ-123 [notes]`: start a run for a Jira issue (its status and comments follow the run)\n"
    "• `/oncall status`: the runs in progress\n"
    "• `/oncall help`: this message"
)


class Webhooks:
    def __init__(
        self,
        service: Service,
        *,
        slack: SlackNotifier | None,
        github: GitHubForge | None,
        jira: JiraClient | None,
    ) -> None:
        self.service, self.slack, self.github, self.jira = service, slack, github, jira
        self._tasks: set[asyncio.Task[None]] = set()

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background webhook work failed", exc_info=task.exception())

    async def _send_slack(
        self,
        action: str,
        run_id: str | None,
        payload: dict[str, Any],
        perform: Callable[[Send], Awaitable[None]],
    ) -> None:
        """A send to Slack on behalf of a click, through the outbound door."""
        await self.service.engine.rt.deliveries.executor.send(Send("slack", action, run_id, payload), perform)

    async def _ephemeral(self, slack: SlackNotifier, channel: str, user: str, text: str) -> None:
        await self._send_slack(
            "ephemeral",
            None,
            {"channel": channel, "user": user, "text": text},
            lambda s: slack.ephemeral(s.payload["channel"], s.payload["user"], s.payload["text"]),
        )

    async def _mark_deciding(
        self, slack: SlackNotifier, run_id: str, ref: str, text: str, by: str | None
    ) -> None:
        facts = await self.service.run(run_id)
        await self._send_slack(
            "redraw briefing",
            run_id,
            {"ref": ref, "text": text, "by": by, "briefing": build_briefing(facts)},
            lambda s: slack.mark_deciding(
                s.payload["ref"], s.payload["text"], by=s.payload["by"], briefing=s.payload["briefing"]
            ),
        )

    async def _open_modal(self, slack: SlackNotifier, trigger_id: str, run_id: str) -> None:
        await self._send_slack(
            "open feedback modal",
            run_id,
            {"trigger_id": trigger_id, "run_id": run_id},
            lambda s: slack.open_feedback_modal(s.payload["trigger_id"], s.payload["run_id"]),
        )

    async def drain(self) -> None:
        """Let background work finish (briefly) at shutdown."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    # -- Slack -----------------------------------------------------------------------------------------

    async def _slack(self, body: bytes, headers: Mapping[str, str]) -> tuple[SlackNotifier, dict[str, str]]:
        """Verify a request from Slack. A signature accepted before (by any worker: they are kept in the
        database for Slack's five-minute window) is a replay, and refused."""
        secret = self.service.settings.secrets.get("SLACK_SIGNING_SECRET")
        if self.slack is None or not secret:
            raise ApiError(
                404, "Slack is not configured: set SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_CHANNEL"
            )
        try:
            signature = verify_slack_request(secret, body, headers)
        except SignatureError as exc:
            raise ApiError(401, f"Slack signature check failed: {exc}") from None
        store = self.service.engine.rt.store
        if not await store.first_sighting(f"slack:{signature}", now_s=time.time(), keep_s=WINDOW_S):
            raise ApiError(
                401, "Slack signature check failed: replayed request: this signature was already accepted"
            )
        return self.slack, parse_form(body, headers.get("content-type"))

    async def slack_command(self, body: bytes, headers: Mapping[str, str]) -> Reply:
        slack, form = await self._slack(body, headers)
        try:
            command = parse_command(form)
        except ValueError as exc:
            raise ApiError(400, f"not a slash command: {exc}") from None
        if command.subcommand == "help":
            return _ephemeral(USAGE)
        if command.subcommand == "status":
            return _ephemeral(await self._status_text())
        jira_key = command.jira_key if self.jira is not None else None
        words = command.text.strip()
        title = (words.removeprefix(command.jira_key or "").strip() or words).splitlines()[0][:300]
        ticket = Ticket(
            key=command.jira_key or UNNUMBERED_KEY,
            title=title or "Incident from Slack",
            description=words,
            reporter=command.user_name,
            source="jira" if jira_key else "slack",
        )
        try:
            facts, _ = await self.service.submit(ticket)
        except ApiError as refused:
            return _ephemeral(f"Not started: {refused.reason}")
        return _ephemeral(
            f"On it: run `{facts.run_id}` for {facts.ticket.key}. The briefing will be posted in "
            f"<#{slack.channel}> with Approve / Request changes. Follow it live: {facts.web_url}"
        )

    async def _status_text(self) -> str:
        runs = await self.service.engine.rt.store.list_runs(limit=20, statuses=list(ACTIVE_STATUSES))
        if not runs:
            return "No runs in progress."
        return "\n".join(f"• `{r.run_id}` {r.ticket.key} — {r.ticket.title[:80]}: *{r.status}*" for r in runs)

    async def slack_action(self, body: bytes, headers: Mapping[str, str]) -> Reply:
        slack, form = await self._slack(body, headers)
        if "payload" not in form:
            raise ApiError(400, "an interaction needs a 'payload' form field")
        try:
            interaction = parse_interaction(form["payload"])
        except ValueError as exc:
            raise ApiError(400, f"not a Slack interaction: {exc}") from None
        if not slack.is_approver(interaction.user_id):
            refusal = f"Only {', '.join(f'<@{u}>' for u in slack.approvers)} may decide on Nightshift runs."
            if isinstance(interaction, FeedbackSubmitted):
                return Reply(200, {"response_action": "errors", "errors": {"feedback": refusal}})
            self._background(self._ephemeral(slack, interaction.channel_id, interaction.user_id, refusal))
            return Reply(200, {})
        if isinstance(interaction, FeedbackSubmitted):
            if not interaction.feedback.strip():
                return Reply(
                    200, {"response_action": "errors", "errors": {"feedback": "Say what should change."}}
                )
            self._background(self._request_changes(slack, interaction))
        elif interaction.kind in ("approve", "ship_revision"):
            self._background(self._approve(slack, interaction))
        else:
            self._background(self._open_modal(slack, interaction.trigger_id, interaction.run_id))
        return Reply(200, {})

    async def _approve(self, slack: SlackNotifier, click: ButtonClick) -> None:
        """Approve, or (Ship revision N) approve that earlier revision as it was briefed."""
        facts = await self.service.run(click.run_id)
        ref = facts.message_ref or f"{click.channel_id}:{click.message_ts}"
        reply = await self.service.decide(
            facts.run_id, "approve", by=click.user_name, ship_revision=click.revision
        )
        if reply.status == 202:
            doing = f"Shipping revision {click.revision}..." if click.revision else "Approving..."
            await self._mark_deciding(slack, facts.run_id, ref, doing, click.user_id)
        else:
            detail = reply.body.get("error") or reply.body.get("detail") or reply.body.get("status")
            await self._ephemeral(slack, click.channel_id, click.user_id, f"Run {facts.run_id}: {detail}")

    async def _request_changes(self, slack: SlackNotifier, submitted: FeedbackSubmitted) -> None:
        facts = await self.service.run(submitted.run_id)
        reply = await self.service.decide(
            facts.run_id, "request_changes", feedback=submitted.feedback, by=submitted.user_name
        )
        if reply.status == 202 and facts.message_ref:
            text = f"Changes requested: {submitted.feedback}"
            await self._mark_deciding(slack, facts.run_id, facts.message_ref, text, submitted.user_id)
        elif reply.status != 202:
            logger.warning("request changes on %s refused: %s", facts.run_id, reply.body)

    # -- Jira ------------------------------------------------------------------------------------------

    async def jira_webhook(self, body: bytes, headers: Mapping[str, str]) -> Reply:
        settings = self.service.settings
        secret = settings.secrets.get("JIRA_WEBHOOK_SECRET")
        if secret:
            try:
                verify_jira_signature(secret, body, headers.get("x-hub-signature"))
            except SignatureError as exc:
                raise ApiError(401, f"Jira signature check failed: {exc}") from None
        if self.jira is None:
            raise ApiError(404, "Jira is not configured: set JIRA_BASE_URL, JIRA_EMAIL and JIRA_API_TOKEN")
        payload = _json(body, headers)
        trigger = parse_jira_webhook(
            payload,
            settings.jira,
            base_url=settings.jira.base_url or "",
            own_account_id=await self.jira.myself(),
        )
        if isinstance(trigger, str):
            return Reply(202, {"ignored": trigger})
        active = await self._active_run_for(trigger.key)
        if active:
            return Reply(
                200, {"ignored": f"run {active} is already working on {trigger.key}", "run_id": active}
            )
        delivery = headers.get("x-atlassian-webhook-identifier")
        facts, created = await self.service.submit(
            trigger.ticket, dedupe_key=f"jira:{delivery}" if delivery else None
        )
        return Reply(202 if created else 200, {"run_id": facts.run_id, "duplicate": not created})

    async def _active_run_for(self, key: str) -> str | None:
        runs = await self.service.engine.rt.store.list_runs(limit=200, statuses=list(ACTIVE_STATUSES))
        return next((run.run_id for run in runs if run.ticket.key == key), None)

    # -- GitHub ----------------------------------------------------------------------------------------

    async def github_webhook(self, body: bytes, headers: Mapping[str, str]) -> Reply:
        secret = self.service.settings.secrets.get("GITHUB_WEBHOOK_SECRET")
        if self.github is None:
            raise ApiError(
                404,
                "the GitHub webhook is off: GitHub is not configured (set GITHUB_TOKEN and GITHUB_REPO, "
                "and GITHUB_WEBHOOK_SECRET for this webhook)",
            )
        if not secret:
            raise ApiError(
                404,
                "the GitHub webhook is off: GITHUB_WEBHOOK_SECRET is not set, so deliveries cannot be "
                "verified (GitHub is live for pull requests and CI logs)",
            )
        try:
            verify_github_signature(secret, body, headers.get("x-hub-signature-256"))
        except SignatureError as exc:
            raise ApiError(401, f"GitHub signature check failed: {exc}") from None
        payload = _json(body, headers)
        event = headers.get("x-github-event", "")
        if event == "ping":
            return Reply(200, {"ok": "pong"})
        failure = parse_workflow_run(event, payload)
        if isinstance(failure, str):
            return Reply(202, {"ignored": failure})
        ticket = Ticket(
            key=f"CI-{failure.run_id}",
            title=f"CI failed: {failure.workflow_name} on {failure.head_branch} ({failure.head_sha[:7]})"[
                :300
            ],
            description=f"{failure.title}\n\nWorkflow run: {failure.run_url}",
            source="github",
            url=failure.run_url,
            ci_run_id=failure.run_id,
        )
        facts, created = await self.service.submit(ticket, dedupe_key=f"github-sha:{failure.head_sha}")
        return Reply(202 if created else 200, {"run_id": facts.run_id, "duplicate": not created})


def _ephemeral(text: str) -> Reply:
    return Reply(200, {"response_type": "ephemeral", "text": text})


def _json(body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise ApiError(415, f"send application/json (got {content_type or 'no content type'})")
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    return data
