"""Shell command analysis and the policy gate in front of the ``shell`` tool.

``analyse(command)`` parses the command the way bash would (``safety.shellparse``), visits every
command that would run, nested ones included (``safety.analysis``), and classifies each program
(``safety.programs``). ``CommandGate`` applies the configured policy to that analysis. The policies,
for an unattended bot where no human can be asked (docs/safety.md has the full rules):

- ``yolo``: everything runs, dangerous commands included; only for disposable sandboxes.
- ``auto``: anything that is not dangerous runs; network tools only with ``allow_network``.
- ``auto_edit``: read-only commands, and commands that only edit files inside the workspace.
- ``on_request``: read-only commands only (anything else would need a human's approval).
- ``on_failure``: like ``auto`` until a command fails; then read-only commands only, for the rest of
  the run (escalating after a failure would need a human).
- ``never``: no shell command runs at all.

Dangerous commands (refused under every policy but yolo) are found by parsing, never by one regex over
the whole string, so quoting, ``$'\\x72m'``, ``{rm,-rf,/}``, ``/bin/rm``, ``bash -c``, ``eval`` and
substitutions do not hide them. What cannot be parsed or classified is refused.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from config.safety import Policy
from safety.analysis import Analyser
from safety.errors import CommandRefused, ShellSyntaxError

_SHOWN = 120
MAX_COMMAND_LENGTH = 100_000
"""Longer commands are not analysed (and so refused): write a script file instead."""

_SAFE_EXAMPLES = "ls, cat, grep, find, git status/diff/log/show, pytest, ..."
POLICY_DESCRIPTIONS: dict[Policy, str] = {
    Policy.YOLO: "yolo: every command runs, dangerous ones included (only for disposable sandboxes).",
    Policy.AUTO: (
        "auto: any command runs unless it is dangerous (rm -r outside the workspace, sudo, curl | sh, "
        "git push, writes to ~/.ssh or devices, ...)."
    ),
    Policy.AUTO_EDIT: (
        f"auto_edit: read-only commands ({_SAFE_EXAMPLES}) and commands that only edit files inside the "
        "workspace (sed -i, mkdir, touch, cp, mv, rm of named files, patch, tee, > file) run; anything else "
        "is refused."
    ),
    Policy.ON_REQUEST: (
        f"on_request: only read-only commands run ({_SAFE_EXAMPLES}); anything that would need a human's "
        "approval is refused."
    ),
    Policy.ON_FAILURE: (
        "on_failure: any command that is not dangerous runs until one fails; after a failure only read-only "
        "commands run for the rest of this run."
    ),
    Policy.NEVER: "never: no shell command runs; use the file tools instead.",
}


@dataclass(frozen=True)
class CommandAnalysis:
    """What a shell command would do, as far as parsing can tell."""

    command: str
    programs: list[list[str]]
    """Every simple command found (nested ones included), as argv after brace expansion."""
    dangers: list[str]
    """Why the command is dangerous (empty when it is not); refused under every policy but yolo."""
    read_only: bool
    """Every simple command is on the read-only safe list, with harmless options and no writes."""
    uses_network: bool
    writes_files: bool
    """Some part is known to write or delete files (a redirection, an editing command, ...)."""
    parse_error: str | None
    network: tuple[str, ...] = ()
    """Why the command uses the network."""
    not_read_only: tuple[str, ...] = ()
    """Why the command is not read-only."""
    not_edit: tuple[str, ...] = ()
    """Why the command is neither read-only nor only an edit inside the workspace."""
    write_targets: tuple[str, ...] = ()
    """Paths the command is known to write or delete, as written."""
    recursive_targets: tuple[str, ...] = ()
    """Workspace-relative paths deleted or changed recursively (rm -r, chmod -R, find -delete)."""
    directories: tuple[str, ...] = ()
    """Workspace-relative directories the command cd's into."""

    @property
    def edits_only(self) -> bool:
        """Every simple command is read-only or edits only files inside the workspace."""
        return self.parse_error is None and not self.dangers and not self.not_edit


def analyse(command: str, *, cwd_outside: bool = False) -> CommandAnalysis:
    """Parse ``command`` and classify everything it would run.

    ``cwd_outside``: treat relative paths as outside the workspace (the command starts, or cd's, into a
    directory that is not inside it).
    """
    if len(command) > MAX_COMMAND_LENGTH:
        return _unparsed(
            command, f"the command is {len(command)} characters long (limit {MAX_COMMAND_LENGTH})"
        )
    try:
        analyser = _walk(command, cwd_outside=cwd_outside)
        if analyser.left and not cwd_outside:
            analyser = _walk(command, cwd_outside=True)
    except ShellSyntaxError as exc:
        return _unparsed(command, str(exc))
    found = analyser.findings
    return CommandAnalysis(
        command=command,
        programs=found.programs,
        dangers=found.dangers,
        read_only=not found.dangers and not found.not_read_only,
        uses_network=bool(found.network),
        writes_files=found.edits or bool(found.write_targets),
        parse_error=None,
        network=tuple(found.network),
        not_read_only=tuple(found.not_read_only),
        not_edit=tuple(found.not_edit),
        write_targets=tuple(found.write_targets),
        recursive_targets=tuple(found.recursive_targets),
        directories=tuple(found.directories),
    )


