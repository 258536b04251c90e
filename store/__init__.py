"""Run state in the database (SQLite by default, PostgreSQL to scale out).

- ``database``: the URL, the tables, what SQLite and PostgreSQL do apart;
- ``runs``: ``Store``, the runs (their facts as JSON), agents' diffs, local pull requests;
- ``batching``: group commit for bursts of new runs;
- ``events``: the event bus, kept in the database and followed live;
- ``outbox``: the delivery rows (what should reach Slack, GitHub, Jira), claimed by ``deliveries``;
- ``pulls``: the run that opened a pull request (an indexed lookup, for review webhooks);
- ``queries``: read-only views of runs for the CLI and the API;
- ``reports``: where a run's incident report is kept;
- ``base_suites``: the kept results of base-commit suites (``verify.cache``).
"""
