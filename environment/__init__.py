"""The repository's environment and layout: how it is prepared for tests, and which files are tests.

- ``prepare``: the set-up, run once per hash of the dependency manifests, shown read-only in every
  sandbox of the repository;
- ``layout``: the project's test patterns, as the project itself says;
- ``manifests`` and ``detect``: what ``nightshift init`` reads in the project's files, and the
  ``[environment]`` it proposes from them.
"""
