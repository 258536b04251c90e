"""Slack, live: the briefing with its buttons, edits in place, the feedback modal, ephemeral answers.

``SlackNotifier`` implements ``integrations.base.Notifier`` through slack_sdk's ``AsyncWebClient``. Each
call is one request: a briefing is a delivery that ``deliveries.deliverer`` retries (with backoff,
honouring Retry-After), and the answer to a click is worth one try. A failure names the method, the
HTTP status and Slack's error code, or quotes the page a proxy answered with: a body is read whatever
its content type, so an HTML 502 page or a plain-text error shows instead of hiding the cause. A
posted briefing carries message metadata naming its delivery, so a retry after an attempt whose answer
was lost finds that message in the channel's history (scope ``channels:history``) instead of posting
a second one. Requests to the API and to a ``response_url`` go over https only (plain http is allowed
for 127.0.0.1/localhost, for local fakes), so the token never crosses the network in clear text.

A message is referred to as ``"CHANNEL:TS"`` (``join_ref``/``split_ref``); ``"CHANNEL:"`` names a
channel only. A run's ``message_ref`` may name the channel a briefing should go to; when the bot is
not in that channel, it goes to the configured channel.

Verification and payload parsing live in ``slack_verify`` and ``slack_payloads`` and are re-exported
here. Errors::

    IntegrationError (integrations.base)
    ├── SignatureError    a request whose signature is missing, wrong, stale or replayed
    └── SlackError        the Slack API refused or failed; ``code`` is Slack's error code
    ValueError            a payload or reference that is not what Slack sends (slack_payloads)
"""

import logging
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import httpx
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from documents.briefing import Briefing
from documents.slack_blocks import (
    briefing_blocks,
    decided_blocks,
    escape_keep_mentions,
    fallback_text,
    feedback_modal,
)
from integrations.base import (
    IntegrationError,
    SignatureError,
    excerpt,
    http_error,
    retryable_status,
    unreachable,
)
from integrations.slack_payloads import (
    ButtonClick,
    FeedbackSubmitted,
    Interaction,
    SlashCommand,
    parse_command,
    parse_interaction,
)
from integrations.slack_verify import WINDOW_S, verify_slack_request
from retries import retry_after_s
from safety.redact import Redactor

__all__ = [
    "WINDOW_S",
    "ButtonClick",
    "FeedbackSubmitted",
    "Interaction",
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

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
TIMEOUT_S = 15.0
METADATA_TYPE = "nightshift_briefing"
"""``event_type`` of the metadata on a posted briefing; its payload's ``delivery`` is the marker."""
HISTORY_LIMIT = 200
"""How many of a channel's latest messages a retry looks through for a briefing posted before."""
_TRANSIENT = ("ratelimited", "fatal_error", "internal_error", "service_unavailable", "request_timeout")
"""Slack error codes that may pass: the same call is worth trying again later."""
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
    "ratelimited": "Slack is rate-limiting this app",
}


