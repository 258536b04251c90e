"""The test command, read once: which runner it starts, and how that runner is given tests to run.

- ``pytest`` (``pytest``, ``py.test``, ``python -m pytest``): paths and node ids are appended as they
  are, with a JUnit report asked for (``tools.testing``);
- ``unittest`` (``python -m unittest [names]``): the command's own test names are replaced by the
  dotted names of the paths (``tests/test_x.py`` is ``tests.test_x``), and ``-v`` is appended, whose
  lines say how each test did;
- ``unittest discover`` (``python -m unittest discover [-s] START [-p] PATTERN [-t] TOP``): discover
  takes at most three positional arguments, none of them a test name, so the command stays as written
  and each path becomes a ``-k`` pattern on the names discover gives its tests, which are dotted
  relative to the top-level directory (TOP, else START): with ``discover tests``, ``tests/test_x.py``
  is ``-k 'test_x.*'``; a path outside that directory is one this command never runs;
- ``django`` (``python manage.py test``, ``django-admin test``, ``python -m django test``): the
  command's own labels are replaced by the dotted labels of the paths (relative to manage.py's
  directory), with ``--verbosity 2``, whose lines are unittest's;
- ``other`` (``python test.py``, ``make test``, ``tox``): run as written; it runs its whole suite.

A node id (``tests/test_x.py::Class::test_y``) becomes ``tests.test_x.Class.test_y`` for the dotted
runners.
"""

import itertools
import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

RunnerKind = Literal["pytest", "unittest", "django", "other"]

_UNITTEST_VALUE_OPTIONS = frozenset({"-k", "--durations"})
_DISCOVER_VALUE_OPTIONS = frozenset({"-k", "--durations", "-s", "--start-directory", "-p", "--pattern",
                                     "-t", "--top-level-directory"})  # fmt: skip
_DJANGO_VALUE_OPTIONS = frozenset({
    "--settings", "--pythonpath", "-t", "--top-level-directory", "-p", "--pattern", "--testrunner", "-k",
    "--tag", "--exclude-tag", "-v", "--verbosity", "--durations",
})  # fmt: skip
_DJANGO_OPTIONAL_VALUE = frozenset({"--parallel", "--shuffle"})
"""Django options whose value may be left out (``--parallel`` alone, or ``--parallel 4``)."""


@dataclass(frozen=True)
class TestCommand:
    """The test command as Nightshift runs it (see the module docstring)."""

    __test__ = False  # not a pytest test class, despite its name

    kind: RunnerKind
    argv: tuple[str, ...]
    """The command as written, without its own test names or labels (unittest, Django)."""
    names: tuple[str, ...] = ()
    """The test names or labels the command gives its runner itself (its whole suite)."""
    discover_top: str | None = None
    """unittest discover: the directory its test names are relative to."""
    root: str = "."
    """Django: the directory of manage.py, which its labels are relative to."""

    @property
    def selective(self) -> bool:
        """The runner can be given tests to run; ``other`` always runs its whole suite."""
        return self.kind != "other"

    def label(self, path: str) -> str | None:
        """What this runner calls the file, directory or node id ``path`` (repository-relative); None
        when this command cannot run it (outside discover's top-level directory, or manage.py's)."""
        if self.kind in ("pytest", "other"):
            return path
        base = self.discover_top if self.discover_top is not None else self.root
        return dotted(path, base)

    def argv_for(self, paths: list[str]) -> list[str]:
        """The command line that runs ``paths`` (all of the suite when empty), asking for per-test
        output. Raises ValueError when a path is not one this command can run (see ``label``)."""
        labels = [self._label_or_refuse(path) for path in paths]
        if self.kind == "pytest":
            return [*self.argv, *labels]
        if self.kind == "unittest" and self.discover_top is not None:
            patterns = [
                f"{label}.*" if "::" not in path else label for path, label in zip(paths, labels, strict=True)
            ]
            return [*self.argv, *itertools.chain.from_iterable(("-k", p) for p in patterns), "-v"]
        if self.kind == "unittest":
            return [*self.argv, *(labels or self.names), "-v"]
        if self.kind == "django":
            return [*self.argv, *(labels or self.names), "--verbosity", "2"]
        return list(self.argv)

    def _label_or_refuse(self, path: str) -> str:
        label = self.label(path)
        if label is None:
            where = self.discover_top if self.discover_top is not None else self.root
            raise ValueError(
                f"{path} is outside {where}, where the test command {shlex.join(self.argv)!r} finds its tests"
            )
        return label


