"""Renderings of a run: PR body, briefing, terminal panels, incident report, diffstat.

The workflow fills ``documents.facts.RunFacts`` with what the run measured; everything here is a pure
function of those facts. Nothing is invented: a missing fact is said to be missing and the agent that
did not deliver it is named with its reason, and only the ``verified`` verdict is ever presented as
verification.

- ``render_pr_body`` / ``render_pr_title``: GitHub-flavoured Markdown for the pull request.
- ``build_briefing``: a ``Briefing`` (structured data) that notifiers render; ``briefing_panel`` and
  ``agents_table`` are the terminal's Rich renderings.
- ``render_report``: the incident report in Markdown.
- ``diff_files`` / ``diffstat``: a unified diff as ``FileChange`` rows and as ``path | +A -R`` text.

Ticket and model text is treated as hostile: escaped for Markdown (``documents.markdown``) and never
parsed as Rich markup. Renderers raise no errors of their own, so the package defines no exceptions.
"""

from documents.briefing import ACTIONS, Action, Briefing, PhaseCounts, Tone, build_briefing
from documents.diffstat import diff_files, diffstat
from documents.pr_body import GITHUB_BODY_LIMIT, render_pr_body, render_pr_title
from documents.report import render_report
from documents.terminal import ACTION_KEYS, agents_table, briefing_panel

__all__ = [
    "ACTIONS",
    "ACTION_KEYS",
    "GITHUB_BODY_LIMIT",
    "Action",
    "Briefing",
    "PhaseCounts",
    "Tone",
    "agents_table",
    "briefing_panel",
    "build_briefing",
    "diff_files",
    "diffstat",
    "render_pr_body",
    "render_pr_title",
    "render_report",
]
