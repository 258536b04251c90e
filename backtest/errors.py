"""The backtest's one exception: bad input (no repository, a range naming no commit), said before
anything runs. Git's own failures are ``gitrepo.GitError``."""


class BacktestError(Exception):
    """A backtest that cannot start, with the reason and what to pass instead."""
