"""The routes' class: the raw body is read, bounded and checked before FastAPI parses it.

``EdgeRoute`` (every route): the body is read first, at most ``server.max_body_bytes`` (413), and must
be of the media type the route declares (415); then FastAPI parses it into the route's model (a form
from the fields parsed here, ``parsed_form``).

``SignedRoute`` (a webhook; one subclass per sender): between the two, the sender's signature is
checked over the raw bytes (``verify``: 404 when the sender is not configured, 401 when the signature
fails), so nothing parses a body that is not the sender's. A body that then does not parse into the
route's model is not a payload of that kind: 400 with the reason.
"""

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.datastructures import FormData, UploadFile
from starlette.types import Message, Receive

from server.deps import settings
from server.errors import ApiError, invalid, problems

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
FORM = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS = 1000


class EdgeRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        parse_and_handle = super().get_route_handler()
        declared = getattr(self.body_field.field_info, "media_type", None) if self.body_field else None

        async def handle(request: Request) -> Response:
            body = await read_body(request, settings(request).server.max_body_bytes)
            await self.verify(request, body)
            if declared is not None:
                require_media_type(request, declared)
            parsing = Request(request.scope, replaying(body, request.receive))
            if declared == FORM:
                parsing._form = parsed_form(body)  # what Starlette's form() gives, parsed already
            return await parse_and_handle(parsing)

        return handle

    async def verify(self, request: Request, body: bytes) -> None:
        """Check the raw body before it is parsed: nothing to check but on a webhook."""


class SignedRoute(EdgeRoute):
    payload = "payload"
    """What the sender posts, in words: ``Slack request``, ``Jira event``..."""

    def get_route_handler(self) -> Handler:
        handle = super().get_route_handler()

        async def handle_payload(request: Request) -> Response:
            try:
                return await handle(request)
            except RequestValidationError as exc:
                refusal = invalid(exc)
                if refusal.status != 400:
                    refusal = ApiError(400, f"not a {self.payload}: {problems(exc.errors())}")
                raise refusal from None

        return handle_payload

    async def verify(self, request: Request, body: bytes) -> None:
        raise NotImplementedError


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body; 413 past ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the body is larger than {limit} bytes (server.max_body_bytes)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the body is larger than {limit} bytes (server.max_body_bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def parsed_form(body: bytes) -> FormData:
    """The url-encoded form in ``body``, decoded as Starlette's parser decodes it (the bytes as latin-1,
    then each name and value percent-decoded as UTF-8), by the standard library's C-speed split: Starlette's
    own parser calls back into Python for every run of bytes, about 70 us of the event loop per slash
    command, which a burst of a hundred waits for. 400 past Starlette's limit of MAX_FORM_FIELDS."""
    try:
        fields = parse_qsl(body.decode("latin-1"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise ApiError(400, f"the form has more than {MAX_FORM_FIELDS} fields") from None
    pairs: list[tuple[str, str | UploadFile]] = [*fields]
    return FormData(pairs)


def replaying(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the parser: the body read already, then what the client sends next (its
    disconnect, which a stream of events waits for)."""
    replayed = False

    async def receive_again() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive_again


def answer(model: BaseModel, status: int = 200) -> JSONResponse:
    """``model`` as the JSON answer, with the fields it was given (a default left unsaid stays out)."""
    return JSONResponse(model.model_dump(mode="json", exclude_unset=True), status_code=status)


def require_media_type(request: Request, media_type: str) -> None:
    sent = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if sent != media_type:
        raise ApiError(415, f"send {media_type} (got {sent or 'no content type'})")
