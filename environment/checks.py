"""Is the test runner that the test command names there, in the prepared environment?

A set-up can succeed without installing the runner: ``pip install -e '.[test]'`` on a project whose
extra is called ``tests`` only warns (``does not provide the extra 'test'``), and the first test run
then says ``No module named pytest``. ``nightshift doctor`` asks first, in the sandbox, with the
environment every run gets: for ``python -m pytest`` whether that ``python`` finds the module, for
``pytest`` or ``.venv/bin/pytest`` whether the program is there.
"""

import dataclasses
import itertools
import shlex
from pathlib import Path

from safety.sandbox import Environment, Sandbox

CHECK_TIMEOUT_S = 60.0
_FIND_MODULE = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec(sys.argv[1]) else 3)"
_MODULE_MISSING = 3
_FIND_PROGRAM = 'command -v "$1" >/dev/null'


async def missing_runner(
    sandbox: Sandbox, workspace: Path, command: str, environment: Environment
) -> str | None:
    """Why the runner ``command`` names cannot run in ``environment`` at ``workspace``; None when it is
    there (or when this cannot be told)."""
    argv = shlex.split(command)
    if not argv:
        return "the test command is empty"
    program = argv[0]
    module = next((name for flag, name in itertools.pairwise(argv) if flag == "-m"), None)
    check = [program, "-c", _FIND_MODULE, module] if module else ["sh", "-c", _FIND_PROGRAM, "sh", program]
    bare = dataclasses.replace(environment, build=None)  # the runner comes from the set-up, not the build
    try:
        run = await sandbox.run(
            check, workspace=workspace, environment=bare, timeout_s=CHECK_TIMEOUT_S, access="overlay"
        )
    except OSError:
        return f"the test command's program {program} is not in the environment"
    if module and run.exit_code == _MODULE_MISSING:
        return f"{program} in the environment has no module named {module}, which the test command runs"
    if not module and run.exit_code != 0:
        return f"the test command's program {program} is not in the environment"
    return None
