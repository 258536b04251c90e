"""The repository's environment, prepared by its own set-up in the sandbox: a src layout with a test
dependency that only the set-up installs (from local wheels, no index). The right fix is verified with
real counts, a wrong one is not, and without the set-up the verdict blames the environment, not the
fix. ``nightshift doctor`` tells both cases apart."""

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config import EnvironmentSettings, SafetySettings, Settings
from demo.playground import SAMPLE_ENVIRONMENT, environment_toml
from environment.prepare import Environments, Prepared, plain_environment
from gitrepo import GitRepo
from main import cli
from safety.sandbox import Access, Environment, Sandbox
from tests.sample_projects import toml_table
from tests.tools_fixtures import git, make_repo
from tests.wheels import repack, write_wheel
from tools.testing import run_test_command
from verify import verify

CLOCK = "def next_hour(hour):\n    return hour + 1\n"
"""The bug: 23 + 1 is 24, not 0."""
RIGHT = "def next_hour(hour):\n    return (hour + 1) % 24\n"
WRONG = "def next_hour(hour):\n    return 0 if hour == 23 else hour\n"
PROJECT = {
    "pyproject.toml": (
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "clock"\nversion = "0.1"\n\n'
        '[project.optional-dependencies]\ntest = ["pytest", "tinyhelper"]\n\n'
        "[tool.setuptools.packages.find]\nwhere = ['src']\n\n"
        "[tool.pytest.ini_options]\naddopts = '--color=yes -ra -p no:asyncio'\nfilterwarnings = ['error']\n"
        "testpaths = ['tests']\n"
    ),
    "src/clock/__init__.py": CLOCK,
    "tests/test_clock.py": (
        "from clock import next_hour\nfrom tinyhelper import hours\n\n\n"
        "def test_morning():\n    assert next_hour(9) == 10\n\n\n"
        "def test_every_hour_has_a_next():\n    assert all(next_hour(h) in hours() for h in range(23))\n"
    ),
}
REGRESSION = {
    "tests/test_midnight.py": (
        "from clock import next_hour\n\n\n"
        "def test_after_23_comes_midnight():\n    assert next_hour(23) == 0\n"
    )
}
SETUP = (
    "python3 -m venv .venv && "
    ".venv/bin/pip install -q --no-index --find-links {wheels} wheel && "
    ".venv/bin/pip install -q --no-index --find-links {wheels} --no-build-isolation -e '.[test]'"
)
TEST_COMMAND = ".venv/bin/python -m pytest -q"


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tinyhelper, plus pytest and wheel (which the venv's setuptools builds editable installs with), as
    wheels in one directory."""
    folder = tmp_path_factory.mktemp("wheels")
    write_wheel(
        folder, "tinyhelper", "1.0", {"tinyhelper/__init__.py": b"def hours():\n    return range(24)\n"}
    )
    repack(folder, ["pytest", "wheel"])
    return folder


class Project:
    def __init__(self, tmp_path: Path, wheels: Path, *, setup: bool) -> None:
        self.path = make_repo(tmp_path / "clock", PROJECT)
        self.base = git(self.path, "rev-parse", "HEAD").strip()
        self.repo = GitRepo(self.path)
        self.state = tmp_path / "state"
        environment = (
            EnvironmentSettings(
                setup=SETUP.format(wheels=wheels), read_only_paths=[wheels], test_command=TEST_COMMAND
            )
            if setup
            else SAMPLE_ENVIRONMENT
        )
        self.settings = Settings(repo=self.path, data_dir=self.state, environment=environment)
        self.sandbox = Sandbox.create(SafetySettings(), state_dir=self.state, hidden=[self.path])
        self.environments = Environments(self.repo, self.settings, self.sandbox, self.state)
        self.tmp = tmp_path

    async def diff(self, name: str, files: dict[str, str]) -> str:
        worktree = await self.repo.add_worktree(self.tmp / name, self.base)
        for path, text in files.items():
            (worktree / path).write_text(text)
        patch = await self.repo.worktree_diff(worktree, self.base, include=lambda _: True)
        await self.repo.remove_worktree(worktree)
        return patch

    async def verify(self, fix: str):  # type: ignore[no-untyped-def]
        prepared = await self.environments.prepare(self.base)
        return await verify(
            self.repo, base=self.base, fix_diff=await self.diff("fix", {"src/clock/__init__.py": fix}),
            test_diff=await self.diff("tests", REGRESSION), test_files=list(REGRESSION),
            workdir=self.tmp / "verify", test_command=self.settings.environment.test_command, timeout_s=120,
            sandbox=self.sandbox, environment=prepared.environment,
        )  # fmt: skip

    def config(self) -> Path:
        """The project's settings as a nightshift.toml (TOML strings are JSON strings)."""
        environment = self.settings.environment
        lines = [environment_toml(environment)]
        if environment.setup:
            lines.append(f"setup = {json.dumps(environment.setup)}")
            lines.append(f"read_only_paths = {json.dumps([str(p) for p in environment.read_only_paths])}")
        path = self.tmp / "nightshift.toml"
        path.write_text("\n".join(lines) + "\n")
        return path


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory, wheels: Path) -> tuple[Project, Prepared]:
    """The project with a set-up, and what its first preparation did (the set-up takes a while, so the
    tests of this module share it, as runs on one state directory do)."""
    project = Project(tmp_path_factory.mktemp("prepared"), wheels, setup=True)
    return project, asyncio.run(project.environments.prepare(project.base))


