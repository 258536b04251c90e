"""Subprocess environments: secrets never reach a child process, whatever their name."""

import os
import subprocess
from pathlib import Path

import pytest

from safety import subprocess_env

SECRET_VALUE = "sk-live-9f8e7d6c5b4a"
"""Held by a variable with an innocent name: only the value gives it away."""


@pytest.fixture
def leaky_environment(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    secrets = {
        "OPENAI_API_KEY": "sk-openai-0123456789",
        "GITHUB_TOKEN": "ghp_abcdefghijklmnop",
        "MY_SECRET": "hunter2-hunter2",
        "DB_PASSWORD": "correct-horse-battery",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG",
        "SLACK_SIGNING_SECRET": "slack-signing-123456",
        "GOOGLE_APPLICATION_CREDENTIALS": "/run/creds.json",
        "HTTP_AUTH": "Basic dXNlcjpwYXNz",
        "INNOCENT_LOOKING": SECRET_VALUE,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
        "PYTHONPATH": "/opt/nightshift/src",
        "EDITOR": "vim",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    return secrets


def _child_environment(env: dict[str, str]) -> dict[str, str]:
    """What a real child process sees: run ``env`` with the produced environment and parse its output."""
    output = subprocess.run(["env"], env=env, capture_output=True, text=True, check=True, timeout=10).stdout
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


def test_no_secret_reaches_a_real_subprocess(leaky_environment: dict[str, str], tmp_path: Path) -> None:
    home = tmp_path / "home"
    seen = _child_environment(subprocess_env(home, secrets=[SECRET_VALUE]))
    secret_names = [n for n in leaky_environment if n not in ("LANG", "LC_ALL", "TZ", "PYTHONPATH", "EDITOR")]
    for name in secret_names:
        assert name not in seen
        assert all(leaky_environment[name] not in value for value in seen.values())
    assert seen["HOME"] == str(home)
    assert seen["PATH"] == os.environ["PATH"]
    assert seen["LANG"] == "C.UTF-8" and seen["LC_ALL"] == "C.UTF-8" and seen["TZ"] == "UTC"
    assert "PYTHONPATH" not in seen and "EDITOR" not in seen  # not on the allowlist
    assert seen["PYTHONDONTWRITEBYTECODE"] == "1"
    assert seen["GIT_TERMINAL_PROMPT"] == "0" and seen["GIT_CONFIG_NOSYSTEM"] == "1"


def test_extra_variables_are_filtered_too(tmp_path: Path) -> None:
    env = subprocess_env(
        tmp_path,
        secrets=[SECRET_VALUE],
        base={"PATH": "/usr/bin"},
        extra={
            "API_KEY": "x" * 20,
            "Session_Token": "y" * 20,
            "WRAPPED": f"prefix-{SECRET_VALUE}-suffix",
            "DATABASE_URL": "postgres://user:pw@db.internal/app",
            "GIT_AUTHOR_NAME": "Nightshift",
            "GIT_AUTHOR_EMAIL": "bot@example.com",
            "PIP_INDEX_URL": "https://pypi.org/simple",
        },
    )
    assert env == {
        "PATH": "/usr/bin",
        "GIT_AUTHOR_NAME": "Nightshift",
        "GIT_AUTHOR_EMAIL": "bot@example.com",
        "PIP_INDEX_URL": "https://pypi.org/simple",
        "PYTHONDONTWRITEBYTECODE": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(tmp_path),
    }


def test_home_cannot_be_overridden_and_proxies_keep_only_without_credentials(tmp_path: Path) -> None:
    env = subprocess_env(
        tmp_path,
        base={"HTTPS_PROXY": "http://proxy.internal:3128", "http_proxy": "http://u:p@proxy.internal:3128"},
        extra={"HOME": "/root"},
    )
    assert env["HOME"] == str(tmp_path)
    assert env["HTTPS_PROXY"] == "http://proxy.internal:3128"
    assert "http_proxy" not in env


def test_short_secrets_only_match_whole_values(tmp_path: Path) -> None:
    env = subprocess_env(tmp_path, secrets=["abc", ""], base={"PATH": "/usr/abc/bin", "TERM": "abc"})
    assert env["PATH"] == "/usr/abc/bin"  # a 3-character "secret" inside PATH is no reason to drop PATH
    assert "TERM" not in env
