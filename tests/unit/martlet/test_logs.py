"""BatchingHandler: lines kept and written in batches, in order, never lost;
log_fields: the access line's direct route writes what the ordinary one would."""

from __future__ import annotations

import contextvars
import io
import json
import logging
import os
import threading
import time
from collections.abc import Iterator

import pytest

from martlet.logs import BatchingHandler, ContextTag, StructuredFormatter, log_fields

HOUR = 3600.0  # an interval no test waits for: only what the test does flushes


class CountingStream(io.StringIO):
    """A stream that counts its writes (each one a system call on a file)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)

    def messages(self) -> list[str]:
        return [json.loads(line)["msg"] for line in self.getvalue().splitlines()]


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger(f"test.batching.{os.urandom(4).hex()}")
    log.propagate = False
    log.setLevel(logging.INFO)
    yield log
    log.handlers.clear()


def attach(log: logging.Logger, **options: float) -> tuple[BatchingHandler, CountingStream]:
    stream = CountingStream()
    handler = BatchingHandler(stream, **options)  # type: ignore[arg-type]
    handler.setFormatter(StructuredFormatter())
    log.addHandler(handler)
    return handler, stream


def test_info_lines_wait_and_go_out_in_one_write(logger: logging.Logger) -> None:
    handler, stream = attach(logger, interval=HOUR)
    for n in range(5):
        logger.info(f"line {n}")
    assert stream.getvalue() == ""
    handler.flush()
    assert stream.messages() == [f"line {n}" for n in range(5)]
    assert stream.writes == 1


def test_a_warning_writes_everything_before_it_in_order(logger: logging.Logger) -> None:
    _, stream = attach(logger, interval=HOUR)
    logger.info("first")
    logger.info("second")
    logger.warning("trouble")
    assert stream.messages() == ["first", "second", "trouble"]
    logger.info("after")
    assert stream.messages() == ["first", "second", "trouble"]


def test_lines_past_max_chars_are_written_at_once(logger: logging.Logger) -> None:
    _, stream = attach(logger, interval=HOUR, max_chars=1000)
    sent = 0
    while stream.getvalue() == "":
        logger.info("x" * 100)
        sent += 1
        assert sent < 20, "never written"
    assert len(stream.getvalue()) >= 1000
    assert len(stream.messages()) == sent


def test_lines_are_written_after_the_interval_without_more_logging(logger: logging.Logger) -> None:
    _, stream = attach(logger, interval=0.05)
    logger.info("alone")
    deadline = time.monotonic() + 30
    while stream.getvalue() == "" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert stream.messages() == ["alone"]
    # The flusher goes on serving later lines.
    logger.info("later")
    while len(stream.messages()) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert stream.messages() == ["alone", "later"]


def test_lines_from_many_threads_are_all_written_once(logger: logging.Logger) -> None:
    handler, stream = attach(logger, interval=HOUR, max_chars=4096)

    def log_some(thread: int) -> None:
        for n in range(200):
            logger.info(f"{thread}-{n}")

    threads = [threading.Thread(target=log_some, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    handler.flush()
    messages = stream.messages()
    assert sorted(messages) == sorted(f"{t}-{n}" for t in range(4) for n in range(200))
    for t in range(4):
        assert [m for m in messages if m.startswith(f"{t}-")] == [f"{t}-{n}" for n in range(200)]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_fork_writes_the_waiting_lines_once_and_the_child_still_flushes(tmp_path) -> None:
    out = tmp_path / "log"
    with open(out, "w", buffering=1) as stream:
        log = logging.getLogger(f"test.batching.fork.{os.urandom(4).hex()}")
        log.propagate = False
        log.setLevel(logging.INFO)
        handler = BatchingHandler(stream, interval=0.05)
        handler.setFormatter(StructuredFormatter())
        log.addHandler(handler)
        log.info("before fork")
        pid = os.fork()
        if pid == 0:
            try:
                log.info("in child")
                deadline = time.monotonic() + 30
                while "in child" not in out.read_text() and time.monotonic() < deadline:
                    time.sleep(0.02)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        handler.flush()
        log.handlers.clear()
    messages = [json.loads(line)["msg"] for line in out.read_text().splitlines()]
    assert messages == ["before fork", "in child"]


def test_a_handler_closed_writes_what_it_holds(logger: logging.Logger) -> None:
    handler, stream = attach(logger, interval=HOUR)
    logger.info("held")
    handler.close()
    assert stream.messages() == ["held"]


def test_a_closed_handler_lets_go_of_its_thread_and_its_fork_hook(logger: logging.Logger) -> None:
    from martlet.logs import _batching_handlers

    handler, _ = attach(logger, interval=0.01)
    logger.info("starts the flusher")
    flusher = handler._flusher
    assert flusher is not None and handler in _batching_handlers
    handler.close()
    flusher.join(timeout=30)
    assert not flusher.is_alive()
    assert handler not in _batching_handlers


def test_flush_logs_writes_what_the_root_handlers_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``os._exit`` (a forked worker) and the CLI's usage error call first."""
    from martlet.logs import flush_logs

    stream = CountingStream()
    handler = BatchingHandler(stream, interval=HOUR)  # type: ignore[arg-type]
    handler.setFormatter(StructuredFormatter())
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [handler])
    level = root.level
    root.setLevel(logging.INFO)
    try:
        logging.getLogger("test.batching.root").info("held for the exit")
        assert stream.getvalue() == ""
        flush_logs()
    finally:
        root.setLevel(level)
    assert stream.messages() == ["held for the exit"]


