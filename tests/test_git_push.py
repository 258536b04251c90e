"""GitRepo.push against a bare origin, credential redaction, and branch_name."""

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from demo.playground import Playground
from gitrepo import CommitSpec, GitRepo, branch_name
from gitrepo.errors import GitError
from tests.git_fixtures import AUTHOR, ISOLATED_ENV, git, playground_fixture, repo_fixture  # noqa: F401 (fixtures)

SECRET = "ghs_S3cretTokenValue"


class _Unauthorised(BaseHTTPRequestHandler):
    """A git host that rejects every request, as one does for a bad or missing token."""

    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def rejecting_host() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a local server answering 401 to everything."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Unauthorised)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def commit_fix(repo: GitRepo, branch: str, base: str, name: str = "FIX.md") -> str:
    """Commit a new one-line file ``name`` on ``branch`` on top of ``base``; return the new tip."""
    header = f"diff --git a/{name} b/{name}\nnew file mode 100644\n"
    diff = f"{header}--- /dev/null\n+++ b/{name}\n@@ -0,0 +1 @@\n+x\n"
    return (await repo.commit_on_branch(branch, base, [CommitSpec("Fix", diff)], author=AUTHOR))[-1]


def origin_head(playground: Playground, branch: str) -> str:
    return git(playground.origin, "rev-parse", f"refs/heads/{branch}").strip()


async def test_push_lands_the_branch_in_origin_and_is_idempotent(
    repo: GitRepo, playground: Playground
) -> None:
    branch = branch_name("PROJ-1", "r1")
    tip = await commit_fix(repo, branch, await repo.sync())

    assert await repo.push(branch) is True
    assert await repo.push(branch) is True  # replayed: already there

    assert origin_head(playground, branch) == tip


async def test_push_after_a_revision_fast_forwards_origin(repo: GitRepo, playground: Playground) -> None:
    branch = branch_name("PROJ-1", "r1")
    first = await commit_fix(repo, branch, await repo.sync())
    await repo.push(branch)

    second = await commit_fix(repo, branch, first, name="REVIEWED.md")
    await repo.push(branch)

    assert origin_head(playground, branch) == second


async def test_push_refuses_to_overwrite_a_branch_someone_else_moved(
    repo: GitRepo, playground: Playground, tmp_path: Path
) -> None:
    branch = branch_name("PROJ-1", "r1")
    base = await repo.sync()
    await commit_fix(repo, branch, base)
    await repo.push(branch)
    # A reviewer pushes to our branch from their own clone.
    other = tmp_path / "reviewer"
    git(tmp_path, "clone", "--quiet", "--branch", branch, str(playground.origin), str(other))
    (other / "REVIEW.md").write_text("reviewer's commit\n")
    git(other, "add", "REVIEW.md")
    git(other, "commit", "--quiet", "-m", "Reviewer commit")
    git(other, "push", "--quiet", "origin", branch)
    theirs = origin_head(playground, branch)
    # Meanwhile our branch is rewritten (not on top of theirs).
    git(playground.repo, "update-ref", f"refs/heads/{branch}", base)
    await commit_fix(repo, branch, base, name="OTHER.md")

    with pytest.raises(GitError, match=r"(?s)^`git push .*` failed with exit code 1: .*\(stale info\)"):
        await repo.push(branch)

    assert origin_head(playground, branch) == theirs


async def test_push_without_origin_returns_false(repo: GitRepo, playground: Playground) -> None:
    git(playground.repo, "remote", "remove", "origin")
    branch = branch_name("PROJ-1", "r1")
    await commit_fix(repo, branch, git(playground.repo, "rev-parse", "HEAD").strip())

    assert await repo.push(branch) is False


async def test_push_of_a_missing_branch_is_a_clear_error(repo: GitRepo) -> None:
    with pytest.raises(GitError, match=r"there is no branch 'fix/nothing' .* to push"):
        await repo.push("fix/nothing")


@pytest.mark.parametrize("userinfo", [f"x-access-token:{SECRET}", SECRET])
async def test_a_token_in_the_remote_url_never_reaches_an_error_or_a_log(
    playground: Playground, rejecting_host: str, userinfo: str, caplog: pytest.LogCaptureFixture
) -> None:
    repo = GitRepo(playground.repo, env=ISOLATED_ENV)
    branch = branch_name("PROJ-1", "r1")
    await commit_fix(repo, branch, await repo.sync())
    url = rejecting_host.replace("://", f"://{userinfo}@") + "/o.git"
    git(playground.repo, "remote", "set-url", "origin", url)
    caplog.set_level(logging.DEBUG, logger="workflow")

    with pytest.raises(GitError) as pushed:
        await repo.push(branch)
    with pytest.raises(GitError) as synced:
        await repo.sync()

    for error in (pushed.value, synced.value):
        text = " ".join((str(error), error.stderr, error.command or ""))
        assert SECRET not in text
        assert "127.0.0.1" in text  # the message still says where it failed
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    "key, run_id",
    [
        ("PROJ-1", "a1b2c3"),
        ("PROJ 1/..", "run 1"),
        ("Ünïcödé-42 ✓", "r"),
        ("..lock", "x.lock"),
        ("修复", "@{-1}"),
        ("a" * 300, "run"),
        ("", ""),
    ],
)
def test_branch_name_is_a_valid_deterministic_ref(key: str, run_id: str) -> None:
    name = branch_name(key, run_id)

    assert name == branch_name(key, run_id)
    assert name.startswith("fix/")
    assert len(name) < 150
    git(Path.cwd(), "check-ref-format", f"refs/heads/{name}")


def test_branch_name_keeps_clean_keys_and_separates_mangled_ones() -> None:
    assert branch_name("PROJ-1", "a1b2c3") == "fix/PROJ-1-a1b2c3"
    assert branch_name("Ünïcödé-42", "r").startswith("fix/Unicode-42-")
    assert branch_name("PROJ 1", "r") != branch_name("PROJ/1", "r")
    assert branch_name("web - login / 500", "r").startswith("fix/web-login-500-")
