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
import time
from typing import Any

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


def setup_logging(level: str = "INFO", name: str | None = None) -> None:
    """Configure the root logger for a daemon: structured lines on stderr.

    The lines carry neither the caller's file and line nor thread and
    process names, so logging is told not to gather them: every request's
    access line would pay a stack walk and three lookups for nothing (the
    logging documentation's "Optimization" section).
    """
    logging._srcfile = None  # no findCaller stack walk
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(StructuredFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    if name:
        logging.getLogger("martlet").info("starting", extra={"daemon": name})
