"""GitHub's review webhooks, read: who wrote what on which pull request, and whether it may steer.

Pure functions over a delivery's JSON (the caller checked its signature). ``parse_review_event`` turns a
``pull_request_review`` (submitted), ``pull_request_review_comment`` (created), ``issue_comment``
(created, on a pull request) or ``pull_request`` (closed) delivery into a ``ReviewEvent`` or a
``PullRequestEnded``, or returns why it is not one, as a string.

Who may steer (``may_steer``): the author's ``author_association`` is OWNER, MEMBER or COLLABORATOR, and,
when ``[github] reviewers`` is set, the login is one of them. Nightshift's own comments never count: the
configured handle's login, any ``Bot`` account, or a body carrying Nightshift's marker.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from config.integrations import GitHubSettings
from documents.reviews import ReviewComment

STEERING_ASSOCIATIONS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
REVIEW_EVENTS = frozenset(
    {"pull_request_review", "pull_request_review_comment", "issue_comment", "pull_request"}
)
OWN_MARKER = "<!-- nightshift:"
"""Every comment Nightshift writes on GitHub carries ``<!-- nightshift:<delivery key> -->``."""
STOP = re.compile(r"(?im)^\s*/nightshift\s+stop\b")


@dataclass(frozen=True)
class ReviewEvent:
    """A reviewer's words on a pull request."""

    kind: Literal["review", "review_comment", "comment"]
    number: int
    branch: str
    author: str
    association: str
    author_is_bot: bool
    key: str
    """``review:<id>`` for a review and its line comments, ``comment:<id>`` for a conversation comment."""
    state: str
    """``changes_requested``, ``commented``, ``approved``; ``comment`` for a conversation comment;
    ``unknown`` for a line comment (its review's state comes with the review's own event)."""
    comments: list[ReviewComment] = field(default_factory=list)
    stop: bool = False
    """The comment says ``/nightshift stop``."""


@dataclass(frozen=True)
class PullRequestEnded:
    number: int
    branch: str
    merged: bool
    by: str
    """Who merged or closed it."""


def parse_review_event(event: str, payload: Mapping[str, Any]) -> ReviewEvent | PullRequestEnded | str:
    """What a review-side delivery says, or why it says nothing Nightshift acts on."""
    action = payload.get("action")
    if event == "pull_request":
        return _ended(payload) if action == "closed" else f"pull_request action {action!r}, not closed"
    if event == "pull_request_review":
        return _review(payload) if action == "submitted" else f"review action {action!r}, not submitted"
    if event == "pull_request_review_comment":
        return _line_comment(payload) if action == "created" else f"comment action {action!r}, not created"
    if event == "issue_comment":
        return _conversation(payload) if action == "created" else f"comment action {action!r}, not created"
    return f"event {event!r} is not one Nightshift reads"


def _pull(payload: Mapping[str, Any], key: str = "pull_request") -> tuple[int, str] | None:
    pull = payload.get(key)
    if not isinstance(pull, Mapping) or not isinstance(pull.get("number"), int):
        return None
    head = pull.get("head")
    branch = head.get("ref") if isinstance(head, Mapping) else None
    return pull["number"], str(branch or "")


def _user(entry: Mapping[str, Any]) -> tuple[str, bool]:
    user = entry.get("user")
    if not isinstance(user, Mapping):
        return "", False
    login = str(user.get("login") or "")
    return login, user.get("type") == "Bot" or login.endswith("[bot]")


def _ended(payload: Mapping[str, Any]) -> PullRequestEnded | str:
    pull = _pull(payload)
    if pull is None:
        return "the payload has no pull_request"
    sender = payload.get("sender")
    by = str(sender.get("login") or "") if isinstance(sender, Mapping) else ""
    return PullRequestEnded(pull[0], pull[1], bool(payload["pull_request"].get("merged")), by)


