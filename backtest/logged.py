"""Warnings logged while a backtest runs (a retried model call, a case that broke), kept for the report.

Without a handler of its own, Python prints such a record to stderr the moment it is logged: between
the progress lines and, when stdout and stderr share a pipe, in the middle of the table. The backtest
keeps them instead, and the report shows them after the table.
"""

import contextlib
import logging
from collections.abc import Iterator, Sequence

from safety.redact import Redactor


class _Kept(logging.Handler):
    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []
        self.addFilter(Redactor(secrets).logging_filter())

    def emit(self, record: logging.LogRecord) -> None:
        line = f"{record.levelname.lower()}: {record.getMessage()}"
        if record.exc_text:  # the exception's last line (the filter has redacted it)
            line += f" ({record.exc_text.strip().splitlines()[-1]})"
        self.lines.append(line)


@contextlib.contextmanager
def kept_warnings(secrets: Sequence[str]) -> Iterator[list[str]]:
    """Every record of WARNING or above logged meanwhile, as one line each (secrets redacted), instead of
    being printed."""
    handler = _Kept(secrets)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)
