"""Fakes of outside services (Slack, GitHub, Jira): local HTTP servers that record every call."""
