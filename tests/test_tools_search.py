"""glob and grep on a real git repository: matches, caps, .git and binaries skipped, escapes refused."""

from pathlib import Path
from typing import Any

from tests.tools_fixtures import make_context, tool_ctx_fixture, workspace_fixture  # noqa: F401 (fixtures)
from tools import ToolContext, ToolOutcome, builtin_registry


async def call(ctx: ToolContext, name: str, **arguments: Any) -> ToolOutcome:
    return await builtin_registry().select([name])[0].invoke(ctx, arguments)


async def test_glob_matches_recursively_and_skips_git(tool_ctx: ToolContext) -> None:
    everything = await call(tool_ctx, "glob", pattern="**/*.py")
    assert everything.text.splitlines() == [
        "calc/__init__.py",
        "calc/ops.py",
        "tests/__init__.py",
        "tests/test_ops.py",
    ]
    top = await call(tool_ctx, "glob", pattern="*")
    assert top.text.splitlines() == ["README.md", "calc/", "tests/"]
    assert (await call(tool_ctx, "glob", pattern="tests/test_*.py")).text == "tests/test_ops.py"
    all_paths = await call(tool_ctx, "glob", pattern="**")
    assert ".git" not in all_paths.text and "calc/ops.py" in all_paths.text
    none = await call(tool_ctx, "glob", pattern="**/*.rs")
    assert none.text == "no paths match '**/*.rs'"


async def test_glob_caps_results_with_a_note(workspace: Path, tmp_path: Path) -> None:
    ctx = make_context(workspace, tmp_path / "state", search_max_results=2)
    outcome = await call(ctx, "glob", pattern="**/*.py")
    assert outcome.text.splitlines() == [
        "calc/__init__.py",
        "calc/ops.py",
        "(results capped at 2; use a narrower pattern)",
    ]


async def test_glob_refuses_patterns_that_leave_the_workspace(tool_ctx: ToolContext, workspace: Path) -> None:
    (workspace.parent / "secret.py").write_text("TOKEN = 1\n")
    (workspace / "elsewhere").symlink_to(workspace.parent)
    for pattern in ("../*.py", "/etc/*", "calc/../../*.py", "~/*"):
        outcome = await call(tool_ctx, "glob", pattern=pattern)
        assert outcome.is_error and "secret.py" not in outcome.text, pattern
    through_link = await call(tool_ctx, "glob", pattern="elsewhere/*.py")
    assert through_link.is_error and "secret.py" not in through_link.text


async def test_grep_prints_path_line_and_text(tool_ctx: ToolContext) -> None:
    outcome = await call(tool_ctx, "grep", pattern=r"def (add|sub)")
    assert outcome.text.splitlines() == [
        "calc/ops.py:1: def add(a, b):",
        "calc/ops.py:5: def sub(a, b):",
    ]
    narrowed = await call(tool_ctx, "grep", pattern="add", path="tests")
    assert narrowed.text.splitlines() == [
        "tests/test_ops.py:1: from calc.ops import add, sub",
        "tests/test_ops.py:4: def test_add():",
        "tests/test_ops.py:5: assert add(2, 3) == 5",
    ]
    single_file = await call(tool_ctx, "grep", pattern="return", path="calc/ops.py")
    assert len(single_file.text.splitlines()) == 2


async def test_grep_ignore_case_skips_git_and_binaries(tool_ctx: ToolContext, workspace: Path) -> None:
    (workspace / "blob.bin").write_bytes(b"\0\1README binary README")
    (workspace / "notes.txt").write_text("see readme\n")
    sensitive = await call(tool_ctx, "grep", pattern="readme")
    assert sensitive.text == "notes.txt:1: see readme"
    insensitive = await call(tool_ctx, "grep", pattern="readme", ignore_case=True)
    assert "notes.txt:1: see readme" in insensitive.text
    assert "blob.bin" not in insensitive.text
    commit_message = await call(tool_ctx, "grep", pattern="initial")
    assert commit_message.text == "no matches for 'initial' in ."


async def test_grep_caps_results_and_explains_bad_patterns(workspace: Path, tmp_path: Path) -> None:
    (workspace / "many.txt").write_text("hit\n" * 10)
    ctx = make_context(workspace, tmp_path / "state", search_max_results=3)
    capped = await call(ctx, "grep", pattern="^hit$")
    assert capped.text.splitlines() == [
        "many.txt:1: hit",
        "many.txt:2: hit",
        "many.txt:3: hit",
        "(results capped at 3; narrow the pattern or the path)",
    ]
    bad = await call(ctx, "grep", pattern="def (add")
    assert bad.is_error and bad.text.startswith("invalid regular expression 'def (add'")
    missing = await call(ctx, "grep", pattern="x", path="nowhere")
    assert missing.is_error and "nowhere does not exist" in missing.text
    outside = await call(ctx, "grep", pattern="x", path="..")
    assert outside.is_error
