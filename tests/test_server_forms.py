"""The form parsed from the body read already (``server.routing.parsed_form``) is the form Starlette's own
parser would give FastAPI, field for field, and the limit on fields holds."""

import pytest
from starlette.datastructures import FormData
from starlette.requests import Request

from demo.fake_slack import slash_command_body
from server.errors import ApiError
from server.routing import FORM, MAX_FORM_FIELDS, parsed_form

BODIES = [
    slash_command_body("The checkout page returns 500 for every order with a discount code"),
    slash_command_body(
        "PROJ-7 r\u00e9sum\u00e9 upload fails: \u201cinvalid\u201d & 100% of them; see <https://x.y/?a=1&b=2>"
    ),
    b"text=a+b%2Bc&text=second&empty=&bare&=nameless&user_id=U1",
    "raw=caf\u00e9".encode("latin-1"),
    b"bad=%ZZ%e9&ok=1",
    b"",
]


async def starlette_form(body: bytes) -> FormData:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "headers": [(b"content-type", FORM.encode())],
    }
    return await Request(scope, receive).form()


@pytest.mark.parametrize("body", BODIES)
async def test_the_form_is_the_one_starlette_would_parse(body: bytes) -> None:
    assert parsed_form(body).multi_items() == (await starlette_form(body)).multi_items()


def test_a_form_past_the_field_limit_is_a_400() -> None:
    with pytest.raises(ApiError) as refused:
        parsed_form(b"&".join(b"f%d=1" % n for n in range(MAX_FORM_FIELDS + 1)))
    assert refused.value.status == 400 and str(MAX_FORM_FIELDS) in refused.value.reason
