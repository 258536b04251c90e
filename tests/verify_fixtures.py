"""A repository under test and the verifier run on it, for the verification tests."""

from collections.abc import Mapping
from pathlib import Path

from config import SafetySettings, Settings
from demo.playground import SAMPLE_ENVIRONMENT, Playground
from documents.facts import VerificationFacts
from environment.prepare import Environments, Prepared, plain_environment
from gitrepo import GitRepo
from safety import sandbox as commands
from tests.git_fixtures import ISOLATED_ENV, git
from verify import base_worktree_path, verify
from verify.cache import BaseSuiteCache
from verify.verifier import fixed_worktree_path

PYTEST = SAMPLE_ENVIRONMENT.test_command


async def diff_of(repo: GitRepo, base: str, scratch: Path, files: Mapping[str, str]) -> str:
    """The diff an agent would hand over after writing ``files`` in its own worktree."""
    worktree = await repo.add_worktree(scratch, base)
    for name, content in files.items():
        (worktree / name).parent.mkdir(parents=True, exist_ok=True)
        (worktree / name).write_text(content)
    diff = await repo.worktree_diff(worktree, base, include=lambda _: True)
    await repo.remove_worktree(worktree)
    return diff


def registered(repo_path: Path) -> list[str]:
    listing = git(repo_path, "worktree", "list", "--porcelain")
    return [line.removeprefix("worktree ") for line in listing.splitlines() if line.startswith("worktree ")]


class Project:
    """A repository under test with its base commit, and a way to verify diffs against it."""

    def __init__(self, playground: Playground, tmp_path: Path) -> None:
        self.path = playground.repo
        self.repo = GitRepo(playground.repo, env=ISOLATED_ENV)
        self.base = git(playground.repo, "rev-parse", "HEAD").strip()
        self.tmp = tmp_path
        self.workdir = tmp_path / "verify"
        self.sandbox = commands.Sandbox.create(
            SafetySettings(), state_dir=tmp_path / "state", hidden=[self.path]
        )
        self._diffs = 0

    async def diff(self, files: Mapping[str, str]) -> str:
        self._diffs += 1
        return await diff_of(self.repo, self.base, self.tmp / f"agent-{self._diffs}", files)

    async def prepared(self, command: str = PYTEST) -> Prepared:
        """The environment a run on the base commit gets, prepared as the pipeline prepares it (the
        sample's settings: no set-up, the host's interpreters)."""
        environment = SAMPLE_ENVIRONMENT.model_copy(update={"test_command": command})
        settings = Settings(repo=self.path, data_dir=self.tmp / "state", environment=environment)
        return await Environments(self.repo, settings, self.sandbox, self.tmp / "state").prepare(self.base)

    def edited(self, name: str, old: str, new: str) -> dict[str, str]:
        text = (self.path / name).read_text()
        assert text.count(old) == 1
        return {name: text.replace(old, new)}

    async def verify(
        self,
        *,
        fix: Mapping[str, str] | None = None,
        tests: Mapping[str, str] | None = None,
        command: str = PYTEST,
        timeout_s: float = 60.0,
        environment: commands.Environment | None = None,
        parallel: bool | None = None,
        cache: BaseSuiteCache | None = None,
    ) -> VerificationFacts:
        """Verify the diffs that writing ``fix`` and ``tests`` would make; the environment is the host's
        interpreters unless ``environment`` is given."""
        plain = plain_environment(SAMPLE_ENVIRONMENT.model_copy(update={"test_command": command}))
        return await verify(
            self.repo,
            base=self.base,
            fix_diff=await self.diff(fix) if fix else "",
            test_diff=await self.diff(tests) if tests else "",
            test_files=list(tests or {}),
            workdir=self.workdir,
            test_command=command,
            timeout_s=timeout_s,
            sandbox=self.sandbox,
            environment=environment or plain,
            parallel=parallel,
            cache=cache,
        )

    def assert_clean(self) -> None:
        assert registered(self.path) == [str(self.path)]
        assert not self.workdir.exists()
        assert not base_worktree_path(self.workdir).exists()
        assert not fixed_worktree_path(self.workdir).exists()
