"""Slack request verification: the v0 scheme on the raw body, the 5-minute window.

Refusing a replayed signature is the webhooks' part, shared by every worker: tests/test_store_shared.py
and tests/test_server_slack.py."""

import hashlib
import hmac
from collections.abc import Callable

import pytest
from slack_sdk.signature import SignatureVerifier

from demo.fake_slack import SIGNING_SECRET, signed_headers, slash_command_body
from integrations.base import SignatureError
from integrations.slack import verify_slack_request

NOW = 1_750_000_000


def refusal(body: bytes, headers: dict[str, str], *, now: float = NOW) -> str:
    """The reason ``verify_slack_request`` gives for refusing the request."""
    with pytest.raises(SignatureError) as caught:
        verify_slack_request(SIGNING_SECRET, body, headers, now=now)
    return str(caught.value)


def test_a_request_signed_by_slack_sdk_is_accepted_with_any_header_case() -> None:
    body = slash_command_body("PAY-42 refunds show as charges & more")
    headers = signed_headers(SIGNING_SECRET, body, ts=NOW - 20)

    accepted = verify_slack_request(SIGNING_SECRET, body, headers, now=NOW)
    lower = {name.lower(): value for name, value in signed_headers(SIGNING_SECRET, body, ts=NOW).items()}

    assert accepted == headers["X-Slack-Signature"]
    assert verify_slack_request(SIGNING_SECRET, body, lower, now=NOW) == lower["x-slack-signature"]


def test_a_request_slack_sdk_accepts_now_is_accepted_on_the_wall_clock() -> None:
    body = slash_command_body("status")
    headers = signed_headers(SIGNING_SECRET, body)
    assert SignatureVerifier(SIGNING_SECRET).is_valid_request(body, headers)

    verify_slack_request(SIGNING_SECRET, body, headers)


def test_a_forged_signature_is_a_mismatch() -> None:
    body = slash_command_body("deploy")
    forged = signed_headers("not-the-signing-secret", body, ts=NOW)

    assert refusal(body, forged).startswith("signature mismatch")


def test_an_unsigned_request_names_the_missing_header() -> None:
    body = slash_command_body("deploy")
    headers = signed_headers(SIGNING_SECRET, body, ts=NOW)

    no_signature = {k: v for k, v in headers.items() if k != "X-Slack-Signature"}
    no_timestamp = {k: v for k, v in headers.items() if k != "X-Slack-Request-Timestamp"}

    assert refusal(body, no_signature) == "missing X-Slack-Signature"
    assert refusal(body, no_timestamp) == "missing X-Slack-Request-Timestamp"


def test_without_a_signing_secret_nothing_verifies() -> None:
    body = slash_command_body("deploy")
    # What anyone can compute when the secret is empty (slack_sdk's signer refuses an empty secret).
    forged = "v0=" + hmac.new(b"", f"v0:{NOW}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": str(NOW), "X-Slack-Signature": forged}

    with pytest.raises(SignatureError, match="no signing secret: set SLACK_SIGNING_SECRET"):
        verify_slack_request("", body, headers, now=NOW)


def test_a_six_minute_old_request_is_too_old_even_when_correctly_signed() -> None:
    body = slash_command_body("deploy")
    headers = signed_headers(SIGNING_SECRET, body, ts=NOW - 360)

    assert refusal(body, headers).startswith("timestamp too old")
    verify_slack_request(SIGNING_SECRET, body, headers, now=NOW - 70)


def test_a_request_from_six_minutes_in_the_future_is_refused() -> None:
    body = slash_command_body("deploy")
    headers = signed_headers(SIGNING_SECRET, body, ts=NOW + 360)

    assert refusal(body, headers).startswith("timestamp too far in the future")


def test_a_timestamp_that_is_not_a_number_is_refused() -> None:
    body = slash_command_body("deploy")
    headers = {**signed_headers(SIGNING_SECRET, body, ts=NOW), "X-Slack-Request-Timestamp": "yesterday"}

    assert "X-Slack-Request-Timestamp is not a number" in refusal(body, headers)


def test_a_tampered_or_re_encoded_body_is_a_mismatch() -> None:
    body = b"text=refunds+are+broken&user_id=U0ALICE"
    headers = signed_headers(SIGNING_SECRET, body, ts=NOW)

    assert refusal(b"text=refunds+are+FIXED&user_id=U0ALICE", headers).startswith("signature mismatch")
    # The same form, encoded differently: only the raw bytes Slack signed verify.
    assert refusal(b"text=refunds%20are%20broken&user_id=U0ALICE", headers).startswith("signature mismatch")


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real: Callable[[bytes, bytes], bool] = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    body = slash_command_body("deploy")
    headers = signed_headers(SIGNING_SECRET, body, ts=NOW)
    verify_slack_request(SIGNING_SECRET, body, headers, now=NOW)

    assert compared == [(headers["X-Slack-Signature"], headers["X-Slack-Signature"])]
