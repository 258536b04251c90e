"""Shared fixtures. An autouse fixture strips the environment so a developer's shell never leaks in."""

import os

import pytest

_LEAKY_PREFIXES = ("OPENAI_", "NIGHTSHIFT_", "SLACK_", "GITHUB_", "JIRA_", "SENTRY_", "PAGERDUTY_", "DBOS_")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(_LEAKY_PREFIXES):
            monkeypatch.delenv(name, raising=False)
