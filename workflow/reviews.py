"""Reviewers talk to Nightshift on its pull request: their requests taken in, and the pull request's end.

    take_review(event)          intake (the webhook): record the request on the run; start the rounds'
                                workflow when none runs (``workflow.review_rounds``; one at a time per
                                run, ``<run>:review:<n>``); ``/nightshift stop`` ends the rounds, and
                                a reply says so
    pull_request_ended(event)   merged -> ``merged`` (the ticket's merged transition, once);
                                closed -> ``closed`` (the lesson memory records the declined fix).
                                From then on no status change moves the run (``steps.set_status``), and
                                a round still running pushes nothing

The run of a pull request is found by its number (``store.pulls``: an indexed column).
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from documents.facts import RunFacts, RunStatus, TimelineEntry
from documents.reviews import ReviewComment, ReviewRequest
from integrations.github_reviews import PullRequestEnded, ReviewEvent, may_steer, mentions, own
from store.outbox import NewDelivery
from store.pulls import run_for_pull
from workflow.review_answers import reply_all
from workflow.runtime import Runtime
from workflow.steps import PULL_REQUEST_ENDED

REVIEWABLE = ("shipped", "revising", "verifying")
"""Statuses of a run whose pull request is open: the first, or one with a round in progress."""
RoundStarter = Callable[[str, str], Awaitable[None]]
"""Starts ``nightshift.review_rounds`` as (workflow id, run id)."""


async def take_review(rt: Runtime, event: ReviewEvent, start: RoundStarter) -> str:
    """Record ``event`` on its run, start a round when it asks for one; what happened, in words."""
    facts = await run_for_pull(rt.store, event.number)
    if facts is None or (event.branch and event.branch != facts.branch):
        return f"pull request #{event.number} was not opened by Nightshift"
    github = rt.settings.github
    if own(event, github):
        return "Nightshift's own comment"
    refusal = may_steer(event, github)
    if refusal is not None:
        await note(rt, facts.run_id, f"ignored a comment on pull request #{event.number}: {refusal}")
        return f"ignored: {refusal}"
    if facts.status not in REVIEWABLE:
        return f"the run is {facts.status}: its pull request takes no more changes"
    counts = event.state == "changes_requested" or any(mentions(c.body, github) for c in event.comments)
    outcome: dict[str, Any] = {}

    def change(current: RunFacts) -> None:
        outcome.clear()
        reviews = current.reviews
        if event.kind == "comment" and event.comments:
            reviews.last_comment = f"@{event.author}: {event.comments[0].body}"
        if event.stop:
            why = reviews.stopped or f"@{event.author} asked Nightshift to stop (/nightshift stop)"
            reviews.stopped, reviews.pending = why, []
            running = bool(reviews.rounds) and reviews.rounds[-1].finished_at is None
            outcome["stopped"] = why + ("; the round in progress still finishes" if running else "")
            outcome["answer"] = "stopped"
            current.timeline.append(
                TimelineEntry(at=datetime.now(UTC), text=f"review rounds: {reviews.stopped}")
            )
            return
        if reviews.stopped and counts:
            outcome["answer"], outcome["stopped"] = f"no more rounds: {reviews.stopped}", reviews.stopped
            return
        waiting = next((r for r in reviews.pending if r.key == event.key), None)
        if waiting is None and event.key in reviews.seen:
            outcome["answer"] = f"{event.key} was taken already"
            return
        if waiting is None:
            if not counts:
                outcome["answer"] = "it asks Nightshift for nothing (no changes requested, no @mention)"
                return
            waiting = ReviewRequest(
                key=event.key,
                author=event.author,
                state=event.state,
                comments=[],
                received_at=datetime.now(UTC),
            )
            reviews.pending.append(waiting)
            reviews.seen.append(event.key)
        merge_comments(waiting, event.state, event.comments)
        waiting.counts = waiting.counts or counts
        outcome["answer"] = f"taken ({event.key})"
        if waiting.counts and not reviews.active:
            reviews.active, reviews.workflows = True, reviews.workflows + 1
            current.workflow_id = outcome["start"] = f"{current.run_id}:review:{reviews.workflows}"

    facts = await rt.store.update(facts.run_id, change)
    if "stopped" in outcome:
        text = f"Nightshift makes no more changes on this pull request: {outcome['stopped']}."
        await reply_all(rt, facts.run_id, f"stopped:{event.key}", event.comments, text)
    if "start" in outcome:
        await start(outcome["start"], facts.run_id)
    rt.bus.publish(
        facts.run_id, "review", {"key": event.key, "by": event.author, "answer": outcome["answer"]}
    )
    return str(outcome["answer"])


def merge_comments(request: ReviewRequest, state: str, comments: list[ReviewComment]) -> None:
    """Add the comments a request did not hold yet (by thread, else by text); a known state wins."""
    if state != "unknown":
        request.state = state
    for comment in comments:
        known = [c for c in request.comments if c.comment_id == comment.comment_id and c.body == comment.body]
        if not known and not (
            comment.comment_id and any(c.comment_id == comment.comment_id for c in request.comments)
        ):
            request.comments.append(comment)


async def start_waiting_rounds(rt: Runtime, start: RoundStarter) -> None:
    """Start again the rounds' workflows recorded as started (a crash may have come in between)."""
    for facts in await rt.store.list_runs(limit=1000, statuses=list(REVIEWABLE)):
        if facts.reviews.active and facts.workflow_id:
            await start(facts.workflow_id, facts.run_id)


async def note(rt: Runtime, run_id: str, text: str) -> None:
    entry = TimelineEntry(at=datetime.now(UTC), text=text)
    await rt.store.update(run_id, lambda facts: facts.timeline.append(entry))
    rt.bus.publish(run_id, "review", {"note": text})


# -- the pull request's end ------------------------------------------------------------------------


async def pull_request_ended(rt: Runtime, event: PullRequestEnded) -> str:
    """Merged: the run is ``merged``, the ticket moves to ``[jira] transitions.merged`` (once). Closed:
    the run is ``closed``, and the lesson memory records that the fix was declined. Decided in the
    transaction that changes the status, so a redelivery (or a second one at the same time) does
    nothing more."""
    facts = await run_for_pull(rt.store, event.number)
    if facts is None or facts.branch != event.branch:
        return f"pull request #{event.number} was not opened by Nightshift"
    status: RunStatus = "merged" if event.merged else "closed"
    by = f" by @{event.by}" if event.by else ""
    said = f"pull request #{event.number} {status}{by}"
    already: list[str] = []

    def change(current: RunFacts) -> list[NewDelivery]:
        if current.status in PULL_REQUEST_ENDED:
            already.append(current.status)
            return []
        current.status = status
        current.reviews.stopped = current.reviews.stopped or f"the pull request was {status}"
        current.reviews.pending = []
        current.timeline.append(TimelineEntry(at=datetime.now(UTC), text=said))
        if not event.merged:
            return []
        moved = {"status": rt.settings.jira.transitions.merged}
        return [NewDelivery("transition", f"{current.run_id}:transition:merged", moved)]

    facts = await rt.deliveries.change_run(facts.run_id, change, brief=True)
    if already:
        return f"the run is {already[0]} already"
    rt.bus.publish(facts.run_id, "status", {"status": status, "note": said})
    if not event.merged:
        last = f" Their last word: {facts.reviews.last_comment}" if facts.reviews.last_comment else ""
        rt.notes.add(
            "reviewer",
            f"The fix for {facts.ticket.key} ({facts.ticket.title}) was declined: its pull request was "
            f"closed unmerged{by}.{last}",
        )
    return status
