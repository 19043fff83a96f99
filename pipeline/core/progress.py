"""A progress bar on a terminal (tqdm) for the long loops: reading files, merging, drawing
charts. Off a terminal (cron, CI, a notebook's log) and with --quiet it draws nothing, so
logs stay key=value lines; the bar shows counts and the stage's name, never a file's content.

>>> list(progress([1, 2, 3], "Läser filer", enabled=False))
[1, 2, 3]
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")

_state = {"quiet": False}


def set_quiet(quiet: bool) -> None:
    """--quiet: no bars (set by the command line with the logging)."""
    _state["quiet"] = quiet


def enabled_here() -> bool:
    return sys.stderr.isatty() and not _state["quiet"]


def progress(
    items: Iterable[T], description: str, total: int | None = None, enabled: bool | None = None
) -> Iterator[T]:
    """`items`, with a bar on stderr when it is a terminal (or `enabled`)."""
    if not (enabled_here() if enabled is None else enabled):
        yield from items
        return
    yield from tqdm(items, desc=description, total=total, unit=" st", leave=False, file=sys.stderr)


@contextlib.contextmanager
def steps(description: str, total: int) -> Iterator[Callable[[], None]]:
    """A bar over `total` steps of one stage; call the yielded function after each step."""
    if not enabled_here():
        yield lambda: None
        return
    with tqdm(total=total, desc=description, leave=False, file=sys.stderr) as bar:
        yield lambda: bar.update(1)
