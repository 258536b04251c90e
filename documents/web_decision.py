"""The run page's decision section: the forms for what the reviewer may do now.

Approve is offered only when the latest briefing has something to ship, and says "unverified" when its
verdict is not verified. Shipping an earlier revision is a form of its own, labelled with the revision
and when it was briefed; it posts to the approve URL with ``ship_revision``. Element ids:
``#approve-form``, ``#approve-button``, ``#ship-revision-form``, ``#ship-revision-button``,
``#changes-form``, ``#changes-button``.
"""

from documents.briefing import Briefing
from documents.facts import RunFacts
from documents.phrases import verdict_label
from documents.web_html import attr as _attr
from documents.web_html import escape as _e


def decision_section(
    facts: RunFacts,
    briefing: Briefing,
    *,
    approve_url: str,
    request_changes_url: str,
    token_field: str | None,
    link_sig: str | None,
) -> str:
    if not briefing.actions and facts.status != "approving":
        return ""
    status_text = "Approving..." if facts.status == "approving" else ""
    forms = ""
    if briefing.actions:
        auth = (_attr_input("hidden", "sig", link_sig) if link_sig else "") + _attr_input(
            "hidden", "revision", str(facts.revision)
        )

        def token(form: str) -> str:
            if not token_field:
                return ""
            ident = f"{form}-token"
            return (
                f'<label for="{ident}">API token</label><input type="password"{_attr("id", ident)}'
                f'{_attr("name", token_field)} autocomplete="current-password" required>'
            )

        forms = (
            '<div id="decision-forms" class="decision">'
            f"{_approve(briefing, approve_url, auth + token('approve'))}"
            f"{_ship_earlier(briefing, approve_url, auth + token('ship'))}"
            f'<form id="changes-form" data-decision="request_changes" method="post"'
            f"{_attr('action', request_changes_url)}>"
            '<label for="feedback">What should change?</label>'
            '<textarea id="feedback" name="feedback" required></textarea>'
            f"{auth}{token('changes')}"
            '<button id="changes-button" type="submit">Request changes</button></form></div>'
        )
    return (
        '<section id="decision"><h2>Decision</h2>'
        f'<p id="decision-status" role="status" aria-live="polite">{status_text}</p>'
        f'<p id="decision-error" class="error" role="alert"></p>{forms}</section>'
    )


def _approve(briefing: Briefing, url: str, fields: str) -> str:
    if "approve" not in briefing.actions:
        return ""
    if briefing.verified:
        what, button = "Open the pull request for this fix.", "Approve"
    else:
        what = f"Open the pull request for this fix, labelled unverified: {verdict_label(briefing.verdict)}."
        button = "Approve unverified"
    return (
        f'<form id="approve-form" data-decision="approve" method="post"{_attr("action", url)}>'
        f"<p>{_e(what)}</p>{fields}"
        f'<button id="approve-button" class="primary" type="submit">{_e(button)}</button></form>'
    )


def _ship_earlier(briefing: Briefing, url: str, fields: str) -> str:
    earlier = briefing.ship_earlier
    if "ship_revision" not in briefing.actions or earlier is None:
        return ""
    what = (
        f"Open the pull request with revision {earlier.number} as it was briefed, instead of revision "
        f"{briefing.revision}; the branch is moved back to it."
    )
    return (
        f'<form id="ship-revision-form" data-decision="approve" method="post"{_attr("action", url)}>'
        f"<p>{_e(what)}</p>{_attr_input('hidden', 'ship_revision', str(earlier.number))}{fields}"
        f'<button id="ship-revision-button" type="submit">{_e(earlier.label)}</button></form>'
    )


def _attr_input(kind: str, name: str, value: str) -> str:
    return f'<input type="{kind}"{_attr("name", name)}{_attr("value", value)}>'
