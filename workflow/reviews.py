"""Reviewers talk to Nightshift on its pull request: review rounds, and the pull request's end.

    take_review(event)          intake (the webhook): record the request on the run; start the rounds'
                                workflow when none runs (``<run>:review:<n>``, one at a time per run)
    review_rounds(run_id)       workflow: while requests wait, one round each time:
      take                      step: limits (rounds, budget, stop), the review's line comments read,
                                the round recorded with the branch's head as its parent
      agent_phase               the Slack revision's machinery: code and test agents revise from their
                                last submission (the PR's content) with the comments as feedback,
                                verified in the sandbox, self-corrected
      finish                    step: verified -> one commit on top of the branch, pushed (never a
                                force-push); else nothing pushed, and the replies say which tests fail.
                                A reply on each thread, one PR comment, the briefing updated: deliveries
    pull_request_ended(event)   merged -> ``merged`` (the ticket's merged transition, once);
                                closed -> ``closed`` (the lesson memory records the declined fix)

The round's records live in the run's facts (``documents.reviews``), so a worker that resumes the
workflow after a crash finds them: a take replayed returns the round it began, a finish replayed finds
its commit (``gitrepo.commits`` matches it) and records each delivery under the same key.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from dbos import DBOS

from documents.diffstat import diff_files
from documents.facts import VERDICT_TEXT, RevisionFacts, RunFacts, TimelineEntry
from documents.reviews import ReviewComment, ReviewRequest, ReviewRound
from gitrepo import CommitSpec
from integrations.base import IntegrationError
from integrations.github_reviews import PullRequestEnded, ReviewEvent, may_steer, mentions, own
from safety.errors import SecretFound
from store.runs import Store
from workflow import steps
from workflow.pipeline import agent_phase, agents_queue, running
from workflow.runtime import Runtime, current

REVIEWABLE = ("shipped", "revising", "verifying")
"""Statuses of a run whose pull request is open: the first, or one with a round in progress."""
RoundStarter = Callable[[str, str], Awaitable[None]]
"""Starts ``nightshift.review_rounds`` as (workflow id, run id)."""


async def run_for_pull(store: Store, number: int) -> RunFacts | None:
    """The run whose pull request is ``number``: only pull requests Nightshift opened have one."""
    for facts in await store.list_runs(limit=1000, statuses=[*REVIEWABLE, "merged", "closed"]):
        if facts.pr_number == number:
            return facts
    return None


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
        await _note(rt, facts.run_id, f"ignored a comment on pull request #{event.number}: {refusal}")
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
            reviews.stopped = (
                reviews.stopped or f"@{event.author} asked Nightshift to stop (/nightshift stop)"
            )
            reviews.pending = []
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
        _merge(waiting, event.state, event.comments)
        waiting.counts = waiting.counts or counts
        outcome["answer"] = f"taken ({event.key})"
        if waiting.counts and not reviews.active:
            reviews.active, reviews.workflows = True, reviews.workflows + 1
            current.workflow_id = outcome["start"] = f"{current.run_id}:review:{reviews.workflows}"

    facts = await rt.store.update(facts.run_id, change)
    if "stopped" in outcome:
        text = f"Nightshift makes no more changes on this pull request: {outcome['stopped']}."
        await _reply_all(rt, facts.run_id, f"stopped:{event.key}", _threads(event.comments), text)
    if "start" in outcome:
        await start(outcome["start"], facts.run_id)
    rt.bus.publish(
        facts.run_id, "review", {"key": event.key, "by": event.author, "answer": outcome["answer"]}
    )
    return str(outcome["answer"])


def _merge(request: ReviewRequest, state: str, comments: list[ReviewComment]) -> None:
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


# -- the rounds' workflow --------------------------------------------------------------------------


@DBOS.step(name="nightshift.review_take")
async def take_step(run_id: str) -> dict[str, Any] | None:
    return await take_round(current(), run_id)


@DBOS.step(name="nightshift.review_finish")
async def finish_step(run_id: str, number: int) -> None:
    await finish_round(current(), run_id, number)


@DBOS.step(name="nightshift.review_failed")
async def failed_step(run_id: str, number: int, reason: str) -> None:
    await round_failed(current(), run_id, number, reason)


@DBOS.workflow(name="nightshift.review_rounds")
async def review_rounds(run_id: str) -> str:
    """One round after another while reviewers' requests wait; a round that fails says so on the PR."""
    with running():
        while True:
            plan = await take_step(run_id)
            if plan is None:
                return "idle"
            if plan.get("again"):
                continue
            try:
                queue = await agents_queue()
                phase = await queue.enqueue_async(agent_phase, run_id, plan["revision"], plan["feedback"])
                await phase.get_result()
                await finish_step(run_id, plan["round"])
            except Exception as exc:
                await failed_step(run_id, plan["round"], f"{type(exc).__name__}: {exc}")


