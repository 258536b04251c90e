"""The only modules that talk to Slack, GitHub, Jira and CI; each has a local default."""
