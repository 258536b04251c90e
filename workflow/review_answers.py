"""What a review round tells the agents and answers on the pull request, as words and as deliveries.

feedback_text(round)     the reviewers' comments as the code and test agents get them (fenced as
                         untrusted by the revision's goal, ``agents.goals``)
round_outcome(...)       what the round did, in one line (the timeline, the briefing, the replies)
answers(...)             a reply on each thread the round acted on, and one PR comment with the
                         verdict and the test evidence: deliveries, keyed per round and thread
pushed_then_answered     a verified round's commit: one ``push`` delivery (fast-forward only) that
                         carries the answers naming the commit, recorded once it landed, and the
                         answers saying it did not, recorded if it is abandoned
"""

from typing import Any

from documents.facts import VERDICT_TEXT, RunFacts
from documents.reviews import ReviewComment, ReviewRound
from store.outbox import NewDelivery
from workflow.runtime import Runtime


def threads(comments: list[ReviewComment]) -> list[ReviewComment]:
    """The comments a reply can go under (line comments; a review's body has no thread)."""
    return [c for c in comments if c.comment_id is not None]


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


def round_outcome(facts: RunFacts, verdict: str, head: str | None, changed: list[Any]) -> str:
    """What the round did: its commit (pushed by a delivery), or why nothing is pushed."""
    if head is not None:
        files = ", ".join(change.path for change in changed)
        return f"committed {head[:12]} on {facts.branch} ({files}), verified"
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


def answers(
    facts: RunFacts, round_: ReviewRound, verdict: str, reply: str, outcome: str
) -> list[NewDelivery]:
    """``reply`` on each thread the round acted on, and one comment with the verdict, ``outcome`` and
    the test evidence. The keys are the round's: whichever answer is recorded first is the one."""
    run_id = facts.run_id
    replies = [
        NewDelivery(
            "review_reply",
            f"{run_id}:review_reply:{round_.number}:{comment.comment_id}",
            {"comment_id": comment.comment_id, "body": reply},
        )
        for request in round_.requests
        for comment in threads(request.comments)
    ]
    text = (
        f"**Nightshift review round {round_.number}**: {VERDICT_TEXT.get(verdict, verdict)}.\n\n"
        f"{outcome[0].upper()}{outcome[1:]}.\n\nTest evidence: {_evidence(facts)}"
    )
    return [*replies, NewDelivery("pr_comment", f"{run_id}:pr_comment:round:{round_.number}", {"body": text})]


def pushed_then_answered(
    facts: RunFacts, round_: ReviewRound, verdict: str, head: str, outcome: str
) -> NewDelivery:
    """The push of the round's commit ``head`` onto the run's branch, carrying its answers: "Done in
    <commit>" once it landed; that the push did not land, should it be abandoned."""
    assert facts.branch is not None
    landed = answers(
        facts, round_, verdict, f"Done in {head[:12]}, pushed to {facts.branch}: {outcome}.", outcome
    )
    missed = f"verified and committed as {head[:12]}, but its push to {facts.branch} did not land"
    lost = answers(
        facts,
        round_,
        verdict,
        f"Nothing was pushed for this: {missed} (the run's timeline says why).",
        f"{missed}; nothing changed on this pull request",
    )
    return NewDelivery(
        "push",
        f"{facts.run_id}:push:round:{round_.number}",
        {
            "branch": facts.branch,
            "commit": head,
            "then": [d.as_follow_up() for d in landed],
            "otherwise": [d.as_follow_up() for d in lost],
        },
    )


async def reply_all(rt: Runtime, run_id: str, why: str, comments: list[ReviewComment], text: str) -> None:
    """``text`` on each thread of ``comments``, or once on the pull request when there is none."""
    for comment in threads(comments):
        key = f"{run_id}:review_reply:{why}:{comment.comment_id}"
        await rt.deliveries.record(
            run_id, "review_reply", key, {"comment_id": comment.comment_id, "body": text}
        )
    if not threads(comments):
        await rt.deliveries.record(run_id, "pr_comment", f"{run_id}:pr_comment:{why}", {"body": text})
