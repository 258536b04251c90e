"""Slack, live: the briefing with its buttons, edits in place, thread replies, the feedback modal.

``SlackNotifier`` implements ``integrations.base.Notifier`` through slack_sdk's ``AsyncWebClient`` with
its async retry handlers (429 honouring Retry-After, 500/503, dropped connections). Requests to the
API and to a ``response_url`` go over https only (plain http is allowed
for 127.0.0.1/localhost, for local fakes), so the token never crosses the network in clear text.

A message is referred to as ``"CHANNEL:TS"`` (``join_ref``/``split_ref``); ``"CHANNEL:"`` names a
channel only. The service may seed ``RunFacts.message_ref`` with the channel a /oncall came from so
the briefing lands there; when the bot is not in that channel, it goes to the configured channel.

Verification and payload parsing live in ``slack_verify`` and ``slack_payloads`` and are re-exported
here. Errors::

    IntegrationError (integrations.base)
    ├── SignatureError    a request whose signature is missing, wrong, stale or replayed
    └── SlackError        the Slack API refused or failed; ``code`` is Slack's error code
    ValueError            a payload or reference that is not what Slack sends (slack_payloads)
"""

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from documents.briefing import Briefing
from documents.facts import RunFacts
from documents.slack_blocks import (
    briefing_blocks,
    decided_blocks,
    escape_keep_mentions,
    fallback_text,
    feedback_modal,
)
from integrations.base import IntegrationError, SignatureError
from integrations.slack_payloads import (
    ButtonClick,
    FeedbackSubmitted,
    Interaction,
    SlashCommand,
    parse_command,
    parse_interaction,
)
from integrations.slack_verify import DEFAULT_REPLAY_GUARD, ReplayGuard, verify_slack_request

__all__ = [
    "DEFAULT_REPLAY_GUARD",
    "ButtonClick",
    "FeedbackSubmitted",
    "Interaction",
    "ReplayGuard",
    "SignatureError",
    "SlackError",
    "SlackNotifier",
    "SlashCommand",
    "join_ref",
    "parse_command",
    "parse_interaction",
    "split_ref",
    "verify_slack_request",
]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_TIMEOUT_S = 15
_ELSEWHERE = ("not_in_channel", "channel_not_found", "is_archived")
"""Errors after which a briefing for a run's own channel goes to the configured channel instead."""
_HINTS = {
    "not_authed": "no token was sent; set SLACK_BOT_TOKEN",
    "invalid_auth": "the token was refused; check SLACK_BOT_TOKEN",
    "token_revoked": "the token was revoked; reinstall the Slack app and update SLACK_BOT_TOKEN",
    "account_inactive": "the token was revoked; reinstall the Slack app and update SLACK_BOT_TOKEN",
    "channel_not_found": "check SLACK_CHANNEL and invite the bot to the channel",
    "not_in_channel": "invite the bot to the channel (/invite @Nightshift)",
    "is_archived": "the channel is archived; set another SLACK_CHANNEL",
    "message_not_found": "the message was deleted",
    "expired_trigger_id": "the click is too old to open a modal (Slack allows 3 seconds)",
    "ratelimited": "Slack kept rate-limiting after the retries",
}


