"""What the run service answers, in the words of the domain; the routers alone turn them into HTTP.

A decision on a run has one of these outcomes (``server.routers.runs`` maps them to status codes)::

    DecisionOutcome
    ├── Accepted          the decision is on its way to the run              202
    ├── AlreadyDecided    approved before (approving or shipped)             200
    └── Refused           the run cannot take it now; ``reason`` says why    409
        ├── NotAwaiting       the run does not await a decision
        ├── NothingToShip     it awaits one, but there is nothing to approve (no change, a withheld push)
        └── NoRevisionsLeft   it awaits one, but may not be revised again

What cannot be served at all is raised (``server.errors`` maps each to its status)::

    ServiceError
    ├── DescriptionTooLong    a new run's description is longer than server.max_description_chars  413
    └── NoReportYet           the run has no incident report yet                                  404
    workflow.errors.RunNotFound      no run with that id                                           404
    workflow.errors.DecisionRefused  a decision that makes no sense (changes without feedback)     422
    store.runs.QueueFull             server.max_queued_runs runs already wait                      429
"""

from dataclasses import dataclass

from documents.facts import RunFacts
from workflow.engine import DecisionKind


@dataclass(frozen=True, slots=True)
class RunStarted:
    """A run recorded and queued for a ticket; ``created`` is False when a delivery seen before (the
    same dedupe key) had already started it."""

    facts: RunFacts
    created: bool = True


@dataclass(frozen=True, slots=True)
class Accepted:
    facts: RunFacts
    decision: DecisionKind


@dataclass(frozen=True, slots=True)
class AlreadyDecided:
    facts: RunFacts
    reason: str


@dataclass(frozen=True, slots=True)
class Refused:
    facts: RunFacts
    reason: str


class NotAwaiting(Refused):
    pass


class NothingToShip(Refused):
    pass


class NoRevisionsLeft(Refused):
    pass


DecisionOutcome = Accepted | AlreadyDecided | Refused


class ServiceError(Exception):
    """Base of what the run service refuses to do; the message says why, and what to change."""


class DescriptionTooLong(ServiceError):
    pass


class NoReportYet(ServiceError):
    pass
