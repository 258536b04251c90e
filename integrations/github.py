"""GitHub: the CI-failure webhook, the live ``Forge`` (pull requests) and failing CI logs.

Webhook side (pure functions, called by the HTTP layer on the raw request):

- ``verify_github_signature`` checks ``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body). GitHub signs
  no timestamp, so there is no replay window here; a replayed delivery repeats its ``X-GitHub-Delivery``
  id, which the caller may deduplicate on.
- ``parse_workflow_run`` turns a ``workflow_run`` delivery into a ``CiFailure``, or returns the reason
  it starts no run, as a string (the caller answers ``202 ignored: <reason>``).

API side: ``GitHubForge`` opens pull requests for branches the workflow has already pushed (it never
pushes), reads failing jobs' logs and the latest failed run, through PyGithub (synchronous, so every
call runs in a thread pool of its own, which ``close`` waits for). Reads retry a passing 5xx or rate
limit; opening a pull request is one attempt, because it is a delivery that ``deliveries.deliverer``
retries, and each attempt looks for the branch's open pull request first. Log downloads follow
GitHub's redirect with a credential-free httpx client (``integrations.github_ci``).

Exceptions::

    IntegrationError          GitHub refused, failed or did not answer: the status and GitHub's words
                              (or a quote of a proxy's error page), never the token
    └── SignatureError        a webhook whose X-Hub-Signature-256 is missing, malformed or wrong
"""

import asyncio
import hashlib
import hmac
import json
import logging
import math
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote

import httpx
import requests
from github import Auth, Github, GithubException, GithubRetry
from github.PullRequest import PullRequest
from github.Repository import Repository
from github.WorkflowRun import WorkflowRun

from documents.facts import Ticket
from documents.reviews import ReviewComment
from integrations.base import (
    IntegrationError,
    PullRequestRef,
    SignatureError,
    excerpt,
    retryable_status,
    unreachable,
)
from integrations.github_ci import download_excerpt
from retries import retry_after_s
from safety.redact import Redactor

logger = logging.getLogger(__name__)
_LOG_REDACTOR = Redactor()
"""Every forge's token, redacted from PyGithub's own log records (at DEBUG they hold response bodies)."""
for _name in ("github.Requester", "github.GithubRetry"):
    logging.getLogger(_name).addFilter(_LOG_REDACTOR.logging_filter())
P = ParamSpec("P")
T = TypeVar("T")

SIGNATURE_HEADER = "X-Hub-Signature-256"
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
_FAILED_JOB = frozenset({"failure", "timed_out"})
MIN_JOB_CHARS = 600
"""Below this share of the excerpt per failed job, later failed jobs are only named."""
_DOWNLOAD_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_HINTS = {
    401: "the token was refused: check GITHUB_TOKEN",
    403: "the token lacks a permission (contents, pull_requests: write; actions: read) or hit a rate limit",
    404: "not found, or the token cannot see the repository",
}


# -- webhook ---------------------------------------------------------------------------------------


def verify_github_signature(secret: str, body: bytes, header: str | None) -> None:
    """Return if ``header`` is ``sha256=<hex HMAC-SHA256(secret, body)>``; else raise SignatureError."""
    if not secret:
        raise SignatureError("no GitHub webhook secret is configured (GITHUB_WEBHOOK_SECRET)")
    if not header:
        raise SignatureError(f"the request has no {SIGNATURE_HEADER} header; is the webhook secret set?")
    match = _SIGNATURE.fullmatch(header.strip())
    if match is None:
        raise SignatureError(f"malformed {SIGNATURE_HEADER} header: expected sha256=<64 hex digits>")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match.group(1).lower()):
        raise SignatureError(
            f"{SIGNATURE_HEADER} does not match the body: "
            "the webhook's secret differs from GITHUB_WEBHOOK_SECRET, or the body was altered"
        )


@dataclass(frozen=True)
class CiFailure:
    """A failed workflow run on the default branch."""

    repo: str
    """``owner/name``."""
    run_id: int
    run_url: str
    workflow_name: str
    head_sha: str
    head_branch: str
    conclusion: str
    title: str
    """The run's display title, or the first line of its head commit's message."""


