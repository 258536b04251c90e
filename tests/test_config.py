"""Settings: defaults < nightshift.toml < environment; clear errors naming the key and the file."""

from pathlib import Path

import pytest

from config import ConfigError, Policy, Settings, integration_modes, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nightshift.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./nightshift.toml here
    settings = load_settings(env={})
    assert settings.model.name == "gpt-4.1-mini"
    assert settings.safety.policy is Policy.AUTO
    assert settings.environment.test_command == "python -m pytest -q"
    assert settings.secrets.all_values() == []


def test_file_overrides_defaults_and_env_overrides_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[model]
name = "gpt-4o"
temperature = 0.3
fallback = "gpt-4o-mini"

[agents.code]
model = "gpt-4.1"
max_turns = 12

[model.pricing.my-local-model]
input = 1.5
output = 3.0
""",
    )
    settings = load_settings(env={"NIGHTSHIFT_CONFIG": str(path), "NIGHTSHIFT_MODEL": "o4-mini"})
    assert settings.model.name == "o4-mini"  # environment wins over the file
    assert settings.model.temperature == 0.3
    assert settings.model.fallback == "gpt-4o-mini"
    assert settings.agents.code.model == "gpt-4.1"
    assert settings.agents.code.max_turns == 12
    assert settings.agents.triage.max_turns == 15  # untouched default
    assert settings.model.pricing["my-local-model"].input == 1.5
    assert "gpt-4o" in settings.model.pricing  # the table is extended, not replaced


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[model]\nnmae = 'typo'\n")
    with pytest.raises(ConfigError) as err:
        load_settings(env={}, path=path)
    assert "model.nmae" in str(err.value)
    assert str(path) in str(err.value)


def test_wrong_type_names_key_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[agents.test]\nmax_turns = 'many'\n")
    with pytest.raises(ConfigError) as err:
        load_settings(env={}, path=path)
    assert "agents.test.max_turns" in str(err.value)
    assert str(path) in str(err.value)


def test_secret_in_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "[model]\napi_key = 'sk-live-123'\n")
    with pytest.raises(ConfigError) as err:
        load_settings(env={}, path=path)
    assert "model.api_key" in str(err.value)
    assert "OPENAI_API_KEY" in str(err.value)
    assert "sk-live-123" not in str(err.value)


def test_secrets_only_from_environment() -> None:
    settings = load_settings(env={"OPENAI_API_KEY": "sk-test-abcdef", "GITHUB_TOKEN": "ghp_abcdef123"})
    assert settings.secrets.get("OPENAI_API_KEY") == "sk-test-abcdef"
    assert sorted(settings.secrets.all_values()) == ["ghp_abcdef123", "sk-test-abcdef"]
    assert "sk-test-abcdef" not in repr(settings)
    assert "secrets" not in settings.model_dump()


def test_missing_explicit_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(env={"NIGHTSHIFT_CONFIG": str(tmp_path / "nope.toml")})
    assert "nope.toml" in str(err.value)
    assert "NIGHTSHIFT_CONFIG" in str(err.value)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[model\nname = 1\n")
    with pytest.raises(ConfigError) as err:
        load_settings(env={}, path=path)
    assert str(path) in str(err.value)


def test_old_safety_settings_still_load(tmp_path: Path) -> None:
    path = write(tmp_path, '[safety]\npolicy = "auto_edit"\nallow_network = true\n')
    settings = load_settings(env={}, path=path)
    assert settings.safety.policy is Policy.AUTO  # the sandbox confines every edit: auto_edit is auto
    assert settings.safety.allow_network is True  # accepted, without effect on shell commands


def test_hooks_and_mcp_sections(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[hooks]]
event = "before_tool"
command = "./veto.sh --strict"
timeout_s = 2

[[mcp.servers]]
name = "calc"
command = ["python", "calc.py"]
""",
    )
    settings = load_settings(env={}, path=path)
    assert settings.hooks[0].command == ["./veto.sh", "--strict"]
    assert settings.mcp.servers[0].name == "calc"


def test_hook_with_unknown_event_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[[hooks]]\nevent = "before_lunch"\ncommand = ["true"]\n')
    with pytest.raises(ConfigError) as err:
        load_settings(env={}, path=path)
    assert "hooks.0.event" in str(err.value)


def test_settings_model_refuses_unknown_keys_directly() -> None:
    with pytest.raises(ValueError):
        Settings.model_validate({"modle": {}})


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-1234567"}, ["SLACK_SIGNING_SECRET", "SLACK_CHANNEL"]),
        ({"SLACK_SIGNING_SECRET": "abcdef123456"}, ["SLACK_BOT_TOKEN"]),
        ({"GITHUB_TOKEN": "ghp_123456789"}, ["GITHUB_REPO"]),
        ({"GITHUB_WEBHOOK_SECRET": "whsec-123456"}, ["GITHUB_TOKEN"]),
        ({"JIRA_API_TOKEN": "jira-123456", "JIRA_BASE_URL": "https://x.atlassian.net"}, ["JIRA_EMAIL"]),
        ({"SENTRY_AUTH_TOKEN": "sntrys_123456"}, ["SENTRY_ORG"]),
    ],
    ids=[
        "slack-token-only",
        "slack-secret-only",
        "github-token-only",
        "github-secret-only",
        "jira-without-email",
        "sentry-token-without-organization",
    ],
)
def test_a_half_configured_integration_names_what_is_missing(env: dict[str, str], names: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        integration_modes(load_settings(env=env))
    for name in names:
        assert name in str(err.value)


def test_integrations_are_live_exactly_when_configured() -> None:
    local = dict.fromkeys(("slack", "github", "jira", "sentry", "pagerduty"), "local")
    assert integration_modes(load_settings(env={})) == local
    live = {
        "SLACK_BOT_TOKEN": "xoxb-1234567",
        "SLACK_SIGNING_SECRET": "abcdef123456",
        "SLACK_CHANNEL": "C1",
        "SLACK_APPROVERS": "U1, U2",
        "JIRA_API_TOKEN": "jira-123456",
        "JIRA_BASE_URL": "https://x.atlassian.net",
        "JIRA_EMAIL": "bot@example.com",
        "PAGERDUTY_API_TOKEN": "u+pd-123456",
    }
    settings = load_settings(env=live)
    assert integration_modes(settings) == {**local, "slack": "live", "jira": "live", "pagerduty": "live"}
    assert settings.slack.approvers == ["U1", "U2"]
    without_webhook = load_settings(env={"GITHUB_TOKEN": "ghp_123456789", "GITHUB_REPO": "acme/service"})
    assert integration_modes(without_webhook)["github"] == "live"  # pull requests and CI logs need no secret
    webhook_only = load_settings(env={"SENTRY_CLIENT_SECRET": "abc123", "PAGERDUTY_WEBHOOK_SECRETS": "a,b"})
    assert integration_modes(webhook_only) == local  # their webhooks need no API token
    sentry = load_settings(env={"SENTRY_AUTH_TOKEN": "sntrys_123456", "SENTRY_ORG": "acme"})
    assert (integration_modes(sentry)["sentry"], sentry.sentry.organization) == ("live", "acme")
