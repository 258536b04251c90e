"""``nightshift backtest`` end to end: real git history, real sandbox and pytest, the real pipeline and
CLI, the scripted model at the HTTP boundary, and Slack, GitHub and Jira fakes that must hear nothing.

The history: three fixes that each change ``calc/ops.py`` and add a test, and a README-only commit.
The model plays the upstream fix for ``add``, a wrong fix with a weak test of its own for ``clamp``
(Nightshift calls it verified; the upstream tests show it is not), and gives up on ``mean``.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from client.scripted import ScriptedCall, ScriptedModelServer, Turn
from demo.fake_slack import FakeSlack
from demo.playground import environment_toml
from main import cli
from tests.fakes.github import FakeGitHub
from tests.fakes.jira import EMAIL, FakeJira
from tests.git_fixtures import commit_files, git

pytest_plugins = ["tests.model_fixtures"]

OPS = "calc/ops.py"
EXISTING_TESTS = (
    "from calc.ops import add, clamp, mean\n\n\n"
    "def test_add_zero():\n    assert add(0, 0) == 0\n\n\n"
    "def test_clamp_inside():\n    assert clamp(5, 0, 10) == 5\n\n\n"
    "def test_mean_even():\n    assert mean([2, 4]) == 3\n"
)
BUGGY = {
    "add": "    return a - b\n",
    "clamp": "    return max(lo, x)\n",
    "mean": "    return sum(xs) // len(xs)\n",
}
FIXED = {
    "add": "    return a + b\n",
    "clamp": "    return min(hi, max(lo, x))\n",
    "mean": "    return sum(xs) / len(xs)\n",
}
WRONG_CLAMP = "    return min(hi, x)\n"
"""Keeps values under the upper bound, but no longer raises them to the lower one."""
CONFIG = """
[model]
name = "scripted-backtest"
max_attempts = 2
backoff_base_s = 0.01
[model.pricing.scripted-backtest]
input = 1.0
output = 4.0
[tools]
test_timeout_s = 60
[workflow]
max_fix_attempts = 1
max_concurrent_runs = 2
"""


def ops(*fixed: str) -> str:
    lines = {name: FIXED[name] if name in fixed else BUGGY[name] for name in BUGGY}
    return (
        f"def add(a, b):\n{lines['add']}\n\n"
        f"def clamp(x, lo, hi):\n{lines['clamp']}\n\n"
        f"def mean(xs):\n{lines['mean']}"
    )


def regression_test(name: str, *checks: str) -> str:
    body = "".join(f"    assert {check}\n" for check in checks)
    return f"from calc.ops import {name}\n\n\ndef test_{name}():\n{body}"


def build_history(root: Path) -> tuple[Path, Path, dict[str, str]]:
    """The repository (with a bare origin) and its commits by name."""
    repo = root / "calc"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch", "main")
    shas = {
        "start": commit_files(
            repo,
            {"calc/__init__.py": "", "conftest.py": "", OPS: ops(), "tests/test_ops.py": EXISTING_TESTS},
            "Start calc",
        ),
        "add": commit_files(
            repo,
            {OPS: ops("add"), "tests/test_add.py": regression_test("add", "add(2, 3) == 5")},
            "add() subtracts\n\nadd(2, 3) returns -1.",
        ),
        "docs": commit_files(
            repo, {"README.md": "# calc\n\nclamp(x, lo, hi) keeps x in [lo, hi].\n"}, "Document clamp"
        ),
        "clamp": commit_files(
            repo,
            {
                OPS: ops("add", "clamp"),
                "tests/test_clamp.py": regression_test(
                    "clamp", "clamp(11, 0, 9) == 9", "clamp(-3, 0, 9) == 0"
                ),
            },
            "clamp() ignores its upper bound\n\nclamp(11, 0, 10) returns 11.",
        ),
        "mean": commit_files(
            repo,
            {
                OPS: ops("add", "clamp", "mean"),
                "tests/test_mean.py": regression_test("mean", "mean([1, 2]) == 1.5"),
            },
            "mean() truncates\n\nmean([1, 2]) returns 1.",
        ),
    }
    origin = root / "origin.git"
    git(root, "clone", "--quiet", "--bare", str(repo), str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "fetch", "--quiet", "origin")
    git(repo, "branch", "--quiet", "--set-upstream-to", "origin/main")
    return repo, origin, shas


def turn(name: str, **arguments: Any) -> Turn:
    return Turn(content=f"Calling {name}.", tool_calls=[ScriptedCall(name=name, arguments=arguments)])


GIVE_UP = [Turn(content="I cannot tell what is wrong here."), Turn(content="I give up on this one.")]
"""One agent run that stops without submitting, even after the nudge."""


def triage(function: str) -> Turn:
    return turn(
        "submit_triage",
        priority="P3",
        component="calc.ops",
        affected_files=[OPS],
        acceptance_criteria=[f"{function}() returns the right value."],
        edge_cases=["Negative numbers."],
        summary=f"{function}() returns a wrong value.",
    )


def fix(old: str, new: str) -> list[Turn]:
    submit = turn(
        "submit_fix",
        root_cause="The function computes the wrong value.",
        explanation="The function now computes the right value.",
    )
    return [turn("edit_file", path=OPS, old_text=old, new_text=new), submit, submit]  # check, then submit


def written_tests(path: str, name: str, *checks: str) -> list[Turn]:
    return [
        turn("write_file", path=path, content=regression_test(name, *checks)),
        turn(
            "submit_tests",
            test_files=[path],
            test_names=[f"{path}::test_{name}"],
            notes="The test fails on the current code.",
        ),
    ]


def pr(function: str) -> Turn:
    return turn(
        "submit_pr", title=f"Fix {function}()", body=f"{function}() returned a wrong value; now it does not."
    )


def scripts() -> dict[str, list[Turn]]:
    """The three cases in the order they run (newest commit first): mean, clamp, add."""
    return {
        "triage agent": [triage("mean"), triage("clamp"), triage("add")],
        "code agent": [
            *GIVE_UP,
            *GIVE_UP,  # the self-correction run after "no fix" gives up too
            *fix(BUGGY["clamp"], WRONG_CLAMP),
            *fix(BUGGY["add"], FIXED["add"]),
        ],
        "test agent": [
            *GIVE_UP,
            *written_tests("tests/test_clamp_upper.py", "clamp", "clamp(11, 0, 10) == 10"),  # too weak
            *written_tests("tests/test_add_regression.py", "add", "add(2, 3) == 5"),
        ],
        "PR agent": [pr("mean"), pr("clamp"), pr("add")],
    }


def snapshot(repo: Path, origin: Path) -> dict[str, str]:
    return {
        "refs": git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
        "head": git(repo, "rev-parse", "HEAD") + git(repo, "symbolic-ref", "HEAD"),
        "status": git(repo, "status", "--porcelain", "--ignored"),
        "worktrees": git(repo, "worktree", "list", "--porcelain"),
        "remotes": git(repo, "remote", "-v"),
        "origin": git(origin, "for-each-ref", "--format=%(refname) %(objectname)"),
    }


def configure(monkeypatch: pytest.MonkeyPatch, root: Path, repo: Path, model: str) -> None:
    config = root / "nightshift.toml"
    config.write_text(CONFIG + environment_toml())
    for name, value in {
        "NIGHTSHIFT_CONFIG": str(config),
        "NIGHTSHIFT_REPO": str(repo),
        "NIGHTSHIFT_DATA_DIR": str(root / "state"),
        "OPENAI_API_KEY": "sk-scripted",
        "OPENAI_BASE_URL": model,
    }.items():
        monkeypatch.setenv(name, value)


def test_backtest_reports_fixed_false_verified_and_given_up_cases_and_changes_nothing(
    tmp_path: Path, scripted_server: ScriptedModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, origin, shas = build_history(tmp_path)
    scripted_server.load(scripts())
    configure(monkeypatch, tmp_path, repo, scripted_server.base_url)
    before = snapshot(repo, origin)
    github = FakeGitHub(token="ghp-backtest")
    with FakeSlack() as slack, FakeJira() as jira, github.serve() as github_server:
        for name, value in {
            "SLACK_BOT_TOKEN": "xoxb-fake-bot-token",
            "SLACK_SIGNING_SECRET": "signing",
            "SLACK_CHANNEL": "C0INCIDENTS",
            "SLACK_API_URL": slack.api_url,
            "GITHUB_TOKEN": "ghp-backtest",
            "GITHUB_REPO": github.full_name,
            "GITHUB_API_URL": github_server.url,
            "JIRA_API_TOKEN": "jira-token",
            "JIRA_BASE_URL": jira.url,
            "JIRA_EMAIL": EMAIL,
        }.items():
            monkeypatch.setenv(name, value)
        report_file = tmp_path / "backtest.json"
        code = cli(["backtest", "--commits", f"{shas['start']}..main", "--json", str(report_file)])
        assert (slack.calls, jira.calls, github.calls) == ([], [], [])

    assert code == 0
    report = json.loads(report_file.read_text())
    outcomes = {case["commit"]: (case["outcome"], case["verdict"], case["fixed"]) for case in report["cases"]}
    assert outcomes == {
        shas["add"]: ("fixed", "verified", True),
        shas["clamp"]: ("false_verified", "verified", False),
        shas["mean"]: ("unfixed", "no_fix", False),
    }
    assert [(s["commit"], s["reason"]) for s in report["skipped"]] == [(shas["docs"], "no test change")]
    totals = report["totals"]
    counted = ("cases", "fixed", "verified", "false_verified", "agreed")
    assert [totals[name] for name in counted] == [3, 1, 2, 1, 2]
    add = next(case for case in report["cases"] if case["commit"] == shas["add"])
    assert add["against_upstream"] == "" and add["cost_usd"] > 0 and add["input_tokens"] > 0
    assert add["times"]["total_s"] >= add["times"]["agents_s"] + add["times"]["verification_s"] > 0
    clamp = next(case for case in report["cases"] if case["commit"] == shas["clamp"])
    assert "min(hi, x)" in clamp["against_upstream"] and "still fail" in clamp["judge_detail"]
    assert not report["scripted_model"] and any("ignored" in note for note in report["notes"])

    markdown = next((tmp_path / "state" / "backtests").glob("*/report.md")).read_text()
    assert "FALSE VERIFIED" in markdown and "no test change" in markdown and "min(hi, x)" in markdown
    assert snapshot(repo, origin) == before


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["--commits", "main..no-such-branch"], "git cannot read 'main..no-such-branch'"),
        (["--commit", "0123456789abcdef0123456789abcdef01234567"], "git cannot read"),
        (["--commits", "main..main"], "names no commit"),
        (["--commits=--all"], "is not a revision"),
    ],
)
def test_backtest_refuses_a_bad_range_with_the_reason_and_changes_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    said: str,
) -> None:
    repo, origin, _ = build_history(tmp_path)
    configure(monkeypatch, tmp_path, repo, "http://127.0.0.1:9/v1")
    before = snapshot(repo, origin)
    assert cli(["backtest", *arguments]) == 2
    assert said in capsys.readouterr().err.replace("\n", "")
    assert snapshot(repo, origin) == before and not (tmp_path / "state").exists()


@pytest.mark.parametrize(
    "arguments", [["--jobs", "0"], ["--limit", "x"], ["--commits", "a..b", "--commit", "c"]]
)
def test_backtest_refuses_bad_options(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli(["backtest", *arguments])
    assert exited.value.code == 2 and "nightshift backtest: error:" in capsys.readouterr().err
