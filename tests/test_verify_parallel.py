"""The verification phases that do not wait for each other run at once when ``[environment]
parallel_phases`` says so (by default with two cores or more), one after another when not; each phase's
run is timed and placed in the run's facts (``phase_times``: duration, start and end after the
verification started), and the briefing's evidence shows the times.

Overlap is shown by order of events, never by durations: the project's suite holds a gated test that,
in the suite run with the fix (the only run that has both the fix and the new test file), waits until
a file appears in a read-only folder of the host. The test process opens that gate only once it sees
that run waiting while another sandboxed pytest run of its own is under way, so with the phases at once
that run cannot end before another phase's run started; one after another, the gate is open from the
start. (The agents' runs never wait: none of them has both the fix and the new test file.)"""

import asyncio
import itertools
import os
import re
import shutil
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from client.scripted import ScriptedModelServer
from demo.incident import REGRESSION_TESTS, SAMPLE_TICKET, sample_incident_script
from demo.playground import SAMPLE_ENVIRONMENT, SAMPLE_REPO, Playground, create_playground
from documents.facts import PhaseTime
from documents.phrases import PHASES, format_duration
from environment.prepare import plain_environment
from tests.git_fixtures import make_repo_fixture  # noqa: F401 (fixtures)
from tests.pipeline_fixtures import Pipeline, launch, pipeline_settings
from tests.verify_fixtures import Project

pytest_plugins = ["tests.model_fixtures", "tests.pipeline_fixtures"]

GATED_TEST = '''\
"""In the run of the suite with the fix only, waits for the test process's gate."""

import subprocess
import sys
from pathlib import Path

GATE = {gate!r}
ROOT = Path(__file__).resolve().parent.parent
WAIT = """\\
import sys, time
from pathlib import Path

deadline = time.monotonic() + 45
while not Path(sys.argv[1]).exists():
    if time.monotonic() > deadline:
        sys.exit("the gate was never opened")
    time.sleep(0.02)
"""


def test_the_suite_with_the_fix_waits_for_the_gate():
    fixed = {fixed!r} in (ROOT / {source!r}).read_text()
    if fixed and (ROOT / {new_tests!r}).exists():
        subprocess.run([sys.executable, "-c", WAIT, GATE], check=True)
'''
"""The waiting is done by a child process whose command line names the gate: the test process sees
it, and so knows the gated run has started."""
OPEN = "open"

CALC = {
    "calc/__init__.py": "",
    "calc/ops.py": "def double(x: int) -> int:\n    return x + x + 1\n",
    "tests/__init__.py": "",
    "tests/test_ops.py": "from calc.ops import double\n\n\ndef test_zero():\n    assert double(0) >= 0\n",
}
CALC_FIX = {"calc/ops.py": "def double(x: int) -> int:\n    return x + x\n"}
CALC_NEW_TESTS = {
    "tests/test_double.py": "from calc.ops import double\n\n\ndef test_double():\n    assert double(2) == 4\n"
}


def gated_test(gate: Path, *, source: str, fixed: str, new_tests: str) -> str:
    return GATED_TEST.format(gate=str(gate / OPEN), source=source, fixed=fixed, new_tests=new_tests)


def processes_below() -> list[list[str]]:
    """The command lines of the processes that run below this process right now (the sandboxed ones
    under bwrap)."""
    parents: dict[int, int] = {}
    commands: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # it ended meanwhile
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        commands[int(entry.name)] = [arg.decode(errors="replace") for arg in argv if arg]
    mine, pending = set(), [os.getpid()]
    while pending:
        pid = pending.pop()
        children = [child for child, parent in parents.items() if parent == pid and child not in mine]
        mine.update(children)
        pending.extend(children)
    return [commands[pid] for pid in mine if commands[pid]]


def gated_run_beside_another(gate: Path) -> bool:
    """The gated run waits, and another pytest run is under way at the same moment."""
    below = processes_below()
    waiting = any(str(gate / OPEN) in argv for argv in below)
    pytests = [argv for argv in below if Path(argv[0]).name.startswith("python") and "pytest" in argv]
    return waiting and len(pytests) >= 2


@asynccontextmanager
async def gate_keeper(gate: Path, *, open_now: bool) -> AsyncIterator[None]:
    """Opens ``gate`` now, or once the gated run waits while another pytest run is under way."""
    if open_now:
        (gate / OPEN).touch()

    async def watch() -> None:
        while not (gate / OPEN).exists():
            if await asyncio.to_thread(gated_run_beside_another, gate):
                (gate / OPEN).touch()
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    try:
        yield
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)


