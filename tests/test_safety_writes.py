"""Write rules by role: the code agent never touches tests, the test agent writes only tests."""

import pytest

from safety import WriteDenied, WriteRules
from tests.tools_fixtures import TEST_FILES as DEFAULT_TEST_PATTERNS

CODE = WriteRules("code", DEFAULT_TEST_PATTERNS)
TEST = WriteRules("test", DEFAULT_TEST_PATTERNS)
ANY = WriteRules("any", DEFAULT_TEST_PATTERNS)

TEST_FILES = [
    pytest.param("tests/test_x.py", "tests/**", id="tests-dir"),
    pytest.param("tests/unit/deep/helpers.py", "tests/**", id="deep-under-tests"),
    pytest.param("tests/data/fixture.json", "tests/**", id="fixture-data"),
    pytest.param("test/test_y.py", "test/**", id="test-dir"),
    pytest.param("conftest.py", "**/conftest.py", id="root-conftest"),
    pytest.param("pkg/conftest.py", "**/conftest.py", id="nested-conftest"),
    pytest.param("pkg/foo_test.py", "**/*_test.py", id="suffix-test-module"),
    pytest.param("test_root.py", "**/test_*.py", id="root-test-module"),
    pytest.param("src/pkg/test_mod.py", "**/test_*.py", id="nested-test-module"),
    pytest.param("./tests/test_x.py", "tests/**", id="dot-slash-spelling"),
    pytest.param("src/../tests/test_x.py", "tests/**", id="dotdot-spelling"),
]
CODE_FILES = ["app.py", "src/pkg/mod.py", "docs/testing.md", "contest.py", "tests_old.py", "src/testing.py"]


@pytest.mark.parametrize(("path", "pattern"), TEST_FILES)
def test_code_agent_may_not_write_test_files(path: str, pattern: str) -> None:
    assert CODE.is_test_file(path)
    with pytest.raises(WriteDenied) as refused:
        CODE.check_write(path)
    message = str(refused.value)
    assert "code agent may not create or change tests" in message and repr(pattern) in message


@pytest.mark.parametrize("path", CODE_FILES)
def test_code_agent_may_write_code(path: str) -> None:
    assert not CODE.is_test_file(path)
    CODE.check_write(path)


@pytest.mark.parametrize("path", CODE_FILES)
def test_test_agent_may_not_write_code(path: str) -> None:
    with pytest.raises(WriteDenied, match="test agent may write only test files") as refused:
        TEST.check_write(path)
    assert "tests/**" in str(refused.value)


@pytest.mark.parametrize(("path", "pattern"), TEST_FILES)
def test_test_agent_may_write_tests(path: str, pattern: str) -> None:
    TEST.check_write(path)


def test_any_role_writes_both() -> None:
    ANY.check_write("app.py")
    ANY.check_write("tests/test_x.py")


@pytest.mark.parametrize("rules", [CODE, TEST, ANY], ids=["code", "test", "any"])
@pytest.mark.parametrize("path", [".git/hooks/pre-commit", ".git/config", ".git", "sub/.git/config"])
def test_nobody_writes_inside_git(rules: WriteRules, path: str) -> None:
    with pytest.raises(WriteDenied, match=r"nothing inside \.git may be written"):
        rules.check_write(path)


@pytest.mark.parametrize("path", ["../outside.py", "/etc/passwd"])
def test_paths_outside_the_workspace_are_refused(path: str) -> None:
    with pytest.raises(WriteDenied, match="not a path inside the workspace"):
        ANY.check_write(path)


def test_patterns_are_configurable() -> None:
    rules = WriteRules("code", ["spec/**", "**/*.spec.ts"])
    with pytest.raises(WriteDenied, match="'spec/\\*\\*'"):
        rules.check_write("spec/models/user_spec.rb")
    with pytest.raises(WriteDenied, match=r"\*\*/\*\.spec\.ts"):
        rules.check_write("web/src/app.spec.ts")
    rules.check_write("tests/test_x.py")  # not a test file under these patterns


def test_glob_semantics() -> None:
    rules = WriteRules("any", ["*.py", "docs/**/index.md", "data/[ab]?.csv", "tests/**"])
    assert rules.is_test_file("setup.py") and not rules.is_test_file("pkg/setup.py")  # * stays in one dir
    assert rules.is_test_file("docs/index.md") and rules.is_test_file("docs/a/b/index.md")  # ** spans 0+ dirs
    assert rules.is_test_file("data/a1.csv") and not rules.is_test_file("data/c1.csv")
    assert rules.is_test_file("tests") and not rules.is_test_file("tests_old/x.txt")


def test_unknown_role_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown write role"):
        WriteRules("admin", [])  # type: ignore[arg-type]
