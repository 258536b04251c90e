"""Building and running the server's parts from settings: model, integrations, engine, service.

Kept out of server.app so the adapter stays thin; nothing here imports the web framework either.
"""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from client.scripted.local import model_for
from config import Settings, integration_modes
from integrations.github import GitHubForge
from integrations.jira import JiraClient, JiraTracker
from integrations.slack import SlackNotifier
from server.service import RunLinks, Service
from server.webhooks import Webhooks
from workflow.engine import Engine


@dataclass
class Server:
    service: Service
    webhooks: Webhooks


@asynccontextmanager
async def running_server(settings: Settings) -> AsyncIterator[Server]:
    """Start everything the HTTP server needs; stop it all on exit. ConfigError for bad settings."""
    modes = integration_modes(settings)
    secrets = settings.secrets
    timeout_s = settings.workflow.delivery_attempt_timeout_s
    async with AsyncExitStack() as stack:
        model, description = stack.enter_context(model_for(settings))
        slack = (
            SlackNotifier(
                token=secrets.get("SLACK_BOT_TOKEN") or "",
                channel=settings.slack.channel or "",
                api_url=settings.slack.api_url,
                approvers=settings.slack.approvers,
                timeout_s=timeout_s,
            )
            if modes["slack"] == "live"
            else None
        )
        github = (
            GitHubForge(
                token=secrets.get("GITHUB_TOKEN") or "",
                repo=settings.github.repo or "",
                api_url=settings.github.api_url,
                timeout_s=timeout_s,
            )
            if modes["github"] == "live"
            else None
        )
        if github is not None:
            stack.callback(github.close)
        jira = (
            JiraClient(
                base_url=settings.jira.base_url or "",
                email=settings.jira.email or "",
                token=secrets.get("JIRA_API_TOKEN") or "",
                timeout_s=timeout_s,
            )
            if modes["jira"] == "live"
            else None
        )
        if jira is not None:
            stack.push_async_callback(jira.aclose)
        links = await RunLinks.from_settings(settings)
        tracker = JiraTracker(jira, settings.jira) if jira is not None else None
        engine = Engine(settings, model=model, notifier=slack, forge=github, tracker=tracker)
        service = Service(settings, engine, modes=modes, model_name=description, links=links)
        await engine.start()
        stack.push_async_callback(engine.stop)
        webhooks = Webhooks(service, slack=slack, github=github, jira=jira)
        stack.push_async_callback(webhooks.drain)
        print(await service.banner(), flush=True)
        yield Server(service, webhooks)
