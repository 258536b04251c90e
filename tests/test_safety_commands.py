"""The command gate: the approval policies, the workspace access they give, and the intent checks.

The sandbox is what contains a command; these tests pin what the policy adds on top: which commands are
refused with which reason (and that ordinary work is not), and how each policy mounts the workspace.
"""

import pytest

from config.safety import Policy
from safety import CommandGate, CommandRefused

CHECKED = [Policy.AUTO, Policy.ON_FAILURE, Policy.ON_REQUEST]
"""The policies that run the intent checks."""

DESTRUCTIVE = [
    pytest.param("rm -rf /", "'rm -r /' deletes outside the workspace", id="rm-rf-root"),
    pytest.param("rm -r -f /etc", "'rm -r /etc'", id="rm-separate-flags-absolute"),
    pytest.param("rm --recursive ~/projects", "'rm -r ~/projects'", id="rm-long-option-home"),
    pytest.param('rm -rf "$HOME"', "'rm -r $HOME'", id="rm-HOME-variable"),
    pytest.param("rm -rf -- ../..", "'rm -r ../..'", id="rm-parents-after-double-dash"),
    pytest.param("rm src -rf a/../../x", "'rm -r a/../../x'", id="rm-climbing-out-flags-last"),
    pytest.param("sudo pip install x", "'sudo' asks for root privileges", id="sudo"),
    pytest.param("su -c ls root", "'su' asks for root", id="su"),
    pytest.param("doas ls", "'doas' asks for root", id="doas"),
    pytest.param("mkfs.ext4 /dev/sda1", "formats or partitions a disk", id="mkfs"),
    pytest.param("dd if=/dev/zero of=/dev/sda bs=1M", "'dd of=/dev/sda' writes onto a device", id="dd-disk"),
    pytest.param("shutdown -h now", "'shutdown -h' would stop or restart", id="shutdown"),
    pytest.param("reboot", "'reboot' would stop or restart", id="reboot"),
    pytest.param("systemctl poweroff", "'systemctl poweroff'", id="systemctl-poweroff"),
    pytest.param(":(){ :|:& };:", "the function ':' calls itself", id="fork-bomb-classic"),
    pytest.param("bomb() { bomb | bomb & }; bomb", "'bomb' calls itself", id="fork-bomb-named"),
    pytest.param("function f { f|f& }; f", "'f' calls itself", id="fork-bomb-function-keyword"),
    pytest.param("git push origin HEAD --force", "Nightshift pushes the verified fix itself", id="git-push"),
    pytest.param("git -C . --no-pager push", "Nightshift pushes", id="git-push-after-global-options"),
    pytest.param("git branch -D main", "'git branch' would change what every", id="git-delete-branch"),
    pytest.param("git tag v9", "'git tag' would change", id="git-create-tag"),
    pytest.param("git switch -c side", "'git switch' would change", id="git-create-branch-by-switch"),
    pytest.param("git update-ref refs/heads/main HEAD~1", "'git update-ref'", id="git-move-shared-ref"),
    pytest.param("git worktree remove ../code", "'git worktree'", id="git-remove-sibling-worktree"),
    pytest.param("git remote set-url origin x", "'git remote'", id="git-redirect-remote"),
    pytest.param("git config core.hooksPath /tmp/h", "'git config'", id="git-config-write"),
    pytest.param("git commit -am fix", "commits the fix itself", id="git-commit"),
    pytest.param("git stash", "'git stash'", id="git-stash"),
    # where the checks look: after operators, through wrappers, one level into shells
    pytest.param("make && rm -rf ~", "'rm -r ~'", id="after-and"),
    pytest.param("ls\nsudo id", "'sudo'", id="after-newline"),
    pytest.param("echo $(rm -rf /)", "'rm -r /'", id="in-command-substitution"),
    pytest.param("if true; then reboot; fi", "'reboot'", id="in-if-body"),
    pytest.param("env FOO=1 timeout 5 nice -n 10 rm -rf /", "'rm -r /'", id="through-wrappers"),
    pytest.param("bash -c 'git push'", "Nightshift pushes", id="bash-c"),
    pytest.param("sh -ec 'true; sudo id'", "'sudo'", id="sh-clustered-c"),
    pytest.param("bash --norc -c 'reboot'", "'reboot'", id="bash-long-option-then-c"),
    pytest.param("eval 'rm -rf ~'", "'rm -r ~'", id="eval"),
]


