"""What the set-up builds below the top level, and ``[environment] build``, on real-shaped projects.

A hatch-vcs project (the version file ``src/humble/_version.py`` written at install, git-ignored,
imported by the package) and a setuptools project whose C extension ``pip install -e .`` compiles in
place, each set up in the sandbox from local wheels as a newcomer would write it. The right fix is
verified and a wrong one is not; a fix to the C source is rebuilt by ``build``, or, without one,
called stale by the verdict's detail, the briefing and ``nightshift doctor``; a fix that does not
compile is named by the build, not as a fix that does not pass.
"""

import asyncio
import dataclasses
from pathlib import Path

import pytest

from config import EnvironmentSettings, SafetySettings, Settings
from documents.briefing import build_briefing
from documents.facts import VerificationFacts
from environment.prepare import Environments, Prepared
from gitrepo import GitRepo
from main import cli
from safety.sandbox import Sandbox
from tests.documents_fixtures import verified_run
from tests.sample_projects import C_EXTENSION, HATCH_VCS, Sample, offline_pip, sample_wheels, toml_table
from tests.tools_fixtures import make_context
from tools.testing import run_tests
from verify import verify

BUILD_EXT = "python setup.py build_ext --inplace"


def hatch_vcs_environment(wheels: Path) -> EnvironmentSettings:
    """The ``[environment]`` for ``HATCH_VCS``, as a newcomer writes it (``nightshift init``'s output
    may stand in for it); the variables only point pip at the local wheels."""
    return EnvironmentSettings(
        setup="python -m venv .venv && .venv/bin/pip install -e '.[tests]'",
        test_command="python -m pytest -q",
        variables=offline_pip(wheels),
        read_only_paths=[wheels],
    )


def c_extension_environment(wheels: Path, *, build: str | None = None) -> EnvironmentSettings:
    """The ``[environment]`` for ``C_EXTENSION``, with ``build`` when the tests need a rebuild."""
    return EnvironmentSettings(
        setup="python -m venv .venv && .venv/bin/pip install -e '.[test]'",
        build=build,
        test_command="python -m pytest -q",
        variables=offline_pip(wheels),
        read_only_paths=[wheels],
    )


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_wheels(tmp_path_factory.mktemp("wheels"))