class SlackError(IntegrationError):
    """The Slack Web API refused a call or could not be reached."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


def join_ref(channel: str, ts: str | None) -> str:
    """``"CHANNEL:TS"``; ``"CHANNEL:"`` when there is no message yet."""
    return f"{channel}:{ts or ''}"


def split_ref(ref: str) -> tuple[str, str | None]:
    """``(channel, ts)`` from ``"CHANNEL:TS"``; ``ts`` is None for ``"CHANNEL:"`` or ``"CHANNEL"``."""
    channel, _, ts = ref.partition(":")
    if not channel.strip():
        raise ValueError(f"a Slack message reference is 'CHANNEL:TS', not {ref[:80]!r}")
    return channel, ts or None


def require_https(url: str, what: str) -> str:
    """``url`` if it is https (or http on this machine's loopback); SlackError otherwise."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise SlackError(f"{what} is not a URL: {exc}") from None
    secure = parsed.scheme == "https" and bool(parsed.host)
    if secure or (parsed.scheme == "http" and parsed.host in LOOPBACK_HOSTS):
        return url
    raise SlackError(f"{what} must be an https URL (http only for 127.0.0.1 or localhost), not {url[:100]!r}")


def retry_handlers() -> list[AsyncRetryHandler]:
    """Retry 429 (after Retry-After) three times, 500/503 and dropped connections twice."""
    return [
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        AsyncServerErrorRetryHandler(max_retry_count=2),
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
    ]


def _describe(method: str, response: AsyncSlackResponse) -> SlackError:
    code = str(response.get("error") or f"HTTP {response.status_code}")
    hint = _HINTS.get(code)
    if code == "missing_scope":
        hint = f"add the {response.get('needed', 'missing')} scope to the Slack app and reinstall it"
    return SlackError(f"Slack {method} failed: {code}" + (f" ({hint})" if hint else ""), code)


class SlackNotifier:
    """Posts briefings to Slack and edits them in place as the run moves on."""

    name = "slack"

    def __init__(
        self,
        *,
        token: str,
        channel: str,
        api_url: str = "https://slack.com/api/",
        approvers: Sequence[str] = (),
        client: AsyncWebClient | None = None,
    ) -> None:
        self.channel = channel
        self.approvers = tuple(approvers)
        self.client = client or AsyncWebClient(
            token=token,
            base_url=require_https(api_url, "SLACK_API_URL").rstrip("/") + "/",
            timeout=_TIMEOUT_S,
            retry_handlers=retry_handlers(),
        )

    async def _call(
        self, call: Callable[..., Awaitable[AsyncSlackResponse]], **kwargs: Any
    ) -> AsyncSlackResponse:
        method = call.__name__.replace("_", ".")
        try:
            return await call(**kwargs)
        except SlackApiError as exc:
            raise _describe(method, exc.response) from None
        except (SlackClientError, OSError) as exc:
            raise SlackError(f"Slack {method} failed: {type(exc).__name__}: {exc}") from None

    async def _post(self, channel: str, briefing: Briefing) -> str:
        response = await self._call(
            self.client.chat_postMessage,
            channel=channel,
            text=fallback_text(briefing),
            blocks=briefing_blocks(briefing),
            unfurl_links=False,
            unfurl_media=False,
            link_names=False,
        )
        ref = join_ref(str(response["channel"]), str(response["ts"]))
        return ref

    async def post_briefing(self, facts: RunFacts, briefing: Briefing) -> str | None:
        """Post to the run's channel (``facts.message_ref``) or the configured one; ``"CHANNEL:TS"``."""
        channel = split_ref(facts.message_ref)[0] if facts.message_ref else self.channel
        try:
            return await self._post(channel, briefing)
        except SlackError as exc:
            if channel == self.channel or exc.code not in _ELSEWHERE:
                raise
        return await self._post(self.channel, briefing)

    async def update_briefing(self, facts: RunFacts, briefing: Briefing, ref: str | None) -> None:
        """Edit the message at ``ref``; post a new one when there is none (or it was deleted)."""
        channel, ts = split_ref(ref) if ref else (None, None)
        if channel is None or ts is None:
            await self.post_briefing(facts, briefing)
            return
        try:
            await self._call(
                self.client.chat_update,
                channel=channel,
                ts=ts,
                text=fallback_text(briefing),
                blocks=briefing_blocks(briefing),
                link_names=False,
            )
        except SlackError as exc:
            if exc.code != "message_not_found":
                raise
            await self._post(channel, briefing)

    async def notify(self, facts: RunFacts, text: str) -> None:
        """A reply in the briefing's thread, or a channel message naming the ticket when there is none."""
        channel, ts = split_ref(facts.message_ref) if facts.message_ref else (self.channel, None)
        line = text if ts else f"{facts.ticket.key}: {text}"
        await self._call(
            self.client.chat_postMessage,
            channel=channel,
            thread_ts=ts,
            text=escape_keep_mentions(line),
            unfurl_links=False,
            unfurl_media=False,
            link_names=False,
        )

    async def mark_deciding(self, ref: str, text: str, *, by: str | None, briefing: Briefing) -> None:
        """Redraw the message at once as ``briefing`` without buttons, under ``text`` (and who clicked).

        The caller builds ``briefing`` from the run's stored facts, so a server restarted since the
        message was posted redraws it whole.
        """
        channel, ts = split_ref(ref)
        if ts is None:
            raise ValueError(f"mark_deciding needs a message reference 'CHANNEL:TS', not {ref[:80]!r}")
        line = f"{text} (by <@{by}>)" if by else text
        await self._call(
            self.client.chat_update,
            channel=channel,
            ts=ts,
            text=escape_keep_mentions(line),
            blocks=decided_blocks(briefing, line),
            link_names=False,
        )

    async def open_feedback_modal(self, trigger_id: str, run_id: str) -> None:
        """The Request changes modal; must run within 3 seconds of the click (Slack's trigger_id)."""
        await self._call(self.client.views_open, trigger_id=trigger_id, view=feedback_modal(run_id))

    async def ephemeral(self, channel: str, user: str, text: str) -> None:
        """A message only ``user`` sees."""
        await self._call(
            self.client.chat_postEphemeral,
            channel=channel,
            user=user,
            text=escape_keep_mentions(text),
            link_names=False,
        )

    async def respond(self, response_url: str, payload: dict[str, Any]) -> None:
        """POST ``payload`` to a ``response_url`` Slack gave with a command or click (no redirects)."""
        require_https(response_url, "response_url")
        try:
            async with httpx.AsyncClient(timeout=_TIMEOUT_S, follow_redirects=False) as http:
                response = await http.post(response_url, json=payload)
        except httpx.HTTPError as exc:
            raise SlackError(f"Slack response_url failed: {type(exc).__name__}: {exc}") from None
        if not response.is_success:
            raise SlackError(
                f"Slack response_url answered {response.status_code}: {response.text[:200]}",
                f"HTTP {response.status_code}",
            )

    def is_approver(self, user_id: str) -> bool:
        """Whether ``user_id`` may approve or request changes; everyone when no approvers are set."""
        return not self.approvers or user_id in self.approvers
