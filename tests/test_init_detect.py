"""What ``nightshift init`` proposes for the shapes real projects have, read from their files alone:
the extra or group a project really declares (never one it does not), the runner it really uses, a
build step for compiled extensions, and the package-index settings of the shell init runs in. The
table is written into an existing file without touching the rest of it."""

from pathlib import Path

import pytest

from config import ConfigError
from config.tables import write_table
from environment.detect import Host, Proposal, propose
from environment.manifests import Manifests, wanted

HOST = Host(programs=frozenset({"uv", "make"}), variables={})
SETUPTOOLS = '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
PYTEST_TEST = {"tests/test_it.py": "def test_it():\n    assert True\n"}
UNITTEST_TEST = {"tests/test_it.py": "import unittest\n\nclass T(unittest.TestCase):\n    pass\n"}


def proposal(files: dict[str, str], host: Host = HOST) -> Proposal:
    """What init proposes for a repository holding ``files``, read as init reads them."""
    return propose(Manifests(frozenset(files), {path: files[path] for path in wanted(files)}), host)


def why(result: Proposal, key: str) -> str:
    return " ".join(next(choice.why for choice in result.choices if choice.key == key))


def pyproject(extras: str = "", more: str = "") -> str:
    project = '[project]\nname = "p"\nversion = "1"\n\n'
    return f"{SETUPTOOLS}\n{project}[project.optional-dependencies]\n{extras}\n{more}"


def test_no_test_extra_means_none_is_named_and_pytest_is_installed_by_name() -> None:
    result = proposal(
        {"pyproject.toml": pyproject('docs = ["sphinx"]', "[tool.pytest.ini_options]\n"), **PYTEST_TEST}
    )

    assert result.values()["setup"] == "python3 -m venv .venv && .venv/bin/pip install -e . pytest"
    assert "No extra is for tests (the project declares 'docs'), so none is installed." in why(
        result, "setup"
    )
    assert "it is installed by name (unpinned)" in why(result, "setup")
    bare = proposal(PYTEST_TEST).values()
    assert bare["setup"] == "python3 -m venv .venv && .venv/bin/pip install pytest"
    assert bare["test_command"] == ".venv/bin/python -m pytest -q"


@pytest.mark.parametrize(
    ("extras", "tox", "chosen"),
    [
        ('tests = ["pytest"]\ndev = ["ruff"]', None, ".[tests]"),
        ('test = ["pytest"]\ntesting = ["pytest"]', None, ".[test]"),
        (
            'test = ["pytest"]\ntesting = ["pytest"]',
            "[testenv]\nextras = testing\ncommands = pytest\n",
            ".[testing]",
        ),
        ('dev = ["pytest"]', None, ".[dev]"),
        ('ci-tests = ["pytest"]', None, ".[ci-tests]"),
    ],
)
def test_the_extra_named_is_one_the_project_declares(extras: str, tox: str | None, chosen: str) -> None:
    files = {"pyproject.toml": pyproject(extras), **PYTEST_TEST, **({"tox.ini": tox} if tox else {})}

    result = proposal(files)

    assert result.values()["setup"] == f"python3 -m venv .venv && .venv/bin/pip install -e '{chosen}'"


def test_setup_py_extras_and_tests_require() -> None:
    setup_py = (
        "from setuptools import setup\n\nEXTRAS = {'testing': ['pytest', 'freezegun']}\n\n"
        "setup(name='p', extras_require=EXTRAS)\n"
    )
    old = "from setuptools import setup\n\nsetup(name='p', tests_require=['pytest', 'mock'])\n"

    assert proposal({"setup.py": setup_py, **PYTEST_TEST}).values()["setup"].endswith("-e '.[testing]'")
    result = proposal({"setup.py": old, **PYTEST_TEST})
    assert result.values()["setup"].endswith("pip install pytest mock -e .")
    assert "tests_require (pytest, mock), which pip never installs" in why(result, "setup")


def test_a_django_service_with_pinned_requirements() -> None:
    files = {
        "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'hc.settings')\n",
        "requirements.txt": "Django==5.0\n",
        "hc/tests/test_views.py": "from django.test import TestCase\n",
    }

    values = proposal(files).values()

    assert values["setup"] == "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt"
    assert values["test_command"] == ".venv/bin/python manage.py test"