@pytest.fixture
def prepared_project(prepared: tuple[Project, Prepared]) -> Iterator[Project]:
    yield prepared[0]


async def test_the_set_up_runs_once_per_manifest_hash(prepared: tuple[Project, Prepared]) -> None:
    prepared_project, first = prepared
    again = await prepared_project.environments.prepare(prepared_project.base)

    assert first.status == "ready", first.log
    assert first.environment.entries == (".venv",) and first.environment.virtualenv == ".venv"
    assert again.status == "reused" and again.key == first.key and again.duration_s == 0
    assert git(prepared_project.path, "status", "--porcelain") == "", "the checkout is untouched"


async def test_the_right_fix_is_verified_and_a_wrong_one_is_not(prepared_project: Project) -> None:
    right = await prepared_project.verify(RIGHT)
    wrong = await prepared_project.verify(WRONG)

    assert right.verdict == "verified", right.detail
    assert right.base_suite is not None and right.base_suite.passed == 2
    assert right.base_with_tests is not None and right.base_with_tests.failed == 1
    assert right.fixed_with_tests is not None and right.fixed_with_tests.passed == 1
    assert wrong.verdict in ("fix_does_not_pass", "regression"), wrong.detail


async def test_without_the_set_up_the_environment_is_blamed_not_the_fix(tmp_path: Path, wheels: Path) -> None:
    project = Project(tmp_path, wheels, setup=False)

    facts = await project.verify(RIGHT)

    assert facts.verdict == "environment_error", facts.detail
    assert "ModuleNotFoundError: No module named" in facts.detail
    assert "nightshift doctor" in facts.detail


