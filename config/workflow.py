"""Incident pipeline settings: concurrency, attempts, revisions, waiting, budget, author, deliveries."""

from typing import Annotated

from pydantic import Field

from config.base import Section


class WorkflowSettings(Section):
    """How runs are scheduled, verified, revised and shipped."""

    max_concurrent_runs: Annotated[int, Field(ge=1)] = 2
    """Agent phases (fork, verification, self-correction) running at once, across all workers that share
    a PostgreSQL database; later runs wait as queued."""
    worker_concurrent_runs: Annotated[int, Field(ge=1)] | None = None
    """Agent phases one worker runs at once (None: only ``max_concurrent_runs`` applies). With several
    workers, set it to what one machine can carry, so the phases spread over the workers. Give every
    worker the same value: the queue's limits are kept in the database, and the last worker to start
    sets them."""
    recovery_s: Annotated[float, Field(gt=0)] = 60.0
    """With PostgreSQL: how long after a worker is gone (killed, stopped, its machine lost) a live worker
    resumes that worker's runs. Agents that finished are not run again."""
    max_fix_attempts: Annotated[int, Field(ge=0)] = 2
    """Extra code-agent attempts after a failed verification, before briefing."""
    max_revisions: Annotated[int, Field(ge=0)] = 3
    """'Request changes' rounds a run accepts."""
    max_review_rounds: Annotated[int, Field(ge=0)] = 3
    """Rounds of changes a run makes on its pull request for reviewers' comments on GitHub; past them it
    replies that it stops, and why."""
    decision_timeout_s: Annotated[float, Field(gt=0)] = 86_400.0
    """How long a briefing waits for a decision before the run expires."""
    max_run_cost_usd: Annotated[float, Field(gt=0)] = 10.0
    """USD all agents of one run may spend together; when reached, the agents stop."""
    author: str = Field(default="Nightshift <nightshift@localhost>", pattern=r"^[^<>]+ <[^<>\s]+>$")
    """Author of the fix and test commits, ``Name <email>``."""
    draft_prs: bool = True
    """Open pull requests as drafts."""
    pr_labels: list[str] = Field(default_factory=lambda: ["nightshift"])
    """Labels put on pull requests."""
    delivery_timeout_s: Annotated[float, Field(gt=0)] = 86_400.0
    """How long a delivery (the Slack briefing, the pull request, a Jira transition or comment) is
    retried before it is abandoned and the run records why."""
    delivery_attempt_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    """How long one attempt of a delivery may take (also the HTTP timeout of Slack, GitHub and Jira)."""
    delivery_backoff_s: Annotated[float, Field(gt=0)] = 5.0
    """The wait after a delivery's first failed attempt; it doubles after each failure (with jitter)."""
    delivery_backoff_max_s: Annotated[float, Field(gt=0)] = 600.0
    """The longest wait between two attempts, unless the service asks for longer (Retry-After)."""
