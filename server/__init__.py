"""The HTTP edge: webhooks (Slack, Jira, GitHub), the operator API, the web pages.

- ``app``: the FastAPI app and its routes; the only place that imports the web framework;
- ``models``: the request and answer bodies, and the OpenAPI pieces built from them;
- ``service``: the operator API and the pages, without the framework;
- ``webhooks``: verify, parse and acknowledge what Slack, Jira and GitHub send;
- ``stream``: a run's events as a follower sees them;
- ``running``: building the server's parts (model, integrations, engine) from settings.
"""
