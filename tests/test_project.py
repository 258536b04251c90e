"""Which files are the project's tests: read from its own configuration at the base commit, so the write
rules between the code and the test agents follow the project."""

import sys
from pathlib import Path

import pytest

from config import EnvironmentSettings, Settings
from environment.layout import project_test_patterns
from gitrepo import GitRepo
from safety import WriteDenied, WriteRules
from tests.tools_fixtures import git, make_repo


async def patterns(tmp_path: Path, files: dict[str, str], **environment: object) -> list[str]:
    path = make_repo(tmp_path / "project", {"lib.py": "X = 1\n", **files})
    base = git(path, "rev-parse", "HEAD").strip()
    settings = Settings(environment=EnvironmentSettings.model_validate(environment))
    return await project_test_patterns(GitRepo(path), base, settings)


async def test_the_defaults_are_pytests_and_the_conventions(tmp_path: Path) -> None:
    found = await patterns(tmp_path, {})
    assert found == ["**/test_*.py", "**/*_test.py", "tests/**", "test/**", "**/conftest.py"]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("pyproject.toml", "[tool.pytest.ini_options]\npython_files = ['check_*.py']\ntestpaths = ['qa']\n"),
        ("pytest.ini", "[pytest]\npython_files = check_*.py\ntestpaths = qa\n"),
        ("setup.cfg", "[tool:pytest]\npython_files = check_*.py\ntestpaths = qa\n"),
        ("tox.ini", "[pytest]\npython_files = check_*.py\ntestpaths = qa\n"),
    ],
)
async def test_pytests_own_configuration_is_read(tmp_path: Path, name: str, text: str) -> None:
    found = await patterns(tmp_path, {name: text})
    rules = WriteRules("any", found)
    assert found[0] == "qa/**/check_*.py"
    assert rules.is_test_file("qa/unit/check_clock.py")
    assert not rules.is_test_file("src/check_clock.py") and not rules.is_test_file("qa/helpers.py")


async def test_a_root_level_test_script_named_by_the_test_command_is_a_test_file(tmp_path: Path) -> None:
    found = await patterns(
        tmp_path, {"test.py": "import unittest\n"}, test_command=f"{sys.executable} test.py"
    )
    assert "test.py" in found
    WriteRules("test", found).check_write("test.py")
    with pytest.raises(WriteDenied, match="it is a test file"):
        WriteRules("code", found).check_write("test.py")
    WriteRules("code", found).check_write("lib.py")


async def test_configured_test_files_replace_everything_else(tmp_path: Path) -> None:
    found = await patterns(tmp_path, {"pytest.ini": "[pytest]\ntestpaths = qa\n"}, test_files=["spec/**"])
    assert found == ["spec/**"]