class SlackError(IntegrationError):
    """The Slack Web API refused a call or could not be reached; ``code`` is Slack's error code."""

    def __init__(
        self,
        message: str,
        code: str | None = None,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(
            message, service="Slack", status=status, retryable=retryable, retry_after_s=retry_after_s
        )
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


class _AnyBodyResponse(aiohttp.ClientResponse):
    """Reads a body as JSON whatever its content type, so that slack_sdk quotes a proxy's HTML error
    page in its error (for a body it does not take for JSON it would keep only the status)."""

    async def json(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["content_type"] = None
        return await super().json(*args, **kwargs)


def _slack_error(method: str, exc: Exception, redact: Callable[[str], str]) -> SlackError:
    """What went wrong with a call: Slack's error code, else the HTTP status and a quote of the body
    (through ``redact``: a proxy's page may echo what it was sent)."""
    doing = f"{method} failed"
    if isinstance(exc, SlackApiError) and isinstance(exc.response, AsyncSlackResponse):
        response = exc.response
        status = response.status_code
        after = retry_after_s(response.headers)
        data = response.data if isinstance(response.data, dict) else None
        if data is None or not data.get("error"):
            body = response.data if isinstance(response.data, str) else None
            error = http_error("Slack", doing, status, redact(body) if body else None)
            return SlackError(
                str(error), f"HTTP {status}", status=status, retryable=error.retryable, retry_after_s=after
            )
        code = str(data["error"])
        hint = _HINTS.get(code)
        if code == "missing_scope":
            hint = f"add the {data.get('needed', 'missing')} scope to the Slack app and reinstall it"
        message = f"Slack {doing}: {code}" + (f" ({hint})" if hint else "") + f" [HTTP {status}]"
        retryable = code in _TRANSIENT or status == 429 or status >= 500
        return SlackError(message, code, status=status, retryable=retryable, retry_after_s=after)
    if isinstance(exc, SlackApiError):
        # The body was not JSON at all: slack_sdk quotes it in its message, the response is aiohttp's.
        status = int(getattr(exc.response, "status", 0) or 0)
        quoted = str(exc).split("non-JSON format: ", 1)[-1].split("\nThe server responded with", 1)[0]
        headers = getattr(exc.response, "headers", None) or {}
        error = http_error("Slack", doing, status, redact(quoted), headers=headers)
        return SlackError(
            str(error),
            f"HTTP {status}",
            status=status,
            retryable=error.retryable,
            retry_after_s=error.retry_after_s,
        )
    return SlackError(redact(str(unreachable("Slack", doing, exc))), retryable=True)


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
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self.channel = channel
        self.approvers = tuple(approvers)
        self.timeout_s = timeout_s
        self._token = token
        self._redactor = Redactor([token])
        self._base_url = require_https(api_url, "SLACK_API_URL").rstrip("/") + "/"

    async def _call(self, method: str, **kwargs: Any) -> AsyncSlackResponse:
        """One request to the Web API method (``chat_postMessage``); SlackError says what went wrong."""
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        try:
            async with aiohttp.ClientSession(timeout=timeout, response_class=_AnyBodyResponse) as session:
                client = AsyncWebClient(
                    token=self._token,
                    base_url=self._base_url,
                    timeout=int(self.timeout_s) or 1,
                    session=session,
                    retry_handlers=[],
                )
                response: AsyncSlackResponse = await getattr(client, method)(**kwargs)
                return response
        except (SlackClientError, aiohttp.ClientError, OSError) as exc:
            raise _slack_error(method.replace("_", "."), exc, self._redactor.redact) from None

    async def _post(self, channel: str, briefing: Briefing, marker: str) -> str:
        response = await self._call(
            "chat_postMessage",
            channel=channel,
            text=fallback_text(briefing),
            blocks=briefing_blocks(briefing),
            metadata={"event_type": METADATA_TYPE, "event_payload": {"delivery": marker}},
            unfurl_links=False,
            unfurl_media=False,
            link_names=False,
        )
        return join_ref(str(response["channel"]), str(response["ts"]))

    async def _posted_before(self, channel: str, marker: str) -> str | None:
        """The briefing an earlier attempt posted in ``channel`` (found by its metadata), if any."""
        try:
            response = await self._call(
                "conversations_history", channel=channel, include_all_metadata=True, limit=HISTORY_LIMIT
            )
        except SlackError as exc:
            if exc.retryable:
                raise
            logger.warning("cannot look for an earlier post of %s in %s (%s); posting", marker, channel, exc)
            return None
        for message in response.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == METADATA_TYPE and payload.get("delivery") == marker:
                return join_ref(channel, str(message["ts"]))
        return None

    async def post_briefing(
        self, briefing: Briefing, *, channel: str | None, marker: str, again: bool
    ) -> str | None:
        """Post to ``channel`` or, when it is not given or the bot cannot post there, the configured one;
        ``"CHANNEL:TS"``. With ``again``, a briefing marked ``marker`` already there is returned."""
        if channel and channel != self.channel:
            try:
                return await self._post_unless_posted(channel, briefing, marker, again)
            except SlackError as exc:
                if exc.code not in _ELSEWHERE:
                    raise
        return await self._post_unless_posted(self.channel, briefing, marker, again)

    async def _post_unless_posted(self, channel: str, briefing: Briefing, marker: str, again: bool) -> str:
        """Post, unless (``again``) an earlier attempt did: that message then shows this briefing."""
        found = await self._posted_before(channel, marker) if again else None
        if found is None:
            return await self._post(channel, briefing, marker)
        return await self.update_briefing(briefing, found, marker=marker) or found

    async def update_briefing(self, briefing: Briefing, ref: str, *, marker: str) -> str | None:
        """Edit the message at ``ref``; post it again (marked ``marker``) when it was deleted."""
        channel, ts = split_ref(ref)
        if ts is None:
            return await self.post_briefing(briefing, channel=channel, marker=marker, again=True)
        try:
            await self._call(
                "chat_update",
                channel=channel,
                ts=ts,
                text=fallback_text(briefing),
                blocks=briefing_blocks(briefing),
                link_names=False,
            )
        except SlackError as exc:
            if exc.code != "message_not_found":
                raise
            return await self._post(channel, briefing, marker)
        return ref

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
            "chat_update",
            channel=channel,
            ts=ts,
            text=escape_keep_mentions(line),
            blocks=decided_blocks(briefing, line),
            link_names=False,
        )

    async def open_feedback_modal(self, trigger_id: str, run_id: str) -> None:
        """The Request changes modal; must run within 3 seconds of the click (Slack's trigger_id)."""
        await self._call("views_open", trigger_id=trigger_id, view=feedback_modal(run_id))

    async def ephemeral(self, channel: str, user: str, text: str) -> None:
        """A message only ``user`` sees."""
        await self._call(
            "chat_postEphemeral",
            channel=channel,
            user=user,
            text=escape_keep_mentions(text),
            link_names=False,
        )

    async def respond(self, response_url: str, payload: dict[str, Any]) -> None:
        """POST ``payload`` to a ``response_url`` Slack gave with a command or click (no redirects)."""
        require_https(response_url, "response_url")
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False) as http:
                response = await http.post(response_url, json=payload)
        except httpx.HTTPError as exc:
            raise SlackError(str(unreachable("Slack", "response_url failed", exc)), retryable=True) from None
        if not response.is_success:
            raise SlackError(
                f"Slack response_url answered {response.status_code}: {excerpt(response.text)}",
                f"HTTP {response.status_code}",
                status=response.status_code,
                retryable=retryable_status(response.status_code),
            )

    def is_approver(self, user_id: str) -> bool:
        """Whether ``user_id`` may approve or request changes; everyone when no approvers are set."""
        return not self.approvers or user_id in self.approvers