def test_unittest_suites_are_discovered_where_they_live() -> None:
    package = proposal({"tests/__init__.py": "", **UNITTEST_TEST}).values()
    folder = proposal(UNITTEST_TEST).values()

    assert package["test_command"] == "python3 -m unittest discover -s tests -t ."
    assert folder["test_command"] == "python3 -m unittest discover -s tests"
    assert "setup" not in package, "nothing to install, nothing installed"
    docs_only = proposal({"requirements-docs.txt": "sphinx\n", **UNITTEST_TEST}).values()
    assert "setup" not in docs_only, "the docs' requirements are not the tests'"


def test_what_tox_nox_and_make_run_is_taken_as_evidence() -> None:
    tox = (
        "[testenv]\ndeps = -r{toxinidir}/requirements-test.txt\ncommands = python -m unittest discover -s t\n"
    )
    nox = "import nox\n\n@nox.session\ndef tests(session):\n    session.install('-e', '.[qa]')\n"
    nox += "    session.run('pytest', '-x')\n"
    make = "all:\n\techo\n\ntest:\n\t./run-tests.sh --all\n"
    requirements = {"requirements-test.txt": "pytest\n", "requirements-docs.txt": "sphinx\n"}

    by_tox = proposal({"tox.ini": tox, **requirements, **UNITTEST_TEST})
    by_nox = proposal({"noxfile.py": nox, "pyproject.toml": pyproject('qa = ["pytest"]'), **UNITTEST_TEST})
    by_make = proposal({"Makefile": make})

    assert by_tox.values()["test_command"] == ".venv/bin/python -m unittest discover -s t"
    assert by_tox.values()["setup"].endswith("pip install -r requirements-test.txt")
    assert "tox.ini [testenv] runs `python -m unittest discover -s t`" in why(by_tox, "test_command")
    assert by_nox.values()["setup"].endswith("-e '.[qa]'") and "noxfile.py installs it too" in why(
        by_nox, "setup"
    )
    assert by_nox.values()["test_command"] == ".venv/bin/python -m pytest -q"
    assert by_make.values()["test_command"] == "make test"


def test_compiled_extensions_get_a_build_and_its_requirements() -> None:
    setup_py = (
        "from setuptools import Extension, setup\n\n"
        "setup(ext_modules=[Extension('fast._clock', ['src/fast/_clock.c'])])\n"
    )
    files = {"pyproject.toml": pyproject('tests = ["pytest"]'), "setup.py": setup_py, **PYTEST_TEST}

    result = proposal(files)

    assert result.values()["build"] == ".venv/bin/python setup.py build_ext --inplace"
    assert "setup.py passes ext_modules to setup()" in why(result, "build")
    assert result.values()["setup"].endswith("-e '.[tests]' 'setuptools>=61'")


def test_a_version_from_git_is_explained() -> None:
    hatch = '[build-system]\nrequires = ["hatchling", "hatch-vcs"]\nbuild-backend = "hatchling.build"\n'
    files = {"pyproject.toml": hatch + '[project]\nname = "h"\ndynamic = ["version"]\n', **PYTEST_TEST}

    assert "hatch-vcs computes the version from git while installing" in why(proposal(files), "setup")


