"""Plugins load from configured directories outside the repository; nothing inside it ever runs."""

from pathlib import Path

import pytest

from tests.tools_fixtures import tool_ctx_fixture, workspace_fixture  # noqa: F401 (fixtures)
from tools import PluginError, PluginRefused, ToolContext, ToolRegistry, builtin_registry, load_plugins

GREETER = '''
from tools import ToolContext, ToolRegistry


def register(registry: ToolRegistry) -> None:
    @registry.tool
    async def greet(ctx: ToolContext, name: str, excited: bool = False) -> str:
        """Greet someone by name.

        Args:
            name: Who to greet.
            excited: Add an exclamation mark.
        """
        return f"hello {name}{'!' if excited else ''} from {ctx.agent}"
'''


def planted(marker: Path) -> str:
    """A plugin that leaves ``marker`` behind if it is ever imported."""
    return (
        "from pathlib import Path\n"
        f"Path({str(marker)!r}).write_text('imported')\n"
        "def register(registry):\n"
        "    pass\n"
    )


async def test_a_plugin_outside_the_repository_adds_a_tool(
    tmp_path: Path, workspace: Path, tool_ctx: ToolContext
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "greeter.py").write_text(GREETER)
    (plugins / "README.txt").write_text("not a module")
    registry = builtin_registry()
    assert load_plugins([plugins], registry, forbidden_roots=[workspace]) == ["greet"]
    [greet] = registry.select(["greet"])
    assert greet.parameters["properties"]["name"]["description"] == "Who to greet."
    outcome = await greet.invoke(tool_ctx, {"name": "Ada", "excited": True})
    assert outcome.text == "hello Ada! from tester"


def test_a_plugin_dir_inside_the_repository_is_refused_before_any_import(
    tmp_path: Path, workspace: Path
) -> None:
    outside = tmp_path / "plugins"
    outside.mkdir()
    outside_marker = tmp_path / "outside-imported"
    (outside / "fine.py").write_text(planted(outside_marker))
    inside = workspace / "nightshift_plugins"
    inside.mkdir()
    inside_marker = tmp_path / "inside-imported"
    (inside / "evil.py").write_text(planted(inside_marker))
    registry = ToolRegistry()

    with pytest.raises(PluginRefused) as refused:
        load_plugins([outside, inside], registry, forbidden_roots=[workspace])
    assert "nightshift_plugins" in str(refused.value)
    assert not inside_marker.exists()
    assert not outside_marker.exists(), "a refusal stops every plugin, not just the bad directory"

    link = tmp_path / "innocent-looking"
    link.symlink_to(inside)
    with pytest.raises(PluginRefused):
        load_plugins([link], registry, forbidden_roots=[workspace])
    assert not inside_marker.exists()


def test_a_symlinked_module_into_the_repository_is_refused(tmp_path: Path, workspace: Path) -> None:
    marker = tmp_path / "imported"
    (workspace / "hook.py").write_text(planted(marker))
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "hook.py").symlink_to(workspace / "hook.py")
    with pytest.raises(PluginRefused, match=r"hook\.py"):
        load_plugins([plugins], ToolRegistry(), forbidden_roots=[workspace])
    assert not marker.exists()


def test_broken_plugins_are_reported_by_file(tmp_path: Path, workspace: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "no_register.py").write_text("VALUE = 1\n")
    with pytest.raises(PluginError, match=r"no_register\.py defines no register"):
        load_plugins([plugins], ToolRegistry(), forbidden_roots=[workspace])
    (plugins / "no_register.py").unlink()
    (plugins / "crashes.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(PluginError, match=r"crashes\.py failed to load: RuntimeError: boom"):
        load_plugins([plugins], ToolRegistry(), forbidden_roots=[workspace])
    with pytest.raises(PluginError, match="does not exist"):
        load_plugins([tmp_path / "missing"], ToolRegistry(), forbidden_roots=[workspace])
