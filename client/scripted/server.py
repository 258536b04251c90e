"""Run the scripted model server on 127.0.0.1: in a background thread (tests, demo) or in the foreground."""

from collections.abc import Mapping, Sequence
from typing import Any

from client.scripted.app import RecordedRequest, ScriptBook, create_app, hide_scripted_drops
from client.scripted.script import Turn
from client.scripted.threaded import ThreadedServer


class ScriptedModelServer(ThreadedServer):
    """An OpenAI-compatible endpoint that replays scripted turns and records every request.

    Use as a context manager (``with ScriptedModelServer(scripts) as server: server.base_url``);
    ``port=0`` picks a free port.
    """

    def __init__(
        self,
        scripts: Mapping[str, Sequence[Turn | Mapping[str, Any]]] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        per_conversation: bool = False,
    ) -> None:
        """``per_conversation``: every conversation plays the scripts from their first turn (see
        ``ScriptBook``)."""
        self.book = ScriptBook(scripts or {}, per_conversation=per_conversation)
        super().__init__(create_app(self.book), name="scripted model server", host=host, port=port)
        hide_scripted_drops()

    @property
    def base_url(self) -> str:
        """The endpoint to give an OpenAI client, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"{self.url}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received since the last ``load``, in arrival order."""
        return self.book.requests

    def load(self, scripts: Mapping[str, Sequence[Turn | Mapping[str, Any]]]) -> None:
        """Replace the scripts (every pointer back to turn 0) and clear the request log."""
        self.book.load(scripts)
