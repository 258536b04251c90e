"""Slack without a public URL: Socket Mode, Slack's WebSocket door, on slack_sdk's asyncio client.

With ``SLACK_APP_TOKEN`` (``xapp-...``) each worker opens a connection to Slack (``apps.connections
.open`` with the app token, then the WebSocket URL it returns) and Slack sends the slash commands,
button clicks and modal submissions over it as envelopes, each to one of the connections. The app token
is what authenticates the connection, so an envelope needs no signature; it is handed to the same
handlers as an HTTP request (``server.slack.inbound``): the same approver check, the
same answers. Each envelope is acknowledged (with the ephemeral message or the modal's errors as its
payload) as soon as the handler answers, well inside Slack's 3 seconds, and the work a click asks for
starts after the acknowledgement is sent.

Slack delivers an envelope at least once: one whose acknowledgement it never got (the connection broke
in between) comes again, perhaps to another worker. Envelope ids are remembered in the database
(``Store.first_sighting``, shared by every worker), so a repeat is acknowledged and nothing else.

slack_sdk's client reconnects on its own: when Slack asks it to (``disconnect``), when the connection
closes, and when its pings go unanswered. ``state`` says how the connection stands, for ``/health``.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from server.models import SocketModeHealth
from server.slack.clicks import in_background
from server.slack.inbound import NotASlackPayload, SlackInbound
from store.runs import Store

logger = logging.getLogger("nightshift.slack.socket")

ENVELOPES_KEPT_S = 3600.0
"""How long an envelope id is remembered: far longer than Slack goes on delivering an envelope."""
PING_INTERVAL_S = 5.0
"""slack_sdk pings this often; a connection whose pongs stop for four intervals is replaced."""
STOP_TIMEOUT_S = 5.0
"""How long the work started by acknowledged clicks may go on when the server stops."""


class SlackSocket:
    """One Socket Mode connection of this worker: ``start``, ``stop``, ``health``."""

    def __init__(
        self,
        *,
        app_token: str,
        api_url: str,
        inbound: SlackInbound,
        store: Store,
        ping_interval_s: float = PING_INTERVAL_S,
    ) -> None:
        self._app_token, self._api_url = app_token, api_url
        self._inbound, self._store = inbound, store
        self._ping_interval_s = ping_interval_s
        self._client: SocketModeClient | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._work: set[asyncio.Task[None]] = set()
        self._hello_session: str | None = None
        """The connection Slack said hello on: the one envelopes arrive on."""
        self._connected_at: float | None = None
        self._connections = 0
        self._last_error: str | None = None

    async def start(self) -> None:
        """Connect in the background: the server starts while Slack is unreachable, and the client
        tries again every ``ping_interval_s``."""
        client = _Client(
            refused=self._refused,
            app_token=self._app_token,
            web_client=AsyncWebClient(base_url=self._api_url),
            logger=logger,
            ping_interval=self._ping_interval_s,
        )
        client.message_listeners.append(self._on_message)
        client.socket_mode_request_listeners.append(self._on_request)
        self._client = client
        self._connecting = asyncio.get_running_loop().create_task(client.connect())

    def _refused(self, exc: Exception) -> None:
        error = exc.response.get("error") if isinstance(exc, SlackApiError) else None
        hint = " (check SLACK_APP_TOKEN: an app-level token with connections:write)" if error else ""
        self._last_error = f"apps.connections.open failed: {error or exc}{hint}"

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        if self._work:
            _, unfinished = await asyncio.wait(self._work, timeout=STOP_TIMEOUT_S)
            for task in unfinished:
                task.cancel()

    async def health(self) -> SocketModeHealth:
        """``connected`` once Slack said hello on the live connection, else ``connecting`` (with the
        last error, when connecting failed)."""
        client = self._client
        live = client is not None and await client.is_connected()
        session = await client.session_id() if client is not None else None
        connected = live and session == self._hello_session
        since = self._connected_at if connected else None
        return SocketModeHealth(
            state="connected" if connected else "connecting",
            connected_since=datetime.fromtimestamp(since, UTC) if since is not None else None,
            reconnects=max(0, self._connections - 1),
            last_error=None if connected else self._last_error,
        )

    async def _on_message(
        self, client: AsyncBaseSocketModeClient, message: dict[str, Any], _raw: str | None
    ) -> None:
        kind = message.get("type")
        if kind == "hello":
            self._hello_session = await client.session_id()
            self._connected_at = time.time()
            self._connections += 1
            self._last_error = None
            logger.info(
                "Socket Mode connected to Slack (connection %d)", self._connections
            )
        elif kind == "disconnect":
            self._hello_session = None
            logger.info("Slack asked to reconnect (%s)", message.get("reason", "no reason given"))

    async def _on_request(self, client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        envelope = request.envelope_id
        first = await self._store.first_sighting(
            f"slack-envelope:{envelope}", now_s=time.time(), keep_s=ENVELOPES_KEPT_S
        )
        if not first:
            logger.info("envelope %s came again (its acknowledgement was lost): acknowledged only", envelope)
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=envelope))
            return
        payload, then = None, None
        try:
            if request.type == "slash_commands":
                payload = (await self._inbound.command(_fields(request.payload))).model_dump(
                    mode="json", exclude_unset=True
                )
            elif request.type == "interactive":
                acknowledged = await self._inbound.interaction(request.payload)
                then = acknowledged.then
                if acknowledged.answer is not None:
                    payload = acknowledged.answer.model_dump(mode="json", exclude_unset=True)
            else:
                logger.info("a Socket Mode %s envelope: nothing to do", request.type)
        except NotASlackPayload as exc:
            logger.warning("a Socket Mode %s envelope Nightshift cannot read: %s", request.type, exc)
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=envelope, payload=payload))
        if then is not None:
            task = asyncio.get_running_loop().create_task(in_background(then))
            self._work.add(task)
            task.add_done_callback(self._work.discard)


class _Client(SocketModeClient):
    """slack_sdk's client, telling its owner why Slack would not give it a connection."""

    def __init__(self, *, refused: Callable[[Exception], None], **options: Any) -> None:
        super().__init__(**options)
        self._refused = refused

    async def issue_new_wss_url(self) -> str:
        try:
            return await super().issue_new_wss_url()
        except Exception as exc:
            self._refused(exc)
            raise


def _fields(payload: Mapping[str, Any]) -> dict[str, str]:
    """A slash command's fields (in an envelope, the same names and text values as Slack's form)."""
    return {name: value for name, value in payload.items() if isinstance(value, str)}
