"""Escaping for the web pages: every text from a ticket, a model or a diff goes through ``escape``."""

import html


def escape(value: object) -> str:
    return html.escape(str(value), quote=True)


def attr(name: str, value: object) -> str:
    """`` name="value"`` with the value escaped."""
    return f' {name}="{escape(value)}"'