def _walk(command: str, *, cwd_outside: bool) -> Analyser:
    analyser = Analyser(cwd_outside=cwd_outside)
    analyser.script(command, 0)
    analyser.finish()
    return analyser


def _unparsed(command: str, error: str) -> CommandAnalysis:
    return CommandAnalysis(
        command, [], [], False, False, False, error, not_read_only=(error,), not_edit=(error,)
    )


class CommandGate:
    """Decides whether the ``shell`` tool may run a command under ``policy``.

    With ``workspace`` (the directory commands run in) the gate also follows symlinks that already
    exist there: ``rm -rf link/`` or ``cd link && rm -rf *`` where ``link`` points out of the workspace,
    and writes through links into ``~/.ssh`` or (under auto_edit) anywhere outside, are caught.
    """

    def __init__(self, policy: Policy, *, allow_network: bool = False, workspace: Path | None = None) -> None:
        self.policy = Policy(policy)
        self.allow_network = allow_network
        self.workspace = workspace.resolve() if workspace is not None else None
        self.failed = False
        """A command failed (``record_exit``); under on_failure only read-only commands run from now on."""

    @property
    def description(self) -> str:
        """One line for the model: what this policy lets the shell tool run."""
        if self.policy is Policy.ON_FAILURE and self.failed:
            return (
                "on_failure: a command has failed, so only read-only commands run for the rest of this run."
            )
        text = POLICY_DESCRIPTIONS[self.policy]
        if self.policy in (Policy.AUTO, Policy.ON_FAILURE, Policy.AUTO_EDIT):
            text += " Network tools are " + (
                "allowed." if self.allow_network else "refused (no network access)."
            )
        return text

    def record_exit(self, exit_code: int) -> None:
        """Tell the gate how a command ended (timeouts count as failures: pass a non-zero code)."""
        if exit_code != 0:
            self.failed = True

    def check(self, command: str) -> None:
        """Raise ``CommandRefused`` (naming the policy and the reason) unless ``command`` may run."""
        reason = self._refusal(command)
        if reason is not None:
            shown = command if len(command) <= _SHOWN else command[: _SHOWN - 3] + "..."
            raise CommandRefused(f"command {shown!r} refused by the safety policy '{self.policy}': {reason}")

    def _refusal(self, command: str) -> str | None:
        policy = self.policy
        if policy is Policy.NEVER:
            return "no shell command may run under this policy; use the file tools (read, search, edit)"
        if policy is Policy.YOLO:
            return None
        analysis = analyse(command)
        if any(self._escapes(directory) for directory in analysis.directories):
            analysis = analyse(command, cwd_outside=True)
        if analysis.parse_error is not None:
            return (
                f"it cannot be parsed ({analysis.parse_error}); what cannot be read cannot be checked, "
                "so write it in plain shell syntax"
            )
        dangers = list(analysis.dangers) + self._symlink_dangers(analysis)
        if dangers:
            return f"it is dangerous: {'; '.join(dangers)}"
        if analysis.uses_network and not self.allow_network:
            return f"{'; '.join(analysis.network)}, and network access is off (safety.allow_network)"
        if policy is Policy.AUTO_EDIT:
            escaping = [
                f"'{t}' leads outside the workspace through a symlink"
                for t in self._escaping_writes(analysis)
            ]
            reasons = list(analysis.not_edit) + escaping
            if reasons:
                return (
                    f"only read-only commands and edits of files inside the workspace run, and {reasons[0]}; "
                    "nobody can approve it in an unattended run"
                )
        elif policy is Policy.ON_REQUEST or (policy is Policy.ON_FAILURE and self.failed):
            if not analysis.read_only:
                after = "after a failed command " if policy is Policy.ON_FAILURE else ""
                why = analysis.not_read_only[0]
                return (
                    f"{after}only read-only commands run ({_SAFE_EXAMPLES}), and {why}; "
                    "it would need a human's approval, which an unattended run cannot get"
                )
        return None

    def _real(self, relative: str) -> Path | None:
        """The real path of a workspace-relative path (symlinks followed), or None without a workspace."""
        if self.workspace is None or not relative or relative.startswith(("/", "~", "$")):
            return None
        return Path(os.path.realpath(self.workspace / relative))

    def _escapes(self, relative: str) -> bool:
        real = self._real(relative)
        return real is not None and real != self.workspace and self.workspace not in real.parents

    def _escaping_writes(self, analysis: CommandAnalysis) -> list[str]:
        return [target for target in analysis.write_targets if self._escapes(target)]

    def _symlink_dangers(self, analysis: CommandAnalysis) -> list[str]:
        dangers = [
            f"'{target}' leads outside the workspace through a symlink, and deleting or changing it "
            "recursively there is never allowed (remove the link itself with 'rm' without -r)"
            for target in analysis.recursive_targets
            if self._escapes(target)
        ]
        for target in analysis.write_targets:
            real = self._real(target)
            if real is not None and ".ssh" in real.parts:
                dangers.append(f"writes '{target}', which a symlink leads into the SSH directory {real}")
        return dangers
