"""The shell tool: one bash command, checked by the command gate, run in the sandbox.

The gate also says how the workspace is mounted for the command (``access``); when it is read-only, or
the policy has just made it so, the result says so first.
"""

from pydantic import PositiveFloat

from tools.context import ToolContext
from tools.registry import ToolOutcome
from tools.text import tail


# The argument is called ``timeout`` because that is what the model sees in the schema.
async def shell(ctx: ToolContext, command: str, timeout: PositiveFloat | None = None) -> ToolOutcome:  # noqa: ASYNC109
    """Run a bash command at the workspace root (in a sandbox without network) and return its exit
    code and output.

    Processes the command starts in the background are stopped when it ends.

    Args:
        command: The bash command line; the command policy decides whether it may run, and whether the
            workspace is writable for it.
        timeout: Seconds before the command (and everything it started) is killed; defaults to the
            configured shell timeout, and cannot exceed the configured maximum.
    """
    gate = ctx.command_gate
    access = gate.check(command)
    settings = ctx.settings
    limit = settings.shell_timeout_s if timeout is None else min(timeout, settings.max_shell_timeout_s)
    run = await ctx.sandbox.run(
        ["bash", "-c", command],
        workspace=ctx.workspace,
        environment=ctx.environment,
        timeout_s=limit,
        access=access,
    )
    gate.record_exit(run.exit_code)
    notes = [f"({gate.description})"] if access == "read_only" or gate.access != access else []
    if timeout is not None and timeout > limit:
        notes.append(f"(timeout capped at the maximum of {limit:g} s)")
    stopped = ctx.sandbox.explain(run)
    if stopped:
        notes.append(f"{stopped}; the command and its child processes were killed")
    elif run.timed_out:
        notes.append(f"timed out after {limit:g} s; the command and its child processes were killed")
    else:
        notes.append(f"exit code {run.exit_code}")
    output = tail(run.output) if run.output else "(no output)"
    return ToolOutcome(
        "\n".join([*notes, output]),
        is_error=run.timed_out or stopped is not None,
        data={"exit_code": run.exit_code, "timed_out": run.timed_out},
    )
