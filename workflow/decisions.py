"""Decisions on a run: whether one may be sent, and sending it to the run's workflow.

Approve ships what the latest briefing shows, so it is refused when that is nothing: no agent changed
a file, the push was withheld, or the latest revision changed nothing (the reviewer's feedback was not
acted on). An earlier revision is shipped only when named explicitly (``ship_revision``): the labelled
choice "Ship revision 1 as briefed at 01:20 UTC", never the Approve button. A refusal's reason is what
the reviewer is told (a 409 on the API, an ephemeral line in Slack, the web page's error, the terminal).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from config import Settings
from documents.facts import RunFacts
from documents.phrases import not_done_lines, revision_label
from store.runs import Store
from workflow.errors import DecisionRefused, RunNotFound

DecisionKind = Literal["approve", "request_changes", "cancel"]
DecisionSender = Callable[[str, dict[str, object], str], Awaitable[None]]
"""Delivers (workflow id, decision message, idempotency key) to the run's workflow."""


@dataclass(frozen=True, slots=True)
class DecisionOutcome:
    """``accepted`` (sent to the run), ``already`` (approved before), or ``conflict`` (wrong state)."""

    result: Literal["accepted", "already", "conflict"]
    facts: RunFacts
    reason: str = ""


def approval_refusal(facts: RunFacts, ship_revision: int | None) -> str | None:
    """Why ``facts`` cannot be approved (shipping ``ship_revision`` when given); None when it can."""
    if facts.unpushed is not None:
        return f"it cannot be approved: {facts.unpushed}; cancel the run"
    if ship_revision is not None and ship_revision != facts.revision:
        return _earlier_refusal(facts, ship_revision)
    if facts.changes_nothing:
        return (
            "it cannot be approved: no agent changed any file, so there is no fix to ship; request changes "
            "(say where to look) or cancel the run"
        )
    unchanged = facts.not_acted_on
    if unchanged is not None:
        since = f"revision {unchanged.since}" if unchanged.since else "the base commit"
        why = "; ".join(not_done_lines(facts))
        earlier = facts.shippable_earlier()
        ship = (
            f", ship {revision_label(earlier[0])} (approve revision {earlier[0].number})" if earlier else ""
        )
        return (
            f"it cannot be approved: revision {unchanged.number} changed nothing since {since}, so the "
            "feedback was not acted on" + (f" ({why})" if why else "") + f". Request changes again{ship}, or "
            "cancel the run"
        )
    return None


def _earlier_refusal(facts: RunFacts, number: int) -> str | None:
    if number > facts.revision or facts.revision_facts(number) is None:
        return f"there is no revision {number} to ship: the run is at revision {facts.revision}"
    if number not in [revision.number for revision in facts.shippable_earlier()]:
        return f"revision {number} has nothing to ship: it put no commit on the branch"
    return None


async def decide(
    store: Store,
    settings: Settings,
    run_id: str,
    kind: DecisionKind,
    *,
    feedback: str | None,
    by: str | None,
    send: DecisionSender,
    ship_revision: int | None = None,
) -> DecisionOutcome:
    """Send a decision to a run that awaits one. Idempotent: a double click sends one message.
    ``ship_revision``: an approval that ships that earlier revision as it was briefed."""
    facts = await store.get(run_id)
    if facts is None:
        raise RunNotFound(f"no run with id {run_id!r}")
    if kind == "approve" and facts.status in ("approving", "shipped"):
        return DecisionOutcome("already", facts, f"already {facts.status}")
    if facts.status != "awaiting_decision":
        return DecisionOutcome("conflict", facts, f"the run is {facts.status}, not awaiting a decision")
    refusal = approval_refusal(facts, ship_revision) if kind == "approve" else None
    if refusal is not None:
        return DecisionOutcome("conflict", facts, refusal)
    if kind == "request_changes":
        if not (feedback or "").strip():
            raise DecisionRefused("request changes needs feedback: say what should change")
        if facts.revision > settings.workflow.max_revisions:
            return DecisionOutcome(
                "conflict",
                facts,
                f"no revisions left (max_revisions = {settings.workflow.max_revisions}); approve or cancel",
            )
    message: dict[str, object] = {"kind": kind, "revision": facts.revision, "feedback": feedback, "by": by}
    if kind == "approve" and ship_revision not in (None, facts.revision):
        message["ship_revision"] = ship_revision
    await send(facts.workflow_id or run_id, message, f"{run_id}:decision:{facts.revision}")
    interim = {"approve": "approving", "request_changes": "revising"}.get(kind)

    def change(current: RunFacts) -> None:
        if interim and current.status == "awaiting_decision":
            current.status = interim  # type: ignore[assignment]

    return DecisionOutcome("accepted", await store.update(run_id, change))
