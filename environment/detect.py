"""``nightshift init``'s guess: an ``[environment]`` proposed from what the repository declares.

Each proposed setting (a ``Choice``) carries the reasons it was chosen, in words a newcomer can check
against their project; what init could not settle is a note. The rules, in short:

- **how the environment is made**: a lock file decides the tool (``uv.lock``: ``uv sync --frozen``,
  ``poetry.lock``: ``poetry install``, ``pdm.lock``: ``pdm install``); otherwise pip in a virtual
  environment at ``.venv``, with the project installed editable when it can be built (so each
  worktree's own code is what runs), its test extra when it declares one (``test``, ``tests``,
  ``testing``, then ``dev``; what tox or nox install first), else its requirements files. An extra or a
  group is named only when the project declares it under that name.
- **how the tests run**: pytest when pytest is configured (``pytest.ini``, ``[tool.pytest.ini_options]``,
  ``[pytest]``, ``[tool:pytest]``, a ``conftest.py``) or tox, nox or the Makefile run it; Django's
  ``manage.py test``; a root ``test.py`` that calls unittest; ``unittest discover``; ``make test``.
- **what else the set-up needs**: compiled extensions get a ``build`` command (rebuilt after the fix);
  the package-index variables where init runs (``PIP_INDEX_URL``, ``PIP_FIND_LINKS``, ``UV_...``) are
  passed on, because the sandbox sees none of Nightshift's own variables, and the local folders they
  name are shown read-only.
"""

import os
import re
import shlex
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from environment.manifests import Declared, Manifests, ToolHints, normalized

TEST_NAMES = ("test", "tests", "testing")
DEV_NAMES = ("dev", "develop", "development", "devel")
VENV_PYTHON = ".venv/bin/python"
TOOLS = ("uv", "poetry", "pdm", "make")
INDEX_VARIABLES = {
    "pip": ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX", "PIP_TRUSTED_HOST",
            "PIP_CERT"),
    "uv": ("UV_DEFAULT_INDEX", "UV_INDEX", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS",
           "UV_NO_INDEX"),
}  # fmt: skip
"""Where each installer looks for packages, as its own variables say."""
UV_OPTIONS = {
    "UV_DEFAULT_INDEX": "--default-index", "UV_INDEX": "--index", "UV_INDEX_URL": "--index-url",
    "UV_EXTRA_INDEX_URL": "--extra-index-url", "UV_FIND_LINKS": "--find-links", "UV_NO_INDEX": "--no-index",
}  # fmt: skip
_NO_INDEX = {"pip": "PIP_NO_INDEX", "uv": "UV_NO_INDEX"}
_TRUE = ("1", "true", "yes", "on")
_CREDENTIALS = re.compile(r"://[^/@\s]*@")


@dataclass(frozen=True)
class Host:
    """What init learns from where it runs: the tools on the PATH (the set-up sees the same PATH) and
    the package-index variables."""

    programs: frozenset[str]
    variables: Mapping[str, str]

    @classmethod
    def current(cls) -> "Host":
        names = {name for names in INDEX_VARIABLES.values() for name in names}
        return cls(
            programs=frozenset(tool for tool in TOOLS if shutil.which(tool)),
            variables={name: value for name, value in os.environ.items() if name in names and value},
        )


@dataclass(frozen=True)
class Choice:
    """One proposed ``[environment]`` setting and why."""

    key: str
    value: str | bool | list[str] | dict[str, str]
    why: tuple[str, ...]


@dataclass(frozen=True)
class Proposal:
    choices: tuple[Choice, ...]
    notes: tuple[str, ...] = ()
    """What init could not settle: printed and written as comments, for a person to check."""

    def values(self) -> dict[str, Any]:
        return {choice.key: choice.value for choice in self.choices}


@dataclass
class _Plan:
    """The proposal as it is worked out."""

    project: Manifests
    host: Host
    choices: list[Choice] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    provided: set[str] = field(default_factory=set)
    """Packages the chosen extras, groups and files install (normalised names)."""

    def choose(self, key: str, value: str | bool | list[str] | dict[str, str], *why: str) -> None:
        self.choices.append(Choice(key, value, tuple(why)))

    def extend_setup(self, text: str, why: str) -> None:
        """Append ``text`` to the proposed set-up command, and ``why`` to its reasons."""
        setup = next(index for index, choice in enumerate(self.choices) if choice.key == "setup")
        old = self.choices[setup]
        self.choices[setup] = Choice("setup", f"{old.value}{text}", (*old.why, why))


