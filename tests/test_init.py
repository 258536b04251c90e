"""``nightshift init`` as a newcomer runs it: four projects built the ways real ones are (pip extras,
requirements files, uv with its lock, a root unittest ``test.py``), their test dependencies as local
wheels found through the package-index settings of the shell init runs in. Each gets a configuration
that ``nightshift doctor`` reports READY, every line of it explained; an existing ``[environment]`` is
kept unless ``--force``."""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.tools_fixtures import make_repo
from tests.wheels import repack, write_wheel

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(900)  # each set-up installs packages, in a sandbox, on a shared machine
TESTED = "def next_hour(hour):\n    return (hour + 1) % 24\n"
PYTEST_TESTS = {
    "tests/test_clock.py": (
        "from clock import next_hour\nfrom tinyhelper import hours\n\n\n"
        "def test_morning():\n    assert next_hour(9) == 10\n\n\n"
        "def test_every_hour_has_a_next():\n    assert all(next_hour(h) in hours() for h in range(24))\n"
    )
}
SETUPTOOLS = '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
PIP_EXTRAS = {
    "pyproject.toml": SETUPTOOLS
    + '[project]\nname = "clock"\nversion = "0.1"\n\n'
    + '[project.optional-dependencies]\ntests = ["pytest", "tinyhelper"]\ndocs = ["sphinx"]\n\n'
    + "[tool.setuptools.packages.find]\nwhere = ['src']\n\n"
    + "[tool.pytest.ini_options]\ntestpaths = ['tests']\n",
    "src/clock/__init__.py": TESTED,
    **PYTEST_TESTS,
}
"""A src layout whose test extra is called ``tests`` (``.[test]`` would install no pytest)."""
REQUIREMENTS = {
    "requirements.txt": "tinyhelper==1.0\n",
    "requirements-test.txt": "-r requirements.txt\npytest\n",
    "clock.py": TESTED,
    **PYTEST_TESTS,
}
"""A service that is not a package: pinned requirements, tests importing it from the checkout."""
UV_PROJECT = {
    "pyproject.toml": SETUPTOOLS
    + '[project]\nname = "clock"\nversion = "0.1"\nrequires-python = ">=3.11"\n\n'
    + '[dependency-groups]\ndev = ["pytest", "tinyhelper"]\n\n'
    + "[tool.setuptools.packages.find]\nwhere = ['src']\n",
    "src/clock/__init__.py": TESTED,
    **PYTEST_TESTS,
}
"""uv's own shape: test dependencies in the ``dev`` group, the environment pinned by uv.lock (locked in
the test by the real uv)."""
UNITTEST_SCRIPT = {
    "setup.py": "from setuptools import setup\n\nsetup(name='slug', version='1.0', packages=['slug'])\n",
    "slug/__init__.py": "def slugify(text):\n    return '-'.join(text.lower().split())\n",
    "test.py": (
        "import unittest\n\nfrom slug import slugify\n\n\n"
        "class TestSlugify(unittest.TestCase):\n"
        "    def test_words(self):\n        self.assertEqual(slugify('Hello World'), 'hello-world')\n\n\n"
        "if __name__ == '__main__':\n    unittest.main()\n"
    ),
}
"""python-slugify's shape: setup.py and one root test.py run as a unittest script."""


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tinyhelper, pytest and the build back-end, as wheels; and colorama, which uv's lock resolves
    for Windows (it is never installed here)."""
    folder = tmp_path_factory.mktemp("wheels")
    write_wheel(
        folder, "tinyhelper", "1.0", {"tinyhelper/__init__.py": b"def hours():\n    return range(24)\n"}
    )
    write_wheel(folder, "colorama", "0.4.6", {"colorama/__init__.py": b""})
    repack(folder, ["pytest", "setuptools", "wheel"])
    return folder


@pytest.fixture(scope="module")
def uv_on_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding only uv (from this virtual environment), to put on the PATH."""
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert found, "uv is a development dependency of Nightshift (pip install -e '.[dev]')"
    folder = tmp_path_factory.mktemp("tools")
    shutil.copy2(found, folder / "uv")
    return folder


def init(tmp_path: Path, repo: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "NIGHTSHIFT_CONFIG": str(tmp_path / "nightshift.toml"),
        "NIGHTSHIFT_DATA_DIR": str(tmp_path / "state"),
        **variables,
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "init", "--repo", str(repo), *args],
        env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def environment_table(config: Path) -> dict[str, object]:
    return dict(tomllib.loads(config.read_text())["environment"])


def assert_explained(done: subprocess.CompletedProcess[str], config: Path) -> None:
    """Every setting written has a comment right above it, and the terminal shows it with a reason."""
    lines = config.read_text().splitlines()
    settings = [i for i, line in enumerate(lines) if line and not line.startswith(("#", "["))]
    assert settings, config.read_text()
    for index in settings:
        assert lines[index - 1].startswith("# "), f"no reason above {lines[index]!r}"
        key = lines[index].split(" = ")[0]
        shown = done.stdout.splitlines()
        row = next(i for i, line in enumerate(shown) if line.startswith(f"{key} "))
        assert shown[row + 1].startswith(" " * 16) and shown[row + 1].strip(), f"no reason under {key}"


