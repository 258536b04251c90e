"""Failing CI jobs' log excerpts: through PyGithub and httpx against the fake, and the excerpt itself."""

from collections.abc import Iterator

import pytest

from integrations.base import IntegrationError
from integrations.github import GitHubForge
from integrations.github_ci import MAX_LINE_CHARS, LogExcerpt
from tests.fakes.github import FakeGitHub

TOKEN = "ghp_" + "CiT0ken" * 5
STAMP = "2024-05-01T12:03:17.4410231Z "


def _pytest_log(noise_lines: int = 3000) -> str:
    """A GitHub Actions job log: setup noise, one failing test in the middle, the summary at the end."""
    lines = ["##[group]Run actions/checkout@v4", "Syncing repository: acme/service", "##[endgroup]"]
    lines += [f"tests/test_module_{i}.py::test_case PASSED [{i % 100:3d}%]" for i in range(noise_lines)]
    lines += [
        "______________________ test_parser_keeps_empty_lines ______________________",
        "    def test_parser_keeps_empty_lines():",
        ">       assert parse('a\\n\\nb') == ['a', '', 'b']",
        "E       AssertionError: assert ['a', 'b'] == ['a', '', 'b']",
        "tests/test_parser.py:12: AssertionError",
    ]
    lines += [f"more output {i}" for i in range(noise_lines)]
    lines += [
        "=========================== short test summary info ============================",
        "FAILED tests/test_parser.py::test_parser_keeps_empty_lines - AssertionError: assert [...] == ...",
        "========================= 1 failed, 3000 passed in 9.81s =========================",
        "##[error]Process completed with exit code 1.",
    ]
    coloured = (f"\x1b[31m{line}\x1b[0m" if "FAILED" in line else line for line in lines)
    return "".join(f"{STAMP}{line}\n" for line in coloured)


@pytest.fixture
def fake() -> FakeGitHub:
    return FakeGitHub(token=TOKEN)


@pytest.fixture
def forge(fake: FakeGitHub) -> Iterator[GitHubForge]:
    with fake.serve() as server:
        opened = GitHubForge(token=TOKEN, repo="acme/service", api_url=server.url)
        yield opened
        opened.close()


async def test_only_the_failed_jobs_log_is_excerpted_and_the_download_gets_no_token(
    fake: FakeGitHub, forge: GitHubForge
) -> None:
    run = fake.add_run()
    lint = fake.add_job(run["id"], "lint", conclusion="success", log=f"{STAMP}ruff: LINT_JOB_OUTPUT clean\n")
    tests = fake.add_job(
        run["id"], "tests (3.11)", conclusion="failure", failed_step="Run pytest", log=_pytest_log()
    )

    excerpt = await forge.failing_jobs_excerpt(run["id"], max_chars=2500)

    assert len(excerpt) <= 2500
    assert excerpt.startswith("### tests (3.11) (Run pytest)\n")
    assert "E       AssertionError: assert ['a', 'b'] == ['a', '', 'b']" in excerpt  # from the middle
    assert "FAILED tests/test_parser.py::test_parser_keeps_empty_lines" in excerpt  # from the end
    assert "##[error]Process completed with exit code 1." in excerpt
    assert "lines skipped" in excerpt
    assert STAMP.strip() not in excerpt and "\x1b[" not in excerpt  # timestamps and colours gone
    assert "lint" not in excerpt and "LINT_JOB_OUTPUT" not in excerpt
    assert fake.calls_to(f"GET /repos/acme/service/actions/jobs/{lint['id']}/logs") == []
    [logs] = fake.calls_to(f"GET /repos/acme/service/actions/jobs/{tests['id']}/logs")
    assert (logs.status, logs.authorization) == (302, f"token {TOKEN}")
    [download] = fake.downloads()
    assert download.path == f"/download/{tests['id']}" and download.status == 200
    assert download.authorization is None  # the token never follows the redirect
    assert all(TOKEN not in value for value in download.headers.values())


async def test_each_failed_job_gets_its_part_and_expired_logs_are_said_so(
    fake: FakeGitHub, forge: GitHubForge
) -> None:
    run = fake.add_run()
    fake.add_job(run["id"], "unit", conclusion="failure", failed_step="pytest", log=_pytest_log(200))
    fake.add_job(run["id"], "e2e", conclusion="failure", failed_step="Run e2e", log=None)

    excerpt = await forge.failing_jobs_excerpt(run["id"], max_chars=3000)

    unit, e2e = excerpt.split("\n\n")
    assert unit.startswith("### unit (pytest)\n") and "FAILED tests/test_parser.py" in unit
    assert e2e == "### e2e (Run e2e)\n(log unavailable: HTTP 410: Gone)"
    assert len(excerpt) <= 3000


async def test_many_failed_jobs_are_named_when_their_logs_do_not_fit(
    fake: FakeGitHub, forge: GitHubForge
) -> None:
    run = fake.add_run()
    for shard in range(5):
        fake.add_job(
            run["id"], f"shard {shard}", conclusion="failure", failed_step="pytest", log=_pytest_log(50)
        )

    excerpt = await forge.failing_jobs_excerpt(run["id"], max_chars=1300)

    assert len(excerpt) <= 1300
    assert "### shard 0 (pytest)" in excerpt and "### shard 1 (pytest)" in excerpt
    assert excerpt.endswith("(and 3 more failed jobs: shard 2, shard 3, shard 4)")
    assert len(fake.downloads()) == 2


async def test_a_run_without_failed_jobs_has_no_excerpt(fake: FakeGitHub, forge: GitHubForge) -> None:
    run = fake.add_run(conclusion="success")
    fake.add_job(run["id"], "tests", conclusion="success", log="ok\n")

    assert await forge.failing_jobs_excerpt(run["id"], max_chars=1000) == ""
    assert fake.downloads() == []


async def test_an_unknown_run_is_an_integration_error(forge: GitHubForge) -> None:
    with pytest.raises(IntegrationError, match=r"workflow run 999.*HTTP 404"):
        await forge.failing_jobs_excerpt(999, max_chars=1000)


def _excerpt(lines: list[str], budget: int) -> str:
    excerpt = LogExcerpt(budget)
    for line in lines:
        excerpt.feed(line)
    return excerpt.text()


def test_a_short_log_is_kept_whole() -> None:
    lines = ["collecting ...", "E   ValueError: bad input", "1 failed"]

    assert _excerpt([STAMP + line for line in lines], 1000) == "\n".join(lines)


@pytest.mark.parametrize("budget", [50, 200, 777, 2000, 10_000])
def test_the_excerpt_keeps_the_first_error_and_the_end_within_any_budget(budget: int) -> None:
    lines = [f"noise {i}" for i in range(5000)]
    lines[1000] = "error: linker command failed"
    lines[3000] = "error: a later error"

    text = _excerpt(lines, budget)

    assert len(text) <= budget
    if budget >= 200:
        assert "error: linker command failed" in text and "noise 999\n" in text  # with its context
        assert text.endswith("noise 4999")
        assert "lines skipped" in text


def test_overlong_lines_are_cut() -> None:
    text = _excerpt(["x" * 10_000, "FAILED test_a"], 5000)

    assert text.splitlines()[0] == "x" * (MAX_LINE_CHARS - 1) + "…"
    assert text.endswith("FAILED test_a")