def parse_workflow_run(event: str, payload: Mapping[str, Any]) -> CiFailure | str:
    """The failure a ``workflow_run`` delivery reports, or why the delivery starts no run.

    ``event`` is the ``X-GitHub-Event`` header. Only a completed run that failed on the repository's
    default branch, from a branch of the repository itself (not a fork), counts.
    """
    if event != "workflow_run":
        return f"event {event!r} is not workflow_run"
    run, repository = payload.get("workflow_run"), payload.get("repository")
    if not isinstance(run, Mapping) or not isinstance(repository, Mapping):
        return "the payload has no workflow_run or repository object"
    action = payload.get("action")
    if action != "completed":
        return f"action {action!r}, not completed"
    conclusion = run.get("conclusion")
    if conclusion != "failure":
        return f"conclusion {conclusion!r}, not failure"
    if not isinstance(run.get("id"), int):
        return "the workflow_run has no id"
    branch, default = run.get("head_branch"), repository.get("default_branch")
    if not isinstance(branch, str) or branch != default:
        return f"branch {branch!r} is not the default branch {default!r}"
    head_repo = run.get("head_repository")
    full_name = str(repository.get("full_name", ""))
    if isinstance(head_repo, Mapping) and head_repo.get("full_name") not in (None, full_name):
        return f"the run is for a branch of the fork {head_repo.get('full_name')!r}"
    head_commit = run.get("head_commit")
    message = head_commit.get("message", "") if isinstance(head_commit, Mapping) else ""
    return CiFailure(
        repo=full_name,
        run_id=run["id"],
        run_url=str(run.get("html_url", "")),
        workflow_name=str(run.get("name", "")),
        head_sha=str(run.get("head_sha", "")),
        head_branch=branch,
        conclusion=conclusion,
        title=_title(run.get("display_title"), message, str(run.get("name", "CI"))),
    )


def _title(display_title: object, commit_message: str, workflow_name: str) -> str:
    if isinstance(display_title, str) and display_title.strip():
        return display_title.strip()
    first_line = commit_message.strip().splitlines()[0] if commit_message.strip() else ""
    return first_line or f"{workflow_name} failed"


def blob_url(api_url: str, repo: str, commit: str, path: str, line: int | None = None) -> str:
    """The web page of ``path`` at ``commit`` (at ``line``): github.com for the public API, the Enterprise
    Server's host for ``https://HOST/api/v3``."""
    web = api_url.rstrip("/").removesuffix("/api/v3")
    web = "https://github.com" if web == "https://api.github.com" else web
    anchor = f"#L{line}" if line is not None else ""
    return f"{web}/{repo}/blob/{commit}/{quote(path)}{anchor}"


# -- API -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FailedJob:
    name: str
    step: str
    log_url: str | None
    unavailable: str = ""
    """Why there is no log URL (expired logs, a refusal)."""


