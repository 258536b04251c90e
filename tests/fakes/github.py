"""A fake GitHub REST API that records every call, for PyGithub and httpx.

Serves the few endpoints Nightshift uses, with the shapes GitHub answers (``url`` fields point back at
the fake, so PyGithub's lazy completion works), both at the root (``https://api.github.com`` style)
and under ``/api/v3`` (GitHub Enterprise style). A job's log answers 302 to ``/download/<job id>`` on
the same server, like GitHub's short-lived pre-signed URLs: the download needs no token and records
whether one was sent anyway.

    fake = FakeGitHub(token="ghp_...")
    run = fake.add_run(conclusion="failure")
    fake.add_job(run["id"], "tests", conclusion="failure", failed_step="Run pytest", log="...")
    with fake.serve() as server:
        Github(auth=Token("ghp_..."), base_url=server.url)   # or server.url + "/api/v3"

Knobs: ``fail(status, ...)`` injects 5xx / 429 answers, ``no_commits = True`` makes creating a pull
request fail as for a branch without commits, ``race_pull(branch)`` plants a pull request that the next
listing does not see yet (another writer won the race between our lookup and our create).
Also ``signed_headers`` (a delivery signed like GitHub) and ``workflow_run_payload`` (a realistic
``workflow_run`` webhook body).
"""

import hashlib
import hmac
import itertools
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from client.scripted.threaded import ThreadedServer

ENTERPRISE_PREFIX = "/api/v3"
DOCS = "https://docs.github.com/rest"
_METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]
_TIME = "2024-05-01T12:00:00Z"


@dataclass
class Call:
    """One request the fake received."""

    method: str
    path: str
    """Without the ``/api/v3`` prefix, e.g. ``/repos/acme/service/pulls``."""
    prefix: str
    """``/api/v3`` when the client used the GitHub Enterprise layout, else empty."""
    query: dict[str, str]
    headers: dict[str, str]
    """Lower-cased names."""
    body: Any
    status: int = 0
    """What the fake answered."""

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


@dataclass
class Fault:
    status: int
    times: int
    method: str | None
    path: str | None
    retry_after: int | None
    message: str | None
    body: bytes | None = None
    """Sent as is (``text/html``) instead of GitHub's JSON: a proxy's error page."""


@dataclass
class _Page:
    items: list[dict[str, Any]]
    link: str | None = None
    total: int = 0