def propose(project: Manifests, host: Host) -> Proposal:
    """The ``[environment]`` this project's files ask for (see the module)."""
    plan = _Plan(project, host)
    lock = project.lock
    runs_pytest = _test_command(project, "python3")[0].startswith("python3 -m pytest")
    installer = lock[0] if lock else "pip" if runs_pytest or _needs_pip(project) else None
    python = VENV_PYTHON if installer else "python3"
    test_command, test_why = _test_command(project, python)
    if installer is None:
        plan.notes.append(
            "No dependency manifest (pyproject.toml, setup.py, requirements files, a lock file): no "
            "set-up; the tests run with the host's python3, read-only."
        )
    else:
        setup_why: list[str] = []
        setup = _INSTALLERS[installer](plan, setup_why, runs_pytest)
        if project.version_from_git:
            setup_why.append(
                f"{project.version_from_git} computes the version from git while installing; the files "
                "the install writes are kept with the environment."
            )
        plan.choose("setup", setup, *setup_why)
        _build(plan, installer)
        _index(plan, installer)
    plan.choose("test_command", test_command, *test_why)
    plan.notes[:0] = [f"Not read: {why}." for why in project.unreadable]
    return Proposal(tuple(plan.choices), tuple(dict.fromkeys(plan.notes)))


def _needs_pip(project: Manifests) -> bool:
    return bool(project.installable or any(_requirement_choice(project)) or project.tests_require)


def _preferred(project: Manifests) -> list[str]:
    """The extras tox or nox install, which name the project's own choice."""
    return [extra for hint in project.tool_hints for extra in hint.extras]


def _pick(declared: list[Declared], preferred: list[str], *, dev: bool = True) -> Declared | None:
    by_name = {normalized(item.name): item for item in declared}
    for name in [*preferred, *TEST_NAMES]:
        if normalized(name) in by_name:
            return by_name[normalized(name)]
    named_test = [item for item in declared if "test" in normalized(item.name)]
    if named_test:
        return named_test[0]
    for name in DEV_NAMES if dev else ():
        if normalized(name) in by_name:
            return by_name[normalized(name)]
    return None


def _test_extra(plan: _Plan, why: list[str]) -> Declared | None:
    extras = plan.project.extras
    preferred = _preferred(plan.project)
    extra = _pick(extras, preferred)
    if extra is not None:
        source = next((h.where for h in plan.project.tool_hints if extra.name in h.extras), None)
        why.append(
            f"The test dependencies are {extra.describe()}"
            + (f"; {source} installs it too." if source else ".")
        )
        plan.provided |= extra.names()
    elif extras:
        names = ", ".join(sorted({f"'{item.name}'" for item in extras}))
        why.append(f"No extra is for tests (the project declares {names}), so none is installed.")
    return extra


def _pip(plan: _Plan, why: list[str], runs_pytest: bool) -> str:
    project = plan.project
    why.append("A virtual environment at .venv, kept with the environment and active in every sandbox.")
    extra = _test_extra(plan, why)
    args: list[str] = []
    if extra is None:
        args += _requirement_files(plan, why)
        if project.tests_require:
            args += project.tests_require
            why.append(
                f"setup's tests_require ({', '.join(project.tests_require)}), which pip never installs."
            )
            plan.provided |= {normalized(n.split()[0]) for n in project.tests_require}
        group = None if args else _pick(project.groups, [])
        if group is not None:
            args += ["--group", group.name]
            why.append(f"The test dependencies are {group.describe()} (pip 25.1 or later installs groups).")
            plan.provided |= group.names()
    elif project.requirement_files:
        why.append(f"{', '.join(project.requirement_files)} not used: the extra lists what the tests need.")
    if project.installable:
        args += ["-e", f".[{extra.name}]" if extra else "."]
        why.append(
            f"The project is installed editable: {project.installable}, and an editable install makes each "
            "worktree's own code the code under test."
        )
    elif project.requirement_files:
        why.append(
            "Nothing builds the project itself, so it is not installed: the tests import it from /workspace."
        )
    if runs_pytest and "pytest" not in plan.provided:
        args.append("pytest")
        why.append(
            "Nothing the project declares installs pytest, which runs its tests: it is installed by name "
            "(unpinned)."
        )
    venv = "python3 -m venv .venv"
    if "--group" in args:
        venv += " && .venv/bin/pip install --upgrade 'pip>=25.1'"
    return f"{venv} && .venv/bin/pip install {shlex.join(args)}"


