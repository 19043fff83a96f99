"""Atomic file writes: a reader or a crash never sees a half-written file.

Every file the pipeline produces is written to a temporary file in the same folder,
flushed to disk, and moved into place with os.replace (atomic on POSIX).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: Path, *, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it replaces `target` atomically.

    `durable=False` skips the fsync: for files whose content is checked by a hash kept
    elsewhere (the per-file cache), a torn file after a power cut is detected, not trusted.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if durable:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        # mkstemp creates owner-only files; give the file the ordinary mode of the umask.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: Path, text: str) -> None:
    write_bytes(target, text.encode("utf-8"))


def write_with(target: Path, writer: Callable[[Path], object], *, durable: bool = True) -> None:
    """Call `writer(tmp_path)` and move the result into place, e.g. df.write_parquet."""
    with atomic_path(target, durable=durable) as tmp:
        writer(tmp)
