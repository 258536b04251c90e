"""The GitHub webhook: X-Hub-Signature-256 verification and which workflow_run deliveries start a run."""

import hashlib
import hmac
import json
from typing import Any

import pytest

from integrations.base import SignatureError
from integrations.github import CiFailure, parse_workflow_run, verify_github_signature
from tests.fakes.github import signed_headers, workflow_run_payload

SECRET = "whsec-correct-horse-battery-staple"


def _body(**changes: Any) -> bytes:
    return json.dumps(workflow_run_payload(**changes)).encode()


def test_a_body_signed_with_the_secret_is_accepted() -> None:
    body = _body()
    header = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()

    verify_github_signature(SECRET, body, header)
    # The fake signs exactly like this too, so end-to-end tests can rely on it.
    assert signed_headers(SECRET, body)["X-Hub-Signature-256"] == header


def test_a_body_signed_with_another_secret_is_refused() -> None:
    body = _body()
    header = signed_headers("some-other-secret", body)["X-Hub-Signature-256"]

    with pytest.raises(SignatureError, match="does not match the body"):
        verify_github_signature(SECRET, body, header)


@pytest.mark.parametrize("header", [None, ""])
def test_a_delivery_without_signature_is_refused(header: str | None) -> None:
    with pytest.raises(SignatureError, match="no X-Hub-Signature-256 header"):
        verify_github_signature(SECRET, _body(), header)


@pytest.mark.parametrize(
    "header",
    [
        "sha1=" + "a" * 40,  # the legacy X-Hub-Signature form
        "sha256=" + "g" * 64,
        "sha256=" + "a" * 63,
        "a" * 64,
        "sha256=",
    ],
)
def test_a_malformed_signature_is_refused(header: str) -> None:
    with pytest.raises(SignatureError, match="malformed X-Hub-Signature-256"):
        verify_github_signature(SECRET, _body(), header)


def test_a_tampered_body_is_refused() -> None:
    body = _body()
    header = signed_headers(SECRET, body)["X-Hub-Signature-256"]
    tampered = body.replace(b'"failure"', b'"success"')
    assert tampered != body

    with pytest.raises(SignatureError, match="does not match"):
        verify_github_signature(SECRET, tampered, header)


def test_without_a_configured_secret_nothing_is_accepted() -> None:
    body = _body()
    with pytest.raises(SignatureError, match="GITHUB_WEBHOOK_SECRET"):
        verify_github_signature("", body, signed_headers("", body)["X-Hub-Signature-256"])


def test_a_failed_run_on_the_default_branch_is_a_ci_failure() -> None:
    payload = workflow_run_payload(repo="acme/service", run_id=77, head_sha="f" * 40, name="CI")

    failure = parse_workflow_run("workflow_run", payload)

    assert failure == CiFailure(
        repo="acme/service",
        run_id=77,
        run_url="https://github.com/acme/service/actions/runs/77",
        workflow_name="CI",
        head_sha="f" * 40,
        head_branch="main",
        conclusion="failure",
        title="Make the parser accept empty lines",
    )


def test_without_display_title_the_title_is_the_head_commits_first_line() -> None:
    payload = workflow_run_payload(display_title=None, head_commit_message="Bump parser to 2.0\n\nDetails")

    failure = parse_workflow_run("workflow_run", payload)

    assert isinstance(failure, CiFailure) and failure.title == "Bump parser to 2.0"


@pytest.mark.parametrize(
    ("event", "changes", "reason"),
    [
        ("push", {}, "event 'push' is not workflow_run"),
        ("ping", {}, "event 'ping' is not workflow_run"),
        (
            "workflow_run",
            {"action": "in_progress", "status": "in_progress", "conclusion": None},
            "action 'in_progress', not completed",
        ),
        (
            "workflow_run",
            {"action": "requested", "status": "queued", "conclusion": None},
            "action 'requested', not completed",
        ),
        ("workflow_run", {"conclusion": "success"}, "conclusion 'success', not failure"),
        ("workflow_run", {"conclusion": "cancelled"}, "conclusion 'cancelled', not failure"),
        ("workflow_run", {"head_branch": "feature/x"}, "branch 'feature/x' is not the default branch 'main'"),
        (
            "workflow_run",
            {"head_repo": "mallory/service"},
            "the run is for a branch of the fork 'mallory/service'",
        ),
    ],
)
def test_other_deliveries_are_ignored_with_the_reason(
    event: str, changes: dict[str, Any], reason: str
) -> None:
    assert parse_workflow_run(event, workflow_run_payload(**changes)) == reason


def test_a_payload_without_a_run_is_ignored() -> None:
    payload = {"action": "completed", "zen": "Keep it logically awesome."}

    reason = parse_workflow_run("workflow_run", payload)

    assert reason == "the payload has no workflow_run or repository object"
