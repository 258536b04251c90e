"""Plugins: extra tools from Python modules in the configured ``tools.plugin_dirs``.

Each ``*.py`` file of a plugin directory is imported and must define
``register(registry: ToolRegistry) -> None``. Plugins run inside the bot process, so they come only
from directories the operator configured: a directory (or a file, through a symlink) that resolves
inside the repository being fixed or one of its worktrees is refused before anything is imported.
Nothing is ever discovered from the repository itself.
"""

import hashlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from tools.errors import PluginError, PluginRefused
from tools.registry import ToolRegistry


def load_plugins(
    dirs: Sequence[Path], registry: ToolRegistry, *, forbidden_roots: Sequence[Path]
) -> list[str]:
    """Import every plugin module of ``dirs`` and return the names of the tools they registered.

    Raises PluginRefused (nothing imported at all) when a directory or module lies inside a
    forbidden root, and PluginError when a directory is missing or a module fails to load.
    """
    roots = [root.resolve() for root in forbidden_roots]
    modules: list[Path] = []
    for directory in dirs:
        resolved = directory.resolve()
        _refuse_inside(roots, directory, resolved)
        if not resolved.is_dir():
            raise PluginError(f"plugin directory {directory} does not exist or is not a directory")
        for module in sorted(resolved.glob("*.py")):
            _refuse_inside(roots, module, module.resolve())
            modules.append(module)
    before = set(registry.names())
    for module in modules:
        digest = hashlib.sha256(str(module.resolve()).encode()).hexdigest()[:12]
        _load(module, f"nightshift_plugin_{digest}_{module.stem}", registry)
    return [name for name in registry.names() if name not in before]


def _refuse_inside(roots: Sequence[Path], shown: Path, resolved: Path) -> None:
    for root in roots:
        if resolved.is_relative_to(root):
            raise PluginRefused(
                f"plugin path {shown} resolves to {resolved}, inside the repository {root}; plugins "
                "must live outside the repository being fixed (code from it never runs in the bot)"
            )


def _load(path: Path, module_name: str, registry: ToolRegistry) -> None:
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"plugin {path} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
        register = getattr(module, "register", None)
        if not callable(register):
            raise PluginError(f"plugin {path} defines no register(registry) function")
        register(registry)
    except PluginError:
        sys.modules.pop(module_name, None)
        raise
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise PluginError(f"plugin {path} failed to load: {type(exc).__name__}: {exc}") from exc
