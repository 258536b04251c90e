"""The command line on the paths a newcomer takes (issue 18, section 5), through the real ``nightshift``
process: a 60-row terminal shows the whole briefing before the prompt; an unknown run is unknown
whatever is configured; a wrong ``--repo`` or database URL says what to change; ``config`` names the
model runs really use; ``--help`` says what the exit codes mean and where state is kept."""

import fcntl
import json
import os
import pty
import select
import shlex
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pyte
import pytest

from demo.playground import create_playground, environment_toml

ROOT = Path(__file__).resolve().parent.parent
ROWS, COLUMNS = 60, 120


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A newcomer's shell: the sample repository, a state directory, no credentials, nothing else."""
    config = tmp_path / "nightshift.toml"
    config.write_text(environment_toml())
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "NIGHTSHIFT_REPO": str(create_playground(tmp_path / "playground").repo),
        "NIGHTSHIFT_DATA_DIR": str(tmp_path / "state"),
        "NIGHTSHIFT_CONFIG": str(config),
    }


def nightshift(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        env=env, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def said(done: subprocess.CompletedProcess[str]) -> str:
    """stderr with Rich's line wrapping undone."""
    return " ".join(done.stderr.split())


def test_a_60_row_terminal_shows_the_whole_briefing_before_the_prompt(env: dict[str, str]) -> None:
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "run", "Completing a todo twice reopens it"],
        stdin=terminal, stdout=terminal, stderr=terminal, env={**env, "TERM": "xterm-256color"},
    )  # fmt: skip
    os.close(terminal)
    screen = pyte.HistoryScreen(COLUMNS, ROWS, history=1000)
    stream = pyte.ByteStream(screen)
    output = b""
    try:
        deadline = time.monotonic() + 180
        while b"[q]uit: " not in output:  # the prompt itself (the briefing's hint has no colon)
            assert time.monotonic() < deadline and process.poll() is None, output.decode(errors="replace")
            if select.select([controller], [], [], 0.5)[0]:
                chunk = os.read(controller, 65536)
                output += chunk
                stream.feed(chunk)
        rows = [row.rstrip() for row in screen.display]
        top = next(i for i, row in enumerate(rows) if row.startswith("╭─ INC-"))
        bottom = next((i for i, row in enumerate(rows) if row.startswith("╰─")), None)
        prompt = next(
            i for i, row in enumerate(rows) if row.startswith("[a]pprove") and row.endswith("[q]uit:")
        )

        assert bottom is not None, "the live table redrew over the end of the briefing:\n" + "\n".join(rows)
        assert top < bottom < prompt
        assert all(row.startswith("│") for row in rows[top + 1 : bottom]), "\n".join(rows)
        assert any("+        todo.completed = True" in row for row in rows[top:bottom]), "the diff is shown"
        os.write(controller, b"q\n")
        assert process.wait(timeout=60) == 1
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)


def test_an_unknown_run_is_unknown_whatever_is_configured(env: dict[str, str], tmp_path: Path) -> None:
    bare = {k: v for k, v in env.items() if k not in ("NIGHTSHIFT_REPO", "NIGHTSHIFT_CONFIG")}

    without_repo = nightshift(bare, "approve", "deadbeef")
    with_flag = nightshift(bare, "approve", "deadbeef", "--repo", env["NIGHTSHIFT_REPO"])
    with_bad_flag = nightshift(bare, "cancel", "deadbeef", "--repo", str(tmp_path / "nowhere"))

    for done in (without_repo, with_flag, with_bad_flag):
        assert done.returncode == 2, done.stderr
        assert "no run with id 'deadbeef' (see: nightshift runs)" in said(done)


def test_a_wrong_repo_names_the_flag_and_the_fix(env: dict[str, str], tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()

    missing = nightshift(env, "run", "x", "--repo", "/nonexistent")
    not_git = nightshift(env, "doctor", "--repo", str(plain))
    from_env = nightshift({**env, "NIGHTSHIFT_REPO": str(plain)}, "run", "x")
    served = nightshift({**env, "NIGHTSHIFT_REPO": "/nonexistent"}, "serve", "--port", "0")

    assert missing.returncode == 2 and "--repo /nonexistent: the path does not exist" in said(missing)
    assert not_git.returncode == 2
    assert (
        f"--repo {plain} is a directory but not a git repository; make it one with `git -C {plain} init"
        in (said(not_git))
    )
    assert from_env.returncode == 2 and f"NIGHTSHIFT_REPO {plain} is a directory but not" in said(from_env)
    assert served.returncode == 2 and "NIGHTSHIFT_REPO /nonexistent: the path does not exist" in said(served)


def test_an_unsupported_database_url_says_which_are(env: dict[str, str]) -> None:
    done = nightshift({**env, "NIGHTSHIFT_DATABASE_URL": "mysql://ops:hunter2@db/nightshift"}, "runs")

    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "hunter2" not in done.stderr
    assert "NIGHTSHIFT_DATABASE_URL" in said(done) and "mysql:// is not supported: use postgresql://" in said(
        done
    )
    assert "sqlite:///PATH" in said(done)


def test_config_shows_the_model_runs_will_use_and_why(env: dict[str, str]) -> None:
    scripted = json.loads(nightshift(env, "config").stdout)["model_in_use"]
    keyed = json.loads(
        nightshift(
            {**env, "OPENAI_API_KEY": "sk-test-0123456789", "NIGHTSHIFT_MODEL": "gpt-4.1"}, "config"
        ).stdout
    )["model_in_use"]

    assert scripted["name"] == "nightshift-scripted-demo"
    assert scripted["why"].startswith("neither OPENAI_API_KEY nor OPENAI_BASE_URL is set")
    assert keyed["name"] == "gpt-4.1" and keyed["why"].startswith("OPENAI_API_KEY is set")
    assert "sk-test" not in json.dumps(keyed)


def test_help_gives_the_exit_codes_and_where_state_is_kept(env: dict[str, str]) -> None:
    done = nightshift(env, "--help")

    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "exit codes: 0 a pull request was opened" in text and "2 bad input or configuration" in text
    assert "NIGHTSHIFT_DATA_DIR (default ./.nightshift)" in text and "NIGHTSHIFT_CONFIG" in text
    assert "init propose the repository's [environment]" in text, "the command list names init"




def test_a_reader_that_goes_away_gets_no_traceback(env: dict[str, str]) -> None:
    """``nightshift config | head -c 0``: the pipe's reader is gone when the command writes, and the
    command stops quietly, as other Unix tools do. Unbuffered, as containers often run Python: each
    print then meets the closed pipe at once."""
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(ROOT / 'main.py'))} config | head -c 0"
    done = subprocess.run(
        ["sh", "-c", command],
        env={**env, "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )

    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