def parse_test_command(command: str) -> TestCommand:
    """``command`` read as a ``TestCommand``. Raises ValueError when it cannot be split (unbalanced
    quotes) or is empty."""
    argv = shlex.split(command)
    if not argv:
        raise ValueError("the test command is empty")
    if any(PurePosixPath(arg).name in ("pytest", "py.test") for arg in argv[:2]):
        return TestCommand("pytest", tuple(argv))
    module = _module(argv)
    if module == "pytest":
        return TestCommand("pytest", tuple(argv))
    if module == "unittest":
        return _unittest(argv)
    django = _django_test(argv)
    if django is not None:
        return django
    return TestCommand("other", tuple(argv))


def dotted(path: str, base: str = ".") -> str | None:
    """``tests/test_x.py::Class::test_y`` as a dotted name relative to ``base``: ``tests.test_x.Class.
    test_y``; a package's ``__init__.py`` is the package. None when ``path`` is not inside ``base``."""
    file, _, node = path.partition("::")
    relative = PurePosixPath(file)
    root = PurePosixPath(base)
    if root != PurePosixPath("."):
        if not relative.is_relative_to(root):
            return None
        relative = relative.relative_to(root)
    parts = list(relative.with_suffix("").parts) if relative.suffix == ".py" else list(relative.parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    parts += [part for part in node.split("::") if part]
    return ".".join(parts) or None


def _module(argv: list[str]) -> str | None:
    """The module of ``python -m MODULE``, when the command starts one."""
    for flag, module in itertools.pairwise(argv):
        if flag == "-m":
            return module
    return None


def _unittest(argv: list[str]) -> TestCommand:
    start = next(i for i in range(len(argv) - 1) if argv[i : i + 2] == ["-m", "unittest"]) + 2
    head, rest = argv[:start], argv[start:]
    if rest[:1] == ["discover"]:
        options, positional = _split(rest[1:], _DISCOVER_VALUE_OPTIONS)
        values = _option_values(rest[1:], _DISCOVER_VALUE_OPTIONS)
        start_dir = values.get("-s") or values.get("--start-directory") or (positional[:1] or ["."])[0]
        top = values.get("-t") or values.get("--top-level-directory") or (positional[2:3] or [start_dir])[0]
        return TestCommand("unittest", tuple(argv), discover_top=_normal(top))
    options, names = _split(rest, _UNITTEST_VALUE_OPTIONS)
    if not names:  # unittest discovers from the current directory
        return TestCommand("unittest", (*head, *options), discover_top=None)
    return TestCommand("unittest", (*head, *options), names=tuple(names))


def _django_test(argv: list[str]) -> TestCommand | None:
    """A Django test command: ``manage.py test``, ``django-admin test``, ``-m django test``."""
    for index, arg in enumerate(argv[:-1]):
        is_manage = PurePosixPath(arg).name == "manage.py"
        is_admin = PurePosixPath(arg).name == "django-admin" or (
            arg == "django" and argv[index - 1 : index] == ["-m"]
        )
        if (is_manage or is_admin) and argv[index + 1] == "test":
            options, labels = _split(argv[index + 2 :], _DJANGO_VALUE_OPTIONS, _DJANGO_OPTIONAL_VALUE)
            root = _normal(str(PurePosixPath(arg).parent)) if is_manage else "."
            return TestCommand("django", (*argv[: index + 2], *options), names=tuple(labels), root=root)
    return None


def _split(
    args: list[str], with_value: frozenset[str], optional_value: frozenset[str] = frozenset()
) -> tuple[list[str], list[str]]:
    """``args`` as (options with their values, positional arguments)."""
    options: list[str] = []
    positional: list[str] = []
    waiting = False
    for arg in args:
        if waiting:
            options.append(arg)
            waiting = False
        elif arg.startswith("-"):
            options.append(arg)
            waiting = arg in with_value
        elif options and options[-1] in optional_value and (arg.isdigit() or arg == "auto"):
            options.append(arg)
        else:
            positional.append(arg)
    return options, positional


def _option_values(args: list[str], with_value: frozenset[str]) -> dict[str, str]:
    """The last value given to each option of ``with_value`` (``-s tests`` or ``--start-directory=tests``)."""
    values: dict[str, str] = {}
    for flag, value in itertools.pairwise(args):
        if flag in with_value:
            values[flag] = value
    for arg in args:
        name, equals, value = arg.partition("=")
        if equals and name in with_value:
            values[name] = value
    return values


def _normal(path: str) -> str:
    """``./tests/`` as ``tests``; ``.`` for the current directory."""
    return PurePosixPath(path).as_posix() if path not in ("", ".", "./") else "."
