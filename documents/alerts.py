"""What an alert brought: the error an error tracker saw or the incident a pager raised, and its stack.

A Sentry event or a PagerDuty incident becomes an ``Alert`` on the run's ticket (``Ticket.alert``).
Its frames are the in-app frames of the stack, oldest first and the one that raised last, as Sentry
lists them. Each frame keeps the path the event gave (``filename``) and, once the workflow has looked
for it in the repository at the run's base commit (``workflow.frames``), the repository file and a link
to its line (``repo_path``, ``url``), or why it has none (``unmapped``). Nothing here is guessed: a
frame whose file is not in the repository stays unmapped, and says so.

Every text field came from outside (an exception message is whatever the failing code put in it): the
agents get it fenced as untrusted data (``agents.goals``), the renderers escape it.
"""

from typing import Literal

from pydantic import BaseModel, Field

AlertSource = Literal["sentry", "pagerduty"]
LEVELS = ("debug", "info", "warning", "error", "fatal")
"""Sentry's levels, least severe first (``[sentry] min_level`` names one)."""


class StackFrame(BaseModel):
    """One frame of the stack, as the event had it, and where it is in the repository."""

    filename: str
    """The path the event gave: for Python, relative to the directory it was imported from
    (``todo/service.py``); otherwise whatever path the event had."""
    abs_path: str | None = None
    """The absolute path where the code ran (``/srv/app/releases/1.4.0/todo/service.py``), when given."""
    lineno: int | None = None
    function: str | None = None
    module: str | None = None
    context: list[tuple[int, str]] = Field(default_factory=list)
    """Numbered source lines around ``lineno``, as the event captured them (empty when it has none)."""
    repo_path: str | None = None
    """The repository file this frame is in, checked at the base commit; None while unmapped."""
    url: str | None = None
    """A link to the frame's line in the repository's web view at the base commit, when there is one."""
    unmapped: str | None = None
    """Why the frame has no repository file (``not in the repository at abc123``), once looked for."""
    drift: str | None = None
    """How the base commit's line differs from what the event captured (the deployed code was older or
    newer), when it does."""

    @property
    def where(self) -> str:
        """``todo/service.py:52`` when mapped, else the event's own path (the absolute one) and line."""
        path = self.repo_path or self.abs_path or self.filename
        return f"{path}:{self.lineno}" if self.lineno is not None else path

    @property
    def line(self) -> str | None:
        """The source line the frame was executing, as captured."""
        return next((text for number, text in self.context if number == self.lineno), None)


class Alert(BaseModel):
    """The alert that started a run: Sentry's error (an event of an issue) or PagerDuty's incident."""

    source: AlertSource
    subject: str
    """What the alert is about: the Sentry issue id, the PagerDuty incident id."""
    title: str
    culprit: str | None = None
    level: str | None = None
    exception_type: str | None = None
    exception_value: str | None = None
    frames: list[StackFrame] = Field(default_factory=list)
    """The in-app frames, oldest first, the frame that raised last."""
    release: str | None = None
    environment: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    event_id: str | None = None
    web_url: str | None = None
    """The Sentry event's page, or the PagerDuty incident's."""
    details: str = ""
    """What the alert's text said besides the stack (PagerDuty: its alerts' summaries and details)."""
    gaps: list[str] = Field(default_factory=list)
    """What the alert does not tell, and why (``no stack trace: SENTRY_AUTH_TOKEN is not set``)."""
    mapped_at: str | None = None
    """The base commit the frames were looked up at; None until they were."""

    @property
    def exception(self) -> str | None:
        """``TodoNotFound: no todo with id 7``, or whichever half is known."""
        parts = [part for part in (self.exception_type, self.exception_value) if part]
        return ": ".join(parts) or None

    def top_frames(self, count: int) -> list[StackFrame]:
        """The ``count`` frames nearest to where it raised, that one first."""
        return list(reversed(self.frames))[:count]
