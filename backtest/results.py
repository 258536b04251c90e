"""What a backtest measured: each case's outcome, the commits skipped and why, and the totals.

Outcomes, from the upstream tests (``fixed``) against Nightshift's own verdict (``verified``):

    fixed      fixed and verified: right, and Nightshift said so
    unproven   fixed, not verified: right, but Nightshift could not show it (too cautious)
    unfixed    not fixed, not verified: wrong or no fix, and Nightshift said so
    false_verified   not fixed, but verified: Nightshift vouched for a wrong fix (the worst outcome)
"""

import statistics
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, computed_field

Outcome = Literal["fixed", "unproven", "unfixed", "false_verified"]
OUTCOME_TEXT: dict[str, str] = {
    "fixed": "fixed, verified",
    "unproven": "fixed, not verified",
    "unfixed": "not fixed, not verified",
    "false_verified": "FALSE VERIFIED",
}


def outcome_of(fixed: bool, verified: bool) -> Outcome:
    if fixed:
        return "fixed" if verified else "unproven"
    return "false_verified" if verified else "unfixed"


class PhaseTimes(BaseModel):
    """Wall time of a run's phases in seconds, from its timeline."""

    environment_s: float = 0.0
    """Preparing (or reusing) the repository's environment."""
    agents_s: float = 0.0
    """The four agents, from their start to the first verification."""
    verification_s: float = 0.0
    """Every verification, summed."""
    correction_s: float = 0.0
    """The code agent's self-corrections between verifications, summed."""
    total_s: float = 0.0
    """From the run's creation to its briefing (or its end)."""


class CaseResult(BaseModel):
    commit: str
    parent: str
    subject: str
    run_id: str | None
    status: str
    """Where the run stopped: ``awaiting_decision`` (briefed), ``failed``, or ``timed_out``."""
    verdict: str | None
    """Nightshift's own verdict (None when the run ended before verifying)."""
    verified: bool
    fixed: bool
    outcome: Outcome
    judge_detail: str
    run_detail: str
    """The verification's detail, or the run's error."""
    fix_attempts: int
    cost_usd: float
    input_tokens: int
    output_tokens: int
    times: PhaseTimes
    agents_fix: str
    upstream_fix: str
    against_upstream: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def agrees(self) -> bool:
        """Nightshift's verdict says what the upstream tests say."""
        return self.fixed == self.verified


class SkippedCommit(BaseModel):
    commit: str
    subject: str
    reason: str
    detail: str = ""


class Totals(BaseModel):
    cases: int
    fixed: int
    verified: int
    false_verified: int
    agreed: int
    fix_rate: float | None
    verified_rate: float | None
    agreement: float | None
    cost_usd_total: float
    cost_usd_median: float | None
    time_s_total: float
    time_s_median: float | None


class BacktestReport(BaseModel):
    repo: str
    revisions: list[str]
    model: str
    scripted_model: bool
    """True: the scripted demo model played the agents, so the numbers only check the set-up."""
    started_at: datetime
    finished_at: datetime
    notes: list[str]
    cases: list[CaseResult]
    skipped: list[SkippedCommit]
    totals: Totals


def totals(cases: list[CaseResult]) -> Totals:
    count = len(cases)
    costs = [case.cost_usd for case in cases]
    times = [case.times.total_s for case in cases]

    def rate(part: int) -> float | None:
        return part / count if count else None

    fixed = sum(case.fixed for case in cases)
    verified = sum(case.verified for case in cases)
    agreed = sum(case.agrees for case in cases)
    return Totals(
        cases=count,
        fixed=fixed,
        verified=verified,
        false_verified=sum(case.outcome == "false_verified" for case in cases),
        agreed=agreed,
        fix_rate=rate(fixed),
        verified_rate=rate(verified),
        agreement=rate(agreed),
        cost_usd_total=sum(costs),
        cost_usd_median=statistics.median(costs) if costs else None,
        time_s_total=sum(times),
        time_s_median=statistics.median(times) if times else None,
    )
