"""read_file, list_dir, write_file, edit_file and delete_file on a real git repository, via Tool.invoke."""

import os
from pathlib import Path
from typing import Any

import pytest

from tests.tools_fixtures import git, make_context, tool_ctx_fixture, workspace_fixture  # noqa: F401 (fixtures)
from tools import ToolContext, ToolOutcome, builtin_registry


async def call(ctx: ToolContext, name: str, **arguments: Any) -> ToolOutcome:
    return await builtin_registry().select([name])[0].invoke(ctx, arguments)


def leftovers(directory: Path) -> list[str]:
    """Temporary files a write may have left behind."""
    return [path.name for path in directory.rglob("*.tmp")]


async def test_read_file_numbers_lines_and_pages(workspace: Path, tmp_path: Path) -> None:
    (workspace / "long.txt").write_text("".join(f"line {n}\n" for n in range(1, 11)))
    ctx = make_context(workspace, tmp_path / "state", read_limit_lines=4)

    whole = await call(ctx, "read_file", path="calc/ops.py", limit=50)
    assert whole.text.splitlines()[:2] == ["     1\tdef add(a, b):", "     2\t    return a + b"]
    assert "offset=" not in whole.text

    first = await call(ctx, "read_file", path="long.txt")
    assert first.text.splitlines()[-1] == "(lines 1-4 of 10; use offset=5 to read more)"
    assert "     4\tline 4" in first.text and "line 5" not in first.text

    last = await call(ctx, "read_file", path="long.txt", offset=9, limit=50)
    assert last.text.splitlines() == ["     9\tline 9", "    10\tline 10", "(lines 9-10 of 10; end of file)"]

    past = await call(ctx, "read_file", path="long.txt", offset=11)
    assert past.is_error and "past the end" in past.text and "10 lines" in past.text


