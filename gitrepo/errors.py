"""The git layer's one exception.

Messages never hold credentials: userinfo in URLs (``https://user:token@host``) is replaced by
``[redacted]`` before an error is built.
"""


class GitError(Exception):
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
