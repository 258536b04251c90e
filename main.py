"""Nightshift's entry point: the command line (``nightshift ...`` or ``python main.py ...``).

Thin on purpose: parse arguments, load settings, choose the model, hand over to ``workflow`` and turn
errors into messages and exit codes. Exit codes: 0 a pull request was opened (or the command did what
it was asked), 1 the run ended or paused without a pull request, 2 bad input or configuration.
"""

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from config import ConfigError, Settings, load_settings
from demo.local_model import model_for
from documents.facts import Ticket
from workflow.errors import WorkflowError

__version__ = "0.1.0"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nightshift", description="An autonomous on-call engineer.")
    parser.add_argument("--version", action="version", version=f"nightshift {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="fix one incident in this terminal")
    run.add_argument("description", help="what is broken, as a reporter would say it")
    run.add_argument("--title", help="short title (default: the description's first line)")
    run.add_argument("--key", help="tracker key such as PROJ-123 (default: INC-<n>)")
    run.add_argument("--priority", help="the reporter's priority")
    run.add_argument("--repo", type=Path, help="git checkout to fix (default: NIGHTSHIFT_REPO)")
    run.add_argument("--approve", action="store_true", help="approve the briefing without asking")
    run.add_argument(
        "--request-changes",
        metavar="TEXT",
        help="request these changes on the first briefing (with --approve: then approve)",
    )

    for name, help_text in (
        ("approve", "approve a run that awaits a decision"),
        ("cancel", "cancel a run that awaits a decision"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("run", help="run id, or 'latest'")
    changes = commands.add_parser("request-changes", help="send a run back to the code agent with feedback")
    changes.add_argument("run", help="run id, or 'latest'")
    changes.add_argument("feedback", help="what should change")

    commands.add_parser("runs", help="list runs, newest first")
    show = commands.add_parser("show", help="show one run as JSON (or its incident report)")
    show.add_argument("run", help="run id, or 'latest'")
    show.add_argument("--report", action="store_true", help="print the incident report (Markdown)")
    commands.add_parser("config", help="print the effective settings (secret names only) and exit")
    return parser


def cli(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    console = Console(stderr=True)
    try:
        settings = load_settings()
        if getattr(args, "repo", None) is not None:
            settings.repo = args.repo
        return asyncio.run(_dispatch(args, settings, console))
    except (ConfigError, WorkflowError, ValueError) as exc:
        console.print(f"[red]nightshift:[/red] {exc}", highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print("interrupted; runs awaiting a decision keep waiting (see: nightshift runs)")
        return 1


async def _dispatch(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    from workflow import console as flows
    from workflow.queries import print_run, print_runs

    if args.command == "config":
        data = settings.model_dump(mode="json")
        data["secrets"] = sorted(settings.secrets.values)  # names only, never values
        print(json.dumps(data, indent=2))
        return 0
    if args.command == "runs":
        return await print_runs(settings)
    if args.command == "show":
        return await print_run(settings, args.run, report=args.report)
    with model_for(settings) as (model, description):
        console.print(f"model: {description}", highlight=False)
        if args.command == "run":
            ticket = Ticket(
                title=(args.title or args.description.strip().splitlines()[0])[:300],
                description=args.description,
                priority=args.priority,
                source="cli",
                **({"key": args.key} if args.key else {}),
            )
            return await flows.run_incident(
                settings,
                model,
                ticket,
                console=console,
                approve=args.approve,
                request_changes=args.request_changes,
                ask=_ask,
            )
        kind = {"approve": "approve", "cancel": "cancel", "request-changes": "request_changes"}[args.command]
        return await flows.decide_from_cli(
            settings,
            model,
            args.run,
            kind,  # type: ignore[arg-type]
            feedback=getattr(args, "feedback", None),
            console=console,
        )


async def _ask(prompt: str) -> str:
    """Read one answer from stdin without blocking the event loop; end of input means quit."""
    print(prompt, end="", file=sys.stderr, flush=True)
    line = await asyncio.to_thread(sys.stdin.readline)
    return line if line else "q"


if __name__ == "__main__":
    sys.exit(cli())
