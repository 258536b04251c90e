"""remember and recall: JSONL notes per repository, ranked by shared words, redacted before storage."""

import json
from pathlib import Path

from tests.tools_fixtures import make_context, tool_ctx_fixture, workspace_fixture  # noqa: F401 (fixtures)
from tools import ToolContext, ToolOutcome, builtin_registry


async def remember(ctx: ToolContext, note: str) -> ToolOutcome:
    return await builtin_registry().select(["remember"])[0].invoke(ctx, {"note": note})


async def recall(ctx: ToolContext, query: str) -> ToolOutcome:
    return await builtin_registry().select(["recall"])[0].invoke(ctx, {"query": query})


async def test_an_empty_store_says_so(tool_ctx: ToolContext) -> None:
    assert (await recall(tool_ctx, "anything")).text == "no notes yet"


async def test_notes_are_ranked_by_shared_words(tool_ctx: ToolContext, tmp_path: Path) -> None:
    assert (await remember(tool_ctx, "The database migrations live in db/migrations.")).text == (
        "noted (1 notes for this repository)"
    )
    await remember(tool_ctx, "Run the slow tests with -m slow.")
    await remember(tool_ctx, "Database tests need the SQLite fixture.")

    outcome = await recall(tool_ctx, "DATABASE migrations")
    lines = outcome.text.splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("(tester): The database migrations live in db/migrations.")
    assert lines[1].endswith("(tester): Database tests need the SQLite fixture.")
    assert lines[0][2:12].count("-") == 2, "each note shows its date"
    assert (await recall(tool_ctx, "kubernetes")).text == "no notes match 'kubernetes' (3 notes stored)"


async def test_notes_persist_per_repository_as_jsonl(workspace: Path, tmp_path: Path) -> None:
    first = make_context(workspace, tmp_path / "state")
    await remember(first, "calc.ops.sub had its operands swapped once")
    later = make_context(workspace, tmp_path / "state")
    assert "operands swapped" in (await recall(later, "sub operands")).text

    [line] = first.notes_path.read_text().splitlines()
    record = json.loads(line)
    assert set(record) == {"ts", "agent", "note"} and record["agent"] == "tester"
    assert first.notes_path == tmp_path / "state" / "notes" / "calc.jsonl"

    other = make_context(workspace, tmp_path / "state", agent="code", role="code", repo_id="another/repo")
    assert (await recall(other, "sub operands")).text == "no notes yet"


async def test_secrets_never_reach_the_notes_file(workspace: Path, tmp_path: Path) -> None:
    secret = "ghp_abcdefghijklmnopqrstuvwxyz"
    ctx = make_context(workspace, tmp_path / "state", secrets=[secret])
    await remember(ctx, f"the deploy token is {secret}")
    assert secret not in ctx.notes_path.read_text()
    assert "the deploy token is" in (await recall(ctx, "deploy token")).text


async def test_a_damaged_line_is_skipped(tool_ctx: ToolContext) -> None:
    await remember(tool_ctx, "first note about caching")
    with tool_ctx.notes_path.open("a") as handle:
        handle.write("{not json\n")
    await remember(tool_ctx, "second note about caching")
    assert len((await recall(tool_ctx, "caching")).text.splitlines()) == 2
