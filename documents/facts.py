"""The facts of a run, as the workflow hands them to renderers and notifiers.

Everything here was measured or submitted during the run; renderers never invent a value. A missing
fact (an agent that failed, a verification that did not run) is None or an explicit status, so a
briefing can say so plainly.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from documents.alerts import Alert
from documents.reviews import ReviewState

TicketSource = Literal["slack", "jira", "github", "api", "cli", "sentry", "pagerduty"]


UNNUMBERED_KEY = "INC-new"
"""Key of a local incident before the store numbers it ``INC-<n>``."""


class Ticket(BaseModel):
    """An incident as it arrived."""

    key: str = Field(default=UNNUMBERED_KEY, pattern=r"^[A-Za-z][A-Za-z0-9_]*-[A-Za-z0-9]+$")
    """Tracker key such as ``PROJ-123``; local runs get ``INC-<n>``."""
    title: str = Field(min_length=1, max_length=300)
    description: str = ""
    priority: str | None = None
    labels: list[str] = Field(default_factory=list)
    components: list[str] = Field(default_factory=list)
    reporter: str | None = None
    source: TicketSource = "cli"
    url: str | None = None
    """Link back to the tracker issue or CI run, when there is one."""
    ci_excerpt: str | None = None
    """The failing CI jobs' log excerpt, when the incident came from CI."""
    ci_run_id: int | None = None
    """The failed CI workflow run that started the incident, when CI did."""
    base_commit: str | None = None
    """Fix the repository as it was at this commit instead of the default branch's head (a backtest
    replays a past bug at the parent of its upstream fix); None: the default branch, synced."""
    alert: Alert | None = None
    """The Sentry error or PagerDuty incident that started the run, with its stack, when one did."""


AgentName = Literal["triage", "code", "test", "pr"]
AgentStatus = Literal[
    "pending",
    "running",
    "submitted",
    "turn_limit",
    "timeout",
    "budget",
    "model_error",
    "no_submit",
    "invalid_submission",
    "stuck",
    "failed",
    "cancelled",
]


class AgentFacts(BaseModel):
    name: AgentName
    status: AgentStatus = "pending"
    message: str = ""
    """Why it ended, in words (``submitted`` or the reason it stopped)."""
    model: str | None = None
    worker: str | None = None
    """The executor id of the worker that ran it last (its transcript is in that worker's state)."""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    turns: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class TriageFacts(BaseModel):
    priority: str
    component: str
    affected_files: list[str]
    acceptance_criteria: list[str]
    edge_cases: list[str]
    summary: str


FileStatus = Literal["added", "modified", "deleted", "renamed", "copied"]


class FileChange(BaseModel):
    path: str
    """The path after the change (the old path for a deleted file)."""
    added: int
    removed: int
    status: FileStatus = "modified"
    old_path: str | None = None
    """The path before a rename or copy."""
    binary: bool = False
    """A binary file: git reports no line counts for it."""


class FixFacts(BaseModel):
    root_cause: str
    explanation: str
    diff: str
    """Unified diff of non-test files, taken from the code agent's worktree."""
    files: list[FileChange]
    not_done: str = ""
    """What the code agent says it did not do (of its task or the reviewer's request), and why."""
    partial: str = ""
    """Why the fix is partial: a limit stopped the code agent before it submitted (the reason in words),
    and Nightshift took what its worktree held. Empty for a fix the agent submitted."""


class TestFacts(BaseModel):
    __test__: ClassVar[bool] = False  # not a pytest test class, despite its name

    test_files: list[str]
    test_names: list[str]
    notes: str
    diff: str
    files: list[FileChange]
    not_done: str = ""
    """What the test agent says it did not do (of its task or the reviewer's request), and why."""
    partial: str = ""
    """Why the tests are partial: a limit stopped the test agent before it submitted, and Nightshift took
    the test files its worktree held. Empty for tests the agent submitted."""


class TestCounts(BaseModel):
    __test__: ClassVar[bool] = False

    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    timed_out: bool = False
    build_s: float | None = None
    """How long ``[environment] build`` took before these tests ran; None when no build is configured."""

    def summary(self) -> str:
        parts = [f"{self.passed} passed", f"{self.failed} failed"]
        if self.errors:
            parts.append(f"{self.errors} errors")
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        if self.build_s is not None:
            parts.append(f"built in {self.build_s:.1f} s")
        return ", ".join(parts) + (" (timed out)" if self.timed_out else "")


Verdict = Literal[
    "verified",
    "tests_do_not_reproduce",
    "fix_does_not_pass",
    "regression",
    "no_fix",
    "no_tests",
    "environment_error",
    "build_failed",
    "not_run",
]

VERDICT_TEXT: dict[str, str] = {
    "verified": "verified",
    "tests_do_not_reproduce": "tests do not reproduce the bug",
    "fix_does_not_pass": "fix does not pass",
    "regression": "regression",
    "no_fix": "no fix",
    "no_tests": "no tests",
    "environment_error": "the project's environment is broken",
    "build_failed": "the fix does not build",
    "not_run": "not verified",
}


