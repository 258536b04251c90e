"""The review rounds' workflow: one round after another while reviewers' requests wait on a run.

    review_rounds(run_id)       workflow (``<run>:review:<n>``, one at a time per run):
      take                      step: limits (rounds, budget, stop), the review's line comments read,
                                the round recorded with its parent (the previous round's commit, else
                                the branch's head on origin); nothing when the pull request ended
      agent_phase               the Slack revision's machinery: code and test agents revise from their
                                last submission (the PR's content) with the comments as feedback,
                                verified in the sandbox, self-corrected
      finish                    step: verified -> one commit on top of the parent, and in the same
                                transaction as the round's result a ``push`` delivery (fast-forward
                                only) carrying the replies that name the commit; else nothing pushed,
                                and the replies say which tests fail. A pull request merged or closed
                                while the round ran: nothing is pushed, and the answers say so.

The round's records live in the run's facts (``documents.reviews``), so a worker that resumes the
workflow after a crash finds them: a take replayed returns the round it began, a finish replayed finds
its commit (``gitrepo.commits`` matches it) and records each delivery under the same key.
"""

from datetime import UTC, datetime
from typing import Any

from dbos import DBOS

from documents.diffstat import diff_files
from documents.facts import RevisionFacts, RunFacts, TimelineEntry
from documents.phrases import plural
from documents.reviews import ReviewRequest, ReviewRound
from gitrepo import CommitSpec
from integrations.base import IntegrationError
from integrations.github_reviews import mentions
from safety.errors import SecretFound
from store.outbox import NewDelivery
from workflow import steps
from workflow.pipeline import agent_phase, agents_queue, running
from workflow.review_answers import answers, feedback_text, pushed_then_answered, reply_all, round_outcome
from workflow.reviews import REVIEWABLE, merge_comments, note
from workflow.runtime import Runtime, current


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
    with running(run_id):
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
        made = plural(len(facts.reviews.rounds), "review round")
        limit = f"it made {made}, the limit ([workflow] max_review_rounds)"
    elif facts.cost_usd >= settings.max_run_cost_usd:
        limit = f"the run's budget of ${settings.max_run_cost_usd:g} is spent ([workflow] max_run_cost_usd)"
    taken = [r for r in facts.reviews.pending if r.counts] if facts.status in REVIEWABLE else []
    new: ReviewRound | None = None
    if taken and limit is None:
        for request in taken:
            await _read_line_comments(rt, facts, request)
        new = ReviewRound(
            number=len(facts.reviews.rounds) + 1,
            requests=[_counted(r, rt) for r in taken],
            revision=facts.revision + 1,
            parent=await _parent(rt, facts),
        )
    outcome: dict[str, Any] = {}

    def change(current: RunFacts) -> None:
        reviews = current.reviews
        keys = {r.key for r in taken}
        reviews.pending = [r for r in reviews.pending if r.key not in keys]
        if new is None or current.status not in REVIEWABLE:  # the pull request may have ended since
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
            await reply_all(rt, run_id, f"limit:{request.key}", request.comments, text)
    plan: dict[str, Any] | None = outcome.get("plan")
    return plan


async def _parent(rt: Runtime, facts: RunFacts) -> str:
    """What the round's commit goes on: the previous round's commit (its push may still be on its way),
    else the branch's head on origin."""
    earlier = next((r.commit for r in reversed(facts.reviews.rounds) if r.commit), None)
    if earlier is not None:
        return earlier
    head = await rt.repo.fetch_branch(facts.branch or "")
    assert head is not None, f"the branch {facts.branch} is gone"
    return head


async def _read_line_comments(rt: Runtime, facts: RunFacts, request: ReviewRequest) -> None:
    """A review's line comments, read from the forge (their webhooks may come later, or never)."""
    if not request.key.startswith("review:") or facts.pr_number is None:
        return
    try:
        read = await rt.forge.review_comments(facts.pr_number, int(request.key.removeprefix("review:")))
    except IntegrationError as exc:  # the comments the webhooks carried stand
        await note(rt, facts.run_id, f"the comments of {request.key} could not be read: {exc}")
        return
    merge_comments(request, "unknown", read)


