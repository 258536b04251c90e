"""GitHubForge through the real PyGithub client against the fake GitHub API on 127.0.0.1."""

import logging
from collections.abc import Iterator

import pytest

from integrations.base import IntegrationError, PullRequestRef
from integrations.github import GitHubForge
from tests.fakes.github import FakeGitHub

TOKEN = "ghp_" + "T0kenValue" * 4
BRANCH = "fix/PROJ-7-run42"
PULLS = "/repos/acme/service/pulls"


@pytest.fixture
def fake() -> FakeGitHub:
    return FakeGitHub(owner="acme", name="service", default_branch="trunk", token=TOKEN)


@pytest.fixture
def api_url(fake: FakeGitHub) -> Iterator[str]:
    with fake.serve() as server:
        yield server.url


async def _open(forge: GitHubForge) -> PullRequestRef:
    return await forge.open_pull_request(
        run_id="run42",
        branch=BRANCH,
        title="Fix: keep empty lines",
        body="Root cause: ...",
        diff="--- a\n+++ b\n",
        draft=True,
        labels=["nightshift", "bug"],
    )


async def test_opens_a_draft_pull_request_with_labels_against_the_default_branch(
    fake: FakeGitHub, api_url: str
) -> None:
    forge = GitHubForge(token=TOKEN, repo="acme/service", api_url=api_url)

    ref = await forge.open_pull_request(
        run_id="run42",
        branch=BRANCH,
        title="Fix: keep empty lines",
        body="Root cause: ...",
        diff="",
        draft=True,
        labels=["nightshift", "bug"],
    )

    assert (ref.number, ref.created) == (1, True)
    assert ref.url == f"{api_url}/acme/service/pull/1"
    [create] = fake.calls_to(f"POST {PULLS}")
    assert create.body == {
        "base": "trunk",
        "head": BRANCH,
        "title": "Fix: keep empty lines",
        "body": "Root cause: ...",
        "draft": True,
    }
    [labels] = fake.calls_to("POST /repos/acme/service/issues/1/labels")
    assert labels.body == ["nightshift", "bug"]
    assert fake.pulls[0]["labels"] == ["nightshift", "bug"] and fake.pulls[0]["draft"] is True
    assert {call.authorization for call in fake.calls} == {f"token {TOKEN}"}


async def test_a_second_call_returns_the_same_pull_request_without_creating_another(
    fake: FakeGitHub, api_url: str
) -> None:
    forge = GitHubForge(token=TOKEN, repo="acme/service", api_url=api_url)

    first = await _open(forge)
    second = await _open(forge)

    assert (second.number, second.url, second.created) == (first.number, first.url, False)
    assert len(fake.calls_to(f"POST {PULLS}")) == 1
    assert len(fake.calls_to("POST")) == 2  # the create and the labels, nothing more
    listing = fake.calls_to(f"GET {PULLS}")[-1]
    assert listing.query["head"] == f"acme:{BRANCH}" and listing.query["state"] == "open"


async def test_a_pull_request_opened_by_someone_else_meanwhile_is_returned(
    fake: FakeGitHub, api_url: str
) -> None:
    theirs = fake.race_pull(BRANCH)
    forge = GitHubForge(token=TOKEN, repo="acme/service", api_url=api_url)

    ref = await _open(forge)

    assert (ref.number, ref.created) == (theirs["number"], False)
    assert [call.status for call in fake.calls_to(f"POST {PULLS}")] == [422]
    assert len(fake.pulls) == 1 and fake.pulls[0]["labels"] == ["nightshift", "bug"]


async def test_a_branch_without_commits_gets_a_clear_error(fake: FakeGitHub, api_url: str) -> None:
    fake.no_commits = True
    forge = GitHubForge(token=TOKEN, repo="acme/service", api_url=api_url)

    with pytest.raises(IntegrationError) as caught:
        await _open(forge)

    message = str(caught.value)
    assert f"branch {BRANCH!r} has no commits on top of 'trunk'" in message
    assert "was it pushed?" in message and "acme/service" in message


