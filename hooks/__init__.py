"""Lifecycle hooks: user commands run on agent and run events, with the event as JSON on stdin.

Events (``config.hooks.HOOK_EVENTS``): before_agent, after_agent, before_tool, after_tool, on_error,
run_started, briefing_posted, approved, pr_opened, run_failed. ``HookRunner.fire(event, payload)``
runs every hook for the event concurrently and returns one ``HookResult`` each;
``HookRunner.veto(payload)`` fires before_tool and returns the reason a tool call is refused, or None.

A hook can never break a run: failures (non-zero exit, cannot start, timeout) are logged on the
``nightshift.hooks`` logger and returned as data. So this package has no exception of its own; the
only thing it raises is ValueError for an event name that does not exist, a programming error.
"""

from hooks.runner import OUTPUT_CAP, HookResult, HookRunner

__all__ = ["OUTPUT_CAP", "HookResult", "HookRunner"]
