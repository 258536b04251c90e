"""GitHub's review webhooks as GitHub sends them (the fields Nightshift reads, and a few more around
them), for a pull request of ``FakeGitHub``."""

import itertools
from typing import Any

_TIME = "2024-05-02T09:30:00Z"
_IDS = itertools.count(500_001)


def _repository(full_name: str) -> dict[str, Any]:
    owner, name = full_name.split("/")
    return {"id": 42, "name": name, "full_name": full_name, "owner": {"login": owner, "type": "Organization"}}


def _user(login: str) -> dict[str, Any]:
    kind = "Bot" if login.endswith("[bot]") else "User"
    return {"login": login, "id": abs(hash(login)) % 10_000, "type": kind}


def _pull(
    pull: dict[str, Any], full_name: str, *, merged: bool = False, state: str = "open"
) -> dict[str, Any]:
    return {
        "number": pull["number"],
        "state": state,
        "merged": merged,
        "title": pull["title"],
        "user": _user("nightshift-bot"),
        "head": {"ref": pull["head"]["ref"], "sha": pull["head"]["sha"], "repo": _repository(full_name)},
        "base": {"ref": pull["base"]["ref"], "repo": _repository(full_name)},
        "html_url": f"https://github.com/{full_name}/pull/{pull['number']}",
    }


def review_payload(
    pull: dict[str, Any],
    full_name: str,
    *,
    state: str = "changes_requested",
    body: str = "",
    author: str = "alice",
    association: str = "COLLABORATOR",
    review_id: int | None = None,
) -> dict[str, Any]:
    """``pull_request_review`` (submitted)."""
    return {
        "action": "submitted",
        "review": {
            "id": review_id or next(_IDS),
            "user": _user(author),
            "body": body or None,
            "state": state,
            "author_association": association,
            "submitted_at": _TIME,
            "commit_id": pull["head"]["sha"],
        },
        "pull_request": _pull(pull, full_name),
        "repository": _repository(full_name),
        "sender": _user(author),
    }


def review_comment_payload(
    pull: dict[str, Any], full_name: str, comment: dict[str, Any], *, association: str = "COLLABORATOR"
) -> dict[str, Any]:
    """``pull_request_review_comment`` (created), for a comment of ``FakeGitHub.add_review_comment``."""
    return {
        "action": "created",
        "comment": {**comment, "author_association": association},
        "pull_request": _pull(pull, full_name),
        "repository": _repository(full_name),
        "sender": comment["user"],
    }


def issue_comment_payload(
    number: int, full_name: str, body: str, *, author: str = "alice", association: str = "COLLABORATOR"
) -> dict[str, Any]:
    """``issue_comment`` (created) on pull request ``number``."""
    return {
        "action": "created",
        "issue": {
            "number": number,
            "title": "Fix",
            "pull_request": {"url": f"https://api.github.com/repos/{full_name}/pulls/{number}"},
        },
        "comment": {
            "id": next(_IDS),
            "body": body,
            "user": _user(author),
            "author_association": association,
            "created_at": _TIME,
        },
        "repository": _repository(full_name),
        "sender": _user(author),
    }


def closed_payload(
    pull: dict[str, Any], full_name: str, *, merged: bool, by: str = "alice"
) -> dict[str, Any]:
    """``pull_request`` (closed): merged, or closed without merging."""
    return {
        "action": "closed",
        "number": pull["number"],
        "pull_request": _pull(pull, full_name, merged=merged, state="closed"),
        "repository": _repository(full_name),
        "sender": _user(by),
    }
