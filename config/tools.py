"""Tool settings: timeouts, caps, plugin directories (the test command is ``[environment]``'s)."""

from pathlib import Path
from typing import Annotated

from pydantic import Field

from config.base import Section


class ToolsSettings(Section):
    """Built-in tool behaviour and where extra tools come from."""

    test_timeout_s: Annotated[float, Field(gt=0)] = 300.0
    """A test run is killed (its whole process group) after this long."""
    shell_timeout_s: Annotated[float, Field(gt=0)] = 60.0
    """Default timeout of a ``shell`` command."""
    max_shell_timeout_s: Annotated[float, Field(gt=0)] = 600.0
    """Upper bound on the timeout a model may ask ``shell`` for."""
    read_limit_lines: Annotated[int, Field(gt=0)] = 400
    """Lines ``read_file`` returns per page by default."""
    search_max_results: Annotated[int, Field(gt=0)] = 200
    """Cap on ``grep`` and ``glob`` results."""
    web_timeout_s: Annotated[float, Field(gt=0)] = 15.0
    """Timeout of one ``web_fetch`` or ``web_search``."""
    web_max_bytes: Annotated[int, Field(gt=0)] = 2_000_000
    """Bytes ``web_fetch`` reads at most."""
    plugin_dirs: list[Path] = Field(default_factory=list)
    """Directories whose ``*.py`` modules register extra tools. Never the repository being fixed."""