async def test_opening_is_one_attempt_that_says_whether_to_try_again(fake: FakeGitHub, api_url: str) -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
    fake.fail(502, method="POST", path=PULLS, body=page)
    fake.fail(429, method="GET", path=PULLS, retry_after=30)
    forge = GitHubForge(token=TOKEN, repo="acme/service", api_url=api_url)

    with pytest.raises(IntegrationError) as limited:
        await _open(forge)
    with pytest.raises(IntegrationError) as gateway:
        await _open(forge)
    ref = await _open(forge)

    assert (limited.value.status, limited.value.retryable, limited.value.retry_after_s) == (429, True, 30.0)
    assert (gateway.value.status, gateway.value.retryable) == (502, True)
    assert "HTTP 502: 502 Bad Gateway Bad Gateway" in str(gateway.value)
    assert ref.created is True and len(fake.pulls) == 1
    assert [c.status for c in fake.calls_to(f"POST {PULLS}")] == [502, 201]  # the outbox does the retrying


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("bad token", "HTTP 401: Bad credentials [the token was refused: check GITHUB_TOKEN]"),
        ("unknown repository", "HTTP 404: Not Found [not found, or the token cannot see the repository]"),
        ("forbidden", "HTTP 403: Resource not accessible by integration"),
        ("no commits", "has no commits"),
        ("server down", "HTTP 503: Server Error"),
        ("server quotes the token", "HTTP 400: bad header Authorization: token [redacted]"),
    ],
)
async def test_errors_say_what_failed_and_never_contain_the_token(
    fake: FakeGitHub, api_url: str, caplog: pytest.LogCaptureFixture, setup: str, expected: str
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="github")  # PyGithub logs requests and response bodies
    token, repo = TOKEN, "acme/service"
    if setup == "bad token":
        fake.token = "ghp_the_right_one_is_another"
    elif setup == "unknown repository":
        repo = "acme/other"
    elif setup == "forbidden":
        fake.fail(403, path=PULLS, message="Resource not accessible by integration")
    elif setup == "no commits":
        fake.no_commits = True
    elif setup == "server down":
        fake.fail(503, times=10)
    else:
        fake.fail(400, message=f"bad header Authorization: token {TOKEN}")
    forge = GitHubForge(token=token, repo=repo, api_url=api_url)

    with pytest.raises(IntegrationError) as caught:
        await _open(forge)

    assert expected in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert TOKEN not in caplog.text
    assert caplog.records  # the clients did log (PyGithub: request and response, masked)
    if setup == "server quotes the token":
        assert "[redacted]" in caplog.text  # PyGithub logged the response body, with the token redacted


async def test_github_enterprise_base_url_works(fake: FakeGitHub, api_url: str) -> None:
    forge = GitHubForge(token=TOKEN, repo="acme/service", api_url=f"{api_url}/api/v3/")

    ref = await _open(forge)
    again = await _open(forge)

    assert ref.created is True and again.created is False and again.number == ref.number
    assert ref.url == f"{api_url}/acme/service/pull/1"
    assert fake.calls and {call.prefix for call in fake.calls} == {"/api/v3"}


async def test_a_run_without_a_branch_is_refused_before_any_call(fake: FakeGitHub, api_url: str) -> None:
    forge = GitHubForge(token=TOKEN, repo="acme/service", api_url=api_url)

    with pytest.raises(ValueError, match="branch"):
        await forge.open_pull_request(
            run_id="r", branch="", title="t", body="b", diff="", draft=True, labels=[]
        )
    assert fake.calls == []


async def test_latest_failed_run_is_the_newest_failure_on_the_default_branch(
    fake: FakeGitHub, api_url: str
) -> None:
    older = fake.add_run(conclusion="failure", display_title="Older failure", head_sha="a" * 40)
    fake.add_run(conclusion="success")
    fake.add_run(conclusion="failure", head_branch="feature/x")
    forge = GitHubForge(token=TOKEN, repo="acme/service", api_url=api_url)

    failure = await forge.latest_failed_run()

    assert failure is not None
    assert (failure.run_id, failure.title, failure.head_sha) == (older["id"], "Older failure", "a" * 40)
    assert (failure.repo, failure.head_branch, failure.conclusion) == ("acme/service", "trunk", "failure")
    assert failure.run_url == f"{api_url}/acme/service/actions/runs/{older['id']}"
    [listing] = fake.calls_to("GET /repos/acme/service/actions/runs")
    assert listing.query == {"branch": "trunk", "status": "failure", "per_page": "1"}


async def test_latest_failed_run_is_none_without_failures(fake: FakeGitHub, api_url: str) -> None:
    fake.add_run(conclusion="success")
    forge = GitHubForge(token=TOKEN, repo="acme/service", api_url=api_url)

    assert await forge.latest_failed_run() is None
