"""Sample projects with the shapes real ones have, built in a test as real git repositories, and the
wheels their set-ups install offline (``pip install --no-index --find-links``).

- ``HATCH_VCS``: a src layout versioned by hatch-vcs (as python-humanize is): installing it writes
  ``src/humble/_version.py``, which git ignores and ``__init__.py`` imports; its test extra is called
  ``tests``, not ``test``;
- ``C_EXTENSION``: a setuptools src layout with a tiny C extension that ``pip install -e .`` compiles in
  place with the system compiler (``src/fastclock/_clock.cpython-*.so``) next to its source.

Each holds a bug, its regression test, a right fix and a wrong one, as ``{path: text}`` maps; the
C extension has a second bug in its C source. ``sample_wheels`` repacks, from this very virtual
environment, pytest and the build back-ends the projects name (hatchling, hatch-vcs, setuptools, ...),
so a set-up written as a newcomer would write it works with no index at all, given ``PIP_NO_INDEX``
and ``PIP_FIND_LINKS`` (``offline_pip``) in ``[environment] variables``.
"""

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.wheels import repack

BUILD_BACKENDS = ("hatchling", "hatch-vcs", "editables", "setuptools", "setuptools-scm", "wheel")
"""What the projects' ``[build-system] requires`` name (and setuptools' editable installs need)."""


@dataclass(frozen=True)
class Sample:
    """A project: its files, a bug in ``buggy`` (a path), its regression tests and two fixes."""

    files: dict[str, str]
    regression: dict[str, str]
    """A new test file that fails on the bug and passes with the right fix."""
    right: dict[str, str]
    wrong: dict[str, str]
    """A fix that does not make the regression test pass, or breaks an existing test."""
    tag: str | None = None
    """A tag on the commit (hatch-vcs takes the version from it where git shows tags)."""
    extras: dict[str, dict[str, str]] = field(default_factory=dict)
    """More named changes (``c_fix``, ``c_fix_test``, ``c_broken``)."""

    def create(self, path: Path) -> Path:
        """A git repository at ``path`` holding the project, committed (and tagged)."""
        path.mkdir(parents=True)
        for name, text in self.files.items():
            target = path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        _git(path, "init", "-q", "-b", "main")
        _git(path, "add", "-A")
        _git(path, "commit", "-q", "-m", "initial")
        if self.tag:
            _git(path, "tag", self.tag)
        return path


def sample_wheels(dest: Path) -> Path:
    """pytest and the build back-ends, repacked as wheels in ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    repack(dest, ["pytest", *BUILD_BACKENDS])
    return dest


def offline_pip(wheels: Path) -> dict[str, str]:
    """``[environment] variables`` that make every pip of the set-up (and of its isolated builds) use
    ``wheels`` and nothing else."""
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def toml_table(name: str, values: dict[str, Any]) -> str:
    """``[name]`` with ``values`` (strings, numbers, booleans, lists and tables of strings). TOML basic
    strings read JSON's escapes."""

    def value(item: Any) -> str:
        if isinstance(item, dict):
            return "{ " + ", ".join(f"{json.dumps(k)} = {value(v)}" for k, v in item.items()) + " }"
        if isinstance(item, list):
            return "[" + ", ".join(value(v) for v in item) + "]"
        if isinstance(item, bool):
            return "true" if item else "false"
        return json.dumps(item if isinstance(item, int | float) else str(item))

    return f"[{name}]\n" + "".join(f"{key} = {value(item)}\n" for key, item in values.items())


def _git(path: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=tests@example.com", "-c", "user.name=Tests", *args],
        cwd=path, check=True, capture_output=True,
    )  # fmt: skip


ORDINAL = '''SUFFIXES = ["th", "st", "nd", "rd", "th", "th", "th", "th", "th", "th"]


def ordinal(value: int) -> str:
    """1st, 2nd, 3rd, 4th ... 11th, 12th, 13th ... 21st."""
    return f"{value}{SUFFIXES[value % 10]}"
'''

