"""The model Nightshift uses: a real endpoint when one is configured, else the scripted demo model."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from client import ModelClient
from client.scripted import ScriptedModelServer
from client.scripted.incident import sample_incident_script
from config import Price, Settings

SCRIPTED_MODEL = "nightshift-scripted-demo"
HOW_TO_USE_A_REAL_MODEL = (
    "set OPENAI_API_KEY (and OPENAI_BASE_URL for another OpenAI-compatible endpoint, "
    "NIGHTSHIFT_MODEL for the model name) to use a real model"
)


def uses_scripted_model(settings: Settings) -> bool:
    return not settings.secrets.get("OPENAI_API_KEY") and not settings.model.base_url


def model_in_use(settings: Settings) -> dict[str, object]:
    """The model runs will use and why (``nightshift config``): the configured one, or the scripted demo
    model when no endpoint or key is set."""
    if uses_scripted_model(settings):
        return {
            "name": SCRIPTED_MODEL,
            "endpoint": "a local server on 127.0.0.1, started with each command",
            "why": (
                f"neither OPENAI_API_KEY nor OPENAI_BASE_URL is set, so runs use the scripted demo model, "
                f"not {settings.model.name}: it replays the sample incident's script and costs nothing; "
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
    """``(client, description)``, the client closed on exit. With no credentials the scripted demo model
    serves on 127.0.0.1; it knows one incident (the sample repository's bug) and says so in the
    description."""
    if not uses_scripted_model(settings):
        async with ModelClient(settings.model, api_key=settings.secrets.get("OPENAI_API_KEY")) as client:
            yield client, f"{settings.model.name} at {client.endpoint}"
        return
    with ScriptedModelServer(sample_incident_script()) as server:
        settings.model.base_url = server.base_url
        settings.model.name = SCRIPTED_MODEL
        settings.model.pricing = {**settings.model.pricing, SCRIPTED_MODEL: Price(input=0, output=0)}
        for name in ("triage", "code", "test", "pr"):
            getattr(settings.agents, name).model = None
        async with ModelClient(settings.model, api_key=None) as client:
            yield (
                client,
                (
                    f"scripted demo model on {server.base_url} (no OPENAI_API_KEY: it replays the sample "
                    f"incident's script and costs nothing; {HOW_TO_USE_A_REAL_MODEL})"
                ),
            )
