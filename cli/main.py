"""The command line: ``nightshift ...`` (or ``python main.py ...``): parse arguments, load settings,
choose the model, hand over to the workflow and turn errors into messages and exit codes.

Exit codes: 0 a pull request was opened (or the command did what it was asked), 1 the run ended or
paused without a pull request, 2 bad input or configuration.
"""

import argparse
import asyncio
import json
import os
import shlex
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from backtest.errors import BacktestError
from client.scripted.local import model_for, model_in_use, uses_scripted_model
from config import VERSION, ConfigError, Settings, load_settings
from config.settings import config_path
from documents.facts import Ticket
from gitrepo import GitError
from workflow.errors import WorkflowError

if TYPE_CHECKING:
    from workflow.engine import DecisionKind

DECISIONS: dict[str, "DecisionKind"] = {
    "approve": "approve",
    "cancel": "cancel",
    "request-changes": "request_changes",
}
REPO_COMMANDS = ("run", "serve", "doctor", "init", "backtest", *DECISIONS)
"""The commands that read the repository (a decision may resume its run in this process)."""


EPILOG = """\
exit codes:
  0  a pull request was opened, or the command did what it was asked (doctor: READY)
  1  the run ended or paused without a pull request (doctor, init: NOT READY)
  2  bad input or configuration (the message says what to change)

where things are kept:
  settings     nightshift.toml in the current directory, or the file NIGHTSHIFT_CONFIG names
  state        the state directory, NIGHTSHIFT_DATA_DIR (default ./.nightshift): the runs' database,
               transcripts, incident reports, prepared environments, worktrees, backtest reports
  database     SQLite in the state directory, or NIGHTSHIFT_DATABASE_URL (postgresql://...)
  credentials  environment variables only (OPENAI_API_KEY, SLACK_*, GITHUB_*, JIRA_*)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nightshift",
        description="An autonomous on-call engineer.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"nightshift {VERSION}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="fix one incident in this terminal")
    run.add_argument("description", help="what is broken, as a reporter would say it")
    run.add_argument("--title", help="short title (default: the description's first line)")
    run.add_argument("--key", help="tracker key such as PROJ-123 (default: INC-<n>)")
    run.add_argument("--priority", help="the reporter's priority")
    _repo_option(run, "git checkout to fix")
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
        if name == "approve":
            command.add_argument(
                "--revision",
                type=int,
                metavar="N",
                help="ship revision N as it was briefed instead of the latest (an explicit choice)",
            )
        _repo_option(command, "git checkout the run fixes, if this process resumes it")
    changes = commands.add_parser("request-changes", help="send a run back to the code agent with feedback")
    changes.add_argument("run", help="run id, or 'latest'")
    changes.add_argument("feedback", help="what should change")
    _repo_option(changes, "git checkout the run fixes, if this process resumes it")

    serve = commands.add_parser("serve", help="run the webhook server and the web pages under uvicorn")
    serve.add_argument("--host", help="address to listen on (default: server.host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: server.port, 8000)")

    commands.add_parser("runs", help="list runs, newest first")
    show = commands.add_parser("show", help="show one run as JSON (or its incident report)")
    show.add_argument("run", help="run id, or 'latest'")
    show.add_argument("--report", action="store_true", help="print the incident report (Markdown)")
    commands.add_parser("config", help="print the effective settings (secret names only) and exit")
    doctor = commands.add_parser(
        "doctor", help="prepare the environment and run the suite on the default branch, as a run would"
    )
    _repo_option(doctor, "git checkout to check")
    init = commands.add_parser(
        "init", help="propose the repository's [environment] in nightshift.toml, say why, then run doctor"
    )
    _repo_option(init, "git checkout to read")
    init.add_argument("--force", action="store_true", help="replace an existing [environment] table")
    backtest = commands.add_parser(
        "backtest", help="replay past fixes from git history and measure how often Nightshift fixes them"
    )
    _repo_option(backtest, "git checkout to read")
    chosen = backtest.add_mutually_exclusive_group()
    chosen.add_argument("--commits", metavar="REV-RANGE", help="commits to consider, e.g. v1.2..main")
    chosen.add_argument(
        "--commit", metavar="SHA", action="append", help="one commit to consider (repeat for more)"
    )
    backtest.add_argument(
        "--limit", type=_positive, default=50, help="newest commits of the range to consider (default 50)"
    )
    backtest.add_argument(
        "--jobs",
        type=_positive,
        default=1,
        help="commits checked at once while picking the cases, within max_concurrent_runs (default 1)",
    )
    backtest.add_argument("--json", type=Path, metavar="FILE", help="also write the report as JSON")
    return parser


def _repo_option(command: argparse.ArgumentParser, what: str) -> None:
    command.add_argument("--repo", type=Path, help=f"{what} (default: NIGHTSHIFT_REPO)")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return value


def cli(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    console = Console(stderr=True)
    try:
        settings = load_settings(missing_ok=args.command == "init")
        if getattr(args, "repo", None) is not None:
            settings.repo = args.repo
        return event_loop(args.command)(_dispatch(args, settings, console))
    except (ConfigError, WorkflowError, GitError, BacktestError, ValueError) as exc:
        # the message is text, not markup: "[environment] build" must print as written; and one line
        # however long, so that the paths in it can be copied (rich would wrap it at the width)
        console.print(f"[red]nightshift:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        console.print("interrupted; runs awaiting a decision keep waiting (see: nightshift runs)")
        return 1
    except BrokenPipeError:
        # The reader went away (``nightshift config | head``): as other Unix tools do, stop quietly.
        # Python would report the pipe again when it flushes stdout at exit, so point stdout at
        # /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def event_loop(command: str) -> Callable[[Coroutine[Any, Any, int]], int]:
    """How ``command`` runs its coroutine: the server on uvloop, whose sockets and callbacks cost less CPU
    per request than asyncio's own loop (a burst of slash commands is bound by that CPU: with httptools,
    the event loop's share of a 100-command burst went from about 80 to 70 ms); the others on asyncio."""
    if command == "serve" and sys.platform != "win32":
        import uvloop

        return uvloop.run
    return asyncio.run