HATCH_VCS = Sample(
    files={
        "pyproject.toml": """[build-system]
requires = ["hatchling", "hatch-vcs"]
build-backend = "hatchling.build"

[project]
name = "humble"
dynamic = ["version"]
requires-python = ">=3.9"

[project.optional-dependencies]
tests = ["pytest"]

[tool.hatch.version]
source = "vcs"

[tool.hatch.build.hooks.vcs]
version-file = "src/humble/_version.py"

[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = "-ra"
""",
        ".gitignore": "src/humble/_version.py\n.venv/\n__pycache__/\n",
        "README.md": "# humble\n\nHuman-friendly numbers.\n",
        "src/humble/__init__.py": (
            "from humble._version import __version__\nfrom humble.number import ordinal\n\n"
            '__all__ = ["__version__", "ordinal"]\n'
        ),
        "src/humble/number.py": ORDINAL,
        "tests/test_number.py": """import humble
from humble import ordinal


def test_first():
    assert ordinal(1) == "1st"


def test_twenty_second():
    assert ordinal(22) == "22nd"


def test_the_version_comes_from_git():
    assert humble.__version__.startswith(("0.1.dev", "1.0"))
""",
    },
    regression={
        "tests/test_teens.py": """from humble import ordinal


def test_eleventh_twelfth_thirteenth():
    assert [ordinal(n) for n in (11, 12, 13, 111)] == ["11th", "12th", "13th", "111th"]
"""
    },
    right={
        "src/humble/number.py": ORDINAL.replace(
            '    return f"{value}{SUFFIXES[value % 10]}"',
            '    if value % 100 in (11, 12, 13):\n        return f"{value}th"\n'
            '    return f"{value}{SUFFIXES[value % 10]}"',
        )
    },
    wrong={"src/humble/number.py": ORDINAL.replace('{SUFFIXES[value % 10]}"', 'th"')},
    tag="1.0.0",
)


CLOCK_C = """#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *next_hour(PyObject *self, PyObject *args) {
    long hour;
    if (!PyArg_ParseTuple(args, "l", &hour)) return NULL;
    return PyLong_FromLong(hour + 1);
}

static PyMethodDef methods[] = {{"next_hour", next_hour, METH_VARARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_clock", NULL, -1, methods};

PyMODINIT_FUNC PyInit__clock(void) { return PyModule_Create(&module); }
"""
CLOCK_PY = """from fastclock._clock import next_hour

__all__ = ["next_hour", "previous_hour"]


def previous_hour(hour: int) -> int:
    return hour - 1
"""

C_EXTENSION = Sample(
    files={
        "pyproject.toml": """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "fastclock"
version = "1.0"

[project.optional-dependencies]
test = ["pytest"]

[tool.setuptools.packages.find]
where = ["src"]
""",
        "setup.py": (
            "from setuptools import Extension, setup\n\n"
            'setup(ext_modules=[Extension("fastclock._clock", ["src/fastclock/_clock.c"])])\n'
        ),
        ".gitignore": "build/\n*.so\n*.egg-info/\n.venv/\n",
        "src/fastclock/_clock.c": CLOCK_C,
        "src/fastclock/__init__.py": CLOCK_PY,
        "tests/test_clock.py": """from fastclock import next_hour, previous_hour


def test_morning():
    assert next_hour(9) == 10


def test_noon():
    assert previous_hour(12) == 11
""",
    },
    regression={
        "tests/test_midnight.py": """from fastclock import previous_hour


def test_before_midnight_comes_23():
    assert previous_hour(0) == 23
"""
    },
    right={"src/fastclock/__init__.py": CLOCK_PY.replace("return hour - 1", "return (hour - 1) % 24")},
    wrong={"src/fastclock/__init__.py": CLOCK_PY.replace("hour - 1", "hour - 1 if hour else 0")},
    extras={
        "c_fix": {"src/fastclock/_clock.c": CLOCK_C.replace("hour + 1)", "(hour + 1) % 24)")},
        "c_fix_test": {
            "tests/test_after_23.py": (
                "from fastclock import next_hour\n\n\ndef test_after_23_comes_midnight():\n"
                "    assert next_hour(23) == 0\n"
            )
        },
        # a parenthesis short: the extension no longer compiles
        "c_broken": {"src/fastclock/_clock.c": CLOCK_C.replace("hour + 1)", "(hour + 1) % 24")},
    },
)
