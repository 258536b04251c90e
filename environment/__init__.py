"""The repository's environment and layout: how it is prepared for tests, and which files are tests.

- ``prepare``: the set-up, run once per hash of the dependency manifests, shown read-only in every
  sandbox of the repository;
- ``layout``: the project's test patterns, as the project itself says.
"""
