"""Nightshift's entry point: the command line (``nightshift ...`` or ``python main.py ...``).

Thin on purpose: parse arguments, load settings, hand over to the packages below, turn errors into
messages and exit codes.
"""

import argparse
import json
import sys
from collections.abc import Sequence

from config import ConfigError, load_settings

__version__ = "0.1.0"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nightshift", description="An autonomous on-call engineer.")
    parser.add_argument("--version", action="version", version=f"nightshift {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("config", help="print the effective settings (secret names only) and exit")
    return parser


def cli(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"nightshift: {exc}", file=sys.stderr)
        return 2
    data = settings.model_dump(mode="json")
    data["secrets"] = sorted(settings.secrets.values)  # names only, never values
    print(json.dumps(data, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(cli())
