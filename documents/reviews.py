"""A run's life on its pull request: reviewers' requests taken from GitHub, and the rounds that answered
them (``workflow.reviews``)."""

from datetime import datetime

from pydantic import BaseModel, Field


class ReviewComment(BaseModel):
    """One thing a reviewer wrote: a comment on a line of the diff (with its thread's id, path, line and
    hunk), or a review's or the conversation's text (no thread)."""

    comment_id: int | None = None
    """The review comment a reply goes under; None for a review's body or a conversation comment."""
    path: str | None = None
    line: int | None = None
    hunk: str = ""
    body: str


class ReviewRequest(BaseModel):
    """A review (or a comment mentioning the bot) that asks for changes, as GitHub delivered it."""

    key: str
    """``review:<id>`` or ``comment:<id>``: what a redelivery, or the other event of the same review,
    is recognised by."""
    author: str
    state: str
    """``changes_requested``, ``commented``, or ``comment`` (a conversation comment)."""
    comments: list[ReviewComment]
    received_at: datetime
    counts: bool = False
    """It asks Nightshift for changes: the review requests changes, or it mentions the bot."""


class ReviewRound(BaseModel):
    """One round of changes on the pull request's branch for the requests it took."""

    number: int
    requests: list[ReviewRequest]
    """The requests it answers, with the comments that count."""
    revision: int
    """The run's revision the round made."""
    parent: str
    """The branch's head when the round began: its commit goes on top of this."""
    verdict: str | None = None
    commit: str | None = None
    """The branch's new head, when the round pushed one."""
    outcome: str = ""
    """What the round did, in words (what a reply says)."""
    finished_at: datetime | None = None


class ReviewState(BaseModel):
    pending: list[ReviewRequest] = Field(default_factory=list)
    """Requests taken and not yet answered by a round."""
    seen: list[str] = Field(default_factory=list)
    """The keys of every request taken (a redelivery is recognised by them)."""
    rounds: list[ReviewRound] = Field(default_factory=list)
    workflows: int = 0
    """How many round workflows were started (the next one's id: ``<run>:review:<n+1>``)."""
    active: bool = False
    """A round workflow is running: new requests wait for it."""
    stopped: str | None = None
    """Why no more rounds run (a reviewer's ``/nightshift stop``, the limit, the budget)."""
    last_comment: str | None = None
    """The latest conversation comment by someone who may steer (``@login: text``): a closed pull
    request's lesson quotes it."""


def review_sentence(state: ReviewState) -> str:
    """What the rounds on the pull request did, for the briefing ("" before any)."""
    done = [r for r in state.rounds if r.finished_at is not None]
    parts = [f"Review round {r.number}: {r.outcome}" for r in done[-2:]]
    if state.active:
        parts.append("A review round is in progress")
    if state.stopped:
        parts.append(f"No more review rounds: {state.stopped}")
    return " ".join(part.rstrip(".") + "." for part in parts)
