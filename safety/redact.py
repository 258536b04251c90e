"""Replace secret values with ``[redacted]`` in text, data and log records.

Secrets are known values (API keys, tokens) rather than patterns: whatever a tool printed, a model
wrote or a log line holds, every occurrence of a known secret, as itself or hex-, URL- or
base64-encoded (``encoded_forms``), becomes ``[redacted]`` before it reaches a prompt, Slack, a PR body
or a log file. Values shorter than ``MIN_SECRET_LENGTH`` are ignored: redacting "true" or "1234"
everywhere would mangle text and protects nothing.
"""

import base64
import logging
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

MIN_SECRET_LENGTH = 6
REDACTED = "[redacted]"
_MIN_FORM = 8
"""Encoded forms shorter than this are not looked for (they would match by chance)."""


def encoded_forms(secret: str) -> dict[str, set[str]]:
    """The spellings of ``secret`` to look for, by encoding name."""
    raw = secret.encode()
    forms: dict[str, set[str]] = {
        "as is": {secret},
        "hex": {raw.hex(), raw.hex().upper()},
        "URL-encoded": {quote(secret, safe=""), quote_plus(secret), "".join(f"%{b:02X}" for b in raw)},
        "base64": set(),
    }
    for shift in range(3):
        encoded = base64.b64encode(bytes(shift) + raw).decode()
        start = -(-8 * shift // 6)  # the first character no byte before the secret touches
        end = 8 * (shift + len(raw)) // 6  # past the last character the secret alone decides
        core = encoded[start:end]
        forms["base64"] |= {core, core.translate(str.maketrans("+/", "-_"))}
    return {name: {form for form in spellings if len(form) >= _MIN_FORM or name == "as is"}
            for name, spellings in forms.items()}  # fmt: skip


class Redactor:
    """Knows the secret values and removes them from whatever it is given."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Start redacting ``secret`` (ignored when shorter than ``MIN_SECRET_LENGTH``)."""
        if len(secret) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if secret in self._secrets:
                return
            self._secrets.add(secret)
            self._forms.update(form for spellings in encoded_forms(secret).values() for form in spellings)
            # Longest first, so a secret that contains another is replaced whole.
            ordered = sorted(self._forms, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def redact(self, text: str) -> str:
        """``text`` with every occurrence of a known secret replaced by ``[redacted]``."""
        pattern = self._pattern
        return pattern.sub(REDACTED, text) if pattern is not None else text

    def redact_data(self, data: Any) -> Any:
        """A copy of ``data`` with strings redacted inside dicts (keys too), lists and tuples."""
        if isinstance(data, str):
            return self.redact(data)
        if isinstance(data, dict):
            return {self.redact_data(key): self.redact_data(value) for key, value in data.items()}
        if isinstance(data, list):
            return [self.redact_data(item) for item in data]
        if isinstance(data, tuple):
            return tuple(self.redact_data(item) for item in data)
        return data

    def logging_filter(self) -> logging.Filter:
        """A filter that redacts each record's message, arguments, traceback and stack.

        Install it on handlers (``handler.addFilter``): handler filters see records propagated from
        every child logger, logger filters do not.
        """
        return _RedactingFilter(self)


class _RedactingFilter(logging.Filter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redact = self._redactor.redact
        # Merge the arguments first: a secret split between msg and args is still caught.
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
