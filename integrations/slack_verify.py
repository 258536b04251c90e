"""Slack's v0 request signatures: verify the raw body before anything reads it.

``X-Slack-Signature`` must be ``v0=`` + hex HMAC-SHA256(signing secret, ``v0:{timestamp}:{body}``),
compared in constant time, with ``X-Slack-Request-Timestamp`` within five minutes of now either way.
The body must be the bytes as received: a re-encoded form or JSON would not match.

A captured request stays valid for those five minutes, so a ``ReplayGuard`` remembers the signatures
it has accepted until they expire and refuses them a second time. ``verify_slack_request`` uses the
module's ``DEFAULT_REPLAY_GUARD`` unless given one; a process serving several apps, or a test that
wants isolation, passes its own. The guard is per process: behind several replicas a replay that
lands on another replica is only stopped by the timestamp window.
"""

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Mapping

from integrations.base import SignatureError

SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
WINDOW_S = 300.0
"""Slack's documented tolerance: requests more than five minutes old (or ahead) are refused."""


class ReplayGuard:
    """The signatures accepted within the last ``window_s`` seconds, at most ``max_entries`` of them.

    When full, the oldest entries are dropped first; those are the closest to leaving the window anyway.
    """

    def __init__(self, window_s: float = WINDOW_S, *, max_entries: int = 10_000) -> None:
        self.window_s = window_s
        self.max_entries = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()
        """Signature -> the request timestamp it was sent with, in the order first seen."""

    @property
    def remembered(self) -> int:
        """How many signatures are remembered now."""
        return len(self._seen)

    def check(self, signature: str, timestamp: float, now: float) -> None:
        """Remember ``signature``; SignatureError if it was already seen within the window."""
        while self._seen:
            oldest, sent = next(iter(self._seen.items()))
            if now - sent <= self.window_s and len(self._seen) < self.max_entries:
                break
            del self._seen[oldest]
        if signature in self._seen:
            raise SignatureError("replayed request: this signature was already accepted")
        self._seen[signature] = timestamp


DEFAULT_REPLAY_GUARD = ReplayGuard()


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
    replay_guard: ReplayGuard | None = None,
) -> None:
    """Return if Slack signed ``body``; otherwise SignatureError saying what is wrong.

    ``now`` defaults to the wall clock; ``replay_guard`` to ``DEFAULT_REPLAY_GUARD``.
    """
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
    (DEFAULT_REPLAY_GUARD if replay_guard is None else replay_guard).check(signature, timestamp, now)
