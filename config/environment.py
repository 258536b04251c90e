"""The repository's environment: how it is prepared, what else the sandbox shows, how tests run.

See docs/environment.md for recipes (pip with extras, requirements files, uv, poetry, a private index).
"""

import re
import shlex
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator

from config.base import Section

DEFAULT_TEST_COMMAND = "python -m pytest -q"
SANDBOX_VARIABLES = frozenset({"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TMPDIR", "VIRTUAL_ENV", "PWD"})
"""Set by the sandbox itself for every command."""


class EnvironmentSettings(Section):
    """How the project's environment is made, and how and where its tests run."""

    setup: str | None = None
    """Shell command that prepares the project at ``/workspace`` on the base commit, in the sandbox (e.g.
    ``python -m venv .venv && .venv/bin/pip install -e '.[test]'``). It runs once per hash of the
    dependency manifests; what it creates is kept and mounted read-only into every later sandbox.
    None: the interpreters on the host's PATH, read-only."""
    setup_network: bool = True
    """Whether the set-up may use the network (package indexes). Nothing else in the sandbox can."""
    setup_timeout_s: Annotated[float, Field(gt=0)] = 1800.0
    """The set-up is killed (and the environment reported broken) after this long."""
    read_only_paths: list[Path] = Field(default_factory=list)
    """Host paths visible, read-only and at the same path, in every sandbox of the repository (a CA
    bundle, a wheel folder, a package cache). Nothing else of the host is."""
    variables: dict[str, str] = Field(default_factory=dict)
    """Variables set for every command in the repository's sandbox (set-up, tests, the shell tool), on
    top of the scrubbed environment: ``DJANGO_SETTINGS_MODULE``, ``PYTEST_ADDOPTS``, ... Repository code
    reads them, so never a secret. The sandbox's own (``PATH``, ``HOME``, ...) cannot be replaced."""
    generated_max_mb: Annotated[int, Field(gt=0)] = 200
    """The most the set-up may leave below the top level of the worktree (a version file, an extension
    built in place, generated stubs, a nested ``node_modules``), all kept together. Over it, the
    environment is reported failed, with the largest items named."""
    build: str | None = None
    """Shell command run in each test run's throwaway overlay after the fix is applied and before the
    tests, for what depends on the code under test: ``python setup.py build_ext --inplace``,
    ``pip install --no-deps --no-build-isolation -e .``, ``make proto``. None: the tests run what the
    set-up built from the base commit."""
    build_timeout_s: Annotated[float, Field(gt=0)] = 600.0
    """The build is stopped (and reported failed) after this long; it does not count against the tests'
    own timeout."""
    test_command: str = DEFAULT_TEST_COMMAND
    """What ``run_tests`` and verification run inside the environment. It runs without a shell, so that
    Nightshift can add the paths of the tests it wants run; shell syntax (``&&``, ``>``, ``$VAR``) is
    refused. Steps that must come first go in ``build``."""
    parallel_phases: bool | None = None
    """Run the verification phases that do not wait for each other at once (the base commit's suite,
    the new tests on the base commit, the fix's runs). None: on when the machine has two cores or more."""
    test_files: list[str] | None = None
    """Glob patterns of the project's test files (``**`` spans directories). None: derived from the
    project's own configuration (pytest's ``python_files`` and ``testpaths``), the usual conventions
    and the files the test command names."""

    @field_validator("test_command")
    @classmethod
    def _no_shell(cls, command: str) -> str:
        problem = shell_syntax(command)
        if problem:
            raise ValueError(
                f"test_command {command!r} {problem}, but it runs without a shell (Nightshift adds the test "
                "paths it wants run and reads the runner's report). Put the steps that must come before the "
                "tests in [environment] build, variables in [environment] variables, or name a script "
                '(test_command = "sh run-tests.sh", which then runs its whole suite in every phase)'
            )
        return command

    @field_validator("variables")
    @classmethod
    def _settable(cls, variables: dict[str, str]) -> dict[str, str]:
        invalid = [name for name in variables if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)]
        if invalid:
            raise ValueError(f"variables: {', '.join(invalid)} is not a valid variable name")
        reserved = sorted(set(variables) & SANDBOX_VARIABLES)
        if reserved:
            raise ValueError(
                f"variables: {', '.join(reserved)} is set by the sandbox itself and cannot be configured "
                "(put programs on PATH with setup or read_only_paths)"
            )
        return variables

    @field_validator("read_only_paths")
    @classmethod
    def _absolute(cls, paths: list[Path]) -> list[Path]:
        relative = [str(path) for path in paths if not path.is_absolute()]
        if relative:
            raise ValueError(f"read_only_paths must be absolute paths; {', '.join(relative)} is not")
        return paths


_OPERATORS = frozenset("();<>|&")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def shell_syntax(command: str) -> str | None:
    """What in ``command`` only a shell understands (an operator, a redirection, a variable or command
    expansion outside single quotes, a leading ``NAME=value``), in words; None for a plain command line."""
    try:
        shlex.split(command)
        lexer = shlex.shlex(command, posix=False, punctuation_chars=True)  # keeps the quotes in words
        lexer.whitespace_split = True
        words = list(lexer)
    except ValueError as exc:
        return f"cannot be read ({exc})"
    for word in words:
        if set(word) <= _OPERATORS:
            return f"uses the shell operator {word!r}"
        if not word.startswith("'") and ("$" in word or "`" in word):
            return f"expands variables or commands ({word})"
    if words and _ASSIGNMENT.match(words[0]):
        return f"sets a variable ({words[0]})"
    return None
