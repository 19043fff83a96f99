"""Logging: a line when a stage starts and one when it ends (counts and seconds) or fails;
no personal data.

On a terminal the lines read as progress for a person; elsewhere (cron, CI, systemd) they
are quiet `key=value` lines that a scheduler or grep can parse. Logs can carry record data
(pitfalls.md), so the log file lives with the data in the processed folder, never in reports/.

Test hook: with the environment variable FINSAM_TEST_KILL_AT set to a stage name, the process
kills itself with SIGKILL right after that stage has logged its line (tests/jobs/test_nightly.py
uses it to prove that a job killed at any stage leaves a store the next run can trust).
Nothing else reads the variable; unset, it costs one dictionary lookup per stage.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from pipeline.core import progress

LOGGER_NAME = "pipeline"
LOG_FILE = "pipeline.log"
TEST_KILL_ENV = "FINSAM_TEST_KILL_AT"

logger = logging.getLogger(LOGGER_NAME)


class _KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        parts = [f"niva={record.levelname.lower()}", f"meddelande={record.getMessage()!r}"]
        parts += [f"{key}={value}" for key, value in fields.items()]
        return " ".join(parts)


class _HumanFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        detail = ", ".join(f"{key} {value}" for key, value in fields.items())
        return f"› {record.getMessage()}" + (f" ({detail})" if detail else "")


def setup_logging(log_dir: Path | None = None, *, quiet: bool = False) -> None:
    """Log to stderr (human on a terminal, key=value otherwise) and to `log_dir/pipeline.log`."""
    progress.set_quiet(quiet)
    logger.handlers.clear()
    logger.setLevel(logging.INFO)
    logger.propagate = False
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(_HumanFormatter() if sys.stderr.isatty() else _KeyValueFormatter())
    console.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.addHandler(console)
    if log_dir is not None:
        logger.addHandler(_file_handler(log_dir))


def _file_handler(log_dir: Path) -> logging.FileHandler:
    log_dir.mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(log_dir / LOG_FILE, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%S"))
    to_file.formatter.format = _with_fields(to_file.formatter)  # type: ignore[method-assign]
    return to_file


@contextlib.contextmanager
def log_to_file(log_dir: Path) -> Iterator[None]:
    """Also log to `log_dir/pipeline.log` for the block, keeping the console as it was set
    up (e.g. --quiet). Without any handler yet, the console is set up first."""
    if not logger.handlers:
        setup_logging()
    target = str((log_dir / LOG_FILE).resolve())
    if any(getattr(h, "baseFilename", None) == target for h in logger.handlers):
        yield  # already logging there (setup_logging(log_dir) was called)
        return
    handler = _file_handler(log_dir)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()


def _with_fields(formatter: logging.Formatter):
    plain = _KeyValueFormatter()
    base = formatter.format

    def format(record: logging.LogRecord) -> str:
        stamp = base(record).split(" ", 1)[0]
        return f"{stamp} {plain.format(record)}"

    return format


def info(message: str, **fields: object) -> None:
    logger.info(message, extra={"fields": fields})


def warning(message: str, **fields: object) -> None:
    logger.warning(message, extra={"fields": fields})


def error(message: str, **fields: object) -> None:
    logger.error(message, extra={"fields": fields})


def _test_kill_point(name: str) -> None:
    """The FINSAM_TEST_KILL_AT hook (module docstring): simulate kill -9 after a stage."""
    if os.environ.get(TEST_KILL_ENV) == name:
        for handler in logger.handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def stage(name: str, **fields: object) -> Iterator[dict[str, object]]:
    """Time a stage; the caller may add counts to the yielded dict before it is logged.

    A line when the stage starts (`startar=`), so a long or hanging stage shows in the log,
    and one when it ends (`steg=`, with its counts and seconds) or fails (`misslyckades=`,
    with the kind of error only: its text may quote data)."""
    counts: dict[str, object] = dict(fields)
    info(f"{name} startar", startar=name, **fields)
    started = time.perf_counter()
    try:
        yield counts
    except BaseException as exc:
        seconds = f"{time.perf_counter() - started:.2f}"
        # A warning: the caller decides whether the run fails (nightly retries some errors).
        warning(f"{name} misslyckades", misslyckades=name, fel=type(exc).__name__, sekunder=seconds)
        raise
    counts["sekunder"] = f"{time.perf_counter() - started:.2f}"
    info(name, steg=name, **{k: v for k, v in counts.items()})
    _test_kill_point(name)