MAX_TEST_NAMES = 50
"""Test ids kept in a ``TestNames``; the rest are counted."""


class TestNames(BaseModel):
    """Some tests, by id: how many, and the first ``MAX_TEST_NAMES`` of them, sorted."""

    __test__: ClassVar[bool] = False

    count: int = 0
    names: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, ids: Iterable[str]) -> "TestNames":
        every = sorted(set(ids))
        return cls(count=len(every), names=every[:MAX_TEST_NAMES])


class PhaseTime(BaseModel):
    """How long a verification phase's test run took, and when it ran."""

    duration_s: float
    cached: bool = False
    """Not run now: the result of an earlier run of the same suite on the same base commit, environment
    and test command (``duration_s`` is that run's)."""
    started_s: float | None = None
    """When the run started (its build included), in seconds after the verification started; None when
    it was not run now (``cached``). With ``ended_s``, which phases ran at once."""
    ended_s: float | None = None


class VerificationFacts(BaseModel):
    verdict: Verdict
    detail: str
    """One sentence: what was run and what it showed."""
    base_with_tests: TestCounts | None = None
    """New tests on the base commit: must fail."""
    fixed_with_tests: TestCounts | None = None
    """New tests with the fix: must pass."""
    base_suite: TestCounts | None = None
    """The old suite on the base commit."""
    fixed_suite: TestCounts | None = None
    """The old suite with the fix: what passed on base must still pass."""
    excerpts: dict[str, str] = Field(default_factory=dict)
    """Output excerpts by phase name, for the briefing and the report."""
    fix_attempts: int = 1
    new_tests: TestNames = Field(default_factory=TestNames)
    """The test diff's tests, judged by the new-test phases: ids the base commit does not have."""
    changed_tests: TestNames = Field(default_factory=TestNames)
    """Existing tests the test diff changed: they passed on the base commit and fail with the test diff."""
    already_failing: TestNames = Field(default_factory=TestNames)
    """Tests that fail on the base commit already: never counted against the fix."""
    broken: TestNames = Field(default_factory=TestNames)
    """Tests that passed on the base commit and fail with the fix."""
    not_comparable: TestNames = Field(default_factory=TestNames)
    """Ids that exist on one side only (renamed parametrized cases, removed tests): neither broken nor
    fixed."""
    phase_times: dict[str, PhaseTime] = Field(default_factory=dict)
    """Each phase's test run: how long it took, and whether it was reused."""
    duration_s: float | None = None
    """The whole verification's wall time."""
    stale: str | None = None
    """Why the tests ran artefacts the set-up built from the base commit although the fix changes their
    sources (no ``[environment] build`` rebuilt them); None when nothing is known to be stale."""


EnvironmentStatus = Literal["none", "ready", "reused", "failed"]


class EnvironmentFacts(BaseModel):
    """Where the run's commands ran: the sandbox, and the repository's prepared environment."""

    sandbox: str
    """``bubblewrap 0.11.0``, or ``unsandboxed``."""
    sandboxed: bool
    status: EnvironmentStatus
    """``none`` (no set-up configured), ``ready`` (prepared for this run), ``reused``, ``failed``."""
    key: str | None = None
    """The hash of the set-up command and the dependency manifests the environment was made for."""
    detail: str = ""
    log: str = ""
    """The tail of the set-up's output, when it ran."""
    duration_s: float = 0.0


class PrDraft(BaseModel):
    title: str
    body: str


DecisionKind = Literal["approve", "request_changes", "cancel", "expired"]


class DecisionFacts(BaseModel):
    kind: DecisionKind
    by: str | None = None
    feedback: str | None = None
    at: datetime
    ship_revision: int | None = None
    """An approval that ships an earlier revision than the latest, chosen explicitly."""


class RevisionFacts(BaseModel):
    """One revision as it was committed and briefed: what approving it ships, and what it changed.

    Its commit is kept under ``gitrepo.revision_ref`` (here and on origin) until the run ends, so an
    earlier revision can still be shipped as it was briefed, whatever the branch holds later.
    """

    number: int
    feedback: str | None = None
    """What the reviewer asked for (revision 2 on)."""
    commit: str | None = None
    """The commit the branch held for this revision: what approving it ships. None: nothing to ship (no
    agent changed a file, or it changed nothing since the revision before)."""
    since: int | None = None
    """The revision ``changed`` is counted from (the last earlier one with a commit); None: the base."""
    changed: list[FileChange] = Field(default_factory=list)
    """What this revision changed relative to ``since``."""
    committed_at: datetime
    briefed_at: datetime | None = None
    fix: FixFacts | None = None
    """The fix as briefed (its ``diff`` left empty: the commit holds it)."""
    tests: TestFacts | None = None
    verification: VerificationFacts | None = None


class TimelineEntry(BaseModel):
    at: datetime
    text: str


DeliveryKind = Literal[
    "briefing", "pull_request", "transition", "comment", "incident_note", "review_reply", "pr_comment", "push"
]
DeliveryState = Literal["pending", "delivered", "abandoned"]


