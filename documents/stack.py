"""The words every rendering uses for an alert's stack: which frames are shown and what is said of each.

The briefing (Slack, terminal) and the pull request show the ``TOP_FRAMES`` frames nearest to where the
error was raised, each as its repository file and line (linked when the repository has a web view) or,
when it is not in the repository, as the path the event gave, said to be unmapped. Each renderer
escapes the texts for its own markup: they came from the alert. ``alert_markdown`` is the rendering the
pull request and the incident report share; the run's web page has its own (``templates/macros.html``).
"""

from documents import markdown as md
from documents.alerts import Alert, StackFrame

TOP_FRAMES = 5

SOURCE_NAMES = {"sentry": "Sentry", "pagerduty": "PagerDuty"}


def alert_heading(alert: Alert) -> str:
    """``Sentry: TodoNotFound: no todo with id 7`` (the exception, else the alert's title)."""
    return f"{SOURCE_NAMES[alert.source]}: {alert.exception or alert.title}"


def frame_text(frame: StackFrame) -> str:
    """``todo/service.py:50 in get``, or the event's own path for an unmapped frame."""
    return f"{frame.where} in {frame.function or '?'}"


def frame_note(frame: StackFrame) -> str | None:
    """What to say besides the place: unmapped and why, or how the base commit's line differs."""
    if frame.repo_path is None:
        return f"unmapped: {frame.unmapped}" if frame.unmapped else "unmapped"
    return frame.drift


def hidden_frames(alert: Alert) -> int:
    """How many frames the top ones leave out."""
    return max(0, len(alert.frames) - TOP_FRAMES)


def alert_markdown(alert: Alert) -> str:
    """The exception (linked to its event) and the top frames (linked to their lines), as Markdown."""
    heading = md.code_span(" ".join(alert_heading(alert).split())[:300])
    event = f" ({md.link('event', alert.web_url)})" if alert.web_url else ""
    lines = [f"{heading}{event}", ""]
    for frame in alert.top_frames(TOP_FRAMES):
        note = frame_note(frame)
        lines.append(f"- {md.link(frame_text(frame), frame.url)}" + (f": {md.inline(note)}" if note else ""))
    if hidden_frames(alert):
        lines.append(f"- … and {hidden_frames(alert)} earlier")
    lines += [f"- not known: {md.inline(gap)}" for gap in alert.gaps]
    return "\n".join(lines)
