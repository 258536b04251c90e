"""What ``/git`` shows an agent of an ordinary run: the history of its base commit and its own worktree,
nothing of the repository's other branches, asked through the real shell tool in the real sandbox."""

from pathlib import Path

from config import Policy, SafetySettings
from demo.playground import Playground
from gitrepo import CommitSpec, GitRepo
from tests.git_fixtures import commit_files, git, playground_fixture  # noqa: F401 (fixtures)
from tests.git_probe import Probe, probe_command, reachable
from tests.tools_fixtures import make_context
from tools import ToolContext, builtin_registry

AUTHOR = "Nightshift Bot <bot@nightshift.invalid>"
SERVICE = "todo/service.py"


async def shell(ctx: ToolContext, command: str) -> str:
    outcome = await builtin_registry().select(["shell"])[0].invoke(ctx, {"command": command, "timeout": 120})
    assert not outcome.is_error, outcome.text
    return outcome.text


async def busy_repository(playground: Playground, tmp_path: Path) -> tuple[GitRepo, str, dict[str, str]]:
    """The playground's clone as a busy worker's looks: a previous run's fix branch (pushed), someone's
    unrelated branch (fetched), a tag, packed refs, ``ORIG_HEAD``, ``FETCH_HEAD``, reflogs, and another
    run's agent still at work in its worktree at the fix. Returns the clone, the base commit of the
    next run, and the commits it must not see, by name."""
    repo = GitRepo(playground.repo)
    base = await repo.sync()
    previous = await repo.add_worktree(tmp_path / "state/worktrees/run-1/code", base)
    (previous / SERVICE).write_text((previous / SERVICE).read_text() + "\n# the answer to INC-1\n")
    fix = await repo.worktree_diff(previous, base, include=lambda _: True)
    [fixed] = await repo.commit_on_branch(
        "fix/INC-1-run1", base, [CommitSpec("Fix INC-1: the secret answer", fix)], author=AUTHOR
    )
    await repo.push("fix/INC-1-run1")
    other = tmp_path / "someone"
    git(playground.origin.parent, "clone", "--quiet", str(playground.origin), str(other))
    git(other, "checkout", "--quiet", "-b", "feature/secret-plans")
    plans = commit_files(other, {"PLANS.md": "the secret plans\n"}, "Secret plans")
    git(other, "push", "--quiet", "origin", "feature/secret-plans")
    assert await repo.sync() == base  # fetches the branch: a remote-tracking ref and FETCH_HEAD name it
    git(playground.repo, "tag", "v9-later", fixed)
    git(playground.repo, "update-ref", "ORIG_HEAD", plans)
    git(playground.repo, "pack-refs", "--all")
    await repo.add_worktree(tmp_path / "state/worktrees/run-2/code", fixed)  # another run's agent
    return repo, base, {"previous run's fix": fixed, "unrelated branch": plans}


async def test_an_agent_sees_only_its_base_history_and_its_own_worktree(
    playground: Playground, tmp_path: Path
) -> None:
    repo, base, hidden = await busy_repository(playground, tmp_path)
    worktree = await repo.add_worktree(tmp_path / "state/worktrees/run-3/code", base)
    ctx = make_context(worktree, tmp_path / "state", safety=SafetySettings(policy=Policy.AUTO))

    probe = Probe.parse(await shell(ctx, probe_command(*hidden.values())))

    commits, objects = reachable(playground.repo, base)
    assert probe.visible == []
    assert probe.commits == commits
    assert probe.objects == objects, "the object store holds exactly the base commit's history"
    assert probe.sections["refs"] == []
    assert probe.remembering == [], probe.sections["files"]
    assert "./worktrees/workspace/HEAD" in probe.sections["files"]
    assert "secret" not in (await shell(ctx, "cat /git/config /git/info/exclude /git/HEAD")).lower()


async def test_git_still_works_in_the_sandbox_on_the_base_history(
    playground: Playground, tmp_path: Path
) -> None:
    repo, base, _ = await busy_repository(playground, tmp_path)
    worktree = await repo.add_worktree(tmp_path / "state/worktrees/run-3/code", base)
    (worktree / SERVICE).write_text((worktree / SERVICE).read_text().replace("not todo.completed", "True"))
    (worktree / "NOTES.md").write_text("new\n")
    ctx = make_context(worktree, tmp_path / "state")

    said = await shell(
        ctx,
        "git log --format=%H -1; git status --short; git diff --stat; "
        f"git blame --porcelain {SERVICE} | head -1; "
        "git add -A && git diff --cached --name-only; git worktree list --porcelain | head -1",
    )

    lines = said.splitlines()
    assert lines[0] == "exit code 0"
    assert lines[1] == base
    assert lines[2:4] == [f" M {SERVICE}", "?? NOTES.md"]
    assert lines[4].strip().startswith(SERVICE) and "1 file changed" in lines[5]
    assert lines[6].split()[0] in reachable(playground.repo, base)[0]  # blame names a commit of the history
    assert lines[7:9] == ["NOTES.md", SERVICE]
    assert git(worktree, "status", "--short") == f" M {SERVICE}\n?? NOTES.md\n", "the staging stayed inside"
    assert git(worktree, "diff", "--cached") == ""