def _review(payload: Mapping[str, Any]) -> ReviewEvent | str:
    pull, review = _pull(payload), payload.get("review")
    if pull is None or not isinstance(review, Mapping) or not isinstance(review.get("id"), int):
        return "the payload has no pull_request or review"
    author, bot = _user(review)
    body = str(review.get("body") or "")
    state = str(review.get("state") or "").lower()
    return ReviewEvent(
        kind="review",
        number=pull[0],
        branch=pull[1],
        author=author,
        association=str(review.get("author_association") or ""),
        author_is_bot=bot,
        key=f"review:{review['id']}",
        state=state,
        comments=[ReviewComment(body=body)] if body.strip() else [],
        stop=bool(STOP.search(body)),
    )


def _line_comment(payload: Mapping[str, Any]) -> ReviewEvent | str:
    pull, comment = _pull(payload), payload.get("comment")
    if pull is None or not isinstance(comment, Mapping) or not isinstance(comment.get("id"), int):
        return "the payload has no pull_request or comment"
    author, bot = _user(comment)
    review_id = comment.get("pull_request_review_id")
    body = str(comment.get("body") or "")
    return ReviewEvent(
        kind="review_comment",
        number=pull[0],
        branch=pull[1],
        author=author,
        association=str(comment.get("author_association") or ""),
        author_is_bot=bot,
        key=f"review:{review_id}" if isinstance(review_id, int) else f"comment:{comment['id']}",
        state="unknown",
        comments=[review_comment(comment)],
        stop=bool(STOP.search(body)),
    )


def review_comment(comment: Mapping[str, Any]) -> ReviewComment:
    """A line comment as GitHub shows it (a webhook's ``comment``, or an item of the review's list)."""
    line = comment.get("line") if isinstance(comment.get("line"), int) else comment.get("original_line")
    return ReviewComment(
        comment_id=comment.get("id") if isinstance(comment.get("id"), int) else None,
        path=str(comment.get("path") or "") or None,
        line=line if isinstance(line, int) else None,
        hunk=str(comment.get("diff_hunk") or ""),
        body=str(comment.get("body") or ""),
    )


def _conversation(payload: Mapping[str, Any]) -> ReviewEvent | str:
    issue, comment = payload.get("issue"), payload.get("comment")
    if (
        not isinstance(issue, Mapping)
        or not isinstance(comment, Mapping)
        or not isinstance(comment.get("id"), int)
    ):
        return "the payload has no issue or comment"
    if not isinstance(issue.get("pull_request"), Mapping) or not isinstance(issue.get("number"), int):
        return "the comment is on an issue, not a pull request"
    author, bot = _user(comment)
    body = str(comment.get("body") or "")
    return ReviewEvent(
        kind="comment",
        number=issue["number"],
        branch="",  # an issue_comment does not name the pull request's branch
        author=author,
        association=str(comment.get("author_association") or ""),
        author_is_bot=bot,
        key=f"comment:{comment['id']}",
        state="comment",
        comments=[ReviewComment(body=body)],
        stop=bool(STOP.search(body)),
    )


def own(event: ReviewEvent, settings: GitHubSettings) -> bool:
    """Nightshift wrote it: its handle's login, a bot account, or a body with its marker."""
    login = event.author.lower().removesuffix("[bot]")
    marked = any(OWN_MARKER in comment.body for comment in event.comments)
    return event.author_is_bot or login == settings.handle.lower().removesuffix("[bot]") or marked


def may_steer(event: ReviewEvent, settings: GitHubSettings) -> str | None:
    """Why ``event``'s author may not steer Nightshift; None when they may."""
    if event.association not in STEERING_ASSOCIATIONS:
        return (
            f"{event.author or 'someone'} ({event.association or 'no association'}) is not an owner, member "
            "or collaborator of the repository"
        )
    allowed = {login.lower() for login in settings.reviewers}
    if allowed and event.author.lower() not in allowed:
        return f"{event.author} is not one of [github] reviewers"
    return None


def mentions(text: str, settings: GitHubSettings) -> bool:
    """``text`` calls on the bot: ``@nightshift`` or ``@<handle>``."""
    handles = {"nightshift", settings.handle.lower().removesuffix("[bot]")}
    pattern = r"(?i)(?<![\w@])@(" + "|".join(re.escape(h) for h in handles) + r")(\[bot\])?\b"
    return re.search(pattern, text) is not None
