"""What a repository says about how it is built and tested, read from its files and never run.

``nightshift init`` reads these facts at the default branch's commit and proposes an ``[environment]``
from them (``environment.detect``). Every fact keeps where it was read, so that each proposed line can
say why: "pyproject.toml [project.optional-dependencies] declares the extra 'tests' (pytest, ...)".

Only the files named by ``wanted`` are read: the manifests at the top of the repository
(``pyproject.toml``, ``setup.py``, ``setup.cfg``, requirements files, ``tox.ini``, ``noxfile.py``, a
``Makefile``, ``manage.py``, a root ``test.py``, ``pytest.ini``) and a few test files, to tell a
pytest suite from a unittest one. A file that cannot be parsed is a fact too (``unreadable``).
"""

import ast
import configparser
import fnmatch
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import PurePosixPath
from typing import Any, Literal

ROOT_FILES = (
    "pyproject.toml", "setup.py", "setup.cfg", "tox.ini", "noxfile.py", "Makefile", "manage.py", "test.py",
    "pytest.ini",
)  # fmt: skip
LOCKS = {"uv.lock": "uv", "poetry.lock": "poetry", "pdm.lock": "pdm"}
TEST_SAMPLE = 30
"""Test files read to tell pytest from unittest."""
_REQUIREMENT_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalized(name: str) -> str:
    """A distribution or extra name as packaging compares them (PEP 503/685)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str | None:
    """``pytest`` for ``pytest>=8; python_version > '3.8'``; None for an option line (``-r x.txt``)."""
    match = _REQUIREMENT_NAME.match(requirement)
    return normalized(match.group(1)) if match and not requirement.lstrip().startswith("-") else None


def is_requirements_file(path: str) -> bool:
    """``requirements.txt``, ``requirements-test.txt``, ``test-requirements.txt``, ``requirements/x.txt``."""
    parts = PurePosixPath(path).parts
    if len(parts) == 1:
        return fnmatch.fnmatch(parts[0], "*requirements*.txt")
    return len(parts) == 2 and parts[0] == "requirements" and parts[1].endswith(".txt")


def is_test_file(path: str) -> bool:
    name = PurePosixPath(path).name
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def wanted(files: Iterable[str]) -> list[str]:
    """The paths ``Manifests`` reads, among the repository's ``files``."""
    present = set(files)
    tests = sorted(path for path in present if is_test_file(path))[:TEST_SAMPLE]
    return [
        *(name for name in ROOT_FILES if name in present),
        *sorted(path for path in present if is_requirements_file(path)),
        *tests,
    ]


@dataclass(frozen=True)
class Declared:
    """Requirements a project declares under a name: an extra (``pip install '.[name]'``) or a
    dependency group (PEP 735, poetry, pdm, uv)."""

    name: str
    kind: Literal["extra", "group"]
    requirements: tuple[str, ...]
    where: str

    def names(self) -> set[str]:
        return {name for name in map(requirement_name, self.requirements) if name}

    def describe(self) -> str:
        listed = sorted(self.names())
        shown = ", ".join(listed[:6]) + (", ..." if len(listed) > 6 else "")
        return f"the {self.kind} '{self.name}' ({shown or 'empty'}) in {self.where}"


@dataclass(frozen=True)
class ToolHints:
    """What tox, nox or a Makefile's ``test`` target install and run: evidence, never run here."""

    where: str
    extras: tuple[str, ...] = ()
    requirement_files: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()