async def take_round(rt: Runtime, run_id: str) -> dict[str, Any] | None:
    """The next round's plan (its number, revision and the agents' feedback), or None: no request
    waits, the pull request ended, or a limit holds (then the requests are answered with why)."""
    facts = await _facts(rt, run_id)
    begun = facts.reviews.rounds[-1] if facts.reviews.rounds else None
    if begun is not None and begun.finished_at is None:  # replayed: the round this step began
        return _plan(begun)
    settings = rt.settings.workflow
    limit = None
    if len(facts.reviews.rounds) >= settings.max_review_rounds:
        limit = f"it made {len(facts.reviews.rounds)} review rounds, the limit ([workflow] max_review_rounds)"
    elif facts.cost_usd >= settings.max_run_cost_usd:
        limit = f"the run's budget of ${settings.max_run_cost_usd:g} is spent ([workflow] max_run_cost_usd)"
    taken = [r for r in facts.reviews.pending if r.counts] if facts.status in REVIEWABLE else []
    new: ReviewRound | None = None
    if taken and limit is None:
        for request in taken:
            await _read_line_comments(rt, facts, request)
        parent = await rt.repo.fetch_branch(facts.branch or "")
        assert parent is not None, f"the branch {facts.branch} is gone"
        new = ReviewRound(
            number=len(facts.reviews.rounds) + 1,
            requests=[_counted(r, rt) for r in taken],
            revision=facts.revision + 1,
            parent=parent,
        )
    outcome: dict[str, Any] = {}

    def change(current: RunFacts) -> None:
        reviews = current.reviews
        keys = {r.key for r in taken}
        reviews.pending = [r for r in reviews.pending if r.key not in keys]
        if new is None:
            reviews.stopped = reviews.stopped or limit
            late = limit is None and current.status in REVIEWABLE and any(r.counts for r in reviews.pending)
            reviews.active = late  # a request taken in after this step read the run: one more turn
            outcome["plan"] = {"again": True} if late else None
            return
        reviews.rounds.append(new)
        authors = ", ".join(sorted({f"@{r.author}" for r in new.requests}))
        current.status = "revising"
        current.timeline.append(
            TimelineEntry(
                at=datetime.now(UTC),
                text=f"review round {new.number} on pull request #{current.pr_number}: {authors} asked for "
                f"changes ({sum(len(r.comments) for r in new.requests)} comments)",
            )
        )
        outcome["plan"] = _plan(new)

    await rt.store.update(run_id, change)
    if limit is not None and taken:
        text = f"Nightshift makes no more changes on this pull request: {limit}."
        for request in taken:
            await _reply_all(rt, run_id, f"limit:{request.key}", _threads(request.comments), text)
    plan: dict[str, Any] | None = outcome.get("plan")
    return plan


async def _read_line_comments(rt: Runtime, facts: RunFacts, request: ReviewRequest) -> None:
    """A review's line comments, read from the forge (their webhooks may come later, or never)."""
    if not request.key.startswith("review:") or facts.pr_number is None:
        return
    try:
        read = await rt.forge.review_comments(facts.pr_number, int(request.key.removeprefix("review:")))
    except IntegrationError as exc:  # the comments the webhooks carried stand
        await _note(rt, facts.run_id, f"the comments of {request.key} could not be read: {exc}")
        return
    _merge(request, "unknown", read)


def _counted(request: ReviewRequest, rt: Runtime) -> ReviewRequest:
    """The request with the comments that ask for something: all when changes were requested, else
    those that mention the bot."""
    if request.state == "changes_requested":
        return request
    github = rt.settings.github
    return request.model_copy(update={"comments": [c for c in request.comments if mentions(c.body, github)]})


def _plan(round_: ReviewRound) -> dict[str, Any]:
    return {"round": round_.number, "revision": round_.revision, "feedback": feedback_text(round_)}


def feedback_text(round_: ReviewRound) -> str:
    """What the code and test agents are told: each comment with its file, line and hunk. The whole is
    the reviewers' text, fenced as untrusted by the revision's goal (``agents.goals``)."""
    lines = []
    for request in round_.requests:
        lines.append(f"Review by @{request.author} ({request.state.replace('_', ' ')}):")
        for comment in request.comments:
            where = f"{comment.path} line {comment.line}" if comment.path else "the pull request"
            lines.append(f"- On {where}: {comment.body.strip()}")
            if comment.hunk:
                lines.append(
                    "  The diff there:\n" + "\n".join(f"    {h}" for h in comment.hunk.splitlines()[-12:])
                )
    return "\n".join(lines)