class GitHubForge:
    """Pull requests and CI logs of one repository, through the GitHub REST API."""

    name = "github"

    def __init__(
        self,
        *,
        token: str,
        repo: str,
        api_url: str = "https://api.github.com",
        log_excerpt_chars: int = 6000,
        timeout_s: float = 15.0,
    ) -> None:
        if not token:
            raise ValueError("GitHubForge needs a token (GITHUB_TOKEN)")
        owner, _, name = repo.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"GITHUB_REPO must be owner/name, not {repo!r}")
        self.repo = repo
        self.owner = owner
        self.log_excerpt_chars = log_excerpt_chars
        self._redactor = Redactor([token])
        _LOG_REDACTOR.add(token)
        auth = Auth.Token(token)
        # Reads: 5xx and 429 (honouring Retry-After) are retried by urllib3; GitHub asks for pauses between
        # requests (PyGithub's default throttle) to stay clear of its secondary rate limits.
        retry = GithubRetry(total=3, backoff_factor=0.5)
        base_url = api_url.rstrip("/")
        timeout = math.ceil(timeout_s)
        common: dict[str, Any] = {"auth": auth, "base_url": base_url, "lazy": True, "timeout": timeout}
        self._github = Github(per_page=100, retry=retry, **common)
        self._latest = Github(per_page=1, retry=retry, **common)
        """Lists only the newest item: ``latest_failed_run`` asks for one run, not a page of them."""
        self._pulls = Github(per_page=100, retry=None, **common)
        """Opens pull requests: no retries of its own (the delivery is retried, with what GitHub said)."""
        self._threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="github")
        """PyGithub is blocking: its calls run here, so ``close`` can wait for the ones still going."""

    def close(self) -> None:
        """Wait for the calls still running (a read may be retrying), then close the connection pools:
        nothing talks to GitHub after this returns."""
        self._threads.shutdown(wait=True, cancel_futures=True)
        self._github.close()
        self._latest.close()
        self._pulls.close()

    async def open_pull_request(
        self, *, run_id: str, branch: str, title: str, body: str, diff: str, draft: bool, labels: list[str]
    ) -> PullRequestRef:
        """The open PR for ``branch`` (``created=False``), else a new one against the default branch.

        ``diff`` is not sent: the branch already holds the commits. Labels missing from the PR are added
        either way, so a replay after a crash between creating and labelling completes the job.
        """
        if not branch:
            raise ValueError("a pull request needs the run's branch")
        doing = f"opening a pull request for {branch}"
        return await self._call(doing, self._open_pull_request, branch, title, body, draft, labels)

    def _open_pull_request(
        self, branch: str, title: str, body: str, draft: bool, labels: list[str]
    ) -> PullRequestRef:
        repo = self._pulls.get_repo(self.repo)
        pull, created = self._open_pull(repo, branch), False
        if pull is None:
            pull, created = self._create_pull(repo, branch, title, body, draft)
        present = {label.name for label in pull.labels}
        missing = [label for label in labels if label not in present]
        if missing:
            pull.add_to_labels(*missing)
        logger.info("pull request #%d for %s: %s", pull.number, branch, "opened" if created else "was open")
        return PullRequestRef(number=pull.number, url=pull.html_url, created=created)

    def _open_pull(self, repo: Repository, branch: str) -> PullRequest | None:
        return next(iter(repo.get_pulls(state="open", head=f"{self.owner}:{branch}")), None)

    def _create_pull(
        self, repo: Repository, branch: str, title: str, body: str, draft: bool
    ) -> tuple[PullRequest, bool]:
        base = repo.default_branch
        try:
            return repo.create_pull(base=base, head=branch, title=title, body=body, draft=draft), True
        except GithubException as exc:
            words = _messages(exc)
            if exc.status == 422 and "already exists" in words:
                pull = self._open_pull(repo, branch)  # another writer won the race
                if pull is not None:
                    return pull, False
            if exc.status == 422 and "no commits between" in words.lower():
                raise IntegrationError(
                    f"GitHub ({self.repo}) refused the pull request: branch {branch!r} has no commits "
                    f"on top of {base!r} (was it pushed?)",
                    service="GitHub",
                    status=422,
                ) from exc
            raise

    async def review_comments(self, number: int, review_id: int) -> list[ReviewComment]:
        doing = f"reading review {review_id} of pull request #{number}"
        return await self._call(doing, self._review_comments, number, review_id)

    def _review_comments(self, number: int, review_id: int) -> list[ReviewComment]:
        pull = self._github.get_repo(self.repo).get_pull(number)
        return [
            ReviewComment(
                comment_id=c.id,
                path=c.path,
                line=c.line if c.line is not None else c.original_line,
                hunk=c.diff_hunk or "",
                body=c.body or "",
            )
            for c in pull.get_single_review_comments(review_id)
        ]

    async def reply_to_review_comment(
        self, number: int, comment_id: int, body: str, *, marker: str, again: bool
    ) -> None:
        doing = f"replying to review comment {comment_id} of pull request #{number}"
        await self._call(doing, self._reply, number, comment_id, body, marker, again)

    def _reply(self, number: int, comment_id: int, body: str, marker: str, again: bool) -> None:
        pull = self._pulls.get_repo(self.repo).get_pull(number)
        if again and any(marker in (c.body or "") for c in pull.get_review_comments()):
            return
        pull.create_review_comment_reply(comment_id, body)

    async def comment_on_pull_request(self, number: int, body: str, *, marker: str, again: bool) -> None:
        await self._call(f"commenting on pull request #{number}", self._comment, number, body, marker, again)

    def _comment(self, number: int, body: str, marker: str, again: bool) -> None:
        pull = self._pulls.get_repo(self.repo).get_pull(number)
        if again and any(marker in (c.body or "") for c in pull.get_issue_comments()):
            return
        pull.create_issue_comment(body)

    async def ci_context(self, ticket: Ticket) -> str | None:
        """The failing jobs' logs of the ticket's own CI run, else of the latest failed run on the default
        branch (context for any incident); None when CI has no failure to show."""
        run_id = ticket.ci_run_id
        if run_id is None:
            latest = await self.latest_failed_run()
            if latest is None:
                return ticket.ci_excerpt
            run_id = latest.run_id
        return await self.failing_jobs_excerpt(run_id, max_chars=self.log_excerpt_chars) or ticket.ci_excerpt

    async def failing_jobs_excerpt(self, run_id: int, *, max_chars: int) -> str:
        """The failing jobs' logs of workflow run ``run_id``, at most ``max_chars`` long ("" if none failed).

        Each job's part is headed ``### <job name> (<failed step>)`` and holds the lines around its
        errors and the end of its log. With many failed jobs, the later ones are only named.
        """
        if max_chars <= 0:
            raise ValueError(f"max_chars must be positive, not {max_chars}")
        jobs = await self._call(f"listing the jobs of workflow run {run_id}", self._failed_jobs, run_id)
        if not jobs:
            return ""
        shown = jobs[: max(1, max_chars // MIN_JOB_CHARS)]
        rest = jobs[len(shown) :]
        note = f"(and {len(rest)} more failed jobs: {', '.join(job.name for job in rest)})" if rest else ""
        share = (max_chars - len(note) - 2 * len(shown)) // len(shown)
        async with httpx.AsyncClient(timeout=_DOWNLOAD_TIMEOUT, follow_redirects=True) as client:
            parts = await asyncio.gather(*(self._job_part(client, job, share) for job in shown))
        return "\n\n".join([*parts, note] if note else parts)[:max_chars]

    def _failed_jobs(self, run_id: int) -> list[_FailedJob]:
        run = self._github.get_repo(self.repo).get_workflow_run(run_id)
        failed: list[_FailedJob] = []
        for job in run.jobs():
            if job.conclusion not in _FAILED_JOB:
                continue
            step = next((s.name for s in job.steps if s.conclusion in _FAILED_JOB), "no failed step reported")
            try:
                failed.append(_FailedJob(job.name, step, job.logs_url()))
            except GithubException as exc:
                failed.append(_FailedJob(job.name, step, None, f"HTTP {exc.status}: {_messages(exc)}"))
        return failed

    async def _job_part(self, client: httpx.AsyncClient, job: _FailedJob, share: int) -> str:
        header = f"### {job.name} ({job.step})"
        budget = share - len(header) - 1
        if job.log_url is None or budget <= 0:
            body = f"(log unavailable: {job.unavailable})" if job.log_url is None else ""
        else:
            try:
                body = await download_excerpt(client, job.log_url, budget) or "(empty log)"
            except httpx.HTTPError as exc:
                status = exc.response.status_code if isinstance(exc, httpx.HTTPStatusError) else None
                body = f"(log unavailable: {f'HTTP {status}' if status else type(exc).__name__})"
        return self._redactor.redact(f"{header}\n{body}"[:share])

    async def latest_failed_run(self) -> CiFailure | None:
        """The newest failed workflow run on the default branch, or None."""
        return await self._call("looking up the latest failed workflow run", self._latest_failed_run)

    def _latest_failed_run(self) -> CiFailure | None:
        repo = self._latest.get_repo(self.repo)
        # PyGithub accepts a branch name here (it asserts Branch or str) though its annotation says Branch.
        runs = repo.get_workflow_runs(branch=repo.default_branch, status="failure")  # type: ignore[arg-type]
        run: WorkflowRun | None = next(iter(runs), None)
        if run is None:
            return None
        return CiFailure(
            repo=self.repo,
            run_id=run.id,
            run_url=run.html_url,
            workflow_name=run.name,
            head_sha=run.head_sha,
            head_branch=run.head_branch,
            conclusion=run.conclusion,
            title=_title(run.display_title, run.head_commit.message if run.head_commit else "", run.name),
        )

    async def _call(self, doing: str, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``function`` in a thread; PyGithub's and requests' failures become IntegrationError."""
        try:
            call = partial(function, *args, **kwargs)
            return await asyncio.get_running_loop().run_in_executor(self._threads, call)
        except GithubException as exc:
            raise self._refusal(doing, exc) from exc
        except requests.RequestException as exc:
            lost = str(unreachable("GitHub", f"({self.repo}): {doing} failed", exc))
            raise IntegrationError(self._redactor.redact(lost), service="GitHub", retryable=True) from exc
        except json.JSONDecodeError as exc:  # PyGithub reads a body that starts like JSON as JSON
            raise IntegrationError(
                f"GitHub ({self.repo}): {doing} failed: the answer is broken JSON ({exc})",
                service="GitHub",
                retryable=True,
            ) from exc

    def _refusal(self, doing: str, exc: GithubException) -> IntegrationError:
        status = exc.status
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        after = retry_after_s(headers)
        rate_limited = status == 403 and (after is not None or headers.get("x-ratelimit-remaining") == "0")
        hint = "rate-limited by GitHub" if rate_limited else _HINTS.get(status)
        text = f"GitHub ({self.repo}): {doing} failed: HTTP {status}: {_messages(exc)}" + (
            f" [{hint}]" if hint else ""
        )
        return IntegrationError(
            self._redactor.redact(text),
            service="GitHub",
            status=status,
            retryable=retryable_status(status) or rate_limited,
            retry_after_s=after,
        )


def _messages(exc: GithubException) -> str:
    """GitHub's words: the top message and each validation error's (where 422s say what is wrong)."""
    data = exc.data
    if not isinstance(data, Mapping):
        return excerpt(str(data or exc.message or ""))
    if set(data) == {"data"}:  # PyGithub's wrapping of a body that is not JSON: a proxy's page
        return excerpt(str(data["data"]))
    words = [str(data.get("message") or "")]
    for error in data.get("errors") or []:
        if isinstance(error, Mapping):
            fields = (error.get(key) for key in ("resource", "field", "code"))
            words.append(str(error.get("message") or " ".join(str(f) for f in fields if f)))
        else:
            words.append(str(error))
    return "; ".join(word for word in words if word)[:1000]