def _requirement_choice(project: Manifests) -> tuple[str | None, str | None]:
    """The main requirements file and the one for tests (what tox or nox install first, then one named
    for tests, then for development); a file for the docs or linting is neither."""
    files = project.requirement_files
    main = next(
        (f for f in ("requirements.txt", "requirements/base.txt", "requirements/main.txt") if f in files),
        None,
    )
    hinted = [f for hint in project.tool_hints for f in hint.requirement_files if f in files]
    testish = [f for f in files if "test" in f] + [f for f in files if "dev" in f]
    return main, next(iter([*hinted, *testish]), None)


def _requirement_files(plan: _Plan, why: list[str]) -> list[str]:
    project = plan.project
    main, test_file = _requirement_choice(project)
    chosen = [f for f in dict.fromkeys([main, test_file]) if f]
    for path in chosen:
        names = sorted(project.requirement_names(path))
        plan.provided |= set(names)
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        role = "the test dependencies" if path == test_file else "the dependencies"
        why.append(f"{path} lists {role} ({shown or 'nothing'}).")
    return [arg for path in chosen for arg in ("-r", path)]


def _pytest_missing(plan: _Plan, tool: str, runs_pytest: bool) -> None:
    if runs_pytest and "pytest" not in plan.provided:
        plan.notes.append(
            f"pytest runs the tests but nothing {tool} installs lists it: add it to the project's test "
            "dependencies, or to the set-up."
        )


def _tool_missing(plan: _Plan, tool: str) -> None:
    if tool not in plan.host.programs:
        plan.notes.append(
            f"{tool} is not on the PATH where Nightshift runs, and the set-up runs with that PATH: install "
            f"{tool} there (for example `pip install {tool}`), or doctor will say NOT READY."
        )


def _uv(plan: _Plan, why: list[str], runs_pytest: bool) -> str:
    _tool_missing(plan, "uv")
    why.append(
        "uv.lock pins the environment: uv sync installs exactly that, in .venv, with the project editable."
    )
    command = "uv sync --frozen"
    extra = _test_extra(plan, why)
    if extra is not None:
        command += f" --extra {shlex.quote(extra.name)}"
    groups = plan.project.groups
    dev = next((g for g in groups if normalized(g.name) == "dev"), None)
    if dev is not None:
        why.append(f"uv installs the group 'dev' by default: {dev.describe()}.")
        plan.provided |= dev.names()
    group = _pick([g for g in groups if g is not dev], [], dev=False)
    if group is not None:
        command += f" --group {shlex.quote(group.name)}"
        why.append(f"The test dependencies are {group.describe()}.")
        plan.provided |= group.names()
    _pytest_missing(plan, "uv", runs_pytest)
    return command


def _poetry(plan: _Plan, why: list[str], runs_pytest: bool) -> str:
    _tool_missing(plan, "poetry")
    why.append(
        "poetry.lock pins the environment; POETRY_VIRTUALENVS_IN_PROJECT makes poetry put it in .venv, "
        "where it is kept."
    )
    command = "POETRY_VIRTUALENVS_IN_PROJECT=true poetry install --no-interaction"
    group = _pick(plan.project.groups, [])
    if group is not None:
        command += f" --with {shlex.quote(group.name)}"
        why.append(f"The test dependencies are {group.describe()}.")
        plan.provided |= group.names()
    extra = _test_extra(plan, why)
    if extra is not None:
        command += f" --extras {shlex.quote(extra.name)}"
    _pytest_missing(plan, "poetry", runs_pytest)
    return command


def _pdm(plan: _Plan, why: list[str], runs_pytest: bool) -> str:
    _tool_missing(plan, "pdm")
    why.append("pdm.lock pins the environment; pdm installs it, development groups included, in .venv.")
    for group in plan.project.groups:
        plan.provided |= group.names()
    command = "pdm install --frozen-lockfile"
    extra = _test_extra(plan, why)
    if extra is not None:
        command += f" -G {shlex.quote(extra.name)}"
    _pytest_missing(plan, "pdm", runs_pytest)
    return command


_INSTALLERS: dict[str, Callable[[_Plan, list[str], bool], str]] = {
    "uv": _uv,
    "poetry": _poetry,
    "pdm": _pdm,
    "pip": _pip,
}


