"""The secret scan: known secrets, as they are or encoded, stop a send and are named, never shown."""

import base64
import json
from urllib.parse import quote

import pytest

from safety.errors import SecretFound
from safety.redact import REDACTED, Redactor
from safety.secret_scan import SecretScanner

TOKEN = "ghp_R4nd0mTok3nValue0123456789"
SECRETS = {"GITHUB_TOKEN": TOKEN, "SLACK_BOT_TOKEN": "xoxb-1111-2222-abcdefghijkl"}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (f"token={TOKEN}", "GITHUB_TOKEN"),
        (_b64(f"x{TOKEN}"), "GITHUB_TOKEN (base64)"),
        (_b64(f"xy{TOKEN}!"), "GITHUB_TOKEN (base64)"),
        (base64.urlsafe_b64encode(f"stolen: {TOKEN}".encode()).decode(), "GITHUB_TOKEN (base64)"),
        (base64.encodebytes((" " * 50 + TOKEN).encode()).decode(), "GITHUB_TOKEN (base64)"),  # wrapped
        (TOKEN.encode().hex(), "GITHUB_TOKEN (hex)"),
        (f"?t={quote(TOKEN, safe='')}%21", "GITHUB_TOKEN"),
        ("".join(f"%{b:02x}" for b in TOKEN.encode()).upper(), "GITHUB_TOKEN (URL-encoded)"),
    ],
)
def test_every_common_encoding_is_found(text: str, found: str) -> None:
    with pytest.raises(SecretFound) as refused:
        SecretScanner(SECRETS).check("the pull request body", f"Some text\n{text}\nmore text")
    assert found in str(refused.value)
    assert TOKEN not in str(refused.value)


def test_a_base64_secret_in_a_diff_a_pr_body_and_a_slack_message_is_stopped() -> None:
    scanner = SecretScanner(SECRETS)
    leaked = _b64(f"env: SLACK_BOT_TOKEN={SECRETS['SLACK_BOT_TOKEN']}")
    diff = f"+++ b/tests/fixture.txt\n@@ -0,0 +1 @@\n+{leaked}\n"
    slack = json.dumps({"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": leaked}}]})
    for where, text in (("the push", diff), ("the PR body", f"## Notes\n{leaked}"), ("Slack", slack)):
        expected = f"{where} was not sent: it contains the secret SLACK_BOT_TOKEN"
        with pytest.raises(SecretFound, match=expected):
            scanner.check(where, text)


def test_clean_text_and_short_values_pass() -> None:
    scanner = SecretScanner({**SECRETS, "SHORT": "abc"})
    scanner.check("a message", "Fixed the toggle in complete(); 2 new tests pass. abc abc")
    assert scanner.find("YWJj", "616263") == []


def test_the_redactor_removes_encoded_secrets_too() -> None:
    redactor = Redactor(SECRETS.values())
    text = f"raw {TOKEN} hex {TOKEN.encode().hex()} b64 {_b64(TOKEN)}"
    redacted = redactor.redact(text)
    assert TOKEN not in redacted and TOKEN.encode().hex() not in redacted
    assert SecretScanner(SECRETS).find(redacted) == []
    assert redacted.count(REDACTED) == 3
