"""The crash-safe write of the store's files as one group, its state file, and the DuckDB
file with the analysts' views."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl

from pipeline.core import atomic
from pipeline.core.catalog import Catalog
from pipeline.core.config import (
    COUNTED_FILE,
    DATA_QUALITY_FILE,
    DUCKDB_FILE,
    EPISODES_FILE,
    FILE_LOG_FILE,
    QUARANTINE_CSV,
    QUARANTINE_FILE,
)
from pipeline.core.contract import (
    RULES,
)
from pipeline.core.hashing import files_match, files_sha256
from pipeline.store import views
from pipeline.store.quality import data_quality_markdown
from pipeline.store.results import (
    DERIVED_FILE,
    DUPLICATES_FILE,
    FLAGGED_FILE,
    STATE_FILE,
    StoreResult,
)


def read_state(processed: Path) -> dict[str, object]:
    try:
        return json.loads((processed / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def store_is_current(processed: Path, fingerprint: str) -> bool:
    """The state file names these inputs and every store file it lists is present and has
    the content (SHA-256) it was written with."""
    state = read_state(processed)
    if state.get("fingerprint") != fingerprint:
        return False
    hashes = state.get("sha256")
    names = state.get("files", [])
    if not isinstance(hashes, dict) or not isinstance(names, list):
        return False
    return files_match(processed, {name: hashes.get(name) for name in names})


def read_store(processed: Path, catalog: Catalog, fingerprint: str) -> StoreResult:
    """The store as written, for inputs it is current for (`store_is_current`): the frames
    of its files, without reading a raw file or the cache, and without merging."""

    def read(name: str) -> pl.DataFrame:
        return pl.read_parquet(processed / name)

    return StoreResult(
        episodes=read(EPISODES_FILE),
        quarantine=read(QUARANTINE_FILE),
        files=read(FILE_LOG_FILE),
        duplicates=read(DUPLICATES_FILE),
        catalog=catalog,
        changed=False,
        flagged=read(FLAGGED_FILE),
        files_reread=0,
        fingerprint=fingerprint,
        counted=read(COUNTED_FILE),
    )


def write_duckdb(processed: Path, catalog: Catalog) -> None:
    """Build the analysts' database as a new file and move it into place (pitfalls: lock)."""

    def build(tmp: Path) -> None:
        tmp.unlink(missing_ok=True)  # DuckDB wants to create the file itself
        wal = tmp.with_name(tmp.name + ".wal")
        con = duckdb.connect(str(tmp))
        try:
            views.create_views(con, processed, catalog)
            # close() checkpoints silently: on a full disk it leaves the views in the WAL
            # beside the temporary file, and an empty database would be moved into place.
            con.execute("CHECKPOINT")
        finally:
            con.close()
            complete = not wal.exists()
            wal.unlink(missing_ok=True)
        if not complete:
            raise OSError(errno.EIO, "DuckDB-databasen kunde inte skrivas klart", str(tmp))

    atomic.write_with(processed / DUCKDB_FILE, build)


def _duckdb_reserve(processed: Path) -> int:
    """Room for a new DuckDB file beside the old one: twice the old one, else 2 MB."""
    try:
        return 2 * (processed / DUCKDB_FILE).stat().st_size
    except OSError:
        return 2_000_000


@contextlib.contextmanager
def _space_reserved(folder: Path, size: int) -> Iterator[None]:
    """Hold `size` bytes of the folder's disk for the block: OSError(ENOSPC) if there are none."""
    fd, name = tempfile.mkstemp(prefix=".reserv.", suffix=".tmp", dir=folder)
    try:
        os.posix_fallocate(fd, 0, size)
        yield
    finally:
        os.close(fd)
        Path(name).unlink(missing_ok=True)


def write_store(processed: Path, result: StoreResult, fingerprint: str) -> None:
    """Write every store file atomically as one group; the state file last.

    Every file is first written in full to a temporary file beside its target (this is
    where a full disk shows); only then is the state file removed and each temporary file
    moved into place. A crash during the moves leaves no state file, so the next run
    rebuilds. The DuckDB file is built last (its views read the parquet files in place), in
    disk space reserved before the moves.
    """
    processed.mkdir(parents=True, exist_ok=True)
    quality = data_quality_markdown(
        result.files, result.quarantine, result.duplicates, result.episodes, result.flagged
    )
    writers = {
        EPISODES_FILE: result.episodes.write_parquet,
        DERIVED_FILE: lambda tmp: views.write_derived(result.episodes, tmp),
        QUARANTINE_FILE: result.quarantine.write_parquet,
        QUARANTINE_CSV: result.quarantine.write_csv,
        FILE_LOG_FILE: result.files.write_parquet,
        DUPLICATES_FILE: result.duplicates.write_parquet,
        FLAGGED_FILE: result.flagged.write_parquet,
        COUNTED_FILE: result.counted.write_parquet,
        DATA_QUALITY_FILE: lambda tmp: tmp.write_text(quality, encoding="utf-8"),
    }
    with contextlib.ExitStack() as group:
        for name, writer in writers.items():
            tmp = group.enter_context(atomic.atomic_path(processed / name))
            writer(tmp)
            with open(tmp, "rb+") as fh:  # a full disk shows here, before anything is moved
                os.fsync(fh.fileno())
        # Released first when the block is left, so the DuckDB file has room to be built.
        group.enter_context(_space_reserved(processed, _duckdb_reserve(processed)))
        # Every file is complete; leaving the block moves them into place (or, on an
        # error above, removes the temporary files and leaves the store as it was).
        (processed / STATE_FILE).unlink(missing_ok=True)
    write_duckdb(processed, result.catalog)
    written = [*writers, DUCKDB_FILE]
    state = {
        "fingerprint": fingerprint,
        "files": written,
        "rules": sorted(RULES),
        "sha256": files_sha256(processed, written),
    }
    atomic.write_text(processed / STATE_FILE, json.dumps(state, indent=2, sort_keys=True))
