"""Errors of the safety layer (the hierarchy is drawn in the package docstring).

Every message is written for the model that asked for the action: it says what was refused, which rule
refused it, and what to do instead. Tools hand ``str(exc)`` back to the model as the tool result.
"""


class SafetyError(Exception):
    """Base of every refusal the safety layer raises."""


class PathEscape(SafetyError):
    """A path that is absolute, starts with ``~``, holds a NUL byte or resolves outside the workspace."""


class WriteDenied(SafetyError):
    """A write this agent's role may not make (tests for the code agent, non-tests for the test agent)."""


class CommandRefused(SafetyError):
    """A shell command the policy does not run: ``never``, plainly destructive intent, unreadable."""


class UrlRefused(SafetyError):
    """A URL that is not plain http(s) to a public address (SSRF protection)."""
