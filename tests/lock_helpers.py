"""A lock held elsewhere: the store's lock taken by another thread for the block.

The lock is re-entrant within one thread (build_store takes it again under a command that
holds it), so a test that wants "another run holds the lock" takes it in a second thread.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from pipeline.core.lock import hold


@contextlib.contextmanager
def held_by_another_thread(processed: Path, command: str = "nightly") -> Iterator[None]:
    taken, release = threading.Event(), threading.Event()

    def holder() -> None:
        with hold(processed, command):
            taken.set()
            release.wait(timeout=60)

    worker = threading.Thread(target=holder, daemon=True)
    worker.start()
    assert taken.wait(timeout=10), "the lock could not be taken"
    try:
        yield
    finally:
        release.set()
        worker.join(timeout=10)
