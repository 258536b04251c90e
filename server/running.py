"""Building and running the server's parts from settings: model, integrations, engine, Slack's Socket
Mode connection, the metrics and the process's logging, and the parts the routes use (``Edge``).

Kept out of server.app so the app factory stays a list of routers; nothing here imports the web
framework either.
"""

import gc
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from client.scripted.local import model_for
from config import Settings, integration_modes
from integrations.base import AlertReader
from integrations.github import GitHubForge
from integrations.jira import JiraClient, JiraTracker
from integrations.pagerduty import PagerDutyClient
from integrations.sentry import SentryClient
from integrations.slack import SlackNotifier
from server.access import Access, RunLinks
from server.health import HealthReport
from server.service import RunService
from server.slack.clicks import SlackClicks
from server.slack.inbound import SlackInbound
from server.slack.socket_mode import SlackSocket
from store.runs import Store
from telemetry import logs, tracing
from telemetry.metrics import metrics_registry
from workflow.engine import Engine
from workflow.runtime import Runtime

logger = logging.getLogger("nightshift.server")
GIL_SWITCH_S = 0.0005
"""How long a thread waiting for the interpreter lock lets the running one keep it (Python's default is
5 ms). The database work runs in threads, and each of its statements gives the lock up and must get it
back; while the event loop is busy (agents streaming), each return waited up to the default 5 ms, and
one acknowledgement's two transactions took 50-130 ms instead of 5-20 ms."""


@dataclass(frozen=True, slots=True)
class Edge:
    """What the routes are given (``server.deps``): each route asks for the parts it uses."""

    settings: Settings
    service: RunService
    access: Access
    health: HealthReport
    store: Store
    """Where a webhook remembers the deliveries it has seen (Slack's signatures)."""
    slack: SlackNotifier | None
    slack_inbound: SlackInbound | None
    """Slack's commands and clicks, as both of its doors (HTTP, Socket Mode) hand them in."""
    github: GitHubForge | None
    jira: JiraClient | None
    metrics: CollectorRegistry
    """What ``/metrics`` shows (``telemetry.metrics``)."""