async def test_read_file_refuses_binary_and_names_nearby(tool_ctx: ToolContext, workspace: Path) -> None:
    (workspace / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    binary = await call(tool_ctx, "read_file", path="logo.png")
    assert binary.is_error and "binary" in binary.text

    missing = await call(tool_ctx, "read_file", path="calc/opps.py")
    assert missing.is_error
    assert "calc/opps.py does not exist" in missing.text
    assert "Did you mean: ops.py?" in missing.text
    assert "Entries in calc: __init__.py, ops.py" in missing.text

    directory = await call(tool_ctx, "read_file", path="calc")
    assert directory.is_error and "list_dir" in directory.text


async def test_paths_outside_the_workspace_are_refused(tool_ctx: ToolContext, workspace: Path) -> None:
    outside = workspace.parent / "outside.txt"
    outside.write_text("private")
    (workspace / "link.txt").symlink_to(outside)
    for path in ("../outside.txt", str(outside), "link.txt"):
        outcome = await call(tool_ctx, "read_file", path=path)
        assert outcome.is_error and "private" not in outcome.text, path
    written = await call(tool_ctx, "write_file", path="../outside.txt", content="overwritten")
    assert written.is_error
    assert outside.read_text() == "private"


async def test_list_dir_sorts_marks_dirs_hides_git_and_caps(workspace: Path, tmp_path: Path) -> None:
    ctx = make_context(workspace, tmp_path / "state", search_max_results=3)
    (workspace / ".env.example").write_text("")
    listing = await call(ctx, "list_dir")
    assert listing.text.splitlines() == [
        ".env.example",
        "README.md",
        "calc/",
        "(showing 3 of 4 entries; use glob to narrow down)",
    ]
    assert ".git" not in listing.text
    sub = await call(ctx, "list_dir", path="calc")
    assert sub.text.splitlines() == ["__init__.py", "ops.py"]
    not_dir = await call(ctx, "list_dir", path="README.md")
    assert not_dir.is_error and "read_file" in not_dir.text


async def test_write_file_creates_parents_and_reports(tool_ctx: ToolContext, workspace: Path) -> None:
    mul = "def mul(a, b):\n    return a * b\n"
    created = await call(tool_ctx, "write_file", path="calc/extra/mul.py", content=mul)
    assert created == ToolOutcome("created calc/extra/mul.py (32 bytes written)")
    assert (workspace / "calc/extra/mul.py").read_text() == mul

    overwritten = await call(tool_ctx, "write_file", path="README.md", content="# calc\n")
    assert overwritten.text == "overwrote README.md (7 bytes written)"
    assert "README.md" in git(workspace, "status", "--porcelain")
    assert leftovers(workspace) == []


async def test_write_rules_apply_to_writes_and_edits(workspace: Path, tmp_path: Path) -> None:
    code_agent = make_context(workspace, tmp_path / "state", role="code")
    test_agent = make_context(workspace, tmp_path / "state", role="test")
    refused = await call(code_agent, "write_file", path="tests/test_new.py", content="def test_x(): pass\n")
    assert refused.is_error and "test" in refused.text
    assert not (workspace / "tests/test_new.py").exists()
    edit = await call(code_agent, "edit_file", path="tests/test_ops.py", old_text="5", new_text="6")
    assert edit.is_error
    wrong_side = await call(test_agent, "edit_file", path="calc/ops.py", old_text="a + b", new_text="a - b")
    assert wrong_side.is_error
    assert "a + b" in (workspace / "calc/ops.py").read_text()
    into_git = await call(test_agent, "write_file", path=".git/hooks/pre-commit", content="#!/bin/sh\n")
    assert into_git.is_error and not (workspace / ".git/hooks/pre-commit").exists()
    assert git(workspace, "status", "--porcelain") == ""


async def test_a_failed_write_leaves_the_old_file_whole(
    tool_ctx: ToolContext, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    outcome = await call(tool_ctx, "write_file", path="calc/ops.py", content="half")
    assert outcome.is_error and "disk full" in outcome.text
    assert (workspace / "calc/ops.py").read_text().startswith("def add(a, b):")
    assert leftovers(workspace) == []


async def test_edit_file_replaces_exactly_one_occurrence(tool_ctx: ToolContext, workspace: Path) -> None:
    (workspace / "calc/ops.py").chmod(0o755)
    outcome = await call(
        tool_ctx, "edit_file", path="calc/ops.py", old_text="    return a - b", new_text="    return b - a"
    )
    assert not outcome.is_error
    assert outcome.text.startswith("edited calc/ops.py; lines 6-6 now read:")
    assert "     6\t    return b - a" in outcome.text
    assert (workspace / "calc/ops.py").read_text().endswith("def sub(a, b):\n    return b - a\n")
    assert (workspace / "calc/ops.py").stat().st_mode & 0o777 == 0o755
    assert leftovers(workspace) == []


async def test_edit_file_shows_the_nearest_lines_on_a_miss(tool_ctx: ToolContext, workspace: Path) -> None:
    before = (workspace / "calc/ops.py").read_text()
    guess = "def sub(x, y):\n  return x - y"
    outcome = await call(tool_ctx, "edit_file", path="calc/ops.py", old_text=guess, new_text="")
    assert outcome.is_error
    assert "old_text was not found in calc/ops.py" in outcome.text
    assert "around lines 5-6" in outcome.text
    assert "     5\tdef sub(a, b):" in outcome.text and "     6\t    return a - b" in outcome.text
    assert (workspace / "calc/ops.py").read_text() == before


async def test_edit_file_refuses_an_ambiguous_match(tool_ctx: ToolContext, workspace: Path) -> None:
    before = (workspace / "calc/ops.py").read_text()
    outcome = await call(tool_ctx, "edit_file", path="calc/ops.py", old_text="(a, b):", new_text="(x, y):")
    assert outcome.is_error
    assert "occurs 2 times" in outcome.text and "lines 1, 5" in outcome.text
    assert (workspace / "calc/ops.py").read_text() == before


async def test_delete_file_removes_only_what_the_agent_created(workspace: Path, tmp_path: Path) -> None:
    """A scratch file goes; a file of the base commit, a test file (for the code agent), a directory and
    a missing file are refused, each saying why."""
    code_agent = make_context(workspace, tmp_path / "state", role="code")
    (workspace / "calc" / "repro.py").write_text("print('scratch')\n")
    (workspace / "calc" / "ops.py").write_text("changed\n")

    deleted = await call(code_agent, "delete_file", path="calc/repro.py")
    tracked = await call(code_agent, "delete_file", path="calc/ops.py")
    test_file = await call(code_agent, "delete_file", path="tests/test_ops.py")
    directory = await call(code_agent, "delete_file", path="calc")
    missing = await call(code_agent, "delete_file", path="calc/nothing.py")

    assert deleted.text == "deleted calc/repro.py" and not (workspace / "calc" / "repro.py").exists()
    assert tracked.is_error and "part of the repository at the base commit" in tracked.text
    assert (workspace / "calc" / "ops.py").read_text() == "changed\n"
    assert test_file.is_error and "test file" in test_file.text and (workspace / "tests/test_ops.py").exists()
    assert directory.is_error and "is a directory" in directory.text
    assert missing.is_error and "does not exist" in missing.text
    assert git(workspace, "status", "--porcelain") == " M calc/ops.py\n"


async def test_delete_file_removes_a_link_not_what_it_points_to(workspace: Path, tmp_path: Path) -> None:
    ctx = make_context(workspace, tmp_path / "state", role="code")
    (workspace / "link.py").symlink_to(workspace / "calc" / "ops.py")

    outcome = await call(ctx, "delete_file", path="link.py")

    assert outcome.text == "deleted link.py"
    assert not (workspace / "link.py").is_symlink() and (workspace / "calc" / "ops.py").exists()
