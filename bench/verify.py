"""What verification costs on a real project, against one plain run of its suite. Prints a table.

The project is python-humanize at the parent of its fix #318 (``natural_list`` of an empty list; the
fix inserts a case into a positional ``parametrize`` list), with the upstream fix as the code agent's
diff and the upstream test change as the test agent's. It is installed as its team installs it,
``pip install -e '.[tests]'``, with no package index: the wheels are made offline from this
interpreter's installed distributions (``tests/wheels.py``: pytest, freezegun, and the build back-ends
hatchling, hatch-vcs and the editables it asks for); the extras not installed here
(pytest-benchmark, pytest-codspeed, pytest-cov) are empty stand-in wheels, so the 15 tests that use
the ``benchmark`` fixture error on every commit. hatch-vcs writes ``src/humanize/_version.py``
(git-ignored, imported by ``__init__.py``) below the top of the worktree while installing; the
environment keeps it (``environment/kept.py``) and every sandbox shows it at that path.

Measured in ``--repeat`` rounds, each of which runs all of these once; the ratio to the plain run is taken
within each round (the load of a shared machine drifts between rounds), and the medians are shown:

- one plain run of the whole suite in the sandbox (``run_test_command``, as ``nightshift doctor``);
- verification cold: nothing kept, so the base commit's suite runs too;
- verification warm: the base commit's suite taken from the database (``verify.cache``);
- both with the phases at once (the default with two cores) and one after another.

The figure that matters is verification wall time / plain suite time, warm, phases at once (goal: 1.2
or less). Run it on an otherwise idle machine; the table's title gives the load average at the end.

Run: .venv/bin/python bench/verify.py --repo PATH/TO/humanize [--repeat N]
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.wheels, which makes wheels offline

from config import EnvironmentSettings, SafetySettings, Settings
from documents.facts import VerificationFacts
from environment.prepare import Environments
from gitrepo import GitRepo
from safety.sandbox import Sandbox
from store.base_suites import BaseSuites
from store.runs import Store
from tests.wheels import repack, write_wheel
from tools.testing import TestRun, run_test_command
from verify import verify
from verify.cache import BaseSuiteCache, suite_key

FIX = "0a06a3d4a12113cd5f3d0df0cfbb3e27d92499eb"
"""python-humanize's "Return an empty string from `natural_list` for an empty list (#318)"."""
SETUP = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[tests]'"
TEST_COMMAND = ".venv/bin/python -m pytest -q -p no:cacheprovider"
REPACKED = ("pytest", "freezegun", "hatchling", "hatch-vcs", "editables")
STAND_INS = ("pytest-benchmark", "pytest-codspeed", "pytest-cov")
"""The project's test extras that are not installed here: empty wheels, so that pip resolves the extra."""
VERSION_FILE = "src/humanize/_version.py"
T = TypeVar("T")


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def checkout(source: Path, dest: Path) -> str:
    """A clone of ``source`` at the fix's parent; returns that commit."""
    git(dest.parent, "clone", "--quiet", "--no-checkout", str(source), str(dest))
    git(dest, "checkout", "--quiet", "-b", "bench", f"{FIX}^")
    return git(dest, "rev-parse", "HEAD")


def wheelhouse(dest: Path) -> Path:
    """The wheels the set-up installs from, and its isolated build (hatchling, hatch-vcs) too."""
    dest.mkdir()
    repack(dest, REPACKED)
    for name in STAND_INS:
        write_wheel(dest, name, "0", {})
    return dest


