"""The ingest step's part for a run an alert started (Sentry, PagerDuty).

What the webhook did not carry is read from the service that raised the alert (``AlertReader``:
Sentry's latest event for an issue that came without a stack, PagerDuty's alerts of the incident); a
read that fails, or that no token allows, is said on the alert (``gaps``) and the run goes on from what
the webhook gave. The frames are then mapped onto the repository at the base commit
(``workflow.frames``). A PagerDuty incident is told, as a note (a delivery), that Nightshift works on
it, with the run's link; the pull request's link follows when it opens (``deliveries.deliverer``).
Everything here may run again when the step is replayed: the reads are reads, the note's delivery key
is the run's own.
"""

import logging
from functools import partial

from documents.alerts import Alert
from documents.facts import RunFacts, Ticket
from integrations.base import IntegrationError
from integrations.github import blob_url
from workflow.frames import LineUrl, map_frames
from workflow.runtime import Runtime

logger = logging.getLogger("nightshift.workflow")

WITHOUT_TOKEN = {
    "sentry": "no stack trace: the issue webhook carries none, and without SENTRY_AUTH_TOKEN the latest "
    "event is not fetched; the run works from the title and culprit",
    "pagerduty": "the incident's alerts were not read (PAGERDUTY_API_TOKEN is not set); the run works "
    "from the incident's title",
}


async def ingest_alert(rt: Runtime, facts: RunFacts, ticket: Ticket, base: str) -> Ticket:
    """``ticket`` with its alert completed and its frames mapped at ``base``; the incident's note recorded."""
    alert = ticket.alert
    if alert is None:
        return ticket
    alert = await _read(rt, facts.run_id, alert)
    prefixes = rt.settings.sentry.path_prefixes
    alert = await map_frames(alert, rt.repo, base, prefixes=prefixes, line_url=_line_url(rt, base))
    if alert.source == "pagerduty":
        where = f": {facts.web_url}" if facts.web_url else f" (run {facts.run_id})"
        text = f"Nightshift is working on this incident{where}. It never acknowledges or resolves incidents."
        key = f"{facts.run_id}:incident_note:started"
        await rt.deliveries.record(facts.run_id, "incident_note", key, {"text": text})
    return ticket.model_copy(update={"alert": alert})


async def _read(rt: Runtime, run_id: str, alert: Alert) -> Alert:
    reader = rt.alert_readers.get(alert.source)
    needs_reading = alert.source == "pagerduty" or not alert.frames
    if not needs_reading:
        return alert
    if reader is None:
        return alert.model_copy(update={"gaps": [*alert.gaps, WITHOUT_TOKEN[alert.source]]})
    try:
        return await reader.complete(alert)
    except IntegrationError as exc:
        logger.warning("run %s: reading the %s alert failed: %s", run_id, alert.source, exc)
        rt.bus.publish(run_id, "integration_error", {"what": f"{alert.source} alert", "error": str(exc)})
        return alert.model_copy(update={"gaps": [*alert.gaps, f"reading it failed: {exc}"]})


def _line_url(rt: Runtime, base: str) -> LineUrl | None:
    """Links to the repository's lines at ``base``, on GitHub when the repository is known there."""
    github = rt.settings.github
    if not github.repo:
        return None
    return partial(blob_url, github.api_url, github.repo, base)
