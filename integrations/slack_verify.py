"""Slack's v0 request signatures: verify the raw body before anything reads it.

``X-Slack-Signature`` must be ``v0=`` + hex HMAC-SHA256(signing secret, ``v0:{timestamp}:{body}``),
compared in constant time, with ``X-Slack-Request-Timestamp`` within five minutes of now either way.
The body must be the bytes as received: a re-encoded form or JSON would not match.

slack_sdk's ``SignatureVerifier`` does the check (on the clock given, the wall clock by default); it
only answers yes or no, so the headers and the window are looked at first to say what is wrong.

A captured request stays valid for those five minutes, so the caller must also refuse a signature it
has already accepted. ``verify_slack_request`` returns the signature for that; the Slack webhook
remembers the accepted ones in the database (``server.routers.webhooks.slack``), so that a replay is
refused by every worker behind a load balancer, not only by the one that saw the original.
"""

import time
from collections.abc import Mapping

from slack_sdk.signature import Clock, SignatureVerifier

from integrations.base import SignatureError

SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
WINDOW_S = 300.0
"""Slack's documented tolerance (the one ``SignatureVerifier`` applies): requests more than five minutes
old (or ahead) are refused."""


class _At(Clock):
    """A clock stopped at ``now`` (Unix seconds)."""

    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    raise SignatureError(f"missing {name}")


def verify_slack_request(
    signing_secret: str, body: bytes, headers: Mapping[str, str], *, now: float | None = None
) -> str:
    """The request's signature if Slack signed ``body`` within the window; otherwise SignatureError
    saying what is wrong. ``now`` defaults to the wall clock. Refusing a replay is the caller's part."""
    if not signing_secret.strip():
        raise SignatureError("no signing secret: set SLACK_SIGNING_SECRET to accept requests from Slack")
    signature = _header(headers, SIGNATURE_HEADER)
    raw_timestamp = _header(headers, TIMESTAMP_HEADER)
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not a number: {raw_timestamp[:40]!r}") from None
    clock = _At(time.time() if now is None else now)  # one reading, for the window and the verifier
    age = clock.now() - timestamp
    if age > WINDOW_S:
        raise SignatureError(f"timestamp too old: sent {age:.0f}s ago, more than {WINDOW_S:.0f}s")
    if -age > WINDOW_S:
        raise SignatureError(f"timestamp too far in the future: {-age:.0f}s ahead of this clock")
    try:
        signed = SignatureVerifier(signing_secret, clock).is_valid(body, raw_timestamp, signature)
    except UnicodeDecodeError:  # Slack's bodies are UTF-8: this one was not signed by Slack
        signed = False
    if not signed:
        raise SignatureError("signature mismatch: the body or timestamp was not signed with this secret")
    return signature
