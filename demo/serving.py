"""A real `nightshift serve` in a subprocess on 127.0.0.1: used by `make demo` and bench/server.py."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
INHERITED_NOT = ("OPENAI_", "NIGHTSHIFT_", "SLACK_", "GITHUB_", "JIRA_", "SENTRY_", "PAGERDUTY_")
"""Variables of the calling shell that never reach the server: it gets exactly the ones given."""


@dataclass(frozen=True, slots=True)
class Served:
    url: str
    pid: int
    health: dict[str, Any]
    log: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(
    url: str, server: "subprocess.Popen[bytes]", log: Path, timeout_s: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}; its log:\n{log.read_text()}")
        try:
            return dict(httpx.get(f"{url}/health", timeout=2).json())
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"the server did not answer on {url} within {timeout_s:g}s; its log: {log}")


def launch(env: Mapping[str, str], log: Path) -> tuple["subprocess.Popen[bytes]", str]:
    """Start ``nightshift serve`` with ``env`` (and none of the caller's Nightshift, model or
    integration variables) on a free port, its output in ``log``; the process and its URL."""
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED_NOT)} | dict(env)
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, str(ROOT / "main.py"), "serve", "--port", str(port)],
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return server, f"http://127.0.0.1:{port}"


@contextmanager
def serving(env: Mapping[str, str], workdir: Path) -> Iterator[Served]:
    """Start the server with ``env`` on a free port; stop it (SIGTERM, graceful) on exit."""
    log = workdir / "server.log"
    server, url = launch(env, log)
    try:
        yield Served(url, server.pid, wait_until_up(url, server, log), log)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
