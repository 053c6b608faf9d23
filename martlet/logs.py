"""Structured logging with the request's transaction id.

Modules log through ``logging.getLogger(__name__)``; only an entry point calls
``setup_logging``. The transaction id of the request being served lives in a
``contextvars`` variable, so every log line emitted while serving it carries
``trans_id`` without being passed around, across awaits and into the thread
pool (``loop.run_in_executor`` copies the context only when asked, so disk
helpers use ``contextvars.copy_context().run``).
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
import threading
import time
import weakref
from typing import Any, TextIO

trans_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("trans_id", default="-")

# Attributes every LogRecord has; anything else was passed through ``extra``.
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def new_trans_id(suffix: str = "") -> str:
    """A Swift-shaped transaction id: ``tx`` + 21 hex + ``-`` + hex time.

    The 21 random hex digits come straight from ``os.urandom`` (what
    ``uuid4`` reads too, without building a UUID): one per client request."""
    return f"tx{os.urandom(11).hex()[:21]}-{int(time.time()):010x}{suffix}"


# One encoder for every line: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)


class ContextTag(logging.Filter):
    """Adds ``key``, the value of ``var`` where the line is logged, to every
    record that does not carry ``key`` itself (``martlet node`` names each
    line's daemon so). A handler's filters of this class alone keep
    ``log_fields``'s direct route open."""

    def __init__(self, key: str, var: contextvars.ContextVar[str]) -> None:
        super().__init__()
        self.key = key
        self.var = var

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, self.key):
            setattr(record, self.key, self.var.get())
        return True


class StructuredFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, trans_id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": round(record.created, 6),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "trans_id": trans_id_var.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and key[:1] != "_":
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return _ENCODER.encode(entry)


class BatchingHandler(logging.StreamHandler):
    """Lines written to the stream in batches, not one write each.

    Every request's access line was a ``write`` of its own: about an eighth
    of a storage daemon's event-loop time under small PUTs. Lines are kept
    until ``max_chars`` characters of them wait, a line of ``flush_level`` or worse
    comes (it and everything before it are written at once, in order), or
    ``interval`` seconds have passed since the first one waiting: a
    flusher thread, started with the first line, writes them then. At exit
    ``logging.shutdown`` flushes; a process killed outright loses at most
    ``interval`` seconds of INFO lines, never a warning or error.
    """

    def __init__(self, stream: TextIO, interval: float = 0.5, max_chars: int = 65536,
                 flush_level: int = logging.WARNING) -> None:
        super().__init__(stream)
        self.interval = interval
        self.max_chars = max_chars
        self.flush_level = flush_level
        self._pending: list[str] = []
        self._size = 0
        self._due = threading.Event()
        self._flusher: threading.Thread | None = None
        self._stopped = False
        _batching_handlers.add(self)

    def emit(self, record: logging.LogRecord) -> None:
        # Called with ``self.lock`` held (``Handler.handle``).
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self._queue(line + self.terminator, record.levelno, record)

    def add_line(self, line: str, level: int) -> None:
        """Queue a line already formatted (``log_fields``), as ``emit`` would."""
        with self.lock:  # type: ignore[union-attr]
            self._queue(line + self.terminator, level, None)

    def _queue(self, line: str, level: int, record: logging.LogRecord | None) -> None:
        self._pending.append(line)
        self._size += len(line)
        if level >= self.flush_level or self._size >= self.max_chars:
            self._write_pending(record)
        elif len(self._pending) == 1:
            self._start_timer()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_pending(None)

    def close(self) -> None:
        # A handler replaced (``setup_logging`` again) writes what it holds,
        # and its flusher thread ends.
        self.flush()
        self._stopped = True
        _batching_handlers.discard(self)
        self._due.set()
        super().close()

    def _write_pending(self, record: logging.LogRecord | None) -> None:
        if not self._pending:
            return
        data = "".join(self._pending)
        self._pending.clear()
        self._size = 0
        try:
            self.stream.write(data)
            self.stream.flush()
        except Exception:
            if record is not None:
                self.handleError(record)

    def _start_timer(self) -> None:
        if self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_when_due, name="log-flusher", daemon=True)
            self._flusher.start()
        self._due.set()

    def _flush_when_due(self) -> None:
        while not self._stopped:
            self._due.wait()
            if self._stopped:
                return
            time.sleep(self.interval)
            # Cleared before the flush: a line that comes after it sets it again.
            self._due.clear()
            self.flush()

    def _forget_flusher(self) -> None:
        self._flusher = None
        self._due = threading.Event()


