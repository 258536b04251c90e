"""The workflow package's exceptions.

::

    WorkflowError            base of everything the workflow package raises to its caller
     ├── GitError            a git command failed, or a git operation was refused (diverged branch,
     │                       occupied worktree path, patch that does not apply)
     ├── EngineBusy          another process already executes runs from this state directory
     ├── RunNotFound         no run has that id
     └── DecisionRefused     a decision that does not fit the run's state

Every message names what was attempted and what to do about it. Messages never hold credentials:
userinfo in URLs (``https://user:token@host``) is replaced by ``[redacted]`` before an error is built.
"""


class WorkflowError(Exception):
    """Base of every error the workflow package raises."""


class GitError(WorkflowError):
    """A git command that failed or a git operation that was refused.

    ``command`` (redacted, e.g. ``"git worktree add --detach /w/code 1a2b..."``), ``returncode`` and
    ``stderr`` (redacted) are set when a command failed; a refusal carries only the message.
    """

    def __init__(
        self, message: str, *, command: str | None = None, returncode: int | None = None, stderr: str = ""
    ) -> None:
        super().__init__(message)
        self.command = command
        self.returncode = returncode
        self.stderr = stderr


class EngineBusy(WorkflowError):
    """Another Nightshift process already executes runs from this state directory."""


class RunNotFound(WorkflowError):
    """No run has that id."""


class DecisionRefused(WorkflowError):
    """A decision that does not fit the run's state (for example: request changes with no revisions left)."""
