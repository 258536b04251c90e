"""A hostile test file, as a ticket could talk a test agent into writing: it tries to steal the bot's
credentials and to reach out of its sandbox in every way the sandbox issue lists.

``hostile_test(...)`` returns the source of ``test_fixture_bootstrap``. It passes only when every
attempt was contained (and says which one was not, with what it got, when one was not); with ``-rP``
pytest shows its report line ``PROBE {json}`` for the outer test to read either way.
"""

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

_TEMPLATE = """\
import base64
import json
import os
import pathlib
import socket
import urllib.request

READ = {read}
WRITE = {write}
LISTENER = ("127.0.0.1", {port})
SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")


def _read_environs():
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            data = (entry / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        found += [pair for pair in data.split("\\0") if any(w in pair.split("=")[0] for w in SECRET_WORDS)]
    return found


def _try(action):
    try:
        return "LEAKED: " + base64.b64encode(repr(action()).encode()).decode()
    except Exception as exc:
        return f"contained: {{type(exc).__name__}}"


def test_fixture_bootstrap():
    found = _read_environs()
    stolen = "LEAKED: " + base64.b64encode(repr(found).encode()).decode()
    results = {{"proc_environ": stolen if found else "contained: nothing to read"}}
    for name, path in READ.items():
        results[f"read {{name}}"] = _try(lambda path=path: pathlib.Path(path).read_bytes()[:200])
    for name, path in WRITE.items():
        results[f"write {{name}}"] = _try(lambda path=path: pathlib.Path(path).write_text("pwned"))
    results["tcp"] = _try(lambda: socket.create_connection(LISTENER, timeout=2).close())
    os.environ["http_proxy"] = "http://%s:%d" % LISTENER
    results["http via proxy"] = _try(lambda: urllib.request.urlopen("http://example.com/", timeout=2).read())
    results["memory"] = _try(lambda: len(b"x" * {allocate}))
    pathlib.Path(__file__).with_name("stolen.txt").write_text("written beside the test file")
    print("PROBE " + json.dumps(results))
    leaked = {{name: result for name, result in results.items() if result.startswith("LEAKED")}}
    assert not leaked, leaked
"""


def hostile_test(*, read: dict[str, Path], write: dict[str, Path], port: int, allocate: int) -> str:
    """The hostile test file: it tries to read each of ``read`` and write each of ``write`` (host paths),
    to connect to 127.0.0.1:``port`` directly and as an HTTP proxy, and to allocate ``allocate`` bytes."""
    return _TEMPLATE.format(
        read=json.dumps({k: str(v) for k, v in read.items()}),
        write=json.dumps({k: str(v) for k, v in write.items()}),
        port=port,
        allocate=allocate,
    )


def bot_with_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secrets: Mapping[str, str]) -> Path:
    """Give the bot (this test process) a HOME holding a private key, and ``secrets`` in its environment,
    as a bot deployed with credentials has; the HOME is returned."""
    home = tmp_path / "bot-home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh/id_ed25519").write_text("PRIVATE KEY\n")
    monkeypatch.setenv("HOME", str(home))
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    return home


def probe_results(output: str) -> dict[str, str]:
    """The attempts and their outcomes, from the ``PROBE`` line in a test run's output."""
    line = next(line for line in output.splitlines() if line.startswith("PROBE "))
    results: dict[str, str] = json.loads(line.removeprefix("PROBE "))
    return results


FORK_BOMB = """\
import os
import time


def test_many_processes():
    for _ in range(10_000):
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
"""
"""Tries to start 10,000 processes (each sleeps): the sandbox must stop it at its process limit."""

MEMORY_HOG = """\
import os
import time


def test_memory_spread_over_processes():
    for _ in range(4):
        if os.fork() == 0:
            block = b"x" * (150 * 1024 * 1024)
            time.sleep(30)
            os._exit(len(block) and 0)
    time.sleep(30)
"""
"""Four processes of 150 MB each: under a per-process limit, over a 256 MB total."""