def _counted(request: ReviewRequest, rt: Runtime) -> ReviewRequest:
    """The request with the comments that ask for something: all when changes were requested, else
    those that mention the bot."""
    if request.state == "changes_requested":
        return request
    github = rt.settings.github
    return request.model_copy(update={"comments": [c for c in request.comments if mentions(c.body, github)]})


def _plan(round_: ReviewRound) -> dict[str, Any]:
    return {"round": round_.number, "revision": round_.revision, "feedback": feedback_text(round_)}


async def finish_round(rt: Runtime, run_id: str, number: int) -> None:
    """Commit a verified round on top of its parent and record its push, or push nothing and say why;
    answer on every thread and once on the pull request; update the briefing. Whether the pull request
    is still open is decided in the transaction that records the round's result."""
    facts = await _facts(rt, run_id)
    round_ = next(r for r in facts.reviews.rounds if r.number == number)
    assert facts.branch and facts.base_commit
    verification = facts.verification
    verdict = verification.verdict if verification else "not_run"
    head, changed, refused = None, [], None
    if verdict == "verified" and facts.status in REVIEWABLE:
        diffs = [facts.fix.diff if facts.fix else "", facts.tests.diff if facts.tests else ""]
        delta = await rt.repo.diff_to_applied(round_.parent, facts.base_commit, diffs, include=lambda _: True)
        changed = diff_files(delta)
        message = (
            f"Address review on #{facts.pr_number} (round {number}) for {facts.ticket.key}\n\n"
            + "\n".join(f"Requested by @{r.author} ({r.key})" for r in round_.requests)
        )
        try:
            rt.secret_scan.check(f"the push of {facts.branch}", message, delta)
        except SecretFound as exc:
            refused = f"not pushed: {exc}"
        else:
            shas = await rt.repo.commit_on_branch(
                facts.branch, round_.parent, [CommitSpec(message, delta)], author=rt.settings.workflow.author
            )
            head = shas[-1] if shas else None
    outcome = refused or round_outcome(facts, verdict, head, changed)

    def change(current: RunFacts) -> list[NewDelivery]:
        record = next(r for r in current.reviews.rounds if r.number == number)
        record.finished_at = datetime.now(UTC)
        if current.status not in REVIEWABLE:  # merged or closed while the round ran
            said = (
                f"stopped: the pull request was {current.status} while the round ran, so nothing was pushed"
            )
            record.verdict, record.outcome = verdict, said
            current.timeline.append(
                TimelineEntry(at=record.finished_at, text=f"review round {number}: {said}")
            )
            return answers(current, round_, verdict, f"Nothing was pushed for this: {said}.", said)
        record.verdict, record.commit, record.outcome = verdict, head, outcome
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
        current.status = "shipped"
        current.timeline.append(
            TimelineEntry(at=record.finished_at, text=f"review round {number}: {outcome}")
        )
        if head is None:
            return answers(current, round_, verdict, f"Nothing was pushed for this: {outcome}.", outcome)
        return [pushed_then_answered(current, round_, verdict, head, outcome)]

    facts = await rt.deliveries.change_run(run_id, change)
    await steps.cleanup(rt, run_id)
    round_ = next(r for r in facts.reviews.rounds if r.number == number)
    rt.bus.publish(run_id, "review_round", {"round": number, "verdict": verdict, "commit": round_.commit})


async def round_failed(rt: Runtime, run_id: str, number: int, reason: str) -> None:
    """A round that failed (a crash of its own, not a failed verification) ends; the PR says so."""
    outcome = f"failed, nothing was pushed ({reason[:300]})"

    def change(current: RunFacts) -> list[NewDelivery]:
        record = next(r for r in current.reviews.rounds if r.number == number)
        record.outcome, record.finished_at = outcome, datetime.now(UTC)
        if current.status in REVIEWABLE:
            current.status = "shipped"
        current.timeline.append(
            TimelineEntry(at=record.finished_at, text=f"review round {number}: {outcome}")
        )
        text = f"Nightshift review round {number} {outcome}."
        return [NewDelivery("pr_comment", f"{run_id}:pr_comment:round:{number}", {"body": text})]

    await rt.deliveries.change_run(run_id, change)


async def _facts(rt: Runtime, run_id: str) -> RunFacts:
    facts = await rt.store.get(run_id)
    if facts is None:
        raise KeyError(f"run {run_id} is not in the database")
    return facts
