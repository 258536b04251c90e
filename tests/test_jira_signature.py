"""Jira webhook signatures: X-Hub-Signature ``sha256=<hex HMAC-SHA256 of the raw body>``."""

import json

import pytest

from integrations.base import SignatureError
from integrations.jira_webhook import verify_jira_signature
from tests.fakes.jira import issue_created, issue_json, signed_headers

SECRET = "whsec-jira-test"
BODY = json.dumps(issue_created(issue_json("TODO-42"))).encode()


def test_a_delivery_signed_with_the_secret_is_accepted() -> None:
    header = signed_headers(SECRET, BODY)["X-Hub-Signature"]
    verify_jira_signature(SECRET, BODY, header)
    method, _, digest = header.partition("=")
    verify_jira_signature(SECRET, BODY, f"{method.upper()}={digest.upper()}")


def test_a_signature_made_with_another_secret_is_refused() -> None:
    header = signed_headers("another-secret", BODY)["X-Hub-Signature"]
    with pytest.raises(SignatureError, match="does not match the body"):
        verify_jira_signature(SECRET, BODY, header)


@pytest.mark.parametrize("header", [None, "", "   "])
def test_a_missing_signature_is_refused(header: str | None) -> None:
    with pytest.raises(SignatureError, match="has no X-Hub-Signature header"):
        verify_jira_signature(SECRET, BODY, header)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("deadbeef", "malformed"),
        ("sha256=", "malformed"),
        ("sha1=" + "0" * 40, "'sha1' is not supported"),
        ("sha256=not-hex-at-all", "does not match"),
    ],
)
def test_a_malformed_signature_is_refused_with_the_reason(header: str, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify_jira_signature(SECRET, BODY, header)


def test_a_tampered_body_is_refused() -> None:
    header = signed_headers(SECRET, BODY)["X-Hub-Signature"]
    tampered = BODY.replace(b"TODO-42", b"TODO-43")
    assert tampered != BODY
    with pytest.raises(SignatureError, match="does not match the body"):
        verify_jira_signature(SECRET, tampered, header)


def test_without_a_configured_secret_nothing_is_accepted() -> None:
    header = signed_headers("", BODY)["X-Hub-Signature"]
    with pytest.raises(SignatureError, match="JIRA_WEBHOOK_SECRET"):
        verify_jira_signature("", BODY, header)