@pytest.mark.parametrize(
    ("files", "where"),
    [
        (
            {
                "pyproject.toml": '[build-system]\nrequires = ["setuptools>=64", "setuptools-scm>=8"]\n'
                'build-backend = "setuptools.build_meta"\n\n[project]\nname = "s"\ndynamic = ["version"]\n'
            },
            "build requires",
        ),
        (
            {"setup.py": "from setuptools import setup\n\nsetup(name='s', use_scm_version=True)\n"},
            "setup.py",
        ),
        (
            {
                "setup.py": "from setuptools import setup\n\nsetup()\n",
                "setup.cfg": "[metadata]\nname = s\n\n[options]\nsetup_requires =\n    setuptools_scm\n",
            },
            "setup.cfg",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_a_version_from_setuptools_scm_is_explained(files: dict[str, str], where: str) -> None:
    result = proposal({**files, **PYTEST_TEST})

    assert result.values()["setup"].startswith("python3 -m venv .venv && .venv/bin/pip install -e ."), where
    assert "setuptools-scm computes the version from git while installing" in why(result, "setup"), where


def test_lock_files_choose_the_tool_and_a_missing_tool_is_said() -> None:
    poetry = '[tool.poetry]\nname = "p"\n\n[tool.poetry.group.test.dependencies]\npytest = "^8"\n'
    files = {"pyproject.toml": poetry, "poetry.lock": "", **PYTEST_TEST}

    result = proposal(files)

    assert result.values()["setup"] == (
        "POETRY_VIRTUALENVS_IN_PROJECT=true poetry install --no-interaction --with test"
    )
    assert any(note.startswith("poetry is not on the PATH where Nightshift runs") for note in result.notes)


def test_a_pdm_lock_installs_with_pdm_and_its_development_groups_count() -> None:
    pdm = (
        f'{SETUPTOOLS}\n[project]\nname = "p"\nversion = "1"\n\n[project.optional-dependencies]\n'
        'tests = ["freezegun"]\n\n[tool.pdm.dev-dependencies]\nlint = ["ruff"]\ntest = ["pytest>=8"]\n'
        "\n[tool.pytest.ini_options]\n"
    )
    files = {"pyproject.toml": pdm, "pdm.lock": "", **PYTEST_TEST}

    result = proposal(files)

    assert result.values()["setup"] == "pdm install --frozen-lockfile -G tests"
    assert result.values()["test_command"] == ".venv/bin/python -m pytest -q"
    assert "pdm.lock pins the environment" in why(result, "setup")
    assert any(note.startswith("pdm is not on the PATH where Nightshift runs") for note in result.notes)
    assert not any(note.startswith("pytest runs the tests but nothing") for note in result.notes), (
        "pdm installs its development groups, pytest among them"
    )
    with_pdm = proposal(files, Host(programs=frozenset({"pdm"}), variables={}))
    assert not any("pdm is not on the PATH" in note for note in with_pdm.notes)
    no_pytest = {**files, "pyproject.toml": pdm.replace('test = ["pytest>=8"]\n', "")}
    notes = proposal(no_pytest).notes
    assert any(note.startswith("pytest runs the tests but nothing pdm installs lists it") for note in notes)


def test_index_settings_are_passed_on_but_never_a_password(tmp_path: Path) -> None:
    host = Host(
        programs=frozenset(),
        variables={
            "PIP_INDEX_URL": "https://deploy:hunter2@pypi.internal/simple",
            "PIP_FIND_LINKS": str(tmp_path),
            "UV_NO_INDEX": "1",
        },
    )

    result = proposal({"pyproject.toml": pyproject('test = ["pytest"]'), **PYTEST_TEST}, host)

    values = result.values()
    assert values["variables"] == {"PIP_FIND_LINKS": str(tmp_path)}, "uv's settings are uv's"
    assert values["read_only_paths"] == [str(tmp_path)] and values["setup_network"] is True
    assert "hunter2" not in repr(result)
    assert any(note.startswith("PIP_INDEX_URL carries credentials: not written") for note in result.notes)


def test_an_unreadable_manifest_is_said() -> None:
    result = proposal({"pyproject.toml": "[project\n", **PYTEST_TEST})

    assert result.notes[0].startswith("Not read: pyproject.toml is not valid TOML")


def test_environment_written_with_dotted_keys_is_never_half_replaced(tmp_path: Path) -> None:
    config = tmp_path / "nightshift.toml"
    config.write_text('environment.test_command = "make check"\n\n[model]\nname = "x"\n')
    before = config.read_text()

    with pytest.raises(ConfigError, match="remove it by hand"):
        write_table(config, "environment", '[environment]\ntest_command = "y"\n', {"test_command": "y"})

    assert config.read_text() == before
    assert [path.name for path in tmp_path.iterdir()] == ["nightshift.toml"], "no temporary file left"
