"""The one door every outbound send passes through: ``DeliveryExecutor.send``.

Everything Nightshift sends to Slack, GitHub, Jira or PagerDuty (or to their local stand-ins) is first
described as a ``Send``: the service, the action, the run, and a payload holding everything the service
will receive; the integrations only reformat it (Block Kit, ADF) and add nothing of their own but constant
labels. ``Send.text`` is that payload as JSON text. The deliveries of the outbox (the briefing posted
or updated, the pull request, ticket transitions and comments, notes on an alert's incident, the push
of a review round's commit to ``origin``;
``DeliveryExecutor.deliver``) and the answers to a click (the message redrawn without its buttons, the
feedback modal, an ephemeral line; ``server.slack.clicks``) all go through ``send``, and nothing in
``workflow`` calls an integration's sending methods any other way.

That makes ``send`` the place to inspect what leaves before it leaves: the secret scan
(``safety.secret_scan.SecretScanner``: the bot's known secrets, raw and encoded) runs at the top of
``send``, on ``Send.text``. A hit raises ``SecretFound`` before ``perform``, so nothing is sent; the
deliverer abandons that delivery at once and records on the run which secret was found where (never
its value), since the same payload would be refused again.
"""

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from pydantic_core import to_json

from documents.briefing import build_briefing
from documents.facts import RunFacts
from gitrepo import GitError, GitRepo, PushOutcome
from integrations.base import Forge, IntegrationError, Notifier, Pager, PullRequestRef, Tracker
from integrations.github_reviews import OWN_MARKER
from safety.secret_scan import SecretScanner
from store.outbox import Delivery

logger = logging.getLogger("nightshift.outbound")
PUSH_SERVICE = "origin"
"""The service name of pushes (the outbox, /health): the checkout's ``origin`` remote."""
T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    """One outbound send, before it leaves: where it goes, what it does, and everything it carries."""

    service: str
    """``slack``, ``github``, ``jira``, or a local default (``terminal``, ``local``)."""
    action: str
    """What the send does, in words: ``post briefing``, ``open pull request``, ``comment``, ..."""
    run_id: str | None
    payload: Mapping[str, Any] = field(default_factory=dict)
    """Everything the service receives (pydantic models are sent as their JSON)."""

    @cached_property
    def text(self) -> str:
        """The payload as JSON text: what to inspect before the send."""
        return to_json(self.payload, fallback=str).decode()


@dataclass(frozen=True, slots=True)
class Delivered:
    """What a successful attempt made: its name (a message reference, a URL) and, for a pull request,
    whether this attempt created it."""

    result: str | None = None
    pull_request: PullRequestRef | None = None