@dataclass
class Manifests:
    """The facts of one repository at one commit: ``files`` is every path, ``texts`` the text of the
    paths ``wanted`` named (missing when the commit has no such file)."""

    files: frozenset[str]
    texts: Mapping[str, str]
    unreadable: list[str] = field(default_factory=list)
    """``pyproject.toml: not valid TOML (...)``: files whose facts are missing for that reason."""

    @cached_property
    def pyproject(self) -> dict[str, Any]:
        text = self.texts.get("pyproject.toml")
        if text is None:
            return {}
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            self.unreadable.append(f"pyproject.toml is not valid TOML ({exc})")
            return {}

    @cached_property
    def setup_py(self) -> dict[str, ast.expr]:
        """The keywords of ``setup(...)`` in setup.py (names assigned at module level resolved), with
        ``Extension`` standing for any ``Extension(...)`` call in the file."""
        text = self.texts.get("setup.py")
        if text is None:
            return {}
        try:
            tree = ast.parse(text)
        except SyntaxError as exc:
            self.unreadable.append(f"setup.py cannot be parsed ({exc.msg}, line {exc.lineno})")
            return {}
        assigned = {
            target.id: node.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        keywords: dict[str, ast.expr] = {}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            called = _called_name(node)
            if called == "setup":
                for keyword in node.keywords:
                    if keyword.arg:
                        value = keyword.value
                        if isinstance(value, ast.Name) and value.id in assigned:
                            value = assigned[value.id]
                        keywords[keyword.arg] = value
            elif called in ("Extension", "Pybind11Extension", "cythonize"):
                keywords.setdefault("Extension", node)
        return keywords

    @cached_property
    def setup_cfg(self) -> configparser.ConfigParser:
        parser = configparser.ConfigParser(interpolation=None)
        text = self.texts.get("setup.cfg")
        if text is not None:
            try:
                parser.read_string(text)
            except configparser.Error as exc:
                self.unreadable.append(f"setup.cfg cannot be parsed ({exc.__class__.__name__})")
        return parser

    # How the project is built.

    @property
    def build_backend(self) -> str | None:
        backend = self.pyproject.get("build-system", {}).get("build-backend")
        if backend:
            return str(backend)
        return "setuptools (setup.py)" if "setup.py" in self.files else None

    @property
    def build_requires(self) -> list[str]:
        requires = self.pyproject.get("build-system", {}).get("requires")
        if isinstance(requires, list):
            return [str(item) for item in requires]
        return ["setuptools", "wheel"] if "setup.py" in self.files else []

    @property
    def installable(self) -> str | None:
        """Why the project itself can be installed (``pip install -e .``), or None when it cannot."""
        if "setup.py" in self.files:
            return "setup.py builds it"
        tool = self.pyproject.get("tool", {})
        if self.pyproject.get("build-system") and ("project" in self.pyproject or "poetry" in tool):
            return f"pyproject.toml builds it with {self.build_backend or 'its build backend'}"
        return None

    @property
    def lock(self) -> tuple[str, str] | None:
        """``("uv", "uv.lock")`` when the project pins its environment with a lock file."""
        for name, tool in LOCKS.items():
            if name in self.files:
                return tool, name
        return None

    @property
    def version_from_git(self) -> str | None:
        """``hatch-vcs`` or ``setuptools-scm`` when the version is computed from git tags at install."""
        requires = {requirement_name(item) for item in self.build_requires}
        for name in ("hatch-vcs", "setuptools-scm", "setuptools-git-versioning", "versioningit"):
            if name in requires:
                return name
        cfg_requires = self.setup_cfg.get("options", "setup_requires", fallback="")
        if "use_scm_version" in self.setup_py or "setuptools_scm" in cfg_requires:
            return "setuptools-scm"
        return None

    @property
    def c_extensions(self) -> str | None:
        """Where the project declares compiled extensions (built in place by an editable install)."""
        if "ext_modules" in self.setup_py:
            return "setup.py passes ext_modules to setup()"
        if "Extension" in self.setup_py:
            return "setup.py defines an Extension"
        if self.pyproject.get("tool", {}).get("setuptools", {}).get("ext-modules"):
            return "pyproject.toml has [tool.setuptools] ext-modules"
        pyx = next((path for path in sorted(self.files) if path.endswith(".pyx")), None)
        if pyx and self.installable:
            return f"{pyx} is Cython"
        return None

    # What the project declares for its tests.

    @property
    def extras(self) -> list[Declared]:
        found: list[Declared] = []
        optional = self.pyproject.get("project", {}).get("optional-dependencies", {})
        where = "pyproject.toml [project.optional-dependencies]"
        found += [Declared(name, "extra", tuple(map(str, reqs)), where) for name, reqs in optional.items()]
        poetry_extras = self.pyproject.get("tool", {}).get("poetry", {}).get("extras", {})
        where = "pyproject.toml [tool.poetry.extras]"
        found += [
            Declared(name, "extra", tuple(map(str, reqs)), where) for name, reqs in poetry_extras.items()
        ]
        extras_require = self.setup_py.get("extras_require")
        if isinstance(extras_require, ast.Dict):
            for key, value in zip(extras_require.keys, extras_require.values, strict=True):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    found.append(Declared(key.value, "extra", _strings(value), "setup.py extras_require"))
        if self.setup_cfg.has_section("options.extras_require"):
            where = "setup.cfg [options.extras_require]"
            for name, text in self.setup_cfg.items("options.extras_require"):
                found.append(Declared(name, "extra", tuple(_lines(text)), where))
        return found

    @property
    def groups(self) -> list[Declared]:
        found: list[Declared] = []
        pep735 = self.pyproject.get("dependency-groups", {})
        where = "pyproject.toml [dependency-groups]"
        found += [
            Declared(name, "group", tuple(r for r in reqs if isinstance(r, str)), where)
            for name, reqs in pep735.items()
        ]
        tool = self.pyproject.get("tool", {})
        poetry = tool.get("poetry", {})
        for name, group in poetry.get("group", {}).items():
            found.append(
                Declared(name, "group", tuple(group.get("dependencies", {})), f"[tool.poetry.group.{name}]")
            )
        if poetry.get("dev-dependencies"):
            found.append(
                Declared("dev", "group", tuple(poetry["dev-dependencies"]), "[tool.poetry.dev-dependencies]")
            )
        for name, reqs in tool.get("pdm", {}).get("dev-dependencies", {}).items():
            found.append(Declared(name, "group", tuple(reqs), "[tool.pdm.dev-dependencies]"))
        uv_dev = tool.get("uv", {}).get("dev-dependencies")
        if uv_dev:
            found.append(Declared("dev", "group", tuple(uv_dev), "[tool.uv] dev-dependencies"))
        return found

    @property
    def tests_require(self) -> list[str]:
        """setup.py's or setup.cfg's ``tests_require``: pip never installs it; a set-up must name it."""
        value = self.setup_py.get("tests_require")
        if value is not None:
            return list(_strings(value))
        return _lines(self.setup_cfg.get("options", "tests_require", fallback=""))

    @property
    def requirement_files(self) -> list[str]:
        return sorted(path for path in self.files if is_requirements_file(path))

    def requirement_names(self, path: str, _seen: frozenset[str] = frozenset()) -> set[str]:
        """The packages a requirements file installs, its ``-r`` includes followed."""
        names: set[str] = set()
        for line in self.texts.get(path, "").splitlines():
            line = line.split(" #")[0].strip()
            include = re.match(r"(?:-r|--requirement)[ =]?\s*(\S+)", line)
            if include:
                target = str(PurePosixPath(path).parent / include.group(1)).removeprefix("./")
                if target not in _seen:
                    names |= self.requirement_names(target, _seen | {path})
            elif line and not line.startswith("#"):
                name = requirement_name(line)
                names |= {name} if name else set()
        return names

    # How the project runs its tests.

    @property
    def pytest_config(self) -> str | None:
        """Where pytest's own configuration is, as pytest looks for it."""
        if "pytest.ini" in self.files:
            return "pytest.ini"
        if "pytest" in self.pyproject.get("tool", {}):
            return "pyproject.toml [tool.pytest.ini_options]"
        for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
            if _has_section(self.texts.get(name), section):
                return f"{name} [{section}]"
        conftest = next((p for p in sorted(self.files) if PurePosixPath(p).name == "conftest.py"), None)
        return f"{conftest} (pytest's conftest)" if conftest else None

    @property
    def django(self) -> bool:
        return "django" in self.texts.get("manage.py", "").lower()

    @property
    def root_test_script(self) -> str | None:
        """``unittest`` or ``pytest``: how a root ``test.py`` runs."""
        text = self.texts.get("test.py")
        if text is None:
            return None
        return "unittest" if "unittest" in text else "pytest"

    @property
    def test_style(self) -> Literal["pytest", "unittest"] | None:
        """``pytest`` when a sampled test file imports pytest or has plain test functions, ``unittest``
        when they are all ``unittest.TestCase`` classes, None without test files."""
        styles = set()
        for path, text in self.texts.items():
            if not is_test_file(path):
                continue
            uses_pytest = "import pytest" in text or "from pytest" in text
            styles.add("unittest" if "TestCase" in text and not uses_pytest else "pytest")
        if not styles:
            return None
        return "pytest" if "pytest" in styles else "unittest"

    @property
    def unittest_start(self) -> tuple[str, bool]:
        """Where unittest should discover: the directory holding most test files, and whether it is a
        package (has ``__init__.py``, so discovery may start at the top)."""
        folders = [str(PurePosixPath(path).parent) for path in self.files if is_test_file(path)]
        folder = max(sorted(set(folders)), key=folders.count) if folders else "."
        top = folder.split("/")[0]
        return top, f"{top}/__init__.py" in self.files

    @property
    def tool_hints(self) -> list[ToolHints]:
        return [hint for hint in (self._tox(), self._nox(), self._make()) if hint is not None]

    def _tox(self) -> ToolHints | None:
        text = self.texts.get("tox.ini")
        if text is None or not _has_section(text, "testenv"):
            return None
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(text)
        except configparser.Error:
            return None
        env = parser["testenv"]
        deps = _lines(env.get("deps", ""))
        return ToolHints(
            where="tox.ini [testenv]",
            extras=tuple(re.split(r"[\s,]+", env.get("extras", "").strip())) if env.get("extras") else (),
            requirement_files=tuple(
                m.group(1) for dep in deps if (m := re.match(r"-r\s*(?:\{toxinidir}/)?(\S+)", dep))
            ),
            commands=tuple(_lines(env.get("commands", ""))),
        )

    def _nox(self) -> ToolHints | None:
        text = self.texts.get("noxfile.py")
        if text is None:
            return None
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return None
        installs: list[str] = []
        commands: list[str] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                words = [arg.value for arg in node.args if isinstance(arg, ast.Constant)]
                strings = [str(word) for word in words]
                if node.func.attr == "install":
                    installs += strings
                elif node.func.attr == "run" and strings:
                    commands.append(" ".join(strings))
        extras = [m.group(1) for word in installs if (m := re.fullmatch(r"\.\[([\w,.-]+)]", word))]
        return ToolHints(
            where="noxfile.py",
            extras=tuple(extra for group in extras for extra in group.split(",")),
            requirement_files=tuple(
                installs[i + 1] for i, word in enumerate(installs[:-1]) if word in ("-r", "--requirement")
            ),
            commands=tuple(commands),
        )

    def _make(self) -> ToolHints | None:
        text = self.texts.get("Makefile")
        if text is None:
            return None
        lines = text.splitlines()
        for index, line in enumerate(lines):
            if re.match(r"test\s*:(?!=)", line):
                recipe = []
                for follow in lines[index + 1 :]:
                    if not follow.startswith("\t"):
                        break
                    recipe.append(follow.strip().lstrip("@-"))
                return ToolHints(where="the Makefile's test target", commands=tuple(recipe))
        return None


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _strings(node: ast.expr) -> tuple[str, ...]:
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return tuple(e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str))
    return ()


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip() and not line.strip().startswith("#")]


def _has_section(text: str | None, section: str) -> bool:
    return text is not None and re.search(rf"^\[{re.escape(section)}]", text, re.MULTILINE) is not None
