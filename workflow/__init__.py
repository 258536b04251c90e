"""Durable incident runs (DBOS): ingest, fork the four agents, verify, commit, brief, wait, ship."""
