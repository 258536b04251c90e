"""The HTTP edge: webhooks (Slack, Jira, GitHub), the operator API, the web pages.

- ``app``: ``create_app``, the FastAPI app put together; the only package that imports the framework;
- ``routers``: one ``APIRouter`` per resource: ``health``, ``runs`` (operator API), ``pages``, and
  ``webhooks`` (one module per sender: ``slack``, ``jira``, ``github``);
- ``routing``: the routes' class: the raw body read, bounded and (on a webhook) verified before parsing;
- ``deps``: what the routes declare they need (the running parts, the operator's token, a run id);
- ``models``: the request and answer bodies; ``openapi``: the error answers and the document finished
  for the running configuration;
- ``service``: the run service, answering in domain outcomes (``outcomes``); ``access``: the API token,
  signed links and loopback; ``health``: how the server stands; ``stream``: a run's events as a
  follower sees them; ``errors``: every refusal as ``{"error": ...}``;
- ``running``: building the server's parts (model, integrations, engine) from settings.
"""
