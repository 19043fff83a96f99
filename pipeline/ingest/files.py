"""The raw folder: which files are exports, their content hashes and the names they are
shown by; `FileRejected`, the reason a whole file is not read (Swedish, never its content)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.core import personnummer
from pipeline.core.config import CATALOG_FILE, EXAMPLE_MARKER
from pipeline.core.hashing import file_sha256

DATA_SUFFIXES = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".parquet": "parquet",
}
# Files in the raw folder that are not participant exports.
NOT_EXPORTS = {CATALOG_FILE, EXAMPLE_MARKER}
SHEET_COLUMN = "_blad"  # the sheet of a workbook row (null for CSV and Parquet)


class FileRejected(Exception):
    """A whole file is rejected; the message is Swedish and never holds its content."""

    def __init__(self, message: str, hits: pl.DataFrame | None = None) -> None:
        super().__init__(message)
        self.hits = hits  # where personnummer were found: (blad, _rad, kolumn), no values


@dataclass(frozen=True)
class RawFile:
    """An export in the raw folder: its path relative to the raw folder and its content hash.

    `relative` is the name shown everywhere; when the path itself holds a personnummer it is
    shown masked (`name_has_personnummer`) and the file is rejected unread.
    """

    path: Path
    relative: str
    sha256: str
    format: str | None  # csv, xlsx, parquet, or None for an unknown kind of file
    name_has_personnummer: bool = False
    unreadable_name: bool = False  # the name is not UTF-8 (shown with U+FFFD)


def discover(raw: Path) -> list[RawFile]:
    """Every export under `raw`, in sorted path order (the order in which later files win)."""
    exports = sorted(
        (path.relative_to(raw).as_posix(), path)
        for path in raw.rglob("*")
        if path.is_file()
        and path.relative_to(raw).as_posix() not in NOT_EXPORTS
        and not any(part.startswith((".", "~$")) for part in path.relative_to(raw).parts)
    )
    # Hashing is most of the time here; hashlib releases the GIL, so files hash in parallel.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        hashes = list(pool.map(file_sha256, [path for _, path in exports]))
    names = [relative for relative, _ in exports]
    named = personnummer.texts_with_personnummer([shown_name(r) for r in names])
    return [
        RawFile(
            path,
            _display(relative, sha, has_number),
            sha,
            DATA_SUFFIXES.get(path.suffix.lower()),
            has_number,
            unreadable_name=shown_name(relative) != relative,
        )
        for (relative, path), sha, has_number in zip(exports, hashes, named, strict=True)
    ]


def shown_name(relative: str) -> str:
    """A path as text: bytes that are not UTF-8 (a name from an old zip file) become U+FFFD."""
    return relative.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _display(relative: str, sha: str, has_number: bool) -> str:
    """The name a file is shown by: its path, or, when the path holds a personnummer, the
    path with every digit masked and the start of its content's hash (to tell files apart)."""
    if not has_number:
        return shown_name(relative)
    return f"{personnummer.mask_text(shown_name(relative))} [{sha[:8]}]"
