"""The history and the scripted agents of the backtest tests: a small ``calc`` package whose three
functions are each fixed by a later commit that adds a test, and the turns that play the agents."""

from pathlib import Path
from typing import Any

import pytest

from client.scripted import ScriptedCall, Turn
from demo.playground import environment_toml
from tests.git_fixtures import commit_files, git

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


def pr(function: str, *, faults: tuple[str, ...] = ()) -> Turn:
    call = ScriptedCall(
        name="submit_pr",
        arguments={
            "title": f"Fix {function}()",
            "body": f"{function}() returned a wrong value; now it does not.",
        },
    )
    return Turn(content="Calling submit_pr.", tool_calls=[call], faults=list(faults))


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
