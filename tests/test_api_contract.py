"""The API as documented is the API as served: schemathesis fuzzes the real server (uvicorn on
127.0.0.1) against the OpenAPI document it publishes, with every check, as a client with the API
token and as one without. A route whose answers, bodies or headers are not described as sent fails here.

The document is built when this module is imported (schemathesis parametrizes at collection), from
settings equal to the server's but for paths and ports; the fixture checks that the server publishes
exactly that document. Slack, GitHub and Jira are live against the local fakes, so the webhooks check
their signatures. The server holds one run that awaits a decision: the document's example run id
``latest`` is sent as that run's id (the fuzzer's own runs would be the latest by then), so its pages,
events, report and decisions (202, then 200 and 409) are checked too. The seed and the number of
examples are fixed.

Nothing the fuzzer sees may depend on timing, or hypothesis finds the same steps giving different
answers ("Inconsistent data generation"): the queue takes far more runs than the fuzzer starts, so a
new run is always accepted (202, whose link the stateful test follows), never refused (429) because an
earlier one happened not to have left the queue yet; the 429 is checked in tests/test_server_api.py. A
request may take up to 30 s, which a loaded machine does not reach; an event stream is read to its
20th event (schemathesis's limit), which the awaiting run's history passes, so its live stream is cut
at once rather than at the timeout.
"""

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import hypothesis
import pytest
import schemathesis
from pydantic import SecretStr
from schemathesis.config import SchemathesisConfig

from client.scripted import ScriptedModelServer
from config import Secrets, Settings
from demo.fake_slack import FakeSlack
from demo.incident import sample_incident_script
from demo.playground import create_playground
from main import create_app
from tests.fakes.github import FakeGitHub
from tests.fakes.jira import EMAIL as JIRA_EMAIL
from tests.fakes.jira import TOKEN as JIRA_TOKEN
from tests.fakes.jira import FakeJira
from tests.pipeline_fixtures import pipeline_settings
from tests.server_fixtures import API_TOKEN, LiveServer, start_server

pytest_plugins = ["tests.model_fixtures"]
pytestmark = pytest.mark.filterwarnings(
    # schemathesis's own strategies draw from `random`; hypothesis warns about it on every such draw
    "ignore:Do not use the `random` module inside strategies:hypothesis.errors.HypothesisDeprecationWarning"
)

ROOT = Path(__file__).resolve().parent.parent
SEED = 20_240_612
EXAMPLES = 12
SLACK_TOKEN, GITHUB_TOKEN = "xoxb-contract", "ghp_contract0123456789"
SECRETS = {
    "NIGHTSHIFT_API_TOKEN": API_TOKEN,
    "SLACK_BOT_TOKEN": SLACK_TOKEN,
    "SLACK_SIGNING_SECRET": "contract-slack-secret",
    "GITHUB_TOKEN": GITHUB_TOKEN,
    "GITHUB_WEBHOOK_SECRET": "contract-github-secret",
    "JIRA_API_TOKEN": JIRA_TOKEN,
    "JIRA_WEBHOOK_SECRET": "contract-jira-secret",
}
CLIENTS: dict[str, dict[str, str]] = {
    "with-token": {"Authorization": f"Bearer {API_TOKEN}"},
    "without-token": {},
}


def contract_settings(root: Path, urls: Mapping[str, str]) -> Settings:
    """Settings with every integration live (at ``urls``), the API token, one run at a time and a
    queue the fuzzer cannot fill."""
    settings = pipeline_settings(root / "playground" / "repo", root / "state", urls["model"])
    settings.secrets = Secrets(values={name: SecretStr(value) for name, value in SECRETS.items()})
    settings.slack.channel, settings.slack.api_url = "C0CONTRACT", urls["slack"]
    settings.github.repo, settings.github.api_url = FakeGitHub().full_name, urls["github"]
    settings.jira.base_url, settings.jira.email = urls["jira"], JIRA_EMAIL
    settings.server.max_queued_runs = 1000
    settings.workflow.max_concurrent_runs = 1
    return settings


DOCUMENT = create_app(
    contract_settings(
        Path("/unused"), dict.fromkeys(("model", "slack", "github", "jira"), "http://127.0.0.1:9")
    )
).openapi()
CONFIG = SchemathesisConfig.from_path(ROOT / "schemathesis.toml")
CONFIG.projects.default.update(request_timeout=30)
API = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


class Served(NamedTuple):
    server: LiveServer
    awaiting_run: str


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, _model_server_session: ScriptedModelServer
) -> Iterator[Served]:
    root, model = tmp_path_factory.mktemp("contract"), _model_server_session
    playground = create_playground(root / "playground")
    with (
        FakeSlack(token=SLACK_TOKEN) as slack,
        FakeJira() as jira,
        FakeGitHub(token=GITHUB_TOKEN).serve() as github,
    ):
        urls = {"model": model.base_url, "slack": slack.api_url, "github": github.url, "jira": jira.url}
        live = start_server(contract_settings(root, urls), playground, sample_incident_script(), model)
        try:
            with live.client() as client:
                assert client.get("/openapi.json").json() == DOCUMENT
                created = client.post("/runs", json={"title": "Completing a todo twice reopens it"})
            run_id = created.json()["run_id"]
            live.wait_for_run(run_id, lambda run: run["status"] == "awaiting_decision")
            yield Served(live, run_id)
        finally:
            live.server.stop()


@pytest.mark.parametrize("client", list(CLIENTS))
@API.parametrize()
@hypothesis.seed(SEED)
@hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None)
def test_every_operation_answers_as_documented(case: schemathesis.Case, client: str, served: Served) -> None:
    if case.path_parameters and case.path_parameters.get("run_id") == "latest":
        case.path_parameters["run_id"] = served.awaiting_run
    case.call_and_validate(base_url=served.server.url, headers=CLIENTS[client])


def test_sequences_of_calls_answer_as_documented(served: Served) -> None:
    """Stateful: runs started, read, decided on, in the sequences the document's links allow."""

    class Workflow(API.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": served.server.url, "headers": CLIENTS["with-token"]}

    Workflow.run(
        settings=hypothesis.settings(
            max_examples=EXAMPLES, stateful_step_count=6, deadline=None, database=None, derandomize=True
        )
    )


def test_the_document_follows_the_configuration() -> None:
    """What /docs tells an integrator changes with what the server enforces."""
    live = DOCUMENT
    local_settings = pipeline_settings(Path("/unused/repo"), Path("/unused/state"), "http://127.0.0.1:9")
    local_settings.server.max_description_chars = 500
    local = create_app(local_settings).openapi()

    def new_run_limit(document: dict[str, Any]) -> int:
        return int(document["components"]["schemas"]["NewRun"]["properties"]["description"]["maxLength"])

    def signature_required(document: dict[str, Any], path: str) -> list[bool]:
        parameters = document["paths"][path]["post"]["parameters"]
        return [p["required"] for p in parameters if p["name"].endswith(("Signature", "Signature-256"))]

    assert new_run_limit(live) == 20_000 and new_run_limit(local) == 500
    assert live["paths"]["/runs"]["post"]["security"] == [{"bearerAuth": []}]
    assert local["paths"]["/runs"]["post"]["security"] == [{"bearerAuth": []}, {}]  # loopback may
    for path in ("/webhook/slack/command", "/webhook/github", "/webhook/jira"):
        assert signature_required(live, path) == [True] and signature_required(local, path) == [False]
