"""Content hashes, one scheme for the whole pipeline: SHA-256 in hex.

Raw files are known by the hash of their bytes (the file log, the per-file cache, the
manifest's inputs); every file the pipeline writes is recorded with its hash where it is
checked later (the store's state, the nightly tables' manifest, the report's manifest); a
fingerprint of what a result is made from is the hash of its parts' text.

>>> text_sha256("abc")[:16]
'ba7816bf8f01cfea'
>>> fingerprint({"k": 5, "period": ["2025-01-01", "2025-12-31"]}) == fingerprint(
...     {"period": ["2025-01-01", "2025-12-31"], "k": 5})
True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import polars as pl

_BLOCK = 1 << 20


def file_sha256(path: Path) -> str:
    """The hash of a file's bytes, read in blocks (hashlib releases the GIL meanwhile)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def text_sha256(text: str) -> str:
    """The hash of a text's UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fingerprint(parts: Mapping[str, object]) -> str:
    """The hash of a result's parts, as JSON with sorted keys (independent of their order)."""
    return text_sha256(json.dumps(parts, sort_keys=True))


def frames_sha256(*frames: pl.DataFrame) -> str:
    """The hash of frames' content, each as CSV."""
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(frame.write_csv().encode("utf-8"))
    return digest.hexdigest()


def files_sha256(folder: Path, names: Iterable[str]) -> dict[str, str]:
    """name → hash of each named file in `folder` (a record to check them against later)."""
    return {name: file_sha256(folder / name) for name in names}


def files_match(folder: Path, hashes: Mapping[str, str]) -> bool:
    """Every recorded file is there with the recorded hash (a missing file does not match)."""
    try:
        return all(file_sha256(folder / name) == sha for name, sha in hashes.items())
    except OSError:
        return False