async def finish_round(rt: Runtime, run_id: str, number: int) -> None:
    """Commit and push a verified round on top of the branch, or push nothing and say why; answer on
    every thread and once on the pull request; update the briefing."""
    facts = await _facts(rt, run_id)
    round_ = next(r for r in facts.reviews.rounds if r.number == number)
    assert facts.branch and facts.base_commit
    verification = facts.verification
    verdict = verification.verdict if verification else "not_run"
    head, changed = None, []
    if verdict == "verified" and facts.status in REVIEWABLE:
        diffs = [facts.fix.diff if facts.fix else "", facts.tests.diff if facts.tests else ""]
        delta = await rt.repo.diff_to_applied(round_.parent, facts.base_commit, diffs, include=lambda _: True)
        changed = diff_files(delta)
        message = (
            f"Address review on #{facts.pr_number} (round {number}) for {facts.ticket.key}\n\n"
            + "\n".join(f"Requested by @{r.author} ({r.key})" for r in round_.requests)
        )
        shas = await rt.repo.commit_on_branch(
            facts.branch, round_.parent, [CommitSpec(message, delta)], author=rt.settings.workflow.author
        )
        head = shas[-1] if shas else None
    outcome = _outcome(facts, verdict, head, changed)
    if head is not None:
        try:
            rt.secret_scan.check(f"the push of {facts.branch}", message, delta)
            await rt.repo.push(facts.branch)
        except SecretFound as exc:
            head, outcome = None, f"not pushed: {exc}"
    await _answer(rt, facts, round_, verdict, head, outcome)

    def change(current: RunFacts) -> None:
        record = next(r for r in current.reviews.rounds if r.number == number)
        record.verdict, record.commit, record.outcome = verdict, head, outcome
        record.finished_at = datetime.now(UTC)
        current.revision = round_.revision
        current.revisions = [r for r in current.revisions if r.number != round_.revision] + [
            RevisionFacts(
                number=round_.revision,
                feedback=feedback_text(round_)[:2000],
                commit=head,
                changed=changed,
                committed_at=record.finished_at,
                briefed_at=record.finished_at,
                fix=current.fix.model_copy(update={"diff": ""}) if current.fix else None,
                tests=current.tests.model_copy(update={"diff": ""}) if current.tests else None,
                verification=current.verification,
            )
        ]
        if current.status in REVIEWABLE:
            current.status = "shipped"
        current.timeline.append(
            TimelineEntry(at=record.finished_at, text=f"review round {number}: {outcome}")
        )

    await rt.store.update(run_id, change)
    await steps.cleanup(rt, run_id)
    rt.bus.publish(run_id, "review_round", {"round": number, "verdict": verdict, "commit": head})
    await rt.deliveries.arm_briefing(run_id)


def _outcome(facts: RunFacts, verdict: str, head: str | None, changed: list[Any]) -> str:
    if head is not None:
        files = ", ".join(change.path for change in changed)
        return f"pushed {head[:12]} to {facts.branch} ({files}), verified"
    if verdict == "verified":
        return "verified, but it changes nothing on the branch: nothing was pushed"
    failing = _failing_tests(facts)
    why = VERDICT_TEXT.get(verdict, verdict)
    return f"not pushed: the revision did not verify ({why})" + (
        f"; failing tests: {failing}" if failing else ""
    )


def _failing_tests(facts: RunFacts) -> str:
    verification = facts.verification
    if verification is None:
        return ""
    names = [*verification.broken.names, *verification.changed_tests.names]
    fixed = verification.fixed_with_tests
    if fixed is not None and fixed.failed:
        names += [n for n in verification.new_tests.names if n not in names]
    return ", ".join(names[:10])


def _evidence(facts: RunFacts) -> str:
    verification = facts.verification
    if verification is None:
        return "not verified"
    rows = [
        ("new tests with the fix", verification.fixed_with_tests),
        ("existing suite with the fix", verification.fixed_suite),
    ]
    shown = [f"{label}: {counts.summary()}" for label, counts in rows if counts is not None]
    return "; ".join([verification.detail, *shown])