class DeliveryExecutor:
    """Sends through the run's notifier, forge, tracker and pager, every send through ``send``."""

    def __init__(
        self,
        *,
        notifier: Notifier,
        forge: Forge,
        tracker: Tracker,
        pager: Pager | None = None,
        repo: GitRepo | None = None,
        scanner: SecretScanner | None = None,
    ) -> None:
        self.notifier, self.forge, self.tracker, self.pager = notifier, forge, tracker, pager
        self.repo = repo
        """The checkout whose ``origin`` a review round's commit is pushed to."""
        self.scanner = scanner or SecretScanner({})

    def service_of(self, kind: str) -> str:
        """The service a delivery of ``kind`` goes to (the name the outbox and /health use)."""
        if kind == "briefing":
            return self.notifier.name
        if kind in ("pull_request", "review_reply", "pr_comment"):
            return self.forge.name
        if kind == "incident_note":
            return self.pager.name if self.pager else "local"
        if kind == "push":
            return PUSH_SERVICE
        return self.tracker.name

    async def send(self, send: Send, perform: Callable[[Send], Awaitable[T]]) -> T:
        """Send ``send`` with ``perform``, which sends exactly ``send.payload``. The outbound door:
        ``SecretFound`` (and nothing sent) when the payload carries a known secret."""
        self.scanner.check(f"the {send.service} {send.action}", send.text)
        logger.debug(
            "%s: %s for run %s (%d characters)", send.service, send.action, send.run_id, len(send.text)
        )
        return await perform(send)

    async def deliver(self, delivery: Delivery, facts: RunFacts) -> Delivered:
        """One attempt of ``delivery`` for the run as it is now. An earlier attempt may have landed when
        this is not the first (``attempts`` counts this one): the integrations then look first."""
        again = delivery.attempts > 1
        if delivery.kind == "briefing":
            return await self._briefing(delivery, facts, again)
        if delivery.kind == "pull_request":
            return await self._pull_request(delivery, facts)
        if delivery.kind == "transition":
            return await self._transition(delivery, facts)
        if delivery.kind == "incident_note":
            return await self._incident_note(delivery, facts, again)
        if delivery.kind in ("review_reply", "pr_comment"):
            return await self._conversation(delivery, facts, again)
        if delivery.kind == "push":
            return await self._push(delivery, facts)
        return await self._comment(delivery, facts, again)

    async def _briefing(self, delivery: Delivery, facts: RunFacts, again: bool) -> Delivered:
        notifier, ref = self.notifier, facts.message_ref
        send = Send(
            notifier.name,
            "update briefing" if ref else "post briefing",
            facts.run_id,
            {"ref": ref, "marker": delivery.key, "briefing": build_briefing(facts)},
        )

        async def perform(send: Send) -> str | None:
            briefing, marker = send.payload["briefing"], send.payload["marker"]
            if send.payload["ref"] is None:
                return await notifier.post_briefing(briefing, channel=None, marker=marker, again=again)
            return await notifier.update_briefing(briefing, send.payload["ref"], marker=marker)

        return Delivered(await self.send(send, perform))

    async def _pull_request(self, delivery: Delivery, facts: RunFacts) -> Delivered:
        if not facts.branch:
            raise ValueError(f"run {facts.run_id} has no branch to open a pull request for")
        forge = self.forge
        send = Send(
            forge.name, "open pull request", facts.run_id, {**delivery.payload, "branch": facts.branch}
        )

        async def perform(send: Send) -> PullRequestRef:
            p = send.payload
            return await forge.open_pull_request(
                run_id=facts.run_id,
                branch=p["branch"],
                title=p["title"],
                body=p["body"],
                diff=p["diff"],
                draft=p["draft"],
                labels=list(p["labels"]),
            )

        pull = await self.send(send, perform)
        return Delivered(pull.url, pull)

    async def _transition(self, delivery: Delivery, facts: RunFacts) -> Delivered:
        tracker = self.tracker
        send = Send(
            tracker.name,
            "transition",
            facts.run_id,
            {"ticket": facts.ticket.key, "status": delivery.payload["status"]},
        )

        async def perform(send: Send) -> None:
            await tracker.transition(facts.ticket, send.payload["status"], run_id=facts.run_id)

        await self.send(send, perform)
        return Delivered()

    async def _comment(self, delivery: Delivery, facts: RunFacts, again: bool) -> Delivered:
        tracker = self.tracker
        send = Send(
            tracker.name,
            "comment",
            facts.run_id,
            {"ticket": facts.ticket.key, "marker": delivery.key, **delivery.payload},
        )

        async def perform(send: Send) -> None:
            p = send.payload
            await tracker.comment(
                facts.ticket,
                p["text"],
                run_id=facts.run_id,
                links=dict(p["links"]),
                marker=p["marker"],
                again=again,
            )

        await self.send(send, perform)
        return Delivered()

    async def _conversation(self, delivery: Delivery, facts: RunFacts, again: bool) -> Delivered:
        """A reply on a review thread, or a comment on the pull request's conversation, marked with the
        delivery's key (``OWN_MARKER``): a retry finds it, and Nightshift never reads it as a reviewer's."""
        forge = self.forge
        if facts.pr_number is None:
            raise IntegrationError(f"run {facts.run_id} has no pull request to answer on", service=forge.name)
        marker = f"{OWN_MARKER}{delivery.key} -->"
        payload = {**delivery.payload, "number": facts.pr_number, "marker": marker}
        payload["body"] = f"{payload['body']}\n\n{marker}"
        action = "reply on review thread" if delivery.kind == "review_reply" else "comment on pull request"
        send = Send(forge.name, action, facts.run_id, payload)

        async def perform(send: Send) -> None:
            p = send.payload
            if p.get("comment_id") is not None:
                await forge.reply_to_review_comment(
                    p["number"], p["comment_id"], p["body"], marker=p["marker"], again=again
                )
            else:
                await forge.comment_on_pull_request(p["number"], p["body"], marker=p["marker"], again=again)

        await self.send(send, perform)
        return Delivered()

    async def _push(self, delivery: Delivery, facts: RunFacts) -> Delivered:
        """A commit onto the run's branch on ``origin``, fast-forward only (never forced). A retry after
        an attempt that landed finds the branch there already."""
        repo = self.repo
        if repo is None:
            raise IntegrationError("no repository to push from", service=PUSH_SERVICE)
        p = delivery.payload
        send = Send(PUSH_SERVICE, "push", facts.run_id, {"branch": p["branch"], "commit": p["commit"]})

        async def perform(send: Send) -> PushOutcome:
            try:
                return await repo.fast_forward(send.payload["branch"], send.payload["commit"])
            except GitError as exc:  # no answer, a hook that declined: the same push may land later
                raise IntegrationError(str(exc), service=PUSH_SERVICE, retryable=True) from None

        pushed = await self.send(send, perform)
        if pushed.state == "refused":
            raise IntegrationError(pushed.detail, service=PUSH_SERVICE)
        return Delivered(send.payload["commit"])

    async def _incident_note(self, delivery: Delivery, facts: RunFacts, again: bool) -> Delivered:
        pager = self.pager
        if pager is None:
            raise IntegrationError("no pager to add the incident's note to", service="local")
        send = Send(
            pager.name, "incident note", facts.run_id, {"ticket": facts.ticket.key, **delivery.payload}
        )

        async def perform(send: Send) -> None:
            await pager.note(facts.ticket, send.payload["text"], run_id=facts.run_id, again=again)

        await self.send(send, perform)
        return Delivered()