# Every live BatchingHandler, for the one fork hook below (held weakly: a
# handler replaced by ``setup_logging`` is not kept alive by it).
_batching_handlers: weakref.WeakSet[BatchingHandler] = weakref.WeakSet()


def _flush_before_fork() -> None:
    for handler in list(_batching_handlers):
        handler.flush()


def _forget_flushers_in_child() -> None:
    for handler in list(_batching_handlers):
        handler._forget_flusher()


# A fork copies the lines waiting (written twice) but not the flusher thread.
os.register_at_fork(before=_flush_before_fork, after_in_child=_forget_flushers_in_child)


def log_fields(logger: logging.Logger, level: int, msg: str, fields: dict[str, Any]) -> None:
    """``logger.log(level, msg, extra=fields)``, for the line every request
    writes (the access log): when every handler the record would reach is a
    ``BatchingHandler`` formatting with ``StructuredFormatter`` (what
    ``setup_logging`` installs), the line is built here, exactly as the
    formatter would write it, and queued on them directly.

    Why: the record, the logger's handler walk, the handler's lock and
    filters and the formatter's scan of the record cost a storage daemon's
    HEAD about 65 us of CPU per line under load, this about 30 (A/B of one
    node under signed HEADs). Any other handler, a filter on the logger or
    one other than ``ContextTag`` on a handler takes the ordinary route, so
    what a test or an operator attaches sees every line as before.
    ``fields`` must not name ``LogRecord`` attributes (as for ``extra``).
    """
    if not logger.isEnabledFor(level) or logger.disabled:
        return
    handlers = _direct_handlers(logger, level)
    if handlers is None:
        logger.log(level, msg, extra=fields)
        return
    entry: dict[str, Any] = {
        "time": round(time.time(), 6),
        "level": _LEVEL_WORDS.get(level) or logging.getLevelName(level).lower(),
        "logger": logger.name,
        "msg": msg,
        "trans_id": trans_id_var.get(),
        **fields,
    }
    for handler in handlers:
        tagged = entry if len(handlers) == 1 else dict(entry)
        for tag in handler.filters:
            if tag.key not in tagged:  # type: ignore[union-attr]
                tagged[tag.key] = tag.var.get()  # type: ignore[union-attr]
        handler.add_line(_ENCODER.encode(tagged), level)


_LEVEL_WORDS = {level: logging.getLevelName(level).lower()
                for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)}


def _direct_handlers(logger: logging.Logger, level: int) -> list[BatchingHandler] | None:
    """The handlers a record of ``logger`` at ``level`` would reach (as
    ``Logger.callHandlers`` walks them), or None when the direct route of
    ``log_fields`` cannot stand in for the ordinary one."""
    if logger.filters:
        return None
    found: list[BatchingHandler] = []
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if level < handler.level:
                continue
            if type(handler) is not BatchingHandler or type(handler.formatter) is not StructuredFormatter:
                return None
            for tag in handler.filters:
                if type(tag) is not ContextTag:
                    return None
            found.append(handler)
        current = current.parent if current.propagate else None
    return found or None  # no handler at all: logging's last resort decides


def flush_logs() -> None:
    """Write every line the root logger's handlers hold (before ``os._exit``)."""
    for handler in logging.getLogger().handlers:
        handler.flush()


def setup_logging(level: str = "INFO", name: str | None = None) -> None:
    """Configure the root logger for a daemon: structured lines on stderr,
    written in batches (``BatchingHandler``).

    The lines carry neither the caller's file and line nor thread and
    process names, so logging is told not to gather them: every request's
    access line would pay a stack walk and three lookups for nothing (the
    logging documentation's "Optimization" section).
    """
    logging._srcfile = None  # no findCaller stack walk
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = BatchingHandler(sys.stderr)
    handler.setFormatter(StructuredFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    if name:
        logging.getLogger("martlet").info("starting", extra={"daemon": name})
