"""Logging and progress: one line per stage with counts and seconds, no personal data.

On a terminal the lines read as progress for a person; elsewhere (cron, CI, systemd) they
are quiet `key=value` lines that a scheduler or grep can parse. Logs can carry record data
(pitfalls.md), so the log file lives with the data in the processed folder, never in reports/.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path

LOGGER_NAME = "pipeline"
LOG_FILE = "pipeline.log"

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
    logger.handlers.clear()
    logger.setLevel(logging.INFO)
    logger.propagate = False
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(_HumanFormatter() if sys.stderr.isatty() else _KeyValueFormatter())
    console.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.addHandler(console)
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(log_dir / LOG_FILE, encoding="utf-8")
        to_file.setFormatter(
            logging.Formatter("%(asctime)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%S")
        )
        to_file.formatter.format = _with_fields(to_file.formatter)  # type: ignore[method-assign]
        logger.addHandler(to_file)


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


@contextlib.contextmanager
def stage(name: str, **fields: object) -> Iterator[dict[str, object]]:
    """Time a stage; the caller may add counts to the yielded dict before it is logged."""
    counts: dict[str, object] = dict(fields)
    started = time.perf_counter()
    yield counts
    counts["sekunder"] = f"{time.perf_counter() - started:.2f}"
    info(name, steg=name, **{k: v for k, v in counts.items()})
