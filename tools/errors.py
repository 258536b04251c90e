"""The tools package's exceptions (the hierarchy is drawn in ``tools/__init__.py``)."""


class ToolsError(Exception):
    """Base of every error this package raises to its caller."""


class ToolError(ToolsError):
    """Raised inside a tool: its message goes back to the model as the tool's result."""


class PluginError(ToolsError):
    """A plugin directory or module that cannot be loaded; the message names the file."""


class PluginRefused(PluginError):
    """A plugin directory (or file) that resolves inside the repository being fixed."""
