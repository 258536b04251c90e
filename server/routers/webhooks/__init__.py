"""The webhooks, one module per sender: each verifies the raw body with its sender's scheme (a
``server.routing.SignedRoute``) before its models parse it, answers within the sender's deadline, and
hands a ticket or a decision to the run service (alerts through ``server.alert_intake``). A new sender
is a new module here, listed in ``ROUTERS``."""

from server.routers.webhooks import github, jira, pagerduty, sentry, slack

ROUTERS = (slack.router, jira.router, github.router, sentry.router, pagerduty.router)
