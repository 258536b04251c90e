"""A backtest case cannot peek at its answer, and a commit is skipped for the right reason.

The history of ``tests.backtest_fixtures``: ``add`` is fixed by a commit that later commits follow. In
the case of that fix, the code agent asks git everything through the shell tool, in its sandbox, and
the test agent's tests ask it again in the verifier's: nothing after the parent is there.
"""

import json
from pathlib import Path

import pytest

from backtest.cases import REASONS, Case, Checker, Skipped, qualify
from client.scripted import ScriptedModelServer
from config import Settings
from demo.playground import SAMPLE_ENVIRONMENT
from gitrepo import GitRepo
from main import cli
from tests.backtest_fixtures import BUGGY, FIXED, OPS, build_history, configure, fix, pr, triage, turn
from tests.git_fixtures import commit_files, git
from tests.git_probe import Probe, probe_command, reachable

pytest_plugins = ["tests.model_fixtures"]

DOCS = Path(__file__).resolve().parent.parent / "docs" / "backtest.md"


def probing_tests(parent_commits: set[str], later: list[str]) -> str:
    """The test agent's tests: the regression test, and one that fails if the verifier's sandbox shows
    any commit other than the parent's history."""
    return (
        "import subprocess\n\nfrom calc.ops import add\n\n\n"
        "def test_add_adds():\n    assert add(2, 3) == 5\n\n\n"
        "def git(*args):\n"
        "    return subprocess.run(['git', *args], capture_output=True, text=True)\n\n\n"
        "def test_nothing_after_the_parent_is_in_the_repository():\n"
        f"    for sha in {later!r}:\n"
        "        assert git('cat-file', '-e', sha).returncode != 0, sha\n"
        f"    assert set(git('log', '--all', '--format=%H').stdout.split()) == {parent_commits!r}\n"
        f"    assert set(git('rev-list', '--all').stdout.split()) == {parent_commits!r}\n"
        "    assert git('for-each-ref').stdout == ''\n"
    )


def test_a_cases_agents_and_verifier_see_nothing_after_its_parent(
    tmp_path: Path, scripted_server: ScriptedModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _, shas = build_history(tmp_path)
    parent = shas["start"]
    later = [shas[name] for name in ("add", "docs", "clamp", "mean")]
    commits, objects = reachable(repo, parent)
    tests = "tests/test_add_regression.py"
    scripted_server.load(
        {
            "triage agent": [triage("add")],
            "code agent": [turn("shell", command=probe_command(*later)), *fix(BUGGY["add"], FIXED["add"])],
            "test agent": [
                turn("write_file", path=tests, content=probing_tests(commits, later)),
                turn(
                    "submit_tests",
                    test_files=[tests],
                    test_names=[f"{tests}::test_add_adds"],
                    notes="Fails on the current code.",
                ),
            ],
            "PR agent": [pr("add")],
        }
    )
    configure(monkeypatch, tmp_path, repo, scripted_server.base_url)
    report = tmp_path / "backtest.json"

    assert cli(["backtest", "--commit", shas["add"], "--json", str(report)]) == 0

    said = [
        message["content"]
        for request in scripted_server.requests
        for message in request.body["messages"]
        if message["role"] == "tool" and "--- end" in str(message["content"])
    ]
    assert said, "the code agent's probe ran"
    probe = Probe.parse(said[0])
    assert probe.visible == []
    assert probe.commits == commits
    assert probe.objects == objects, "the object store holds exactly the parent's history"
    assert probe.sections["refs"] == []
    assert probe.remembering == [], probe.sections["files"]
    case = json.loads(report.read_text())["cases"][0]
    assert (case["verdict"], case["outcome"]) == ("verified", "confirmed"), case["run_detail"]


async def test_a_cases_repository_holds_the_parent_and_its_history_only(tmp_path: Path) -> None:
    repo, _, shas = build_history(tmp_path)
    git(repo, "tag", "v1", shas["mean"])

    case = await GitRepo.holding_only(repo, shas["clamp"], tmp_path / "case" / "calc")

    commits, objects = reachable(repo, shas["clamp"])
    assert set(git(case.path, "rev-list", "--all").split()) == commits
    held = git(case.path, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)").split()
    assert set(held) == objects
    assert (
        git(case.path, "for-each-ref", "--format=%(refname) %(objectname)")
        == f"refs/heads/main {shas['clamp']}\n"
    )
    assert git(case.path, "remote") == "" and git(case.path, "reflog", "--all") == ""
    assert (
        not (case.path / ".git" / "FETCH_HEAD").exists() and not (case.path / ".git" / "packed-refs").exists()
    )


BROKEN_PARENT = {
    "calc/__init__.py": "",
    OPS: "def add(a, b):\n    return a - b\n",
    "tests/test_one.py": "import missing_dependency\n\n\ndef test_one():\n    assert True\n",
    "tests/test_two.py": "import missing_dependency\n\n\ndef test_two():\n    assert True\n",
}
FAILING_PARENT = {
    "calc/__init__.py": "",
    OPS: "def add(a, b):\n    return a - b\n",
    "tests/test_one.py": "def test_one():\n    assert 1 == 2\n\n\ndef test_two():\n    assert True\n",
}


@pytest.mark.parametrize(
    ("parent", "reason"),
    [
        (BROKEN_PARENT, "the parent's suite cannot run in the repository's environment"),
        (FAILING_PARENT, "the parent's existing suite fails"),
    ],
    ids=["cannot-collect", "fails"],
)
async def test_a_commit_whose_parent_suite_does_not_pass_is_skipped_for_that_reason(
    tmp_path: Path, parent: dict[str, str], reason: str
) -> None:
    path = tmp_path / "calc"
    path.mkdir()
    git(path, "init", "--quiet", "--initial-branch", "main")
    commit_files(path, parent, "Start calc")
    fixed = commit_files(
        path,
        {OPS: "def add(a, b):\n    return a + b\n", "tests/test_add.py": "from calc.ops import add\n\n\n"
         "def test_add():\n    assert add(2, 3) == 5\n"},
        "add() subtracts",
    )  # fmt: skip
    repo = GitRepo(path)
    [commit] = await repo.past_commits([fixed], walk=False)
    settings = Settings(environment=SAMPLE_ENVIRONMENT)
    checker = await Checker.start(repo, settings, tmp_path / "state")

    picked = await qualify(checker, commit)

    assert isinstance(picked, Skipped) and not isinstance(picked, Case)
    assert picked.reason == reason, picked.detail


def test_every_skip_reason_is_documented() -> None:
    documented = DOCS.read_text()
    assert [reason for reason in REASONS if f"`{reason}`" not in documented] == []
