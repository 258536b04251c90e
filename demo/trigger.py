"""Fire a signed incident at a running Nightshift server, as Slack, Sentry or PagerDuty would, and
follow the run.

    python -m demo.trigger --url http://127.0.0.1:8000 --signing-secret SECRET [--from slack] "text"
    python -m demo.trigger --url ... --signing-secret "$SENTRY_CLIENT_SECRET" --from sentry
    python -m demo.trigger --url ... --signing-secret "$PAGERDUTY_WEBHOOK_SECRETS" --from pagerduty

Slack: an ``/oncall <text>`` command signed with slack_sdk's own signer (Slack's v0 scheme over the raw
body). Sentry: an issue alert (``event_alert``) carrying an event that sentry-sdk captured from the
sample repository's code (``demo.alerts``; needs sentry-sdk), signed with the client secret as Sentry
signs it. PagerDuty: an ``incident.triggered`` V3 webhook signed with each of the comma-separated
secrets, as PagerDuty does while one rotates. The script prints the acknowledgement, then follows the
run's Server-Sent Events until its briefing, and prints the verdict. Exit code 0 when the run reached a
briefing.
"""

import argparse
import json
import sys
import time
from typing import Any

import httpx

from client.scripted.incident import SAMPLE_TICKET
from demo.alerts import (
    capture_sentry_event,
    pagerduty_event,
    pagerduty_headers,
    sentry_event_alert,
    sentry_headers,
)
from demo.fake_slack import signed_headers, slash_command_body

BRIEFED = ("awaiting_decision", "shipped", "failed", "cancelled", "expired")


def fire(url: str, signing_secret: str, text: str) -> dict[str, str]:
    """Post ``/oncall <text>``; return Slack's view of the acknowledgement (an ephemeral message)."""
    body = slash_command_body(text)
    started = time.perf_counter()
    response = httpx.post(
        f"{url}/webhook/slack/command", content=body, headers=signed_headers(signing_secret, body), timeout=10
    )
    elapsed_ms = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    print(f"/oncall acknowledged in {elapsed_ms:.0f} ms: {response.json()['text']}", flush=True)
    return dict(response.json())


def fire_alert(url: str, sender: str, secret: str) -> dict[str, Any]:
    """Post an alert as ``sender`` (``sentry`` or ``pagerduty``) sends one; return the server's answer."""
    if sender == "sentry":
        payload = sentry_event_alert(capture_sentry_event(7))
        body = json.dumps(payload).encode()
        headers = sentry_headers(secret, body)
    else:
        body = json.dumps(pagerduty_event()).encode()
        headers = pagerduty_headers([part for part in secret.split(",") if part], body)
    started = time.perf_counter()
    response = httpx.post(f"{url}/webhook/{sender}", content=body, headers=headers, timeout=10)
    elapsed_ms = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    print(f"{sender} alert acknowledged in {elapsed_ms:.0f} ms: {response.json()}", flush=True)
    return dict(response.json())


def follow(url: str, run_id: str, *, timeout_s: float = 300) -> dict[str, Any]:
    """Print the run's events until it is briefed (or ends); return the run."""
    deadline = time.monotonic() + timeout_s
    with httpx.stream(
        "GET", f"{url}/runs/{run_id}/events", timeout=httpx.Timeout(10, read=timeout_s)
    ) as events:
        for line in events.iter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            if (
                event["kind"] in ("tool_started", "finished", "verified", "status")
                and event.get("agent") != ""
            ):
                detail = event.get("tool") or event.get("status") or event.get("verdict") or ""
                print(f"  {event.get('agent') or 'run':7} {event['kind']:13} {detail}", flush=True)
            if (event["kind"] == "status" and event.get("status") in BRIEFED) or time.monotonic() > deadline:
                break
    return dict(httpx.get(f"{url}/runs/{run_id}", timeout=10).json())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument(
        "--signing-secret",
        required=True,
        help="the server's SLACK_SIGNING_SECRET, SENTRY_CLIENT_SECRET or PAGERDUTY_WEBHOOK_SECRETS",
    )
    parser.add_argument("--from", dest="sender", choices=("slack", "sentry", "pagerduty"), default="slack")
    parser.add_argument("text", nargs="?", default=SAMPLE_TICKET.title, help="the /oncall text (Slack)")
    args = parser.parse_args(argv)
    if args.sender == "slack":
        fire(args.url, args.signing_secret, args.text)
        run_id = httpx.get(f"{args.url}/runs", timeout=10).json()["runs"][0]["id"]
    else:
        try:
            answer = fire_alert(args.url, args.sender, args.signing_secret)
        except RuntimeError as exc:
            print(f"no alert sent: {exc}", file=sys.stderr)
            return 2
        if "run_id" not in answer:
            return 1
        run_id = answer["run_id"]
    run = follow(args.url, run_id)
    verification = run.get("verification") or {}
    print(f"run {run_id} is {run['status']}; verdict: {verification.get('verdict', 'none')}", flush=True)
    return 0 if run["status"] in BRIEFED else 1


if __name__ == "__main__":
    sys.exit(main())
