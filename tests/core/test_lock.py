"""The store's lock (pipeline.core.lock): one holder at a time, no stale lock after kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pipeline.core.lock import LOCK_FILE, LockHeld, hold, parse, read_holder


def test_the_holder_is_written_into_the_lock_file(tmp_path: Path):
    with hold(tmp_path, "nightly --strict") as info:
        on_disk = read_holder(tmp_path)
        assert on_disk == info
        assert on_disk.pid == os.getpid()
        assert on_disk.command == "nightly --strict"
        assert on_disk.started is not None and on_disk.started[:2] == "20"
    # The file stays (a flock lives on the file); it now tells who held the lock last.
    assert (tmp_path / LOCK_FILE).exists()
    assert read_holder(tmp_path).pid == os.getpid()


def _try_in_thread(folder: Path) -> BaseException | None:
    """Take the lock in another thread; what it raised (None if it got the lock)."""
    outcome: list[BaseException | None] = []

    def attempt() -> None:
        try:
            with hold(folder):
                outcome.append(None)
        except LockHeld as exc:
            outcome.append(exc)

    worker = threading.Thread(target=attempt)
    worker.start()
    worker.join()
    return outcome[0]


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path: Path):
    with hold(tmp_path):
        refused = _try_in_thread(tmp_path)
    assert isinstance(refused, LockHeld)
    message = str(refused)
    assert f"pid {os.getpid()}" in message
    assert "En annan körning pågår redan" in message
    assert str(tmp_path / LOCK_FILE) in message
    assert refused.holder.pid == os.getpid()
    assert _try_in_thread(tmp_path) is None  # free again once the holder is done


def test_the_same_thread_may_take_the_lock_again(tmp_path: Path):
    with hold(tmp_path, "report") as outer, hold(tmp_path, "build_store") as inner:
        assert inner == outer
        assert isinstance(_try_in_thread(tmp_path), LockHeld)  # still held for others
    assert _try_in_thread(tmp_path) is None


def test_the_lock_is_free_again_after_the_block_also_after_an_error(tmp_path: Path):
    with pytest.raises(RuntimeError), hold(tmp_path):
        raise RuntimeError("fel i blocket")
    with hold(tmp_path) as info:
        assert info.pid == os.getpid()


def test_a_shorter_holder_leaves_no_trace_of_a_longer_one(tmp_path: Path):
    (tmp_path / LOCK_FILE).write_text("pid=1\nstartad=x\nvard=" + "h" * 500 + "\nkommando=y\n")
    with hold(tmp_path, "nightly"):
        text = (tmp_path / LOCK_FILE).read_text()
    assert "h" * 50 not in text
    assert parse(text).command == "nightly"


@pytest.mark.parametrize(
    ("text", "pid", "started"),
    [
        ("pid=42\nstartad=2026-01-02T03:04:05+01:00\nvard=server\nkommando=nightly\n", 42, "2026"),
        ("", None, None),
        ("pid=abc\nstartad=\n", None, None),
        ("skräp utan likhetstecken\n", None, None),
    ],
)
def test_parse_is_forgiving(text: str, pid: int | None, started: str | None):
    info = parse(text)
    assert info.pid == pid
    assert (info.started or "")[:4] == (started or "")
    assert ("pid" in info.describe()) == (pid is not None)


@pytest.mark.slow
def test_kill_9_leaves_no_stale_lock(tmp_path: Path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from pipeline.core.lock import hold\n"
            "with hold(Path(sys.argv[1]), 'test'):\n"
            "    print('låst', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "låst"
        with pytest.raises(LockHeld) as refused, hold(tmp_path):
            pass
        assert refused.value.holder.pid == holder.pid
        assert f"pid {holder.pid}" in str(refused.value)
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
    assert holder.returncode == -signal.SIGKILL
    with hold(tmp_path) as info:  # the kernel released the lock with the process
        assert info.pid == os.getpid()