@pytest.mark.parametrize("setup", [True, False])
def test_doctor_tells_a_ready_environment_from_a_broken_one(
    tmp_path: Path,
    wheels: Path,
    prepared: tuple[Project, Prepared],
    setup: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = prepared[0] if setup else Project(tmp_path, wheels, setup=False)
    monkeypatch.setenv("NIGHTSHIFT_CONFIG", str(project.config()))
    monkeypatch.setenv("NIGHTSHIFT_DATA_DIR", str(project.state))

    code = cli(["doctor", "--repo", str(project.path)])

    captured = capsys.readouterr()
    out = captured.out
    assert "sandbox      bubblewrap" in out, captured.err
    if setup:
        assert code == 0, out
        assert "environment  reused: The environment" in out, "doctor found what the first run prepared"
        assert "suite        tests: 2 passed, 0 failed, 0 errors, 0 skipped" in out
        assert "READY: a run would verify fixes against this suite." in out
        assert "slow" in out and "tests/test_clock.py::test_morning" in out
    else:
        assert code == 1, out
        assert "environment  none:" in out and "variables    PYTEST_DISABLE_PLUGIN_AUTOLOAD=1" in out
        assert "NOT READY: The existing suite could not run:" in out
        assert "ModuleNotFoundError" in out and "[environment] setup" in out


async def test_the_configured_variables_reach_the_set_up_and_every_command(tmp_path: Path) -> None:
    path = make_repo(tmp_path / "plain", {"README.md": "plain\n"})
    state = tmp_path / "state"
    settings = Settings(
        repo=path,
        data_dir=state,
        environment=EnvironmentSettings(
            setup='mkdir made && echo "$GREETING" > made/greeting', variables={"GREETING": "hello sandbox"}
        ),
    )
    sandbox = Sandbox.create(SafetySettings(), state_dir=state, hidden=[path])
    prepared = await Environments(GitRepo(path), settings, sandbox, state).prepare(
        git(path, "rev-parse", "HEAD").strip()
    )

    run = await sandbox.run(
        ["bash", "-c", 'cat made/greeting; echo "$GREETING at $HOME"'],
        workspace=path, environment=prepared.environment, timeout_s=30, access="read_only",
    )  # fmt: skip

    assert prepared.status == "ready", prepared.log
    assert run.output.split("\n")[:2] == ["hello sandbox", "hello sandbox at /home/sandbox"], run.output


@pytest.mark.parametrize(("name", "reason"), [("PATH", "set by the sandbox"), ("1X", "not a valid variable")])
def test_variables_the_sandbox_owns_or_that_cannot_exist_are_refused(name: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        EnvironmentSettings(variables={name: "x"})


def plain_project(tmp_path: Path, **environment: Any) -> tuple[Path, Settings, Sandbox, Environments]:
    """A small src-layout repository with a manifest, and its environments under ``tmp_path/state``."""
    path = make_repo(
        tmp_path / "plain",
        {"pyproject.toml": "[project]\nname = 'pkg'\n", "src/pkg/__init__.py": "", "README.md": "x\n"},
    )
    state = tmp_path / "state"
    settings = Settings(repo=path, data_dir=state, environment=EnvironmentSettings(**environment))
    sandbox = Sandbox.create(SafetySettings(), state_dir=state, hidden=[path])
    return path, settings, sandbox, Environments(GitRepo(path), settings, sandbox, state)


ACCESS = ("read_write", "read_only", "overlay")


@pytest.mark.parametrize("access", ACCESS)
async def test_a_symbolic_link_made_by_the_set_up_never_shows_the_host(
    tmp_path: Path, access: Access
) -> None:
    host = tmp_path / "host-only"
    host.mkdir()
    (host / "token").write_text("bot credential\n")
    setup = (
        f"mkdir made && ln -s {host} leak && ln -s {host} src/pkg/leak && "
        f"ln -s {host}/token src/pkg/token && mkdir src/pkg/gen && ln -s {host} src/pkg/gen/leak"
    )
    path, _, sandbox, environments = plain_project(tmp_path, setup=setup)
    prepared = await environments.prepare(git(path, "rev-parse", "HEAD").strip())

    run = await sandbox.run(
        ["bash", "-c", "cat leak/token src/pkg/leak/token src/pkg/token src/pkg/gen/leak/token; ls . src/*"],
        workspace=path, environment=prepared.environment, timeout_s=30, access=access,
    )  # fmt: skip

    assert prepared.status == "ready", prepared.log
    assert prepared.environment.entries == ("made", "src/pkg/gen"), "links are refused at every depth"
    assert prepared.refused == ("leak", "src/pkg/leak", "src/pkg/token")
    assert "bot credential" not in run.output, run.output
    assert "leak" not in run.output.split() and "token" not in run.output.split(), run.output


async def shown(sandbox: Sandbox, worktree: Path, environment: Environment, access: Access) -> str:
    """What a command in ``worktree`` reads at ``src/pkg/_version.py``."""
    run = await sandbox.run(
        ["cat", "src/pkg/_version.py"],
        workspace=worktree,
        environment=environment,
        timeout_s=30,
        access=access,
    )
    return run.output


def test_a_file_the_set_up_made_gives_way_to_the_one_a_commit_tracks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path, settings, sandbox, environments = plain_project(tmp_path, setup="echo made > src/pkg/_version.py")
    first = asyncio.run(environments.prepare(git(path, "rev-parse", "HEAD").strip()))
    (path / "src/pkg/_version.py").write_text("tracked\n")
    git(path, "add", "-f", "src/pkg/_version.py")
    git(path, "commit", "-q", "-m", "track the version file")
    later = git(path, "rev-parse", "HEAD").strip()

    async def on_the_later_commit() -> tuple[Prepared, list[str]]:
        again = await environments.prepare(later)
        worktree = await GitRepo(path).add_worktree(tmp_path / "later", later)
        return again, [await shown(sandbox, worktree, again.environment, access) for access in ACCESS]

    again, seen = asyncio.run(on_the_later_commit())
    (tmp_path / "nightshift.toml").write_text(
        toml_table("environment", {"setup": settings.environment.setup})
    )
    monkeypatch.setenv("NIGHTSHIFT_CONFIG", str(tmp_path / "nightshift.toml"))
    monkeypatch.setenv("NIGHTSHIFT_DATA_DIR", str(settings.data_dir))
    cli(["doctor", "--repo", str(path)])

    assert first.environment.entries == ("src/pkg/_version.py",), first.log
    assert again.status == "reused" and again.key == first.key
    assert again.environment.entries == () and again.shadowed == ("src/pkg/_version.py",)
    assert seen == ["tracked\n"] * 3
    out = capsys.readouterr().out
    assert (
        "tracked      src/pkg/_version.py: made by the set-up, but main tracks it: a worktree's own wins"
        in out
    )


async def test_a_file_a_fix_puts_where_the_set_up_made_one_wins(tmp_path: Path) -> None:
    path, _, sandbox, environments = plain_project(tmp_path, setup="echo made > src/pkg/_version.py")
    base = git(path, "rev-parse", "HEAD").strip()
    environment = (await environments.prepare(base)).environment
    empty = await GitRepo(path).add_worktree(tmp_path / "empty", base)
    fixed = await GitRepo(path).add_worktree(tmp_path / "fixed", base)
    (fixed / "src/pkg/_version.py").write_text("the fix's\n")

    assert [await shown(sandbox, empty, environment, access) for access in ACCESS] == ["made\n"] * 3
    assert [await shown(sandbox, fixed, environment, access) for access in ACCESS] == ["the fix's\n"] * 3
    assert git(empty, "status", "--porcelain") == "", "the mount points are ignored locally"


@pytest.mark.parametrize(("where", "ok"), [("src/pkg/blob.bin", False), ("blob.bin", True)])
async def test_what_the_set_up_leaves_below_the_top_level_is_capped(
    tmp_path: Path, where: str, ok: bool
) -> None:
    setup = f"head -c 2097152 /dev/zero > {where}"
    path, _, _, environments = plain_project(tmp_path, setup=setup, generated_max_mb=1)

    prepared = await environments.prepare(git(path, "rev-parse", "HEAD").strip())

    assert prepared.ok is ok, prepared.detail
    if not ok:
        assert "src/pkg/blob.bin 2.0 MB" in prepared.detail and "generated_max_mb = 1" in prepared.detail
        assert not (environments.root / str(prepared.key) / "ready.json").exists()


def test_doctor_refuses_a_suite_that_reports_no_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make_repo(tmp_path / "plain", {"README.md": "plain\n"})
    (tmp_path / "nightshift.toml").write_text(toml_table("environment", {"test_command": "true"}))
    monkeypatch.setenv("NIGHTSHIFT_CONFIG", str(tmp_path / "nightshift.toml"))
    monkeypatch.setenv("NIGHTSHIFT_DATA_DIR", str(tmp_path / "state"))

    code = cli(["doctor", "--repo", str(path)])

    out = capsys.readouterr().out
    assert code == 1, out
    assert "NOT READY: The test command reported no test counts (exit code 0)" in out


@pytest.mark.parametrize(
    ("command", "said"),
    [
        ("printf 'v = 1' > src/v.py && pytest", "uses the shell operator '>'"),
        ("pytest $PYTEST_ARGS", "expands variables or commands ($PYTEST_ARGS)"),
        ("CI=1 pytest", "sets a variable (CI=1)"),
    ],
)
def test_doctor_refuses_shell_syntax_in_the_test_command(
    tmp_path: Path,
    command: str,
    said: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = make_repo(tmp_path / "plain", {"README.md": "plain\n"})
    (tmp_path / "nightshift.toml").write_text(toml_table("environment", {"test_command": command}))
    monkeypatch.setenv("NIGHTSHIFT_CONFIG", str(tmp_path / "nightshift.toml"))

    code = cli(["doctor", "--repo", str(path)])

    err = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert said in err and "runs without a shell" in err and "[environment] build" in err


@pytest.mark.parametrize(
    "command", ["python -m pytest -k 'a and not b'", "sh -c 'make test && echo $?'", "tox -e py311"]
)
def test_a_plain_test_command_is_accepted(command: str) -> None:
    assert EnvironmentSettings(test_command=command).test_command == command


async def test_a_build_that_fails_on_the_base_commit_blames_the_environment(tmp_path: Path) -> None:
    project = make_repo(tmp_path / "calc")
    repo = GitRepo(project)
    base = await repo.resolve("HEAD")
    environment = dataclasses.replace(
        plain_environment(SAMPLE_ENVIRONMENT), build="echo 'make: *** no rule' >&2; exit 3"
    )
    sandbox = Sandbox.create(SafetySettings(), state_dir=tmp_path / "state", hidden=[project])

    worktree = await repo.add_worktree(tmp_path / "fix", base)
    (worktree / "calc/ops.py").write_text("def add(a, b):\n    return b + a\n")
    fix = await repo.worktree_diff(worktree, base, include=lambda _: True)

    facts = await verify(
        repo, base=base, fix_diff=fix, test_diff="", test_files=[], workdir=tmp_path / "verify",
        test_command=SAMPLE_ENVIRONMENT.test_command, timeout_s=60, sandbox=sandbox, environment=environment,
    )  # fmt: skip
    no_program = dataclasses.replace(environment, build="true")
    with pytest.raises(OSError, match="no-such-runner: not found"):
        await run_test_command(sandbox, project, "no-such-runner -q", environment=no_program, timeout_s=60)

    assert facts.verdict == "environment_error", facts.detail
    assert "On the base commit, the build `echo" in facts.detail and "failed with exit code 3" in facts.detail
    assert "make: *** no rule" in facts.detail and "no rule" in facts.excerpts["base_suite"]
