"""Known secrets, raw or encoded, in anything about to leave the bot.

Redaction replaces a secret where it appears as itself; code that got hold of one can print it
base64-encoded, hex-encoded or URL-encoded instead. Before anything leaves Nightshift (a push, a pull
request body or comment, a Slack or Jira message, a model request) ``SecretScanner.check`` looks for
every known secret in each of those forms and stops the send with ``SecretFound``, which names the
secret and where it was found, never its value.

Base64 depends on where in the byte stream a value starts, so each secret is looked for in all three
alignments (the part of the encoding that the secret alone decides), in the standard and the URL-safe
alphabet, also across line breaks (``base64`` wraps at 76 columns).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass

from safety.errors import SecretFound
from safety.redact import MIN_SECRET_LENGTH, encoded_forms

_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Hit:
    name: str
    """The secret's name (``GITHUB_TOKEN``), never its value."""
    encoding: str

    def __str__(self) -> str:
        return self.name if self.encoding == "as is" else f"{self.name} ({self.encoding})"


class SecretScanner:
    """Looks for the named ``secrets`` (name -> value) in outgoing text."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self._forms = [
            (name, encoding, form)
            for name, value in secrets.items()
            if len(value) >= MIN_SECRET_LENGTH
            for encoding, spellings in encoded_forms(value).items()
            for form in spellings
        ]

    def find(self, *texts: str) -> list[Hit]:
        """Every secret found in ``texts``, once per name and encoding."""
        hits: dict[Hit, None] = {}
        for text in texts:
            if not text:
                continue
            joined = _WHITESPACE.sub("", text)
            for name, encoding, form in self._forms:
                if form in text or (encoding == "base64" and form in joined):
                    hits[Hit(name, encoding)] = None
        return list(hits)

    def check(self, where: str, *texts: str) -> None:
        """Raise ``SecretFound`` naming each secret in ``texts`` (``where``: what was being sent)."""
        hits = self.find(*texts)
        if hits:
            raise SecretFound(where, [str(hit) for hit in hits])
