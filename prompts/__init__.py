"""The words the agents are given, kept apart from the code that uses them.

Each prompt is a Markdown file in this package; ``load("summarize")`` returns ``summarize.md``.
"""

from functools import cache
from importlib import resources


@cache
def load(name: str) -> str:
    """The text of ``prompts/<name>.md``; FileNotFoundError names the file when there is no such prompt."""
    return resources.files(__name__).joinpath(f"{name}.md").read_text(encoding="utf-8")