@contextmanager
def frozen_start_up() -> Iterator[None]:
    """Leave what the process made while starting out of garbage collection while the block runs.

    The objects made while starting (modules, the app and its routes, pydantic's and SQLAlchemy's
    schemas: about 220,000) live as long as the process, yet every full collection walked them all
    again, holding the interpreter for 100-150 ms; a burst of slash commands allocates enough to set one
    off, and every acknowledgement in flight waited for it. Frozen (``gc.freeze``), they are left out: a
    full collection walks what was made since, in about 10 ms. Only for a process that is the server
    (``create_app(whole_process=True)``): in one that starts and stops servers (the tests), each
    ``gc.unfreeze`` hands the whole heap back at once, and the next full collection walks all of it.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@asynccontextmanager
async def running_server(settings: Settings) -> AsyncIterator[Edge]:
    """Start everything the HTTP server needs; stop it all on exit. ConfigError for bad settings."""
    modes = integration_modes(settings)
    async with AsyncExitStack() as stack:
        stack.enter_context(logs.installed(settings.server.log_format, settings.secrets.all_values()))
        stack.callback(tracing.flush, settings)  # last, once the engine has stopped
        stack.callback(sys.setswitchinterval, sys.getswitchinterval())
        sys.setswitchinterval(GIL_SWITCH_S)
        model, description = await stack.enter_async_context(model_for(settings))
        logs.retake()
        slack, github, jira = live_integrations(settings, stack)
        links = await RunLinks.from_settings(settings)
        tracker = JiraTracker(jira, settings.jira) if jira is not None else None
        sentry, pagerduty = live_alert_clients(settings, stack)
        readers: dict[str, AlertReader] = {c.name: c for c in (sentry, pagerduty) if c is not None}
        engine = Engine(
            settings,
            model=model,
            notifier=slack,
            forge=github,
            tracker=tracker,
            pager=pagerduty,
            alert_readers=readers,
        )
        engine.web_link = links.signed
        rt = await engine.start()
        stack.push_async_callback(engine.stop)
        logs.set_worker(rt.executor_id)
        outbox = rt.deliveries.outbox
        service = RunService(settings, engine, store=rt.store, bus=rt.bus, outbox=outbox)
        inbound, socket = await slack_doors(settings, slack, service, rt, stack, with_jira=jira is not None)
        edge = Edge(
            settings=settings,
            service=service,
            access=Access(settings.secrets.get("NIGHTSHIFT_API_TOKEN"), links),
            health=HealthReport(
                settings,
                modes,
                description,
                links.public_url,
                rt.sandbox,
                outbox,
                socket_mode=socket.health if socket is not None else None,
            ),
            store=rt.store,
            slack=slack,
            slack_inbound=inbound,
            github=github,
            jira=jira,
            metrics=metrics_registry(rt.store, max_queued_runs=settings.server.max_queued_runs),
        )
        logger.info("%s", await edge.health.banner())
        yield edge


async def slack_doors(
    settings: Settings,
    slack: SlackNotifier | None,
    service: RunService,
    rt: Runtime,
    stack: AsyncExitStack,
    *,
    with_jira: bool,
) -> tuple[SlackInbound | None, SlackSocket | None]:
    """Slack's handlers for both of its doors (None without Slack), and the Socket Mode connection when
    ``SLACK_APP_TOKEN`` is set (connected now, closed with ``stack``)."""
    if slack is None:
        return None, None
    clicks = SlackClicks(slack, rt.deliveries.executor, service)
    inbound = SlackInbound(slack, clicks, service, with_jira=with_jira)
    app_token = settings.secrets.get("SLACK_APP_TOKEN")
    if not app_token:
        return inbound, None
    socket = SlackSocket(app_token=app_token, api_url=settings.slack.api_url, inbound=inbound, store=rt.store)
    await socket.start()
    stack.push_async_callback(socket.stop)
    return inbound, socket


def live_integrations(
    settings: Settings, stack: AsyncExitStack
) -> tuple[SlackNotifier | None, GitHubForge | None, JiraClient | None]:
    """Slack, GitHub and Jira where their credentials are set (None: the local default), closed with
    ``stack``."""
    modes, secrets = integration_modes(settings), settings.secrets
    timeout_s = settings.workflow.delivery_attempt_timeout_s
    slack = github = jira = None
    if modes["slack"] == "live":
        slack = SlackNotifier(
            token=secrets.get("SLACK_BOT_TOKEN") or "",
            channel=settings.slack.channel or "",
            api_url=settings.slack.api_url,
            approvers=settings.slack.approvers,
            timeout_s=timeout_s,
        )
    if modes["github"] == "live":
        github = GitHubForge(
            token=secrets.get("GITHUB_TOKEN") or "",
            repo=settings.github.repo or "",
            api_url=settings.github.api_url,
            timeout_s=timeout_s,
        )
        stack.callback(github.close)
    if modes["jira"] == "live":
        jira = JiraClient(
            base_url=settings.jira.base_url or "",
            email=settings.jira.email or "",
            token=secrets.get("JIRA_API_TOKEN") or "",
            timeout_s=timeout_s,
        )
        stack.push_async_callback(jira.aclose)
    return slack, github, jira


def live_alert_clients(
    settings: Settings, stack: AsyncExitStack
) -> tuple[SentryClient | None, PagerDutyClient | None]:
    """Sentry's and PagerDuty's API clients where their tokens are set (None: not live), closed with
    ``stack``."""
    modes, secrets = integration_modes(settings), settings.secrets
    timeout_s = settings.workflow.delivery_attempt_timeout_s
    sentry = pagerduty = None
    if modes["sentry"] == "live":
        sentry = SentryClient(
            token=secrets.get("SENTRY_AUTH_TOKEN") or "",
            organization=settings.sentry.organization or "",
            api_url=settings.sentry.api_url,
            timeout_s=timeout_s,
        )
    if modes["pagerduty"] == "live":
        pagerduty = PagerDutyClient(
            token=secrets.get("PAGERDUTY_API_TOKEN") or "",
            api_url=settings.pagerduty.api_url,
            from_email=settings.pagerduty.from_email,
            timeout_s=timeout_s,
        )
        stack.callback(pagerduty.close)
    return sentry, pagerduty
