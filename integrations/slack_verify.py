"""Slack's v0 request signatures: verify the raw body before anything reads it.

``X-Slack-Signature`` must be ``v0=`` + hex HMAC-SHA256(signing secret, ``v0:{timestamp}:{body}``),
compared in constant time, with ``X-Slack-Request-Timestamp`` within five minutes of now either way.
The body must be the bytes as received: a re-encoded form or JSON would not match.

A captured request stays valid for those five minutes, so the caller must also refuse a signature it
has already accepted. ``verify_slack_request`` returns the signature for that; the webhooks remember the
accepted ones in the database (``server.webhooks``), so that a replay is refused by every worker
behind a load balancer, not only by the one that saw the original.
"""

import hashlib
import hmac
import time
from collections.abc import Mapping

from integrations.base import SignatureError

SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
WINDOW_S = 300.0
"""Slack's documented tolerance: requests more than five minutes old (or ahead) are refused."""


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    raise SignatureError(f"missing {name}")


def verify_slack_request(
    signing_secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: float | None = None,
    window_s: float = WINDOW_S,
) -> str:
    """The request's signature if Slack signed ``body`` within the window; otherwise SignatureError
    saying what is wrong. ``now`` defaults to the wall clock. Refusing a replay is the caller's part."""
    if not signing_secret:
        raise SignatureError("no signing secret: set SLACK_SIGNING_SECRET to accept requests from Slack")
    signature = _header(headers, SIGNATURE_HEADER)
    raw_timestamp = _header(headers, TIMESTAMP_HEADER)
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not a number: {raw_timestamp[:40]!r}") from None
    now = time.time() if now is None else now
    if now - timestamp > window_s:
        raise SignatureError(f"timestamp too old: sent {now - timestamp:.0f}s ago, more than {window_s:.0f}s")
    if timestamp - now > window_s:
        raise SignatureError(f"timestamp too far in the future: {timestamp - now:.0f}s ahead of this clock")
    base = b"v0:" + raw_timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise SignatureError("signature mismatch: the body or timestamp was not signed with this secret")
    return signature
