"""What a backtest measured: each case's outcome, the commits skipped and why, and the totals.

The outcome names are defined here once (``OUTCOMES``), and the terminal table, the Markdown and the
JSON all use them as they are.
"""

import statistics
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, computed_field

Outcome = Literal["confirmed", "unproven", "unfixed", "false_verified"]
OUTCOMES: dict[Outcome, str] = {
    "confirmed": "the upstream tests pass with the agents' fix, and Nightshift verified it",
    "unproven": "the upstream tests pass with the agents' fix, but Nightshift did not verify it",
    "unfixed": "the upstream tests fail (a wrong fix, or none), and Nightshift did not verify it",
    "false_verified": "the upstream tests fail, yet Nightshift verified the fix: the worst outcome",
}
"""Each outcome's name and meaning: the upstream tests (``fixed``) against Nightshift's ``verified``."""


def outcome_of(fixed: bool, verified: bool) -> Outcome:
    if fixed:
        return "confirmed" if verified else "unproven"
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
    outcomes: dict[Outcome, int]
    """How many cases had each outcome (every outcome is listed, also with 0)."""
    fixed: int
    """Cases whose upstream tests pass with the agents' fix (``confirmed`` and ``unproven``)."""
    verified: int
    """Cases Nightshift verified (``confirmed`` and ``false_verified``)."""
    false_verified: int
    agreed: int
    fix_rate: float | None
    verified_rate: float | None
    agreement: float | None
    cost_usd_total: float
    cost_usd_median: float | None
    time_s_total: float
    """The runs' own time (creation to briefing), summed."""
    time_s_median: float | None
    qualification_s: float
    """Wall time of picking the cases: every commit checked for real, before the first case ran."""
    wall_s: float
    """Wall time of the whole backtest: cloning, qualification, the runs and their judging."""


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
    warnings: list[str] = []
    """What was logged as a warning meanwhile (a retried model call, ...), kept for after the table."""


def totals(cases: list[CaseResult], *, qualification_s: float, wall_s: float) -> Totals:
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
        outcomes={name: sum(case.outcome == name for case in cases) for name in OUTCOMES},
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
        qualification_s=qualification_s,
        wall_s=wall_s,
    )