async def _dispatch(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    from cli import console as flows
    from store.queries import print_run, print_runs

    if args.command == "config":
        data = {"model_in_use": model_in_use(settings), **settings.model_dump(mode="json")}
        data["secrets"] = sorted(settings.secrets.values)  # names only, never values
        print(json.dumps(data, indent=2))
        return 0
    if args.command == "runs":
        return await print_runs(settings)
    if args.command == "show":
        return await print_run(settings, args.run, report=args.report)
    if args.command in DECISIONS:
        await flows.known_run(settings, args.run)  # an unknown run says so, whatever else is configured
    if args.command in REPO_COMMANDS and settings.repo is not None:
        check_repository(settings.repo, _named_by(args))
    if args.command == "serve":
        return await serve(settings, host=args.host, port=args.port)
    if args.command == "init":
        from cli.init import initialize

        return await initialize(
            settings, config_path(), force=args.force, say=lambda line: print(line, flush=True)
        )
    if args.command == "doctor":
        from cli.doctor import diagnose

        diagnosis = await diagnose(settings)
        print("\n".join(diagnosis.lines()), flush=True)
        return 1 if diagnosis.problem else 0
    if args.command == "backtest":
        return await _backtest(args, settings, console)
    async with model_for(settings) as (model, description):
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
        return await flows.decide_from_cli(
            settings,
            model,
            args.run,
            DECISIONS[args.command],
            feedback=getattr(args, "feedback", None),
            ship_revision=getattr(args, "revision", None),
            console=console,
        )


def _named_by(args: argparse.Namespace) -> str:
    """Where the repository's path came from, as the user wrote it."""
    if getattr(args, "repo", None) is not None:
        return "--repo"
    if os.environ.get("NIGHTSHIFT_REPO"):
        return "NIGHTSHIFT_REPO"
    return f"repo in {config_path()}"


def check_repository(path: Path, named_by: str) -> None:
    """``path`` must be a git checkout; ConfigError naming ``named_by`` and the fix when it is not."""
    if not path.exists():
        raise ConfigError(f"{named_by} {path}: the path does not exist")
    if not path.is_dir():
        raise ConfigError(f"{named_by} {path}: not a directory; name the top directory of a git checkout")
    resolved = path.resolve()
    if (resolved / ".git").exists():
        return
    top = next((parent for parent in resolved.parents if (parent / ".git").exists()), None)
    if top is not None:
        raise ConfigError(f"{named_by} {path} is inside the git checkout {top}: name its top directory")
    quoted = shlex.quote(str(path))
    raise ConfigError(
        f"{named_by} {path} is a directory but not a git repository; make it one with "
        f"`git -C {quoted} init && git -C {quoted} add -A && git -C {quoted} commit -m 'Initial commit'`, "
        "or clone the project (`git clone URL`) and name the clone"
    )


async def _backtest(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    from backtest import run_backtest
    from backtest.report import print_report, write_json

    if args.json is not None and not args.json.resolve().parent.is_dir():
        raise BacktestError(f"--json {args.json}: the directory {args.json.resolve().parent} does not exist")
    scripted = uses_scripted_model(settings)
    async with model_for(settings) as (model, description):
        report, out = await run_backtest(
            settings,
            model,
            model_description=description,
            scripted=scripted,
            revisions=args.commit or [args.commits or "HEAD"],
            walk=not args.commit,
            limit=args.limit,
            jobs=args.jobs,
            console=console,
        )
    print_report(Console(), report)
    if args.json is not None:
        write_json(report, args.json)
    console.print(f"report: {out}", highlight=False)
    return 0


async def serve(settings: Settings, *, host: str | None, port: int | None) -> int:
    import uvicorn

    from server.app import create_app
    from telemetry.logs import install

    settings.server.host = host or settings.server.host
    settings.server.port = settings.server.port if port is None else port
    install(settings.server.log_format, settings.secrets.all_values())  # uvicorn's lines too, from the first
    config = uvicorn.Config(
        create_app(settings, whole_process=True),
        host=settings.server.host,
        port=settings.server.port,
        log_config=None,
        log_level="info",
        lifespan="on",
        http="httptools",  # a C parser: a 100-command burst cost the event loop ~80 ms of CPU, not ~100 (h11)
    )
    await uvicorn.Server(config).serve()
    return 0


async def _ask(prompt: str) -> str:
    """Read one answer from stdin without blocking the event loop; end of input means quit."""
    print(prompt, end="", file=sys.stderr, flush=True)
    line = await asyncio.to_thread(sys.stdin.readline)
    return line if line else "q"