def assert_ready(done: subprocess.CompletedProcess[str], passed: int = 2) -> None:
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"suite        tests: {passed} passed, 0 failed" in done.stdout, done.stdout
    assert "READY: a run would verify fixes against this suite." in done.stdout


def offline_pip(wheels: Path) -> dict[str, str]:
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}


def test_pip_extras_names_the_extra_the_project_declares(tmp_path: Path, wheels: Path) -> None:
    repo = make_repo(tmp_path / "clock", PIP_EXTRAS)

    done = init(tmp_path, repo, **offline_pip(wheels))

    assert_ready(done)
    table = environment_table(tmp_path / "nightshift.toml")
    assert table["setup"] == "python3 -m venv .venv && .venv/bin/pip install -e '.[tests]'"
    assert table["test_command"] == ".venv/bin/python -m pytest -q"
    assert table["variables"] == offline_pip(wheels) and table["read_only_paths"] == [str(wheels)]
    assert table["setup_network"] is False
    assert "the extra 'tests' (pytest, tinyhelper) in pyproject.toml" in done.stdout
    assert "[tool.pytest.ini_options] configures it" in done.stdout
    assert_explained(done, tmp_path / "nightshift.toml")


def test_requirements_files_without_a_package(tmp_path: Path, wheels: Path) -> None:
    repo = make_repo(tmp_path / "service", REQUIREMENTS)

    done = init(tmp_path, repo, **offline_pip(wheels))

    assert_ready(done)
    table = environment_table(tmp_path / "nightshift.toml")
    assert table["setup"] == (
        "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt -r requirements-test.txt"
    )
    assert "requirements-test.txt lists the test dependencies (pytest, tinyhelper)" in done.stdout
    assert "Nothing builds the project itself, so it is not installed" in done.stdout
    assert_explained(done, tmp_path / "nightshift.toml")


def test_uv_syncs_its_lock(tmp_path: Path, wheels: Path, uv_on_path: Path) -> None:
    repo = tmp_path / "uvclock"
    for name, text in UV_PROJECT.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    subprocess.run(
        [str(uv_on_path / "uv"), "lock", "--no-index", "--find-links", str(wheels)],
        cwd=repo, check=True, capture_output=True, env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
    )  # fmt: skip
    make_repo(tmp_path / "uvrepo", {**UV_PROJECT, "uv.lock": (repo / "uv.lock").read_text()})

    done = init(
        tmp_path, tmp_path / "uvrepo", PATH=f"{uv_on_path}:{os.environ['PATH']}",
        UV_NO_INDEX="1", UV_FIND_LINKS=str(wheels),
    )  # fmt: skip

    assert_ready(done)
    table = environment_table(tmp_path / "nightshift.toml")
    assert table["setup"] == f"uv sync --frozen --find-links {wheels} --no-index"
    assert table["setup_network"] is False and "variables" not in table
    assert "uv installs the group 'dev' by default" in done.stdout
    assert_explained(done, tmp_path / "nightshift.toml")


def test_a_root_unittest_script(tmp_path: Path, wheels: Path) -> None:
    repo = make_repo(tmp_path / "slug", UNITTEST_SCRIPT)

    done = init(tmp_path, repo, **offline_pip(wheels))

    assert_ready(done, passed=1)
    table = environment_table(tmp_path / "nightshift.toml")
    assert table["setup"] == "python3 -m venv .venv && .venv/bin/pip install -e ."
    assert table["test_command"] == ".venv/bin/python test.py"
    assert "test.py is the project's unittest suite" in done.stdout
    test_files = next(line for line in done.stdout.splitlines() if line.startswith("test files"))
    assert test_files.endswith(", test.py"), "the suite is a test file, so the test agent may extend it"
    assert_explained(done, tmp_path / "nightshift.toml")


SELF_CONTAINED = (
    "import unittest\n\n\nclass TestTruth(unittest.TestCase):\n    def test_truth(self):\n"
    "        self.assertTrue(True)\n\n\nif __name__ == '__main__':\n    unittest.main()\n"
)
"""A suite with nothing to install."""
EXISTING = """# the team's settings
[model]
name = "gpt-4.1"

[environment]
test_command = "python3 -m unittest"   # written by hand

# the workflow, as agreed
[workflow]
max_revisions = 1
"""


def test_an_existing_environment_is_kept_unless_forced(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "script", {"test.py": SELF_CONTAINED})
    config = tmp_path / "nightshift.toml"
    config.write_text(EXISTING)

    kept = init(tmp_path, repo)

    assert kept.returncode == 2, kept.stdout + kept.stderr
    assert "already has an [environment] table (pass --force to replace it)" in kept.stdout
    assert config.read_text() == EXISTING
    assert "test_command    python3 test.py" in kept.stdout, "it still shows what it would write"

    forced = init(tmp_path, repo, "--force")

    text = config.read_text()
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert environment_table(config) == {"test_command": "python3 test.py"}
    assert tomllib.loads(text)["model"] == {"name": "gpt-4.1"}
    assert tomllib.loads(text)["workflow"] == {"max_revisions": 1}
    assert (
        text.startswith("# the team's settings\n[model]") and "# the workflow, as agreed\n[workflow]" in text
    )
    assert "written by hand" not in text
    assert "No dependency manifest" in forced.stdout
    assert_ready(forced, passed=1)
