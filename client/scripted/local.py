"""The model Nightshift uses: a real endpoint when one is configured, else the scripted model.

With no credentials the scripted model plays a script file, conversation by conversation
(``ScriptBook(per_conversation=True)``): every run, and every revision of a run, replays its agents'
scripts from their first turn, for as many runs as are started. The default file is the sample
incident's, ``demo/sample_incident.json`` (written by ``python -m demo.incident --write``); it is read
as data, so nothing here imports ``demo/``. ``[model] script`` (``NIGHTSHIFT_MODEL_SCRIPT``) names
another.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from pydantic import ValidationError

from client import ModelClient
from client.scripted.script import SCRIPTS, Scripts
from client.scripted.server import ScriptedModelServer
from config import ConfigError, Price, Settings

SCRIPTED_MODEL = "nightshift-scripted-demo"
SAMPLE_SCRIPT = Path(__file__).resolve().parents[2] / "demo" / "sample_incident.json"
"""The sample incident's scripts: the data file ``demo/`` ships for the no-credentials default."""
HOW_TO_USE_A_REAL_MODEL = (
    "set OPENAI_API_KEY (and OPENAI_BASE_URL for another OpenAI-compatible endpoint, "
    "NIGHTSHIFT_MODEL for the model name) to use a real model"
)


def uses_scripted_model(settings: Settings) -> bool:
    return not settings.secrets.get("OPENAI_API_KEY") and not settings.model.base_url


def load_scripts(path: Path) -> Scripts:
    """The scripts in ``path``; ConfigError naming the file and the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"the scripted model's script {path} cannot be read ({exc.strerror}): set [model] script "
            f"(NIGHTSHIFT_MODEL_SCRIPT) to a script file, or {HOW_TO_USE_A_REAL_MODEL}"
        ) from None
    try:
        return SCRIPTS.validate_json(text)
    except ValidationError as exc:
        raise ConfigError(f"the scripted model's script {path} is not a script file: {exc}") from None


def model_in_use(settings: Settings) -> dict[str, object]:
    """The model runs will use and why (``nightshift config``): the configured one, or the scripted demo
    model when no endpoint or key is set."""
    if uses_scripted_model(settings):
        return {
            "name": SCRIPTED_MODEL,
            "endpoint": "a local server on 127.0.0.1, started with each command",
            "why": (
                f"neither OPENAI_API_KEY nor OPENAI_BASE_URL is set, so runs use the scripted demo model, "
                f"not {settings.model.name}: it replays {_played(settings)} and costs nothing; "
                f"{HOW_TO_USE_A_REAL_MODEL}"
            ),
        }
    reason = "OPENAI_API_KEY is set" if settings.secrets.get("OPENAI_API_KEY") else "OPENAI_BASE_URL is set"
    chosen = {name: getattr(settings.agents, name).model for name in ("triage", "code", "test", "pr")}
    agents = {name: model for name, model in chosen.items() if model}
    return {
        "name": settings.model.name,
        "endpoint": settings.model.base_url or "the OpenAI API",
        "why": f"{reason}, so runs use [model] name (NIGHTSHIFT_MODEL)"
        + (", and each agent its own [agents] model where set" if agents else ""),
        **({"agents": agents} if agents else {}),
    }


@asynccontextmanager
async def model_for(settings: Settings) -> AsyncIterator[tuple[ModelClient, str]]:
    """``(client, description)``, the client closed on exit. With no credentials the scripted model
    serves on 127.0.0.1, playing its script file for every run (the sample incident by default), and
    says so in the description."""
    if not uses_scripted_model(settings):
        async with ModelClient(settings.model, api_key=settings.secrets.get("OPENAI_API_KEY")) as client:
            yield client, f"{settings.model.name} at {client.endpoint}"
        return
    what, scripts = _played(settings), load_scripts(settings.model.script or SAMPLE_SCRIPT)
    with ScriptedModelServer(scripts, per_conversation=True) as server:
        settings.model.base_url = server.base_url
        settings.model.name = SCRIPTED_MODEL
        settings.model.pricing = {**settings.model.pricing, SCRIPTED_MODEL: Price(input=0, output=0)}
        for name in ("triage", "code", "test", "pr"):
            getattr(settings.agents, name).model = None
        async with ModelClient(settings.model, api_key=None) as client:
            yield (
                client,
                (
                    f"scripted demo model on {server.base_url} (no OPENAI_API_KEY: it replays {what} for "
                    f"every run and costs nothing; {HOW_TO_USE_A_REAL_MODEL})"
                ),
            )


def _played(settings: Settings) -> str:
    """The script the scripted model plays, in words."""
    script = settings.model.script
    return f"the script {script}" if script else "the sample incident's script"
