"""``nightshift backtest`` end to end: real git history, real sandbox and pytest, the real pipeline and
CLI, the scripted model at the HTTP boundary, and Slack, GitHub and Jira fakes that must hear nothing.

The history: three fixes that each change ``calc/ops.py`` and add a test, and a README-only commit.
The model plays the upstream fix for ``add``, a wrong fix with a weak test of its own for ``clamp``
(Nightshift calls it verified; the upstream tests show it is not), and gives up on ``mean``.
"""

import io
import json
import sys
from pathlib import Path

import pytest

from client.scripted import ScriptedModelServer, Turn
from demo.fake_slack import FakeSlack
from main import cli
from tests.backtest_fixtures import (
    BUGGY,
    FIXED,
    GIVE_UP,
    WRONG_CLAMP,
    build_history,
    configure,
    fix,
    pr,
    snapshot,
    triage,
    written_tests,
)
from tests.fakes.github import FakeGitHub
from tests.fakes.jira import EMAIL, FakeJira

pytest_plugins = ["tests.model_fixtures"]


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
        "PR agent": [pr("mean", faults=("server_error",)), pr("clamp"), pr("add")],  # one retried call
    }


def test_backtest_reports_each_outcome_in_one_vocabulary_and_changes_nothing(
    tmp_path: Path,
    scripted_server: ScriptedModelServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, origin, shas = build_history(tmp_path)
    scripted_server.load(scripts())
    configure(monkeypatch, tmp_path, repo, scripted_server.base_url)
    monkeypatch.setenv("COLUMNS", "220")
    stdout = io.StringIO()  # the terminal (not capsys: DBOS's log handler would keep its closed stream)
    monkeypatch.setattr(sys, "stdout", stdout)
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
        shas["add"]: ("confirmed", "verified", True),
        shas["clamp"]: ("false_verified", "verified", False),
        shas["mean"]: ("unfixed", "no_fix", False),
    }
    assert [(s["commit"], s["reason"]) for s in report["skipped"]] == [(shas["docs"], "no test change")]
    totals = report["totals"]
    counted = ("cases", "fixed", "verified", "false_verified", "agreed")
    assert [totals[name] for name in counted] == [3, 1, 2, 1, 2]
    assert totals["outcomes"] == {"confirmed": 1, "unproven": 0, "unfixed": 1, "false_verified": 1}
    add = next(case for case in report["cases"] if case["commit"] == shas["add"])
    assert add["against_upstream"] == "" and add["cost_usd"] > 0 and add["input_tokens"] > 0
    assert add["times"]["total_s"] >= add["times"]["agents_s"] + add["times"]["verification_s"] > 0
    assert totals["qualification_s"] > 0, "qualifying four commits ran their suites"
    assert totals["wall_s"] >= totals["qualification_s"] + totals["time_s_total"], "the cases ran after it"
    clamp = next(case for case in report["cases"] if case["commit"] == shas["clamp"])
    assert "min(hi, x)" in clamp["against_upstream"] and "still fail" in clamp["judge_detail"]
    assert not report["scripted_model"] and any("ignored" in note for note in report["notes"])
    assert snapshot(repo, origin) == before

    terminal = stdout.getvalue()
    markdown = next((tmp_path / "state" / "backtests").glob("*/report.md")).read_text()
    assert "no test change" in markdown and "min(hi, x)" in markdown
    for case in report["cases"]:
        row = next(line for line in terminal.splitlines() if case["commit"][:8] in line)
        assert case["outcome"] in row.split(), (case["outcome"], row)
        md_row = next(line for line in markdown.splitlines() if line.startswith(f"| `{case['commit'][:10]}`"))
        assert f"`{case['outcome']}`" in md_row.split(" | "), (case["outcome"], md_row)
    for text in (" ".join(terminal.split()), " ".join(markdown.split())):  # as read, however wrapped
        for retired in (
            "fixed, verified",
            "fixed, not verified",
            "not fixed",
            "FALSE VERIFIED",
            "false verified",
        ):
            assert retired not in text
        assert "3 cases: confirmed 1, unproven 0, unfixed 1, false_verified 1;" in text
        assert "qualification " in text and "whole backtest " in text
    table_end = terminal.index("3 cases: confirmed 1")
    warnings = terminal.index("Warnings logged during the backtest:")
    assert warnings > table_end and "retrying" in terminal[warnings:], "the retry is reported after the table"
    assert [w for w in report["warnings"] if "retrying" in w] == [w for w in report["warnings"]]


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