DAEMON: contextvars.ContextVar[str] = contextvars.ContextVar("test_daemon", default="node")
FIELDS = {"method": "HEAD", "path": "/d1/7/a/c/caf\u00e9", "status": 200, "bytes_out": 0, "duration_ms": 0.25}


def without_time(stream: CountingStream) -> list[list[tuple[str, object]]]:
    """Each line's keys and values in order, its time left out."""
    return [[(k, v) for k, v in json.loads(line).items() if k != "time"] for line in stream.getvalue().splitlines()]


def only_direct(logger: logging.Logger, handler: BatchingHandler, monkeypatch: pytest.MonkeyPatch) -> None:
    """``handler`` alone on ``logger`` (pytest's own capture handlers would
    send every line the ordinary way), and a record made is a failure."""

    def no_record(*args: object, **kwargs: object) -> logging.LogRecord:
        raise AssertionError("the ordinary route was taken")

    monkeypatch.setattr(logger, "handlers", [handler])
    monkeypatch.setattr(logger, "makeRecord", no_record)


def test_a_line_of_fields_reads_as_the_formatter_would_write_it(logger: logging.Logger,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    handler, stream = attach(logger, interval=HOUR)
    handler.addFilter(ContextTag("daemon", DAEMON))
    DAEMON.set("storage")
    logger.info("request", extra=FIELDS)
    only_direct(logger, handler, monkeypatch)
    log_fields(logger, logging.INFO, "request", FIELDS)
    handler.flush()
    ordinary, direct = without_time(stream)
    assert direct == ordinary
    assert [k for k, _ in direct] == ["level", "logger", "msg", "trans_id", *FIELDS, "daemon"]
    assert dict(direct)["daemon"] == "storage"


def test_a_direct_line_waits_for_the_flusher_as_others_do(logger: logging.Logger,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    handler, stream = attach(logger, interval=0.01)
    only_direct(logger, handler, monkeypatch)
    log_fields(logger, logging.INFO, "request", FIELDS)
    deadline = time.monotonic() + 10
    while not stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.messages() == ["request"]
    assert stream.writes == 1


def test_any_other_handler_gets_its_record(logger: logging.Logger) -> None:
    handler, stream = attach(logger, interval=HOUR)
    seen: list[logging.LogRecord] = []

    class Collecting(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    logger.addHandler(Collecting())
    log_fields(logger, logging.INFO, "request", FIELDS)
    handler.flush()
    assert [(r.getMessage(), getattr(r, "path")) for r in seen] == [("request", FIELDS["path"])]
    assert stream.messages() == ["request"]


def test_a_level_keeps_the_line_from_a_handler_and_a_logger(logger: logging.Logger,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    quiet, quiet_stream = attach(logger, interval=HOUR)
    quiet.setLevel(logging.WARNING)
    loud, loud_stream = attach(logger, interval=HOUR)
    only_direct(logger, quiet, monkeypatch)
    logger.handlers.append(loud)
    log_fields(logger, logging.INFO, "request", FIELDS)
    logger.setLevel(logging.WARNING)
    log_fields(logger, logging.INFO, "not at this level", FIELDS)
    quiet.flush()
    loud.flush()
    assert quiet_stream.getvalue() == ""
    assert loud_stream.messages() == ["request"]
