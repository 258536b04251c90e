"""Slack's Socket Mode, faked on the fake Slack's server (``FakeSlack(socket=FakeSocketMode())``).

``apps.connections.open`` (with the app token, ``xapp-...``) answers with a WebSocket URL on the same
server; a client that connects gets Slack's ``hello``, then the envelopes the test sends (``command``,
``interaction``), each ``{"envelope_id", "type", "payload", "accepts_response_payload"}`` as Slack sends
them, and answers each with ``{"envelope_id", "payload"?}`` (``acks``, ``wait_for_ack``).

Delivery is at least once, as Slack's is: an envelope waits while no connection is open and goes out on
the next one; an envelope whose acknowledgement did not arrive on the connection it went out on is sent
again, with the same id, on the next connection. ``drop`` closes the open connection as a lost one
would be closed; ``command(..., drop_after=True)`` sends an envelope and closes its connection before an
acknowledgement can arrive. An acknowledgement later than Slack's 3 seconds is recorded as ``late``:
Slack would have shown the person an error.
"""

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from demo.fake_slack import slash_command_form

APP_TOKEN = "xapp-1-A0NIGHTAPP-1700000000-f4k3s0ck3tm0d3t0k3n"
APP_ID = "A0NIGHTAPP"
ACK_DEADLINE_S = 3.0
"""Slack's deadline for an acknowledgement."""


@dataclass(frozen=True, slots=True)
class Ack:
    envelope_id: str
    payload: dict[str, Any] | None
    after_s: float
    """From the moment the envelope (its last copy) went out to the acknowledgement."""

    @property
    def late(self) -> bool:
        return self.after_s > ACK_DEADLINE_S


@dataclass
class _Envelope:
    message: dict[str, Any]
    drop_after: bool = False
    sent_on: int | None = None
    """The connection it last went out on (None: waiting for one)."""
    sent_at: float = 0.0
    copies: int = 0
    acknowledged: bool = False


@dataclass
class _Connection:
    number: int
    loop: asyncio.AbstractEventLoop
    websocket: WebSocket
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class FakeSocketMode:
    """The Socket Mode side of one fake Slack app (see the module docstring)."""

    def __init__(self, *, app_token: str = APP_TOKEN) -> None:
        self.app_token = app_token
        self._lock = threading.Lock()
        self._envelopes: dict[str, _Envelope] = {}
        self._acks: list[Ack] = []
        self._live: _Connection | None = None
        self._opened = 0
        self._tickets = 0
        self._hellos = 0

    # -- what the test does -------------------------------------------------------------------------

    def command(self, text: str, *, drop_after: bool = False, **fields: str) -> str:
        """``/oncall <text>`` as a ``slash_commands`` envelope; its envelope id."""
        return self._send("slash_commands", slash_command_form(text, **fields), True, drop_after)

    def interaction(self, payload: dict[str, Any], *, drop_after: bool = False) -> str:
        """A click or a modal submission as an ``interactive`` envelope; its envelope id."""
        answers = payload.get("type") == "view_submission"  # only a submission's ack may carry errors
        return self._send("interactive", payload, answers, drop_after)

    def drop(self) -> None:
        """Close the open connection, as a connection that is lost (a load balancer, a restart)."""
        with self._lock:
            live = self._live
        if live is not None:
            asyncio.run_coroutine_threadsafe(live.websocket.close(code=1001), live.loop).result(timeout=10)

    def wait_for_ack(self, envelope_id: str, timeout_s: float = 30) -> Ack:
        """The first acknowledgement of ``envelope_id`` (AssertionError when none comes in time)."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = [ack for ack in self.acks if ack.envelope_id == envelope_id]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"envelope {envelope_id} was never acknowledged")
            time.sleep(0.02)

    def wait_for_hellos(self, count: int, timeout_s: float = 30) -> None:
        """Until ``count`` connections were greeted (the client connected ``count`` times)."""
        deadline = time.monotonic() + timeout_s
        while self.hellos < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.hellos} connections greeted, not {count}")
            time.sleep(0.02)

    @property
    def acks(self) -> list[Ack]:
        with self._lock:
            return list(self._acks)

    @property
    def hellos(self) -> int:
        with self._lock:
            return self._hellos

    def copies(self, envelope_id: str) -> int:
        """How many times the envelope went out."""
        with self._lock:
            return self._envelopes[envelope_id].copies

    # -- the server side (FakeSlack's routes) -------------------------------------------------------

    def connections_open(self, token: str | None, ws_base: str) -> dict[str, Any]:
        """``apps.connections.open``: a WebSocket URL, for the app token only."""
        if token is None:
            return {"ok": False, "error": "not_authed"}
        if token != self.app_token:
            return {"ok": False, "error": "invalid_auth"}
        with self._lock:
            self._tickets += 1
            ticket = self._tickets
        return {"ok": True, "url": f"{ws_base}/socket-mode?ticket={ticket}"}

    async def serve(self, websocket: WebSocket) -> None:
        await websocket.accept()
        with self._lock:
            self._opened += 1
            live = _Connection(self._opened, asyncio.get_running_loop(), websocket)
            self._live = live
            for envelope in self._envelopes.values():  # not acknowledged where it went: again
                if not envelope.acknowledged:
                    envelope.sent_on = None
            self._hellos += 1
        await websocket.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
                "connection_info": {"app_id": APP_ID},
            }
        )
        live.wake.set()
        sender = asyncio.get_running_loop().create_task(self._pump(live))
        try:
            while True:
                self._acknowledged(live, json.loads(await websocket.receive_text()))
        except (WebSocketDisconnect, RuntimeError):
            pass  # closed by the client, or by ``drop``
        finally:
            sender.cancel()
            with self._lock:
                if self._live is live:
                    self._live = None

    async def _pump(self, live: _Connection) -> None:
        while True:
            await live.wake.wait()
            live.wake.clear()
            with self._lock:
                due = [
                    e
                    for e in self._envelopes.values()
                    if e.sent_on is None and not e.acknowledged and self._live is live
                ]
                for envelope in due:
                    envelope.sent_on, envelope.sent_at = live.number, time.monotonic()
                    envelope.copies += 1
            for envelope in due:
                await live.websocket.send_text(json.dumps(envelope.message))
                if envelope.drop_after:
                    envelope.drop_after = False
                    with self._lock:
                        self._live = None  # what it answers now is lost with the connection
                    await live.websocket.close(code=1001)
                    return

    def _acknowledged(self, live: _Connection, answer: dict[str, Any]) -> None:
        envelope_id = str(answer.get("envelope_id"))
        with self._lock:
            envelope = self._envelopes.get(envelope_id)
            if envelope is None or envelope.acknowledged or envelope.sent_on != live.number:
                return  # not an envelope of this connection: Slack ignores it
            if self._live is not live:
                return
            envelope.acknowledged = True
            self._acks.append(Ack(envelope_id, answer.get("payload"), time.monotonic() - envelope.sent_at))

    def _send(self, kind: str, payload: dict[str, Any], answers: bool, drop_after: bool) -> str:
        envelope_id = str(uuid.uuid4())
        message = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": answers,
        }
        with self._lock:
            self._envelopes[envelope_id] = _Envelope(message, drop_after)
            live = self._live
        if live is not None:
            live.loop.call_soon_threadsafe(live.wake.set)
        return envelope_id