class Project:
    """A sample project in a real repository, its sandbox and its environments (state in ``tmp``)."""

    def __init__(self, tmp: Path, sample: Sample, environment: EnvironmentSettings) -> None:
        self.tmp = tmp
        self.sample = sample
        self.path = sample.create(tmp / "project")
        self.repo = GitRepo(self.path)
        self.state = tmp / "state"
        self.sandbox = Sandbox.create(SafetySettings(), state_dir=self.state, hidden=[self.path])
        self.configure(environment)

    def configure(self, environment: EnvironmentSettings) -> None:
        self.settings = Settings(repo=self.path, data_dir=self.state, environment=environment)
        self.environments = Environments(self.repo, self.settings, self.sandbox, self.state)

    async def prepare(self) -> Prepared:
        return await self.environments.prepare(await self.repo.resolve("HEAD"))

    async def diff(self, files: dict[str, str]) -> str:
        base = await self.repo.resolve("HEAD")
        worktree = await self.repo.add_worktree(self.tmp / "diff", base)
        for path, text in files.items():
            (worktree / path).write_text(text)
        patch = await self.repo.worktree_diff(worktree, base, include=lambda _: True)
        await self.repo.remove_worktree(worktree)
        return patch

    async def verify(self, fix: dict[str, str], tests: dict[str, str]) -> VerificationFacts:
        prepared = await self.prepare()
        assert prepared.ok, prepared.log
        return await verify(
            self.repo, base=await self.repo.resolve("HEAD"), fix_diff=await self.diff(fix),
            test_diff=await self.diff(tests), test_files=list(tests), workdir=self.tmp / "verify",
            test_command=self.settings.environment.test_command, timeout_s=120, sandbox=self.sandbox,
            environment=prepared.environment,
        )  # fmt: skip

    def doctor(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
        """``nightshift doctor`` on the project as configured: its exit code and what it printed."""
        config = self.tmp / "nightshift.toml"
        config.write_text(
            toml_table("environment", self.settings.environment.model_dump(exclude_defaults=True))
        )
        monkeypatch.setenv("NIGHTSHIFT_CONFIG", str(config))
        monkeypatch.setenv("NIGHTSHIFT_DATA_DIR", str(self.state))
        code = cli(["doctor", "--repo", str(self.path)])
        captured = capsys.readouterr()
        return code, captured.out + captured.err


@pytest.fixture(scope="module")
def humble(tmp_path_factory: pytest.TempPathFactory, wheels: Path) -> Project:
    """The hatch-vcs project, its environment prepared once (the tests of this module share it)."""
    project = Project(tmp_path_factory.mktemp("humble"), HATCH_VCS, hatch_vcs_environment(wheels))
    prepared = asyncio.run(project.prepare())
    assert prepared.status == "ready", prepared.log
    return project


@pytest.fixture(scope="module")
def fastclock(tmp_path_factory: pytest.TempPathFactory, wheels: Path) -> Project:
    """The C-extension project, its environment prepared once."""
    project = Project(tmp_path_factory.mktemp("fastclock"), C_EXTENSION, c_extension_environment(wheels))
    prepared = asyncio.run(project.prepare())
    assert prepared.status == "ready", prepared.log
    return project


@pytest.fixture
def clock(fastclock: Project, wheels: Path) -> Project:
    """The C-extension project without a build (each test may configure one)."""
    fastclock.configure(c_extension_environment(wheels))
    return fastclock


async def test_the_version_file_hatch_vcs_writes_is_kept_and_the_right_fix_is_verified(
    humble: Project,
) -> None:
    prepared = await humble.prepare()
    right = await humble.verify(HATCH_VCS.right, HATCH_VCS.regression)
    wrong = await humble.verify(HATCH_VCS.wrong, HATCH_VCS.regression)

    assert prepared.status == "reused"
    assert prepared.environment.entries == (".venv", "src/humble/_version.py")
    assert right.verdict == "verified", right.detail
    assert right.base_suite is not None and right.base_suite.passed == 3, "the version test passes too"
    assert wrong.verdict == "regression", wrong.detail
    assert "tests/test_number.py::test_first" in wrong.detail


async def test_the_version_file_is_seen_by_the_agents_shell_read_only(humble: Project) -> None:
    prepared = await humble.prepare()

    script = "python -c 'import humble; print(humble.__version__)'; echo x >> src/humble/_version.py"
    run = await humble.sandbox.run(
        ["bash", "-c", script],
        workspace=humble.path, environment=prepared.environment, timeout_s=60, access="read_write",
    )  # fmt: skip

    assert run.output.splitlines()[0].startswith("0.1.dev"), run.output  # the sandbox's git shows no tags
    assert "Read-only file system" in run.output
    assert (await humble.repo.changed_paths(humble.path, await humble.repo.resolve("HEAD"))) == []


async def test_the_c_extension_built_in_place_is_kept_and_the_right_fix_is_verified(clock: Project) -> None:
    prepared = await clock.prepare()
    right = await clock.verify(C_EXTENSION.right, C_EXTENSION.regression)
    wrong = await clock.verify(C_EXTENSION.wrong, C_EXTENSION.regression)

    built = [entry for entry in prepared.environment.entries if entry.endswith(".so")]
    assert [Path(entry).parent.as_posix() for entry in built] == ["src/fastclock"]
    assert right.verdict == "verified", right.detail
    assert wrong.verdict == "fix_does_not_pass", wrong.detail
    assert right.stale is None, "the fix changes no C source"


async def test_with_build_a_fix_to_the_c_source_is_rebuilt_before_the_tests(
    clock: Project, wheels: Path
) -> None:
    clock.configure(c_extension_environment(wheels, build=BUILD_EXT))

    facts = await clock.verify(C_EXTENSION.extras["c_fix"], C_EXTENSION.extras["c_fix_test"])

    assert facts.verdict == "verified", facts.detail
    assert facts.fixed_with_tests is not None and facts.fixed_with_tests.build_s is not None
    assert facts.base_suite is not None and facts.base_suite.build_s is not None
    briefing = build_briefing(verified_run().model_copy(update={"verification": facts}))
    assert all("built in" in phase.counts.summary() for phase in briefing.counts), briefing.counts
    assert facts.stale is None


async def test_without_build_the_briefing_says_the_extension_is_stale(clock: Project) -> None:
    facts = await clock.verify(C_EXTENSION.extras["c_fix"], C_EXTENSION.extras["c_fix_test"])

    assert facts.verdict == "fix_does_not_pass", facts.detail
    assert facts.stale is not None
    assert "_clock.cpython-" in facts.stale and "src/fastclock/_clock.c" in facts.stale
    assert "is stale" in facts.stale and f'build = "{BUILD_EXT}"' in facts.stale
    briefing = build_briefing(verified_run().model_copy(update={"verification": facts}))
    assert facts.stale in briefing.warnings


def test_without_build_doctor_says_the_extension_would_be_stale(
    clock: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = clock.doctor(monkeypatch, capsys)

    assert code == 0, out
    assert "kept         .venv, src/fastclock/_clock.cpython-" in out
    assert "stale risk   src/fastclock/_clock.cpython-" in out and "stale artefacts" in out
    assert f'build = "{BUILD_EXT}"' in out


async def test_a_fix_that_does_not_compile_is_named_by_the_build(clock: Project, wheels: Path) -> None:
    clock.configure(c_extension_environment(wheels, build=BUILD_EXT))

    facts = await clock.verify(C_EXTENSION.extras["c_broken"], C_EXTENSION.extras["c_fix_test"])

    assert facts.verdict == "build_failed", facts.detail
    assert f"the build `{BUILD_EXT}` failed with exit code" in facts.detail
    assert "error:" in facts.detail, "the compiler's first error is quoted"
    assert (
        "error" in facts.excerpts["fixed_with_tests"]
        and "the tests did not run" in facts.excerpts["fixed_with_tests"]
    )
    assert build_briefing(verified_run().model_copy(update={"verification": facts})).tone == "bad"


async def test_the_agents_run_tests_tool_runs_the_build_first(clock: Project, wheels: Path) -> None:
    clock.configure(c_extension_environment(wheels, build=BUILD_EXT))
    prepared = await clock.prepare()
    worktree = await clock.repo.add_worktree(clock.tmp / "agent", await clock.repo.resolve("HEAD"))
    for path, text in {**C_EXTENSION.extras["c_fix"], **C_EXTENSION.extras["c_fix_test"]}.items():
        (worktree / path).write_text(text)
    ctx = make_context(
        worktree,
        clock.tmp / "agent-state",
        environment=prepared.environment,
        test_command="python -m pytest -q",
    )

    outcome = await run_tests(ctx, "tests/test_after_23.py")
    unbuilt = await run_tests(
        dataclasses.replace(ctx, environment=dataclasses.replace(prepared.environment, build=None)),
        "tests/test_after_23.py",
    )
    await clock.repo.remove_worktree(worktree)

    assert outcome.data is not None and unbuilt.data is not None
    assert outcome.data["passed"] == 1 and outcome.data["build_ok"], outcome.text
    assert "built in" in outcome.text
    assert unbuilt.data["failed"] == 1, "without the build the base commit's extension runs"


def test_doctor_lists_what_the_set_up_kept_below_the_top_level(
    humble: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = humble.doctor(monkeypatch, capsys)

    assert code == 0, out
    assert "kept         .venv, src/humble/_version.py\n" in out
    assert "suite        tests: 3 passed, 0 failed" in out and "READY" in out


def test_doctor_shows_the_set_ups_warning_and_the_missing_runner(
    tmp_path: Path, wheels: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The recipe's ``.[test]`` on a project whose extra is ``tests``: pip only warns, and pytest is
    never installed."""
    mistaken = hatch_vcs_environment(wheels).model_copy(
        update={"setup": "python -m venv .venv && .venv/bin/pip install -e '.[test]'"}
    )
    project = Project(tmp_path, HATCH_VCS, mistaken)

    code, out = project.doctor(monkeypatch, capsys)

    assert code == 1, out
    assert "set-up said  WARNING: humble 0.1.dev" in out and "does not provide the extra 'test'" in out
    assert (
        "NOT READY: The test runner is missing: python in the environment has no module named pytest" in out
    )
    assert "suite " not in out, "the suite is not run without its runner"
