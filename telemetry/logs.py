"""One logging set-up for the process: uvicorn's, DBOS's and Nightshift's lines through one handler.

``[server] log_format`` says how a line looks: ``text`` (a line for a terminal) or ``json`` (one JSON
object per line, for a log pipeline). Every line about a run carries the run it is about as fields:
``run_id``, and ``ticket``, ``agent``, ``delivery`` where they apply. Those come from context variables
that the code doing a run's work sets (``about`` for a block, ``bind`` for the rest of a request), so
they follow the work into the tasks and threads it starts, whichever library writes the line. A JSON
line also names the ``worker`` (its DBOS executor id) and, when tracing is on, the ``trace_id`` and
``span_id`` of the span it was written in, so a line leads to its trace.

Every configured secret is redacted from every line (``safety.redact``), as everywhere else.
"""

import contextlib
import json
import logging
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal, TextIO

from safety.redact import Redactor

LogFormat = Literal["text", "json"]
RUN_FIELDS = ("run_id", "ticket", "agent", "delivery")
"""What a line about a run says about it, in this order."""
LIBRARIES = ("uvicorn", "uvicorn.error", "uvicorn.access", "dbos")
"""Loggers that come with handlers of their own, taken over so their lines go through ours."""
QUIET = {name: logging.WARNING for name in ("httpx", "httpx2", "httpcore", "aiohttp.access")}
"""Libraries that log every request at INFO: only their warnings are kept."""
DBOS_CONSOLE = "__dbos_console_log_handler__"
"""The name of the handler DBOS adds to its logger when that logger has none."""

_about: ContextVar[Mapping[str, str]] = ContextVar("nightshift_log_fields", default=MappingProxyType({}))
_worker: dict[str, str] = {}


@contextlib.contextmanager
def about(**fields: str | None) -> Iterator[None]:
    """The lines logged inside this block (and in the tasks and threads it starts) are about these
    (``run_id=...``, ``agent=...``), on top of what the surrounding code said."""
    token = _about.set({**_about.get(), **{name: value for name, value in fields.items() if value}})
    try:
        yield
    finally:
        _about.reset(token)


def bind(**fields: str | None) -> None:
    """The rest of the current task's lines are about these: for a request once it knows its run (its
    access log line is written after the handler returns). Every task has its own copy of the context,
    so this does not reach other requests."""
    _about.set({**_about.get(), **{name: value for name, value in fields.items() if value}})


def current() -> Mapping[str, str]:
    """What the lines logged here are about."""
    return _about.get()


def set_worker(executor_id: str) -> None:
    """Name this process's worker (its DBOS executor id) in every JSON line from now on."""
    _worker["worker"] = executor_id


class _RunFields(logging.Filter):
    """Puts the run's fields (``about``, ``bind``) on the record; a field the call set itself stays."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _about.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class TextFormatter(logging.Formatter):
    """``2025-05-01 20:14:03,120 INFO    nightshift.workflow: ... [run_id=3f2a9c1e agent=code]``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(f"{name}={getattr(record, name)}" for name in RUN_FIELDS if hasattr(record, name))
        if not fields:
            return line
        first, newline, rest = line.partition("\n")
        return f"{first} [{fields}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the run's fields, the worker, the
    trace, and the exception with its traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in RUN_FIELDS:
            if hasattr(record, name):
                entry[name] = str(getattr(record, name))
        entry.update(_worker)
        entry.update(_trace())
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def _trace() -> dict[str, str]:
    """The current span's ids (OpenTelemetry), when a span is being recorded."""
    try:
        from opentelemetry import trace
    except ImportError:  # pragma: no cover - DBOS's otel extra is a dependency
        return {}
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is when a line is written (a test runner swaps it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        """The stream is always the current ``sys.stderr``."""


class LoggingSetup:
    """The process's logging as ``install`` left it; ``close`` puts back what was there before."""

    def __init__(self, handler: logging.Handler) -> None:
        self.handler = handler
        root = logging.getLogger()
        self._root_level = root.level
        self._libraries = {
            name: (list(logger.handlers), logger.propagate, logger.level)
            for name in LIBRARIES
            for logger in [logging.getLogger(name)]
        }
        self._quiet = {name: logging.getLogger(name).level for name in QUIET}
        self._dbos_marker = logging.NullHandler()

    def apply(self) -> None:
        root = logging.getLogger()
        for handler in list(root.handlers):
            if isinstance(handler, _StderrHandler):  # an earlier set-up of ours
                root.removeHandler(handler)
        root.addHandler(self.handler)
        root.setLevel(logging.INFO)
        for name in LIBRARIES:
            logger = logging.getLogger(name)
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            logger.propagate = True
            if name.startswith("uvicorn"):  # a helper server may have quietened them for itself
                logger.setLevel(logging.NOTSET)
        # DBOS adds a console handler of its own to a logger that has none: this one keeps it out.
        logging.getLogger("dbos").addHandler(self._dbos_marker)
        for name, level in QUIET.items():
            logging.getLogger(name).setLevel(level)

    def close(self) -> None:
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self._root_level)
        for name, (handlers, propagate, level) in self._libraries.items():
            logger = logging.getLogger(name)
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            for handler in handlers:
                if handler.name != DBOS_CONSOLE:
                    logger.addHandler(handler)
            logger.propagate = propagate
            logger.setLevel(level)
        for name, level in self._quiet.items():
            logging.getLogger(name).setLevel(level)
        _worker.clear()


_active: list[LoggingSetup] = []


def install(log_format: LogFormat, secrets: Iterable[str]) -> LoggingSetup:
    """Send every line of the process (ours, uvicorn's, DBOS's, any library's) through one handler on
    stderr, formatted as ``log_format``, with the run's fields and every secret redacted."""
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(_RunFields())
    handler.addFilter(Redactor(secrets).logging_filter())
    setup = LoggingSetup(handler)
    setup.apply()
    _active.append(setup)
    return setup


def retake() -> None:
    """Take uvicorn's loggers back after a server started in this process (the scripted model's) set
    them up for itself: uvicorn configures its loggers whenever a server is made."""
    if _active:
        _active[-1].apply()


@contextlib.contextmanager
def installed(log_format: LogFormat, secrets: Iterable[str]) -> Iterator[None]:
    """``install`` for the length of the block, unless the process's logging is set up already (by
    ``nightshift serve`` before uvicorn starts): then that one stays."""
    if _active:
        yield
        return
    setup = install(log_format, secrets)
    try:
        yield
    finally:
        _active.remove(setup)
        setup.close()