def spans(times: Mapping[str, PhaseTime]) -> list[tuple[float, float, str]]:
    """(start, end, phase) of each phase run now, in the order they started."""
    found = []
    for phase, measured in times.items():
        assert measured.started_s is not None and measured.ended_s is not None, phase
        assert 0 <= measured.started_s <= measured.ended_s, phase
        found.append((measured.started_s, measured.ended_s, phase))
    return sorted(found)


def overlapping(times: Mapping[str, PhaseTime]) -> list[tuple[str, str]]:
    """The pairs of phases that ran at the same moment."""
    found = spans(times)
    return [
        (first, second)
        for index, (start, end, first) in enumerate(found)
        for other_start, other_end, second in found[index + 1 :]
        if other_start < end and start < other_end
    ]


def assert_one_after_another(times: Mapping[str, PhaseTime]) -> None:
    found = spans(times)
    for (_, end, phase), (start, _, following) in itertools.pairwise(found):
        assert end <= start, f"{following} started before {phase} ended: {found}"


@pytest.mark.parametrize("cores", [1, 2])
async def test_the_phases_run_at_once_by_default_when_the_machine_has_two_cores(
    make_repo: Callable[[Mapping[str, str]], Playground],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cores: int,
) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    files = {
        **CALC,
        "tests/test_gate.py": gated_test(
            gate, source="calc/ops.py", fixed="return x + x\n", new_tests="tests/test_double.py"
        ),
    }
    project = Project(make_repo(files), tmp_path / "verification")
    environment = plain_environment(SAMPLE_ENVIRONMENT.model_copy(update={"read_only_paths": [gate]}))
    monkeypatch.setattr(os, "cpu_count", lambda: cores)

    async with gate_keeper(gate, open_now=cores == 1):
        facts = await project.verify(fix=CALC_FIX, tests=CALC_NEW_TESTS, environment=environment)

    assert facts.verdict == "verified", facts.detail
    assert set(facts.phase_times) == {phase for phase, _, _ in PHASES}
    if cores == 2:
        assert any("fixed_suite" in pair for pair in overlapping(facts.phase_times)), spans(facts.phase_times)
    else:
        assert_one_after_another(facts.phase_times)
    project.assert_clean()


async def gated_pipeline(
    tmp_path: Path, server: ScriptedModelServer, pipelines: list[Pipeline], *, parallel: bool
) -> tuple[Pipeline, Path]:
    """The sample incident's pipeline with ``[environment] parallel_phases = parallel``, its suite
    holding the gated test."""
    gate = tmp_path / "gate"
    gate.mkdir()
    source = tmp_path / "sample"
    shutil.copytree(SAMPLE_REPO, source, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    (source / "tests" / "test_gate.py").write_text(
        gated_test(
            gate, source="todo/service.py", fixed="todo.completed = True\n", new_tests=REGRESSION_TESTS
        )
    )
    playground = create_playground(tmp_path / "playground", source=source)
    server.load(sample_incident_script())
    settings = pipeline_settings(playground.repo, tmp_path / "state", server.base_url)
    environment = SAMPLE_ENVIRONMENT.model_copy(
        update={"read_only_paths": [gate], "parallel_phases": parallel}
    )
    pipeline = await launch(settings.model_copy(update={"environment": environment}), playground, server)
    pipelines.append(pipeline)
    return pipeline, gate


@pytest.mark.parametrize("parallel", [True, False], ids=["phases-at-once", "one-after-another"])
async def test_parallel_phases_reaches_the_verification_and_its_times_reach_the_briefing(
    tmp_path: Path,
    scripted_server: ScriptedModelServer,
    pipelines: list[Pipeline],
    monkeypatch: pytest.MonkeyPatch,
    parallel: bool,
) -> None:
    monkeypatch.setattr("verify.verifier.parallel_default", lambda: not parallel)  # the default: the opposite
    pipeline, gate = await gated_pipeline(tmp_path, scripted_server, pipelines, parallel=parallel)

    async with gate_keeper(gate, open_now=not parallel):
        facts = await pipeline.briefed((await pipeline.submit(SAMPLE_TICKET)).run_id)

    verification = facts.verification
    assert verification is not None and verification.verdict == "verified", verification
    times = verification.phase_times
    assert set(times) == {phase for phase, _, _ in PHASES}
    if parallel:
        assert any("fixed_suite" in pair for pair in overlapping(times)), spans(times)
    else:
        assert_one_after_another(times)
    briefing = " ".join(pipeline.output.getvalue().split())
    for phase, label, _ in PHASES:
        assert times[phase].duration_s > 0 and not times[phase].cached, phase
        took = format_duration(times[phase].duration_s)
        assert re.search(rf"{label}: [^()]+ \([^()]+\) in {re.escape(took)}", briefing), (
            phase,
            took,
            briefing,
        )