async def median_s(action: Callable[[], Awaitable[T]], repeat: int) -> tuple[float, T]:
    """The median wall time of ``repeat`` runs of ``action``, and its last result."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = await action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


async def main(source: Path, repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="nightshift-bench-verify-") as scratch:
        root = Path(scratch)
        path = root / "humanize"
        base = checkout(source, path)
        wheels = wheelhouse(root / "wheels")
        state = root / "state"
        environment_settings = EnvironmentSettings(
            setup=SETUP, setup_network=False, read_only_paths=[wheels],
            variables={"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}, test_command=TEST_COMMAND,
        )  # fmt: skip
        settings = Settings(repo=path, data_dir=state, environment=environment_settings)
        repo = GitRepo(path)
        sandbox = Sandbox.create(SafetySettings(), state_dir=state, hidden=[path])
        prepared = await Environments(repo, settings, sandbox, state).prepare(base)
        if not prepared.ok:
            sys.exit(f"the environment could not be prepared: {prepared.detail}\n{prepared.log}")
        if VERSION_FILE not in prepared.environment.entries:
            sys.exit(f"the set-up left no {VERSION_FILE}: it kept {', '.join(prepared.environment.entries)}")
        fix_diff = await repo.commit_diff(f"{FIX}^", FIX, include=lambda name: not name.startswith("tests/"))
        test_diff = await repo.commit_diff(f"{FIX}^", FIX, include=lambda name: name.startswith("tests/"))
        store = Store(f"sqlite:///{root / 'bench.sqlite'}")
        key = suite_key("humanize", base, prepared, TEST_COMMAND)
        kept = BaseSuiteCache(BaseSuites(store.engine), key)

        async def plain() -> TestRun:
            tree = await repo.add_worktree(root / "plain", base)
            try:
                return await run_test_command(
                    sandbox, tree, TEST_COMMAND, environment=prepared.environment, timeout_s=600
                )
            finally:
                await repo.remove_worktree(tree)

        def verification(
            parallel: bool, cache: BaseSuiteCache | None
        ) -> Callable[[], Awaitable[VerificationFacts]]:
            return lambda: verify(
                repo, base=base, fix_diff=fix_diff, test_diff=test_diff, test_files=["tests/test_lists.py"],
                workdir=root / "verify", test_command=TEST_COMMAND, timeout_s=600, sandbox=sandbox,
                environment=prepared.environment, parallel=parallel, cache=cache,
            )  # fmt: skip

        await plain()  # the page cache warmed
        await verification(True, kept)()  # keeps the base suite, untimed
        variants = [
            (f"verification {name}, {'phases at once' if parallel else 'one after another'}", parallel, cache)
            for parallel in (True, False)
            for name, cache in (("cold", None), ("warm", kept))
        ]
        walls: dict[str, list[float]] = {name: [] for name, _, _ in variants}
        ratios: dict[str, list[float]] = {name: [] for name, _, _ in variants}
        verdicts: dict[str, VerificationFacts] = {}
        suite_walls = []
        for _ in range(repeat):  # each round measures the plain run too: the ratio is within one round
            suite_s, suite = await median_s(plain, 1)
            suite_walls.append(suite_s)
            for name, parallel, cache in variants:
                wall, verdicts[name] = await median_s(verification(parallel, cache), 1)
                walls[name].append(wall)
                ratios[name].append(wall / suite_s)
        load = " / ".join(f"{value:.1f}" for value in os.getloadavg())
        title = (
            f"Verification of python-humanize #318 (the suite: {suite.headline()}; "
            f"load average over 1 / 5 / 15 min at the end: {load})"
        )
        table = Table(title=title)
        for column in ("run", "wall", "/ plain suite", "verdict", "base suite"):
            table.add_column(column, justify="right" if column in ("wall", "/ plain suite") else "left")
        table.add_row("one plain suite run", f"{statistics.median(suite_walls):.2f} s", "1.00", "", "")
        for name, _, _ in variants:
            facts = verdicts[name]
            base_suite = facts.phase_times.get("base_suite")
            how = "reused" if base_suite and base_suite.cached else "run"
            wall, ratio = statistics.median(walls[name]), statistics.median(ratios[name])
            table.add_row(name, f"{wall:.2f} s", f"{ratio:.2f}", facts.verdict, how)
        store.close()
        Console(width=120).print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="a git clone of python-humanize")
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.repo.resolve(), arguments.repeat))
