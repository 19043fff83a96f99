"""One writer at a time: an exclusive lock on a file in the processed folder.

`hold(processed)` takes `fcntl.flock(LOCK_EX | LOCK_NB)` on `<processed>/lagret.lock` for as
long as the `with` block runs. The kernel releases a flock when the process ends in any way
(also kill -9 or a power cut), so a crashed run never leaves a stale lock behind: the file
itself stays, and its content (pid, start time, host, command) is only information for a
person who wonders who holds or last held the lock.

The lock file is never replaced or deleted: a flock belongs to the file (inode), and a new
file under the same name would let a second process lock "the same" path at the same time.
The descriptor is not inherited by child processes (Python's default), so a subprocess such
as `git` cannot keep the lock alive after the job died.

Re-entrant within one thread: `build_store` takes the lock itself (so that a notebook or
the Python API cannot write the store while the nightly job does), and the commands that
call it already hold it. Another thread or process is refused.

Linux/POSIX only, and the processed folder must be on a local disk (flock over NFS is not
reliable).

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> with hold(folder, "exempel") as info:
...     info.pid == os.getpid()
True
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

LOCK_FILE = "lagret.lock"

# Locks this process holds: (lock file, thread) -> [depth, what the holder wrote].
_HELD: dict[tuple[str, int], list] = {}


@dataclass(frozen=True)
class LockInfo:
    """Who holds (or last held) the lock, as written in the lock file."""

    pid: int | None
    started: str | None
    host: str | None
    command: str | None

    def describe(self) -> str:
        """The holder in Swedish, for messages."""
        if self.pid is None:
            return "okänd process (låsfilen saknar uppgifter)"
        parts = [f"pid {self.pid}"]
        if self.started:
            parts.append(f"startad {self.started}")
        if self.host:
            parts.append(f"på {self.host}")
        if self.command:
            parts.append(f"kommando '{self.command}'")
        return ", ".join(parts)


class LockHeld(Exception):
    """Another process holds the lock; the message (Swedish) names it."""

    def __init__(self, path: Path, holder: LockInfo) -> None:
        self.path = path
        self.holder = holder
        super().__init__(
            f"En annan körning pågår redan ({holder.describe()}). Den här körningen avbryts "
            f"utan att ändra något. Låsfil: {path}"
        )


def _format(info: LockInfo) -> str:
    return f"pid={info.pid}\nstartad={info.started}\nvard={info.host}\nkommando={info.command}\n"


def parse(text: str) -> LockInfo:
    """Read the lock file's `key=value` lines; missing or garbled values become None.

    >>> parse("pid=12\\nstartad=2026-01-02T03:00:00\\n").pid
    12
    >>> parse("").pid is None
    True
    """
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    pid = values.get("pid", "")
    return LockInfo(
        pid=int(pid) if pid.isdigit() else None,
        started=values.get("startad") or None,
        host=values.get("vard") or None,
        command=values.get("kommando") or None,
    )


def read_holder(processed: Path) -> LockInfo:
    """What the lock file says (the holder while it is held, else the last holder)."""
    try:
        return parse((processed / LOCK_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeError):
        return LockInfo(None, None, None, None)


@contextlib.contextmanager
def hold(processed: Path, command: str = "nightly") -> Iterator[LockInfo]:
    """Hold the exclusive lock of `processed` for the block; LockHeld if another process or
    thread has it. Taken again in the same thread it is simply held on (re-entrant)."""
    processed.mkdir(parents=True, exist_ok=True)
    path = processed / LOCK_FILE
    mine = (str(path.resolve()), threading.get_ident())
    if mine in _HELD:
        _HELD[mine][0] += 1
        try:
            yield _HELD[mine][1]
        finally:
            _HELD[mine][0] -= 1
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise LockHeld(path, read_holder(processed)) from None
            raise
        info = LockInfo(
            pid=os.getpid(),
            started=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            host=socket.gethostname(),
            command=command,
        )
        # Rewritten in place (same inode): the lock lives on this file.
        os.ftruncate(fd, 0)
        os.pwrite(fd, _format(info).encode("utf-8"), 0)
        _HELD[mine] = [1, info]
        try:
            yield info
        finally:
            del _HELD[mine]
    finally:
        os.close(fd)  # closing the descriptor releases the lock