class FakeGitHub:
    """The fake's state (pull requests, runs, jobs, logs), its knobs and the record of calls."""

    def __init__(
        self,
        *,
        owner: str = "acme",
        name: str = "service",
        default_branch: str = "main",
        token: str | None = None,
    ) -> None:
        self.owner, self.name, self.default_branch = owner, name, default_branch
        self.token = token
        """When set, API calls without ``Authorization: token <it>`` (or ``Bearer``) get 401."""
        self.no_commits = False
        """Creating a pull request answers 422 "No commits between <base> and <head>"."""
        self.calls: list[Call] = []
        self.pulls: list[dict[str, Any]] = []
        self.runs: list[dict[str, Any]] = []
        self.jobs: list[dict[str, Any]] = []
        self.logs: dict[int, str] = {}
        self.review_comments: list[dict[str, Any]] = []
        """Line comments on pull requests, and the replies in their threads (``in_reply_to_id``)."""
        self.issue_comments: list[dict[str, Any]] = []
        """Comments on pull requests' conversations (``issue_number``)."""
        self._faults: list[Fault] = []
        self._hidden_once: set[int] = set()
        self._ids = itertools.count(1001)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    # -- knobs -------------------------------------------------------------------------------------

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
        retry_after: int | None = None,
        message: str | None = None,
        body: bytes | None = None,
    ) -> None:
        """Answer the next ``times`` matching calls with ``status`` (``path``: a substring of the path),
        as GitHub's JSON error or, given ``body``, as that HTML page."""
        self._faults.append(Fault(status, times, method, path, retry_after, message, body))

    def add_run(
        self,
        *,
        conclusion: str | None = "failure",
        status: str = "completed",
        head_branch: str | None = None,
        name: str = "CI",
        display_title: str = "Fix the flaky parser",
        head_sha: str | None = None,
        event: str = "push",
    ) -> dict[str, Any]:
        """A workflow run (newest first in listings); the base URLs are filled in per request."""
        run_id = next(self._ids)
        sha = head_sha or hashlib.sha1(str(run_id).encode()).hexdigest()
        run = {
            "id": run_id,
            "name": name,
            "node_id": f"WFR_{run_id}",
            "head_branch": head_branch or self.default_branch,
            "head_sha": sha,
            "path": ".github/workflows/ci.yml",
            "display_title": display_title,
            "run_number": run_id - 1000,
            "event": event,
            "status": status,
            "conclusion": conclusion,
            "workflow_id": 7,
            "run_attempt": 1,
            "created_at": _TIME,
            "updated_at": _TIME,
            "run_started_at": _TIME,
            "head_commit": {
                "id": sha,
                "tree_id": sha,
                "message": f"{display_title}\n\nbody",
                "timestamp": _TIME,
            },
        }
        self.runs.insert(0, run)
        return run

    def add_job(
        self,
        run_id: int,
        name: str,
        *,
        conclusion: str = "success",
        failed_step: str | None = None,
        log: str | None = "",
    ) -> dict[str, Any]:
        """A job of ``run_id``; ``failed_step`` names the step that failed; ``log=None``: logs expired."""
        job_id = next(self._ids)
        steps = [{"name": "Set up job", "status": "completed", "conclusion": "success", "number": 1}]
        if failed_step is not None:
            steps.append({"name": failed_step, "status": "completed", "conclusion": "failure", "number": 2})
            steps.append({"name": "Post job", "status": "completed", "conclusion": "skipped", "number": 3})
        job = {
            "id": job_id,
            "run_id": run_id,
            "node_id": f"CR_{job_id}",
            "name": name,
            "status": "completed",
            "conclusion": conclusion,
            "started_at": _TIME,
            "completed_at": _TIME,
            "steps": steps,
            "labels": ["ubuntu-latest"],
            "runner_name": "GitHub Actions 2",
            "workflow_name": "CI",
            "head_branch": self.default_branch,
            "head_sha": "0" * 40,
        }
        self.jobs.append(job)
        if log is not None:
            self.logs[job_id] = log
        return job

    def race_pull(self, branch: str, *, title: str = "Someone else's pull request") -> dict[str, Any]:
        """An open pull request for ``branch`` that the next listing does not see yet."""
        pull = self._new_pull(branch, self.default_branch, title, "", draft=False)
        self._hidden_once.add(pull["number"])
        return pull

    # -- reading the record ------------------------------------------------------------------------

    def calls_to(self, method_or_path: str) -> list[Call]:
        """Calls by ``"POST"``, by path ``"/repos/acme/service/pulls"``, or by ``"POST /repos/..."``."""
        method, _, path = method_or_path.partition(" ") if " " in method_or_path else ("", "", method_or_path)
        if not path.startswith("/"):
            method, path = path, ""
        return [c for c in self.calls if (not method or c.method == method) and (not path or c.path == path)]

    def downloads(self) -> list[Call]:
        """The log downloads (the targets of the 302 redirects)."""
        return [c for c in self.calls if c.path.startswith("/download/")]

    # -- serving -----------------------------------------------------------------------------------

    def serve(self) -> ThreadedServer:
        """``with fake.serve() as server: server.url`` (the API root; GHE style: ``+ "/api/v3"``)."""
        return ThreadedServer(self.app(), name="fake github")

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._handle, methods=_METHODS)])

    async def _handle(self, request: Request) -> Response:
        raw_path = request.url.path
        prefix = ENTERPRISE_PREFIX if raw_path.startswith(ENTERPRISE_PREFIX + "/") else ""
        path = raw_path.removeprefix(prefix)
        body_bytes = await request.body()
        try:
            body = json.loads(body_bytes) if body_bytes else None
        except json.JSONDecodeError:
            body = body_bytes.decode("utf-8", "replace")
        call = Call(
            request.method,
            path,
            prefix,
            dict(request.query_params),
            {k.lower(): v for k, v in request.headers.items()},
            body,
        )
        self.calls.append(call)
        response = await self._answer(request, call)
        call.status = response.status_code
        return response

    async def _answer(self, request: Request, call: Call) -> Response:
        fault = self._take_fault(call)
        if fault is not None:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            if fault.body is not None:
                return Response(fault.body, fault.status, headers, media_type="text/html")
            default = "API rate limit exceeded" if fault.status == 429 else "Server Error"
            return _error(fault.status, fault.message or default, headers=headers)
        if call.path.startswith("/download/"):
            return self._download(call.path.removeprefix("/download/"))
        accepted = (f"token {self.token}", f"Bearer {self.token}")
        if self.token is not None and call.authorization not in accepted:
            return _error(401, "Bad credentials")
        base = str(request.base_url).rstrip("/")
        api = base + call.prefix
        for method, pattern, handler in self._routes():
            match = re.fullmatch(pattern, call.path)
            if match and method == call.method:
                owner, repo = match.group("owner"), match.group("repo")
                if f"{owner}/{repo}".lower() != self.full_name.lower():
                    return _error(404, "Not Found")
                ids = {k: int(v) for k, v in match.groupdict().items() if k not in ("owner", "repo")}
                return await handler(_Ctx(api=api, web=base, call=call), **ids)
        return _error(404, "Not Found")

    def _routes(self) -> list[tuple[str, str, Callable[..., Awaitable[Response]]]]:
        repo = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
        return [
            ("GET", repo, self._get_repo),
            ("GET", repo + r"/pulls", self._list_pulls),
            ("POST", repo + r"/pulls", self._create_pull),
            ("GET", repo + r"/pulls/(?P<number>\d+)", self._get_pull),
            ("POST", repo + r"/issues/(?P<number>\d+)/labels", self._add_labels),
            ("GET", repo + r"/pulls/(?P<number>\d+)/reviews/(?P<review_id>\d+)/comments", self._review_list),
            ("GET", repo + r"/pulls/(?P<number>\d+)/comments", self._pull_comments),
            ("POST", repo + r"/pulls/(?P<number>\d+)/comments/(?P<comment_id>\d+)/replies", self._reply),
            ("GET", repo + r"/issues/(?P<number>\d+)/comments", self._issue_comments),
            ("POST", repo + r"/issues/(?P<number>\d+)/comments", self._add_issue_comment),
            ("GET", repo + r"/actions/runs", self._list_runs),
            ("GET", repo + r"/actions/runs/(?P<run_id>\d+)", self._get_run),
            ("GET", repo + r"/actions/runs/(?P<run_id>\d+)/jobs", self._list_jobs),
            ("GET", repo + r"/actions/jobs/(?P<job_id>\d+)", self._get_job),
            ("GET", repo + r"/actions/jobs/(?P<job_id>\d+)/logs", self._job_logs),
        ]

    def _take_fault(self, call: Call) -> Fault | None:
        for fault in self._faults:
            if (fault.method in (None, call.method)) and (fault.path is None or fault.path in call.path):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    # -- handlers ----------------------------------------------------------------------------------

    async def _get_repo(self, ctx: "_Ctx") -> Response:
        return JSONResponse(self._repo_json(ctx))

    async def _list_pulls(self, ctx: "_Ctx") -> Response:
        query = ctx.call.query
        state = query.get("state", "open")
        head = query.get("head")
        hidden, self._hidden_once = self._hidden_once, set()
        selected = [
            p
            for p in self.pulls
            if (state == "all" or p["state"] == state)
            # GitHub ignores a head filter without "owner:" (it then lists every pull request).
            and (head is None or ":" not in head or p["head"]["label"] == head)
            and (query.get("base") is None or p["base"]["ref"] == query["base"])
            and p["number"] not in hidden
        ]
        page = _paginate(selected, ctx)
        return _json_page([self._pull_json(ctx, p) for p in page.items], page)

    async def _create_pull(self, ctx: "_Ctx") -> Response:
        body = ctx.call.body if isinstance(ctx.call.body, dict) else {}
        head, base, title = body.get("head"), body.get("base"), body.get("title")
        if not head or not base or not title:
            return _validation_failed(
                {
                    "resource": "PullRequest",
                    "code": "missing_field",
                    "field": "head" if not head else "base" if not base else "title",
                }
            )
        branch = head.split(":", 1)[-1]
        if self.no_commits:
            return _validation_failed(
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"No commits between {base} and {branch}",
                }
            )
        label = f"{self.owner}:{branch}"
        if any(p["head"]["label"] == label and p["state"] == "open" for p in self.pulls):
            return _validation_failed(
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"A pull request already exists for {label}.",
                }
            )
        pull = self._new_pull(branch, base, title, body.get("body") or "", draft=bool(body.get("draft")))
        return JSONResponse(self._pull_json(ctx, pull), status_code=201)

    async def _get_pull(self, ctx: "_Ctx", number: int) -> Response:
        pull = self._pull(number)
        return JSONResponse(self._pull_json(ctx, pull)) if pull else _error(404, "Not Found")

    async def _add_labels(self, ctx: "_Ctx", number: int) -> Response:
        pull = self._pull(number)
        if pull is None:
            return _error(404, "Not Found")
        body = ctx.call.body
        names = body.get("labels", []) if isinstance(body, dict) else body
        for name in names or []:
            if name not in pull["labels"]:
                pull["labels"].append(name)
        repo_url = f"{ctx.api}/repos/{self.full_name}"
        return JSONResponse([_label_json(repo_url, name) for name in pull["labels"]])

    def add_review_comment(
        self, number: int, review_id: int, *, path: str, line: int, body: str, author: str = "alice"
    ) -> dict[str, Any]:
        """A line comment of review ``review_id`` on pull request ``number`` (as its webhook carries it)."""
        comment = {
            "id": next(self._ids),
            "pull_request_review_id": review_id,
            "pull_number": number,
            "path": path,
            "line": line,
            "original_line": line,
            "side": "RIGHT",
            "diff_hunk": f"@@ -{line},3 +{line},3 @@\n     todo = self.get(todo_id)\n-    old\n+    new",
            "body": body,
            "user": {"login": author, "type": "User"},
            "author_association": "COLLABORATOR",
            "in_reply_to_id": None,
            "created_at": _TIME,
        }
        self.review_comments.append(comment)
        return comment

    def replies(self, comment_id: int) -> list[dict[str, Any]]:
        """The replies in the thread of review comment ``comment_id``."""
        return [c for c in self.review_comments if c["in_reply_to_id"] == comment_id]

    def conversation(self, number: int) -> list[dict[str, Any]]:
        return [c for c in self.issue_comments if c["issue_number"] == number]

    async def _review_list(self, ctx: "_Ctx", number: int, review_id: int) -> Response:
        found = [c for c in self.review_comments if c.get("pull_request_review_id") == review_id]
        return JSONResponse([self._comment_json(ctx, c) for c in found])

    async def _pull_comments(self, ctx: "_Ctx", number: int) -> Response:
        page = _paginate([c for c in self.review_comments if c["pull_number"] == number], ctx)
        return _json_page([self._comment_json(ctx, c) for c in page.items], page)

    async def _reply(self, ctx: "_Ctx", number: int, comment_id: int) -> Response:
        body = ctx.call.body if isinstance(ctx.call.body, dict) else {}
        top = next((c for c in self.review_comments if c["id"] == comment_id), None)
        if top is None:
            return _error(404, "Not Found")
        reply = {
            **top,
            "id": next(self._ids),
            "body": body.get("body", ""),
            "in_reply_to_id": comment_id,
            "user": {"login": "nightshift-bot", "type": "Bot"},
            "author_association": "NONE",
        }
        self.review_comments.append(reply)
        return JSONResponse(self._comment_json(ctx, reply), status_code=201)

    async def _issue_comments(self, ctx: "_Ctx", number: int) -> Response:
        page = _paginate(self.conversation(number), ctx)
        return _json_page([self._comment_json(ctx, c) for c in page.items], page)

    async def _add_issue_comment(self, ctx: "_Ctx", number: int) -> Response:
        body = ctx.call.body if isinstance(ctx.call.body, dict) else {}
        comment = {
            "id": next(self._ids),
            "issue_number": number,
            "body": body.get("body", ""),
            "user": {"login": "nightshift-bot", "type": "Bot"},
            "author_association": "NONE",
            "created_at": _TIME,
        }
        self.issue_comments.append(comment)
        return JSONResponse(self._comment_json(ctx, comment), status_code=201)

    def _comment_json(self, ctx: "_Ctx", comment: dict[str, Any]) -> dict[str, Any]:
        url = f"{ctx.api}/repos/{self.full_name}"
        kind = "issues/comments" if "issue_number" in comment else "pulls/comments"
        user = comment["user"]
        return {
            **comment,
            "url": f"{url}/{kind}/{comment['id']}",
            "user": _user_json(ctx, user["login"], user["type"]),
            "updated_at": _TIME,
        }

    async def _list_runs(self, ctx: "_Ctx") -> Response:
        query = ctx.call.query
        wanted = query.get("status")
        selected = [
            r
            for r in self.runs
            if (query.get("branch") is None or r["head_branch"] == query["branch"])
            and (wanted is None or wanted in (r["status"], r["conclusion"]))
            and (query.get("event") is None or r["event"] == query["event"])
        ]
        page = _paginate(selected, ctx)
        return _json_page(
            {"total_count": page.total, "workflow_runs": [self._run_json(ctx, r) for r in page.items]}, page
        )

    async def _get_run(self, ctx: "_Ctx", run_id: int) -> Response:
        run = next((r for r in self.runs if r["id"] == run_id), None)
        return JSONResponse(self._run_json(ctx, run)) if run else _error(404, "Not Found")

    async def _list_jobs(self, ctx: "_Ctx", run_id: int) -> Response:
        page = _paginate([j for j in self.jobs if j["run_id"] == run_id], ctx)
        jobs = [self._job_json(ctx, j) for j in page.items]
        return _json_page({"total_count": page.total, "jobs": jobs}, page)

    async def _get_job(self, ctx: "_Ctx", job_id: int) -> Response:
        job = next((j for j in self.jobs if j["id"] == job_id), None)
        return JSONResponse(self._job_json(ctx, job)) if job else _error(404, "Not Found")

    async def _job_logs(self, ctx: "_Ctx", job_id: int) -> Response:
        if job_id not in self.logs:  # GitHub answers 410 once a job's logs have expired
            known = any(j["id"] == job_id for j in self.jobs)
            return _error(410, "Gone") if known else _error(404, "Not Found")
        return RedirectResponse(f"{ctx.web}/download/{job_id}?sig={uuid.uuid4().hex}", status_code=302)

    def _download(self, job_id: str) -> Response:
        log = self.logs.get(int(job_id)) if job_id.isdigit() else None
        if log is None:
            return PlainTextResponse("The specified blob does not exist.", status_code=404)
        return PlainTextResponse(log)

    # -- shapes ------------------------------------------------------------------------------------

    def _new_pull(self, branch: str, base: str, title: str, body: str, *, draft: bool) -> dict[str, Any]:
        pull = {
            "number": len(self.pulls) + 1,
            "id": next(self._ids),
            "state": "open",
            "title": title,
            "body": body,
            "draft": draft,
            "labels": [],
            "head": {"ref": branch, "label": f"{self.owner}:{branch}", "sha": "1" * 40},
            "base": {"ref": base, "label": f"{self.owner}:{base}", "sha": "2" * 40},
        }
        self.pulls.append(pull)
        return pull

    def _pull(self, number: int) -> dict[str, Any] | None:
        return next((p for p in self.pulls if p["number"] == number), None)

    def _repo_json(self, ctx: "_Ctx") -> dict[str, Any]:
        url = f"{ctx.api}/repos/{self.full_name}"
        return {
            "id": 42,
            "node_id": "R_42",
            "name": self.name,
            "full_name": self.full_name,
            "private": True,
            "owner": _user_json(ctx, self.owner, "Organization"),
            "html_url": f"{ctx.web}/{self.full_name}",
            "url": url,
            "pulls_url": url + "/pulls{/number}",
            "issues_url": url + "/issues{/number}",
            "default_branch": self.default_branch,
            "created_at": _TIME,
            "updated_at": _TIME,
        }

    def _pull_json(self, ctx: "_Ctx", pull: dict[str, Any]) -> dict[str, Any]:
        repo_url = f"{ctx.api}/repos/{self.full_name}"
        number = pull["number"]
        owner = _user_json(ctx, self.owner, "Organization")
        return {
            "url": f"{repo_url}/pulls/{number}",
            "id": pull["id"],
            "node_id": f"PR_{pull['id']}",
            "number": number,
            "state": pull["state"],
            "locked": False,
            "title": pull["title"],
            "body": pull["body"],
            "draft": pull["draft"],
            "merged": False,
            "html_url": f"{ctx.web}/{self.full_name}/pull/{number}",
            "issue_url": f"{repo_url}/issues/{number}",
            "user": _user_json(ctx, "nightshift-bot", "Bot"),
            "labels": [_label_json(repo_url, name) for name in pull["labels"]],
            "head": {**pull["head"], "repo": self._repo_json(ctx), "user": owner},
            "base": {**pull["base"], "repo": self._repo_json(ctx), "user": owner},
            "created_at": _TIME,
            "updated_at": _TIME,
        }

    def _run_json(self, ctx: "_Ctx", run: dict[str, Any]) -> dict[str, Any]:
        url = f"{ctx.api}/repos/{self.full_name}/actions/runs/{run['id']}"
        return {
            **run,
            "url": url,
            "html_url": f"{ctx.web}/{self.full_name}/actions/runs/{run['id']}",
            "jobs_url": url + "/jobs",
            "logs_url": url + "/logs",
            "cancel_url": url + "/cancel",
            "rerun_url": url + "/rerun",
            "repository": self._repo_json(ctx),
            "head_repository": self._repo_json(ctx),
        }

    def _job_json(self, ctx: "_Ctx", job: dict[str, Any]) -> dict[str, Any]:
        repo_url = f"{ctx.api}/repos/{self.full_name}"
        return {
            **job,
            "url": f"{repo_url}/actions/jobs/{job['id']}",
            "run_url": f"{repo_url}/actions/runs/{job['run_id']}",
            "html_url": f"{ctx.web}/{self.full_name}/actions/runs/{job['run_id']}/job/{job['id']}",
            "check_run_url": f"{repo_url}/check-runs/{job['id']}",
        }


