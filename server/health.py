"""How the server stands: the model, each integration (live or local; when live, ok or degraded, and its
deliveries waiting), the inbound webhooks, the sandbox. ``GET /health`` answers it; the start-up banner
says the same in a few lines."""

from collections.abc import Mapping
from dataclasses import dataclass

from config import Mode, Settings
from documents.phrases import plural
from safety.sandbox import Sandbox
from server.models import Health, IntegrationHealth, SandboxHealth
from store.outbox import Outbox


@dataclass(frozen=True, slots=True)
class HealthReport:
    settings: Settings
    modes: Mapping[str, Mode]
    model_name: str
    public_url: str
    sandbox: Sandbox
    outbox: Outbox

    async def health(self) -> Health:
        return Health(
            status="ok",
            model=self.model_name,
            integrations=await self.integrations(),
            sandbox=SandboxHealth(sandboxed=self.sandbox.sandboxed, description=self.sandbox.describe()),
            repo=str(self.settings.repo),
            public_url=self.public_url,
        )

    async def integrations(self) -> dict[str, IntegrationHealth]:
        """Per integration: live or local, its webhook, and when live, ok or degraded (the last error and
        when) with the deliveries waiting."""
        health = await self.outbox.health()
        webhooks = inbound_webhooks(self.settings, self.modes)
        report: dict[str, IntegrationHealth] = {}
        for name, mode in self.modes.items():
            entry = IntegrationHealth(mode=mode, webhook=webhooks[name])
            if mode == "live":
                service = health.get(name)
                entry.state = "degraded" if service and service.degraded else "ok"
                entry.pending = service.pending if service else 0
                entry.last_error = service.last_error if service else None
                entry.last_error_at = service.last_error_at if service else None
            report[name] = entry
        return report

    async def banner(self) -> str:
        """The start-up lines: the model, each integration as /health tells it, the inbound webhooks."""
        parts = []
        integrations = await self.integrations()
        for name, entry in integrations.items():
            if entry.mode == "local":
                parts.append(f"{name} local")
                continue
            count = plural(entry.pending or 0, "delivery", "deliveries")
            waiting = f", {count} waiting" if entry.pending else ""
            failing = f", last error: {entry.last_error}" if entry.state == "degraded" else ""
            parts.append(f"{name} live ({entry.state}{waiting}{failing})")
        hooks = "; ".join(f"/webhook/{name} {entry.webhook}" for name, entry in integrations.items())
        head = f"Nightshift on {self.public_url}: model {self.model_name}; {', '.join(parts)}"
        return f"{head}\nsandbox: {self.sandbox.describe()}\ninbound webhooks: {hooks}"


def inbound_webhooks(settings: Settings, modes: Mapping[str, Mode]) -> dict[str, str]:
    """Per integration: whether its webhook route takes deliveries, and why not."""
    secrets = settings.secrets
    jira_signed = bool(secrets.get("JIRA_WEBHOOK_SECRET"))
    return {
        "slack": "on" if modes["slack"] == "live" else "off (Slack is local)",
        "github": (
            "off (GitHub is local)"
            if modes["github"] == "local"
            else "on"
            if secrets.get("GITHUB_WEBHOOK_SECRET")
            else "off (no GITHUB_WEBHOOK_SECRET; GitHub is live for pull requests and CI logs)"
        ),
        "jira": (
            "off (Jira is local)"
            if modes["jira"] == "local"
            else "on"
            if jira_signed
            else "on, unsigned (set JIRA_WEBHOOK_SECRET to verify deliveries)"
        ),
        "sentry": _on_with(secrets.get("SENTRY_CLIENT_SECRET"), "SENTRY_CLIENT_SECRET"),
        "pagerduty": _on_with(secrets.get("PAGERDUTY_WEBHOOK_SECRETS"), "PAGERDUTY_WEBHOOK_SECRETS"),
    }


def _on_with(secret: str | None, name: str) -> str:
    """A webhook that needs only its secret: on with it, off without it."""
    return "on" if secret else f"off (no {name})"
