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


class SandboxUnavailable(SafetyError):
    """No sandbox can be made here (no usable bwrap, or the kernel refuses the namespaces); the
    message names the fix. Start-up stops on it unless ``[safety] sandbox = "none"`` is set."""


class SecretFound(SafetyError):
    """A known secret (raw or encoded) in something about to leave the bot; the send is stopped.

    ``names`` are the secrets' names (never their values), ``where`` what was being sent."""

    def __init__(self, where: str, names: list[str]) -> None:
        super().__init__(
            f"{where} was not sent: it contains the secret {', '.join(names)}; nothing of it left Nightshift"
        )
        self.where = where
        self.names = names
