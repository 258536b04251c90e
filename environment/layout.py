"""Which files are the project's tests, as the project itself says.

The patterns decide the write rules between the code and the test agents and how an agent's diff is
split into fix and tests, so they come from the project, read at the run's base commit:

1. ``[environment] test_files``, when set, and nothing else;
2. otherwise pytest's own configuration (``pytest.ini``, ``pyproject.toml``'s
   ``[tool.pytest.ini_options]``, ``tox.ini``, ``setup.cfg``: the first that has one, as pytest reads
   them): ``python_files`` (default ``test_*.py *_test.py``) anywhere, or under ``testpaths`` when set;
3. the usual conventions: everything under ``tests/`` and ``test/``, every ``conftest.py``;
4. the files the test command itself names (``python test.py``: ``test.py`` is the suite).
"""

import configparser
import shlex
import tomllib
from typing import Any

from config import Settings
from gitrepo import GitRepo

DEFAULT_PYTHON_FILES = ("test_*.py", "*_test.py")
DEFAULT_TEST_PATTERNS = tuple(f"**/{name}" for name in DEFAULT_PYTHON_FILES)
CONVENTIONS = ("tests/**", "test/**", "**/conftest.py")
_CONFIG_FILES = ("pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")


async def project_test_patterns(repo: GitRepo, base: str, settings: Settings) -> list[str]:
    """The glob patterns (``**`` spans directories) of the project's test files at ``base``."""
    configured = settings.environment.test_files
    if configured is not None:
        return list(configured)
    options = await _pytest_options(repo, base)
    python_files = _words(options.get("python_files")) or list(DEFAULT_PYTHON_FILES)
    testpaths = [path.strip("/") for path in _words(options.get("testpaths")) if path.strip("/.")]
    patterns = [f"{root}/**/{name}" for root in testpaths for name in python_files] or [
        f"**/{name}" for name in python_files
    ]
    files = await repo.files_at(base)
    named = [arg for arg in _arguments(settings.environment.test_command) if arg in files]
    return list(dict.fromkeys([*patterns, *CONVENTIONS, *named]))


async def _pytest_options(repo: GitRepo, base: str) -> dict[str, Any]:
    """pytest's ini options from the first configuration file that holds them."""
    for name in _CONFIG_FILES:
        text = await repo.read_at(base, name)
        if text is None:
            continue
        options = _options(name, text)
        if options is not None:
            return options
    return {}


def _options(name: str, text: str) -> dict[str, Any] | None:
    if name == "pyproject.toml":
        try:
            section = tomllib.loads(text).get("tool", {}).get("pytest", {}).get("ini_options")
        except tomllib.TOMLDecodeError:
            return None
        return section if isinstance(section, dict) else None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    wanted = {"pytest.ini": "pytest", "tox.ini": "pytest", "setup.cfg": "tool:pytest"}[name]
    return dict(parser[wanted]) if parser.has_section(wanted) else None


def _words(value: Any) -> list[str]:
    """An ini value as a list: a TOML list, or whitespace-separated words."""
    if isinstance(value, list):
        return [str(item) for item in value]
    return str(value).split() if value else []


def _arguments(command: str) -> list[str]:
    try:
        return [arg.removeprefix("./") for arg in shlex.split(command)]
    except ValueError:
        return []