@dataclass
class _Ctx:
    api: str
    """The API root the client used (with ``/api/v3`` for GitHub Enterprise)."""
    web: str
    call: Call


def _user_json(ctx: _Ctx, login: str, kind: str) -> dict[str, Any]:
    return {
        "login": login,
        "id": abs(hash(login)) % 10_000,
        "type": kind,
        "url": f"{ctx.api}/users/{login}",
        "html_url": f"{ctx.web}/{login}",
    }


def _label_json(repo_url: str, name: str) -> dict[str, Any]:
    return {
        "id": abs(hash(name)) % 10_000,
        "name": name,
        "color": "ededed",
        "default": False,
        "url": f"{repo_url}/labels/{name}",
    }


def _paginate(items: list[dict[str, Any]], ctx: _Ctx) -> _Page:
    query = ctx.call.query
    per_page = min(int(query.get("per_page", "30")), 100)
    page = max(int(query.get("page", "1")), 1)
    chunk = items[(page - 1) * per_page : page * per_page]
    link = None
    if page * per_page < len(items):
        params = {**query, "page": str(page + 1), "per_page": str(per_page)}
        link = f'<{ctx.api}{ctx.call.path}?{"&".join(f"{k}={v}" for k, v in params.items())}>; rel="next"'
    return _Page(chunk, link, len(items))


