"""``python -m client.scripted --script FILE.json [--port N]``: serve a script file until Ctrl-C."""

import argparse
from pathlib import Path

from client.scripted.script import SCRIPTS
from client.scripted.server import ScriptedModelServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m client.scripted", description=__doc__)
    parser.add_argument("--script", type=Path, required=True, help='JSON file: {"script name": [turn, ...]}')
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    scripts = SCRIPTS.validate_json(args.script.read_text(encoding="utf-8"))
    server = ScriptedModelServer(scripts, host=args.host, port=args.port)
    print(f"scripted model server: {server.base_url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
