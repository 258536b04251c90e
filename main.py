"""Nightshift's entry points: the ASGI app (``uvicorn main:app``, ``nightshift serve``) and the command
line (``nightshift ...`` or ``python main.py ...``). The HTTP edge lives in ``server/``, the command line
in ``cli/``.
"""

import sys

from cli.main import cli
from server.app import create_app

app = create_app(whole_process=True)

__all__ = ["app", "cli", "create_app"]

if __name__ == "__main__":
    sys.exit(cli())