@pytest.mark.parametrize(("command", "reason"), DESTRUCTIVE)
def test_destructive_intent_is_refused_with_the_reason_under_every_checking_policy(
    command: str, reason: str
) -> None:
    for policy in CHECKED:
        with pytest.raises(CommandRefused) as refused:
            CommandGate(policy).check(command)
        assert f"refused by the safety policy '{policy}': " in str(refused.value)
        assert reason in str(refused.value)
    assert CommandGate(Policy.YOLO).check(command) == "read_write"


ORDINARY = [
    pytest.param("rm -rf build .pytest_cache", id="rm-r-inside"),
    pytest.param("rm /tmp/scratch.txt", id="rm-file-not-recursive"),
    pytest.param("python -m pytest -q 2>&1 | tail -20", id="pytest"),
    pytest.param("git status && git diff HEAD~1 -- src/", id="git-read"),
    pytest.param("git branch --contains HEAD; git tag -l 'v*'; git remote -v", id="git-listing"),
    pytest.param("git stash list && git worktree list && git config user.name", id="git-listing-verbs"),
    pytest.param("git checkout -- src/app.py && git reset --hard HEAD", id="git-own-worktree"),
    pytest.param("grep -rn 'sudo\\|reboot' . # rm -rf /", id="words-in-arguments-and-comments"),
    pytest.param("echo 'rm -rf /; git push'", id="quoted-text"),
    pytest.param("cat > fix.sh <<'EOF'\nsudo reboot  # don't\nEOF\nbash fix.sh", id="here-document-body"),
    pytest.param("dd if=in.bin of=/dev/null bs=1k", id="dd-to-dev-null"),
    pytest.param("f() { echo f; }; f", id="function-that-does-not-recurse"),
]


@pytest.mark.parametrize("command", ORDINARY)
def test_ordinary_work_is_not_refused(command: str) -> None:
    assert CommandGate(Policy.AUTO).check(command) == "read_write"
    assert CommandGate(Policy.ON_REQUEST).check(command) == "read_only"


def test_an_unreadable_command_is_refused_with_the_reason_except_under_yolo() -> None:
    for policy in CHECKED:
        with pytest.raises(CommandRefused, match=r"cannot be read \(No closing quotation\)"):
            CommandGate(policy).check("echo 'unterminated")
    assert CommandGate(Policy.YOLO).check("echo 'unterminated") == "read_write"


def test_never_refuses_every_command() -> None:
    gate = CommandGate(Policy.NEVER)
    for command in ("ls", "git status"):
        with pytest.raises(CommandRefused, match="policy 'never': no shell command may run"):
            gate.check(command)
    assert "no shell command runs" in gate.description


def test_on_request_runs_everything_with_the_workspace_read_only() -> None:
    gate = CommandGate(Policy.ON_REQUEST)
    assert gate.check("make build") == "read_only"
    assert gate.check("sed -i 's/a/b/' app.py") == "read_only"
    assert "workspace is mounted read-only" in gate.description


def test_on_failure_mounts_the_workspace_read_only_after_the_first_failure_for_good() -> None:
    gate = CommandGate(Policy.ON_FAILURE)
    assert gate.check("make build") == "read_write"
    gate.record_exit(0)
    assert gate.check("make build") == "read_write"
    gate.record_exit(2)
    assert gate.check("make build") == "read_only"
    gate.record_exit(0)  # a later success does not lift it
    assert gate.check("git diff") == "read_only"
    assert "a command has failed" in gate.description and "read-only" in gate.description


def test_failures_change_nothing_under_auto_and_yolo() -> None:
    for policy in (Policy.AUTO, Policy.YOLO):
        gate = CommandGate(policy)
        gate.record_exit(1)
        assert gate.check("make build") == "read_write"


def test_every_policy_has_a_one_line_description_for_the_model() -> None:
    for policy in Policy:
        description = CommandGate(policy).description
        assert description.startswith(f"{policy}:") and "\n" not in description