async def _answer(
    rt: Runtime, facts: RunFacts, round_: ReviewRound, verdict: str, head: str | None, outcome: str
) -> None:
    """A reply on each thread the round acted on, and one comment with the verdict and the evidence."""
    done = f"Done in {head[:12]}: {outcome}." if head else f"Nothing was pushed for this: {outcome}."
    for request in round_.requests:
        for comment in _threads(request.comments):
            await rt.deliveries.record(
                facts.run_id,
                "review_reply",
                f"{facts.run_id}:review_reply:{round_.number}:{comment.comment_id}",
                {"comment_id": comment.comment_id, "body": done},
            )
    text = (
        f"**Nightshift review round {round_.number}**: {VERDICT_TEXT.get(verdict, verdict)}.\n\n"
        f"{outcome[0].upper()}{outcome[1:]}.\n\nTest evidence: {_evidence(facts)}"
    )
    await rt.deliveries.record(
        facts.run_id, "pr_comment", f"{facts.run_id}:pr_comment:round:{round_.number}", {"body": text}
    )


async def round_failed(rt: Runtime, run_id: str, number: int, reason: str) -> None:
    """A round that failed (a crash of its own, not a failed verification) ends; the PR says so."""
    outcome = f"failed, nothing was pushed ({reason[:300]})"

    def change(current: RunFacts) -> None:
        record = next(r for r in current.reviews.rounds if r.number == number)
        record.outcome, record.finished_at = outcome, datetime.now(UTC)
        if current.status in REVIEWABLE:
            current.status = "shipped"
        current.timeline.append(
            TimelineEntry(at=record.finished_at, text=f"review round {number}: {outcome}")
        )

    await rt.store.update(run_id, change)
    text = f"Nightshift review round {number} {outcome}."
    await rt.deliveries.record(run_id, "pr_comment", f"{run_id}:pr_comment:round:{number}", {"body": text})
    await rt.deliveries.arm_briefing(run_id)


async def _facts(rt: Runtime, run_id: str) -> RunFacts:
    facts = await rt.store.get(run_id)
    if facts is None:
        raise KeyError(f"run {run_id} is not in the database")
    return facts


def _threads(comments: list[ReviewComment]) -> list[ReviewComment]:
    return [c for c in comments if c.comment_id is not None]


async def _reply_all(rt: Runtime, run_id: str, why: str, threads: list[ReviewComment], text: str) -> None:
    """``text`` on each thread, or once on the pull request when there is none."""
    for comment in threads:
        key = f"{run_id}:review_reply:{why}:{comment.comment_id}"
        await rt.deliveries.record(
            run_id, "review_reply", key, {"comment_id": comment.comment_id, "body": text}
        )
    if not threads:
        await rt.deliveries.record(run_id, "pr_comment", f"{run_id}:pr_comment:{why}", {"body": text})


async def _note(rt: Runtime, run_id: str, text: str) -> None:
    entry = TimelineEntry(at=datetime.now(UTC), text=text)
    await rt.store.update(run_id, lambda facts: facts.timeline.append(entry))
    rt.bus.publish(run_id, "review", {"note": text})


# -- the pull request's end ------------------------------------------------------------------------


async def pull_request_ended(rt: Runtime, event: PullRequestEnded) -> str:
    """Merged: the run is ``merged``, the ticket moves to ``[jira] transitions.merged`` (once). Closed:
    the run is ``closed``, and the lesson memory records that the fix was declined."""
    facts = await run_for_pull(rt.store, event.number)
    if facts is None or facts.branch != event.branch:
        return f"pull request #{event.number} was not opened by Nightshift"
    status = "merged" if event.merged else "closed"
    if facts.status in ("merged", "closed"):
        return f"the run is {facts.status} already"
    by = f" by @{event.by}" if event.by else ""
    note = f"pull request #{event.number} {status}{by}"

    def change(current: RunFacts) -> None:
        current.status = status  # type: ignore[assignment]
        current.reviews.stopped = current.reviews.stopped or f"the pull request was {status}"
        current.reviews.pending = []
        current.timeline.append(TimelineEntry(at=datetime.now(UTC), text=note))

    facts = await rt.store.update(facts.run_id, change)
    rt.bus.publish(facts.run_id, "status", {"status": status, "note": note})
    if event.merged:
        transition = rt.settings.jira.transitions.merged
        await rt.deliveries.record(
            facts.run_id, "transition", f"{facts.run_id}:transition:merged", {"status": transition}
        )
    else:
        said = f" Their last word: {facts.reviews.last_comment}" if facts.reviews.last_comment else ""
        rt.notes.add(
            "reviewer",
            f"The fix for {facts.ticket.key} ({facts.ticket.title}) was declined: its pull request was "
            f"closed unmerged{by}.{said}",
        )
    await rt.deliveries.arm_briefing(facts.run_id)
    return status