def _json_page(content: Any, page: _Page) -> Response:
    return JSONResponse(content, headers={"Link": page.link} if page.link else None)


def _error(status: int, message: str, *, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        {"message": message, "documentation_url": DOCS, "status": str(status)},
        status_code=status,
        headers=headers,
    )


def _validation_failed(error: dict[str, Any]) -> Response:
    """GitHub's 422 body: the useful words are in ``errors[].message``."""
    return JSONResponse(
        {
            "message": "Validation Failed",
            "errors": [error],
            "documentation_url": f"{DOCS}/pulls/pulls#create-a-pull-request",
            "status": "422",
        },
        status_code=422,
    )


def signed_headers(secret: str, body: bytes, *, event: str = "workflow_run") -> dict[str, str]:
    """The headers GitHub sends with a webhook delivery of ``body``, signed with ``secret``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/abc1234",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "123456",
        "X-Hub-Signature-256": f"sha256={digest}",
    }


def workflow_run_payload(
    *,
    repo: str = "acme/service",
    default_branch: str = "main",
    head_branch: str = "main",
    action: str = "completed",
    status: str = "completed",
    conclusion: str | None = "failure",
    run_id: int = 9_876_543_210,
    head_sha: str = "c0ffee" + "0" * 34,
    name: str = "CI",
    display_title: str | None = "Make the parser accept empty lines",
    head_commit_message: str = "Make the parser accept empty lines\n\nLonger description.",
    head_repo: str | None = None,
) -> dict[str, Any]:
    """A ``workflow_run`` webhook body as GitHub sends it (the fields Nightshift reads, and a few more).

    ``head_repo``: the repository the run's branch lives in (a fork's full name for a fork's PR).
    """
    owner = repo.split("/")[0]

    def repository(full_name: str) -> dict[str, Any]:
        return {
            "id": abs(hash(full_name)) % 10_000,
            "name": full_name.split("/")[1],
            "full_name": full_name,
            "private": False,
            "owner": {"login": full_name.split("/")[0], "type": "Organization"},
            "html_url": f"https://github.com/{full_name}",
            "default_branch": default_branch,
        }

    run: dict[str, Any] = {
        "id": run_id,
        "name": name,
        "node_id": "WFR_kwLOB",
        "head_branch": head_branch,
        "head_sha": head_sha,
        "path": ".github/workflows/ci.yml",
        "run_number": 562,
        "event": "push",
        "status": status,
        "conclusion": conclusion,
        "workflow_id": 159038,
        "check_suite_id": 414944374,
        "run_attempt": 1,
        "url": f"https://api.github.com/repos/{repo}/actions/runs/{run_id}",
        "html_url": f"https://github.com/{repo}/actions/runs/{run_id}",
        "created_at": _TIME,
        "updated_at": _TIME,
        "run_started_at": _TIME,
        "pull_requests": [],
        "head_commit": {
            "id": head_sha,
            "tree_id": head_sha,
            "message": head_commit_message,
            "timestamp": _TIME,
            "author": {"name": "Octo Cat", "email": "octocat@github.com"},
        },
        "repository": repository(repo),
        "head_repository": repository(head_repo or repo),
    }
    if display_title is not None:
        run["display_title"] = display_title
    return {
        "action": action,
        "workflow_run": run,
        "workflow": {"id": 159038, "name": name, "path": ".github/workflows/ci.yml", "state": "active"},
        "repository": repository(repo),
        "organization": {"login": owner},
        "sender": {"login": "octocat", "type": "User"},
    }
