"""Redaction of known secret values in text, nested data and log records."""

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from safety import REDACTED, Redactor

TOKEN = "xoxb-1234567890-abcdef"
KEY = "sk-proj-AbCdEf0123456789"


def test_every_occurrence_in_text_is_replaced() -> None:
    redactor = Redactor([TOKEN, KEY])
    text = f"auth={TOKEN} key={KEY}\nagain {TOKEN}{TOKEN}"
    assert redactor.redact(text) == f"auth={REDACTED} key={REDACTED}\nagain {REDACTED}{REDACTED}"


def test_longest_secret_wins_so_no_fragment_is_left() -> None:
    redactor = Redactor(["abcdef", "abcdef-ghijkl"])
    assert redactor.redact("x abcdef-ghijkl y abcdef") == f"x {REDACTED} y {REDACTED}"


def test_short_and_empty_values_are_ignored() -> None:
    redactor = Redactor(["", "abc", "12345"])
    assert redactor.redact("abc 12345 true") == "abc 12345 true"


def test_secrets_can_be_added_later_and_regex_characters_are_literal() -> None:
    redactor = Redactor()
    assert redactor.redact("p4ss.w*rd+") == "p4ss.w*rd+"
    redactor.add("p4ss.w*rd+")
    assert redactor.redact("pw: p4ss.w*rd+, p4ssXwwrd+") == f"pw: {REDACTED}, p4ssXwwrd+"


def test_nested_data_is_redacted_keys_included_and_other_values_kept() -> None:
    redactor = Redactor([TOKEN])
    data: dict[str, Any] = {
        "headers": {"Authorization": f"Bearer {TOKEN}", TOKEN: "as a key"},
        "items": [TOKEN, ("tuple", TOKEN), 42, None, 1.5],
        "ok": True,
    }
    assert redactor.redact_data(data) == {
        "headers": {"Authorization": f"Bearer {REDACTED}", REDACTED: "as a key"},
        "items": [REDACTED, ("tuple", REDACTED), 42, None, 1.5],
        "ok": True,
    }
    assert data["items"][0] == TOKEN  # the input is not modified


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A real logger with a stream handler carrying the redaction filter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.addFilter(Redactor([TOKEN, KEY]).logging_filter())
    logger = logging.getLogger("test_safety_redact")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_logging_filter_redacts_message_and_arguments(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("calling Slack with %s", TOKEN)
    logger.info(f"inline {KEY}")
    logger.getChild("child").warning("child logger: %r", {"token": TOKEN})
    output = stream.getvalue()
    assert TOKEN not in output and KEY not in output
    assert f"calling Slack with {REDACTED}" in output
    assert f"inline {REDACTED}" in output
    assert f"child logger: {{'token': '{REDACTED}'}}" in output


def test_logging_filter_redacts_tracebacks(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise RuntimeError(f"request failed with key {KEY}")
    except RuntimeError:
        logger.exception("boom")
    output = stream.getvalue()
    assert KEY not in output
    assert f"RuntimeError: request failed with key {REDACTED}" in output
