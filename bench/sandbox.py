"""What the sandbox costs, and that a prepared environment is reused. Prints a table.

1. Per shell command: ``bash -c true`` at a worktree, in the bubblewrap sandbox (``read_write``, as the
   shell tool runs it) against the same command unsandboxed (``[safety] sandbox = "none"``).
2. Per test run: the sample todo service's suite (11 tests, pytest with its JUnit report) through
   ``run_test_command``, sandboxed (a throwaway overlay of the worktree) against unsandboxed.
   Goal for both: the sandbox adds under 30 ms (median) on 2 cores.
3. The environment set-up (``python3 -m venv .venv``, offline): the first run on a base commit builds
   it, a second run on the same manifests finds it and runs no set-up at all.

Sandboxed commands run at nice 10 (so that a runaway test never slows the server down): on a machine
that is busy with other work they wait for the CPU, and the "added" column measures that, not the
sandbox. Run it on an otherwise idle machine.

Run: .venv/bin/python bench/sandbox.py [--repeat N]
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from config import EnvironmentSettings, SafetySettings, SandboxKind, Settings
from demo.playground import SAMPLE_ENVIRONMENT, create_playground
from environment.prepare import Environments, plain_environment
from gitrepo import GitRepo
from safety.sandbox import Sandbox
from tools.testing import run_test_command

TEST_COMMAND = SAMPLE_ENVIRONMENT.test_command


async def median_ms(action: Callable[[], Awaitable[object]], repeat: int) -> float:
    await action()  # warm caches
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def main(repeat: int) -> None:
    table = Table(title="Sandbox cost (median of each)")
    for column in ("measure", "unsandboxed", "sandboxed", "added"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    with tempfile.TemporaryDirectory(prefix="nightshift-bench-") as scratch:
        root = Path(scratch)
        playground = create_playground(root / "sample")
        state = root / "state"
        sandboxes = {
            kind: Sandbox.create(SafetySettings(sandbox=kind), state_dir=state, hidden=[playground.repo])
            for kind in (SandboxKind.NONE, SandboxKind.BWRAP)
        }
        environment = plain_environment(SAMPLE_ENVIRONMENT)
        for label, runs in (("shell command (bash -c true)", repeat * 5), ("test run (11 tests)", repeat)):
            medians = []
            for sandbox in sandboxes.values():
                if label.startswith("shell"):

                    async def action(sandbox: Sandbox = sandbox) -> object:
                        return await sandbox.run(
                            ["bash", "-c", "true"], workspace=playground.repo, environment=environment,
                            timeout_s=30, access="read_write",
                        )  # fmt: skip
                else:

                    async def action(sandbox: Sandbox = sandbox) -> object:
                        return await run_test_command(
                            sandbox, playground.repo, TEST_COMMAND, environment=environment, timeout_s=120
                        )

                medians.append(await median_ms(action, runs))
            table.add_row(
                label, f"{medians[0]:.1f} ms", f"{medians[1]:.1f} ms", f"{medians[1] - medians[0]:+.1f} ms"
            )

        settings = Settings(
            environment=EnvironmentSettings(setup="python3 -m venv .venv", setup_network=False)
        )
        repo = GitRepo(playground.repo)
        base = (await repo.commit("HEAD")) or ""
        environments = Environments(repo, settings, sandboxes[SandboxKind.BWRAP], state)
        for attempt in ("first run", "second run, same manifests"):
            started = time.perf_counter()
            prepared = await environments.prepare(base)
            took = time.perf_counter() - started
            table.add_row(f"environment set-up, {attempt}", "", f"{took * 1000:.0f} ms", prepared.status)
    Console().print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="runs per measure (shell: five times that)")
    asyncio.run(main(parser.parse_args().repeat))