class DeliveryFacts(BaseModel):
    """One effect on the outside world and how it stands: delivered, still being tried, or abandoned."""

    kind: DeliveryKind
    service: str
    """Who it goes to: ``slack``, ``github``, ``jira``, or a local default (``terminal``, ``local``)."""
    what: str
    """In words: ``briefing message``, ``pull request``, ``ticket to In Review``, ``ticket comment``."""
    state: DeliveryState
    attempts: int = 0
    last_error: str | None = None
    last_status: int | None = None
    """The HTTP status of the last failed attempt, when the service answered."""
    failing_since: datetime | None = None
    """When its attempts started failing (None while they succeed)."""
    next_attempt_at: datetime | None = None
    """When it is tried next, while pending."""
    delivered_at: datetime | None = None
    result: str | None = None
    """What it made, when that has a name: the pull request's URL, the message's reference."""

    @property
    def key(self) -> str:
        """Names the delivery among the run's (the pages and the ``delivery`` events use it)."""
        return f"{self.kind}:{self.what}"


RunStatus = Literal[
    "queued",
    "running",
    "verifying",
    "awaiting_decision",
    "revising",
    "approving",
    "shipped",
    "merged",
    "closed",
    "cancelled",
    "expired",
    "failed",
]


PUSH_WITHHELD = "the push of "
"""How the reason for a push the secret scan stopped begins (``workflow.steps.commit_step``)."""


class RunFacts(BaseModel):
    run_id: str
    ticket: Ticket
    status: RunStatus
    created_at: datetime | None = None
    revision: int = 1
    branch: str | None = None
    base_commit: str | None = None
    agents: dict[str, AgentFacts] = Field(default_factory=dict)
    """Keyed ``triage``, ``code``, ``test``, ``pr``."""
    triage: TriageFacts | None = None
    fix: FixFacts | None = None
    tests: TestFacts | None = None
    pr_draft: PrDraft | None = None
    verification: VerificationFacts | None = None
    decisions: list[DecisionFacts] = Field(default_factory=list)
    pr_url: str | None = None
    pr_number: int | None = None
    """The pull request's number on the forge, once opened (GitHub's review webhooks name it)."""
    reviews: ReviewState = Field(default_factory=ReviewState)
    """Reviewers' requests on the pull request and the rounds that answered them."""
    cost_usd: float = 0.0
    budget_exhausted: bool = False
    """The per-run USD budget ran out and agents were stopped."""
    error: str | None = None
    """Why the run failed, when it did."""
    timeline: list[TimelineEntry] = Field(default_factory=list)
    web_url: str | None = None
    """Link to the run's web page, when a server is running."""
    message_ref: str | None = None
    """Where the notifier showed the briefing (e.g. a Slack channel and ts), to update it in place."""
    environment: EnvironmentFacts | None = None
    """The sandbox and the environment the run's commands ran in."""
    test_files: list[str] = Field(default_factory=list)
    """Glob patterns of the project's test files at the base commit (``environment.layout``)."""
    withheld: list[str] = Field(default_factory=list)
    """Sends the secret scan stopped, each naming the secret and where it was found."""
    revisions: list[RevisionFacts] = Field(default_factory=list)
    """Each revision once committed, oldest first."""
    shipped_revision: int | None = None
    """The revision the pull request ships, once approved (an earlier one when chosen explicitly)."""

    @property
    def unpushed(self) -> str | None:
        """Why the run's branch was not pushed, when the secret scan stopped its push."""
        return next((reason for reason in self.withheld if reason.startswith(PUSH_WITHHELD)), None)

    @property
    def changes_nothing(self) -> bool:
        """No agent changed a file: there is no branch, and nothing to approve."""
        return not ((self.fix and self.fix.diff) or (self.tests and self.tests.diff))

    def revision_facts(self, number: int) -> RevisionFacts | None:
        return next((revision for revision in self.revisions if revision.number == number), None)

    @property
    def not_acted_on(self) -> RevisionFacts | None:
        """The current revision when it changed nothing since the one before (the reviewer's feedback
        was not acted on): it has nothing to approve."""
        current = self.revision_facts(self.revision)
        if current is None or current.number == 1 or current.commit is not None or self.changes_nothing:
            return None
        return current

    @property
    def shipped_verdict(self) -> Verdict | None:
        """The verdict of what shipped, as it was briefed (an earlier revision's when one was chosen);
        None until the run has shipped."""
        if self.status != "shipped":
            return None
        earlier = self.shipped_revision is not None and self.shipped_revision != self.revision
        shipped = self.revision_facts(self.shipped_revision) if earlier and self.shipped_revision else None
        verification = shipped.verification if shipped else self.verification
        return verification.verdict if verification else "not_run"

    def shippable_earlier(self) -> list[RevisionFacts]:
        """Earlier revisions that were briefed with something to ship, newest first: each may be shipped
        as it was briefed, by an explicit choice (never by Approve)."""
        return [
            revision
            for revision in reversed(self.revisions)
            if revision.number < self.revision and revision.commit and revision.briefed_at
        ]

    workflow_id: str | None = None
    """The durable workflow that moves the run, when it is not the run id (a run repaired at start-up
    continues in a workflow of its own)."""