def _build(plan: _Plan, installer: str) -> None:
    """Compiled extensions are built in place by the install; a fix to their sources needs a rebuild."""
    project = plan.project
    reason = project.c_extensions
    if reason is None:
        return
    if "setup.py" in project.files:
        command = f"{VENV_PYTHON} setup.py build_ext --inplace"
    else:
        command = f"{VENV_PYTHON} -c 'from setuptools import setup; setup()' build_ext --inplace"
    plan.choose(
        "build",
        command,
        f"Compiled extensions: {reason}. The install builds them in place once; this rebuilds them in "
        "each test run after the fix is applied, so a fix to their sources is what the tests run.",
    )
    requires = project.build_requires
    if installer != "pip":
        plan.notes.append(
            f"The build needs {', '.join(requires)} in .venv: check that {installer} installs them."
        )
        return
    plan.extend_setup(
        f" {shlex.join(requires)}",
        f"The build requirements ({', '.join(requires)}) go into .venv too, for the build.",
    )


def _index(plan: _Plan, installer: str) -> None:
    """The package-index settings where init runs, passed on (the sandbox sees none of ours): pip's
    as variables, uv's as options of ``uv sync`` (uv 0.13 still asks the index for build requirements
    when only ``UV_NO_INDEX`` is set)."""
    given: dict[str, str] = {}
    paths: list[str] = []
    for name in INDEX_VARIABLES.get(installer, ()):
        value = plan.host.variables.get(name)
        if value is None:
            continue
        if _CREDENTIALS.search(value):
            plan.notes.append(
                f"{name} carries credentials: not written (repository code reads [environment] variables); "
                "make that index reachable without a password from the bot's network."
            )
            continue
        given[name] = value
        for word in value.split():
            path = Path(word.removeprefix("file://"))
            if path.is_absolute() and path.exists():
                paths.append(str(path))
    no_index = _NO_INDEX.get(installer, "")
    offline = given.get(no_index, "").lower() in _TRUE
    if offline:
        plan.choose(
            "setup_network",
            False,
            f"{no_index} is set where init ran: the set-up installs from local files only.",
        )
    else:
        plan.choose("setup_network", True, "The set-up downloads the packages from the package index.")
    why = f"Set where init ran ({', '.join(given)}); the sandbox sees none of Nightshift's own variables."
    if given and installer == "uv":
        options: list[str] = []
        for name, value in given.items():
            if name != "UV_NO_INDEX":
                options += [word for item in value.split() for word in (UV_OPTIONS[name], item)]
            elif offline:
                options.append(UV_OPTIONS[name])
        plan.extend_setup(" " + shlex.join(options), f"{why} uv sync gets them as {shlex.join(options)}.")
    elif given:
        plan.choose("variables", given, f"{why} The set-up finds the same packages only if they are here.")
    if paths:
        plan.choose(
            "read_only_paths",
            sorted(dict.fromkeys(paths)),
            "The local folders and files those settings name, shown read-only to the set-up.",
        )


def _test_command(project: Manifests, python: str) -> tuple[str, tuple[str, ...]]:
    pytest = f"{python} -m pytest -q"
    hints = [(hint, command) for hint in project.tool_hints for command in hint.commands]
    runs_pytest = next((h for h in hints if re.search(r"\bpy\.?test\b", h[1])), None)
    runs_unittest = next((h for h in hints if re.search(r"\bunittest\b", h[1])), None)
    style = project.test_style
    if project.pytest_config:
        return pytest, (f"pytest: {project.pytest_config} configures it.",)
    if project.django:
        return f"{python} manage.py test", ("Django: manage.py runs the project's own test runner.",)
    if runs_pytest:
        return pytest, (f"pytest: {_ran(runs_pytest)}.",)
    if project.root_test_script == "unittest":
        return f"{python} test.py", ("test.py is the project's unittest suite, run as a script.",)
    if runs_unittest:
        words = shlex.split(runs_unittest[1])
        tail = shlex.join(words[words.index("unittest") + 1 :]) if "unittest" in words else ""
        return f"{python} -m unittest {tail}".rstrip(), (f"unittest: {_ran(runs_unittest)}.",)
    if style == "pytest":
        return pytest, ("pytest: the test files use it (plain test functions or pytest imports).",)
    if style == "unittest":
        start, package = project.unittest_start
        top = " -t ." if package else ""
        return f"{python} -m unittest discover -s {start}{top}", (
            f"unittest: the test files under {start}/ are unittest TestCases and nothing configures pytest.",
        )
    make = next((hint for hint, _ in hints if hint.where.startswith("the Makefile")), None)
    if make is not None:
        return "make test", ("The Makefile's test target (run whole: Nightshift cannot pick single tests).",)
    if project.root_test_script == "pytest":
        return f"{pytest} test.py", ("test.py holds the tests, for pytest.",)
    return pytest, ("No tests were found; pytest is the default. Check it with nightshift doctor.",)


def _ran(hint: tuple[ToolHints, str]) -> str:
    return f"{hint[0].where} runs `{hint[1]}`"
