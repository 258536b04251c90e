"""The command line: ``nightshift run | runs | show | approve | request-changes | cancel | config |
init | doctor | serve | backtest``.

- ``main``: the argument parser and the dispatch, errors turned into messages and exit codes;
- ``console``: one incident with a live view and a decision prompt; decisions from the command line;
- ``doctor``: what a run would see, checked before the first incident;
- ``init``: the repository's ``[environment]`` proposed from its files, explained, written, checked.
"""
