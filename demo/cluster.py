"""Several real ``nightshift serve`` workers on one PostgreSQL database: for bench/scale.py and the tests.

Each worker is its own process with its own state directory, its own clone of the playground's origin and
its own scripted model server (each conversation plays the sample incident's script from its first
turn, ``turn_s`` seconds per turn). They share the database, a Slack stand-in (briefings and buttons)
and the playground's bare origin. Incidents arrive as signed ``/oncall`` commands and are approved with
signed button clicks, each sent to the worker the caller names, as a load balancer would.
"""

import re
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from client.scripted import ScriptedModelServer
from demo.fake_slack import (
    CHANNEL_ID,
    SIGNING_SECRET,
    TOKEN,
    FakeSlack,
    block_actions_body,
    signed_headers,
    slash_command_body,
)
from demo.incident import sample_incident_script
from demo.playground import Playground, clone, create_playground, environment_toml
from demo.serving import launch, wait_until_up

MODEL = "scripted-cluster"
API_TOKEN = "cluster-api-token-0123456789"
ACK_RUN = re.compile(r"run `([0-9a-f]+)`")
TURN = {"chunk_chars": 256}
"""Each scripted turn streams in chunks of 256 characters, as a real model streams a few dozen tokens at a
time: the fake model runs on the same machine as the workers, a real one would cost them nothing."""
POLL_S = 0.5
TIMEOUT_S = 30.0
"""How long a request to a worker may take. The workers share the machine with the fake model, Slack,
PostgreSQL and (on CI) other jobs: a slow answer is load, not a lost request. (Slack's 3 s deadline for
an acknowledgement is the server's to keep; this is only how long the caller waits.)"""


@dataclass
class Worker:
    name: str
    url: str
    process: "subprocess.Popen[bytes]"
    data_dir: Path
    log: Path

    @property
    def executor_id(self) -> str:
        """Its DBOS executor id (the worker keeps it in its state directory)."""
        return (self.data_dir / "executor.id").read_text(encoding="utf-8").strip()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """kill -9: no chance to stop gracefully, as when a machine is lost."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Cluster:
    """Workers on ``database_url`` (see the module docstring). ``workflow`` goes to each worker's
    ``[workflow]`` settings."""

    workdir: Path
    database_url: str
    turn_s: float = 0.0
    workflow: dict[str, Any] = field(default_factory=dict)
    workers: list[Worker] = field(default_factory=list)
    models: list[ScriptedModelServer] = field(default_factory=list)
    slack: FakeSlack = field(default_factory=FakeSlack)
    playground: Playground | None = None
    _requests: int = 0

    def __enter__(self) -> "Cluster":
        self.slack.start()
        self.playground = create_playground(self.workdir / "playground")
        return self

    def __exit__(self, *_exc: object) -> None:
        for worker in self.workers:
            worker.stop()
        for model in self.models:
            model.stop()
        self.slack.stop()

    def start_workers(self, count: int) -> list[Worker]:
        """Start ``count`` more workers at once; return them once each answers ``/health``."""
        started = [self._launch(len(self.workers) + n) for n in range(count)]
        for worker in started:
            wait_until_up(worker.url, worker.process, worker.log, timeout_s=120)
        self.workers += started
        return started

    def _launch(self, number: int) -> Worker:
        assert self.playground is not None, "use the cluster as a context manager"
        name = f"worker-{number}"
        home = self.workdir / name
        home.mkdir(parents=True)
        scripts = {
            agent: [turn.model_copy(update=TURN | {"ttft_s": self.turn_s}) for turn in turns]
            for agent, turns in sample_incident_script().items()
        }
        model = ScriptedModelServer(scripts, per_conversation=True).start()
        self.models.append(model)
        config = home / "nightshift.toml"
        workflow = "".join(f"{key} = {value!r}\n" for key, value in self.workflow.items())
        config.write_text(
            f"{environment_toml()}\n"
            f"[model.pricing.{MODEL}]\ninput = 0.0\noutput = 0.0\n\n[workflow]\n{workflow}",
            encoding="utf-8",
        )
        env = {
            "NIGHTSHIFT_DATABASE_URL": self.database_url,
            "NIGHTSHIFT_REPO": str(clone(self.playground, home / "repo")),
            "NIGHTSHIFT_DATA_DIR": str(home / "state"),
            "NIGHTSHIFT_CONFIG": str(config),
            "NIGHTSHIFT_API_TOKEN": API_TOKEN,
            "NIGHTSHIFT_MODEL": MODEL,
            "OPENAI_BASE_URL": model.base_url,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_CHANNEL": CHANNEL_ID,
            "SLACK_API_URL": self.slack.api_url,
        }
        log = home / "server.log"
        process, url = launch(env, log)
        return Worker(name, url, process, home / "state", log)

    def oncall(self, worker: Worker, text: str) -> str:
        """``/oncall <text>`` sent to ``worker``, signed as Slack signs it; the new run's id."""
        body = slash_command_body(text)
        response = httpx.post(
            f"{worker.url}/webhook/slack/command",
            content=body,
            headers=signed_headers(SIGNING_SECRET, body),
            timeout=TIMEOUT_S,
        )
        response.raise_for_status()
        found = ACK_RUN.search(response.json()["text"])
        if found is None:
            raise AssertionError(f"{worker.name} did not start a run: {response.json()['text']}")
        return found.group(1)

    def approve(self, worker: Worker, run_id: str) -> None:
        """A click on the briefing's Approve button, delivered to ``worker``."""
        self._requests += 1  # a click of its own: another trigger, another signature
        body = block_actions_body(run_id, trigger_id=f"{self._requests}.{time.time_ns()}")
        response = httpx.post(
            f"{worker.url}/webhook/slack/actions",
            content=body,
            headers=signed_headers(SIGNING_SECRET, body),
            timeout=TIMEOUT_S,
        )
        response.raise_for_status()

    def run(self, run_id: str, via: Worker | None = None) -> dict[str, Any]:
        worker = via or self.live()[0]
        return dict(httpx.get(f"{worker.url}/runs/{run_id}", timeout=TIMEOUT_S).json())

    def live(self) -> list[Worker]:
        return [worker for worker in self.workers if worker.alive]

    def wait_for(self, run_ids: Iterable[str], status: str, *, timeout_s: float) -> dict[str, dict[str, Any]]:
        """Poll a live worker until every run has ``status``; the runs. AssertionError on timeout."""
        deadline = time.monotonic() + timeout_s
        pending = set(run_ids)
        done: dict[str, dict[str, Any]] = {}
        while pending:
            for run_id in sorted(pending):
                run = self.run(run_id)
                if run["status"] == status:
                    done[run_id] = run
                    pending.discard(run_id)
                elif run["status"] in ("failed", "cancelled", "expired"):
                    raise AssertionError(f"run {run_id} ended {run['status']}: {run.get('error')}")
            if pending and time.monotonic() > deadline:
                states = {run_id: self.run(run_id)["status"] for run_id in pending}
                raise AssertionError(f"not {status} after {timeout_s:g}s: {states}")
            time.sleep(POLL_S)
        return done
