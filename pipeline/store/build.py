"""The processed store: current, validated episodes and the record of what was rejected.

`build_store(raw, processed)` reads every export under the raw folder, validates it, merges
the episodes (an episode is deltagare_id + insats_id + startdatum; the last file in sorted
path order wins, rows in file order) and writes, each file atomically:

- `episoder.parquet`: the episodes in canonical columns (the contract's output)
- `episoder_harledda.parquet` and `finsam.duckdb`: derived fields and SQL views for analysts
- `karantan.parquet` / `karantan.csv`: every rejected value with file, row, column, rule
- `inlasta_filer.parquet`: every file seen, its hash, rows read, accepted, rejected
- `dubbletter.parquet`: episodes carried by several files and how their versions differ
- `raknade_deltagare.parquet`: counted participants (anonyma, strukturövergripande), one row
  per insats, year and slag (the last file in path order wins a key)
- `datakvalitet.md`: the readable data-quality summary
- `tillstand.json`, written last: the fingerprint of the inputs the store was built from

Per-file results are cached under `.cache/` by content hash, so a run re-reads only new or
changed files. A run whose inputs match `tillstand.json` rewrites nothing and reads no raw
file or cache entry either: the store is read from its own files (`read_store`), unmerged,
so a night with nothing new costs the hashing of the inputs and the store. A crash between
two writes leaves every file whole and no state file, so the next run rebuilds the store.

Crash safety (the nightly job relies on it; docs/nattkorning.md): the store files are first
all written to temporary files and room is reserved for the DuckDB file; only when every
one is complete is `tillstand.json` removed and each moved into place, so a full disk
leaves the store untouched. The DuckDB file is checkpointed explicitly (DuckDB's close()
would leave its views in a WAL on a full disk and an empty database behind). The
state file records the SHA-256 of every store file, so a damaged or truncated file is
detected and the store rebuilt. A cache entry records the hashes of its parts and is
recomputed when they do not match. A raw file whose content changes while it is read
raises `RawFileChanged` before anything from it is cached or written.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from pipeline.core import lock, log
from pipeline.core.catalog import Catalog, read_catalog
from pipeline.core.config import (
    CATALOG_FILE,
    READ_THREADS,
)
from pipeline.core.contract import (
    FILE_LOG_SCHEMA,
    QUARANTINE_SCHEMA,
)
from pipeline.core.hashing import file_sha256, text_sha256
from pipeline.core.progress import progress, steps
from pipeline.ingest import (
    RawFile,
    discover,
)
from pipeline.store.database import read_store, store_is_current, write_store
from pipeline.store.feedback import write_feedback
from pipeline.store.files import cache_key, cached_file_result, prune_cache
from pipeline.store.merge import flag_episodes, merge_counted, merge_episodes
from pipeline.store.results import (
    CACHE_DIR,
    POSITION,
    RULES_VERSION,
    FileResult,
    InputsChanged,
    StoreResult,
)

# --- The whole build ------------------------------------------------------------------------------


def _fingerprint(files: list[RawFile], catalog_sha: str, today: dt.date, dated: bool) -> str:
    parts = [RULES_VERSION, catalog_sha, *(f"{f.relative}:{f.sha256}" for f in files)]
    if dated:
        parts.append(today.isoformat())
    return text_sha256("\n".join(parts))


def _current_fingerprint(
    processed: Path,
    files: list[RawFile],
    catalog_sha: str,
    today: dt.date,
    expect_fingerprint: str | None,
) -> str | None:
    """The fingerprint of these inputs when the store is current for them, else None.

    The fingerprint names today's date only when some file's result depended on it (a date
    after the run date); both forms are tried, so an undated store stays current on a
    later day and a dated one only on its own day, as when the files are read and merged.
    """
    for dated in (False, True):
        fingerprint = _fingerprint(files, catalog_sha, today, dated)
        if expect_fingerprint not in (None, fingerprint):
            continue
        if store_is_current(processed, fingerprint):
            return fingerprint
    return None


def _read_files(
    files: list[RawFile],
    cache: Path,
    catalog: Catalog,
    catalog_sha: str,
    today: dt.date,
    write: bool,
) -> tuple[list[FileResult], int]:
    """Every file's result, in file order, from the cache or read anew; and how many were
    read anew. `write=False` still uses valid cache entries, but adds none."""

    def read(file: RawFile) -> tuple[FileResult, bool]:
        return cached_file_result(cache, file, catalog, catalog_sha, today, write=write)

    # A few files at a time, their results in file order (the order in which later files
    # win the merge); an error in one file is raised in that order too.
    with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
        read_files = list(progress(pool.map(read, files), "Läser filer", total=len(files)))
    return [r for r, _ in read_files], sum(was_read for _, was_read in read_files)


def build_store(
    raw: Path,
    processed: Path,
    today: dt.date | None = None,
    *,
    write: bool = True,
    expect_fingerprint: str | None = None,
) -> StoreResult:
    """Ingest every export under `raw` into the store under `processed`.

    With `write=False` nothing is written (used by the nightly job's --strict mode to decide
    before it changes anything). With `expect_fingerprint` (the `fingerprint` of such a
    dry run) the store is written only if the inputs are still those: else InputsChanged.

    The store's lock is held throughout (`pipeline.core.lock`, re-entrant for a caller that holds
    it already): LockHeld when another run is writing the store.
    """
    with lock.hold(processed, "build_store"):
        return _build_store(raw, processed, today, write, expect_fingerprint)


def _build_store(
    raw: Path,
    processed: Path,
    today: dt.date | None,
    write: bool,
    expect_fingerprint: str | None,
) -> StoreResult:
    today = today or dt.date.today()
    catalog_path = raw / CATALOG_FILE
    catalog = read_catalog(catalog_path)
    catalog_sha = file_sha256(catalog_path)
    files = discover(raw)
    current = _current_fingerprint(processed, files, catalog_sha, today, expect_fingerprint)
    if current is not None:
        # Nothing new (a quiet night): the store's own files, no raw file, cache or merge.
        with log.stage("inläsning", filer=len(files)) as counts:
            result = read_store(processed, catalog, current)
            counts["omlästa"] = 0
            counts["lagret_aktuellt"] = "ja"
        if write:
            _feedback(files, result, processed)
        return result
    cache = processed / CACHE_DIR
    with log.stage("inläsning", filer=len(files)) as counts:
        results, reread = _read_files(files, cache, catalog, catalog_sha, today, write)
        counts["omlästa"] = reread
    file_log = pl.DataFrame([r.log_row for r in results], schema=FILE_LOG_SCHEMA, orient="row")
    quarantine = pl.concat(
        [pl.DataFrame(schema=QUARANTINE_SCHEMA), *(r.quarantine for r in results)]
    )
    with log.stage("sammanslagning") as counts:
        with steps("Slår samman", 2) as step:
            positioned, duplicates = merge_episodes([r.episodes for r in results])
            step()
            flagged = flag_episodes(positioned, results, files)
            step()
        episodes = positioned.drop(POSITION)
        del positioned
        counts["episoder"] = episodes.height
        counts["i_karantan"] = quarantine.height
        counts["med_varning"] = flagged.height
    fingerprint = _fingerprint(files, catalog_sha, today, any(r.date_dependent for r in results))
    counted = merge_counted([r.counted for r in results])
    # The files' own episodes are merged: let them go before the store files are written
    # (at national scale they are the size of the store again).
    del results
    result = StoreResult(
        episodes,
        quarantine,
        file_log,
        duplicates,
        catalog,
        False,
        flagged,
        reread,
        fingerprint=fingerprint,
        counted=counted,
    )
    if expect_fingerprint is not None and fingerprint != expect_fingerprint:
        raise InputsChanged(
            "Råmappen ändrades mellan kontrollen och skrivningen (en fil lades till, togs bort "
            "eller ändrades). Inget skrevs."
        )
    if not write:
        return result
    if not store_is_current(processed, fingerprint):
        with log.stage("lager", episoder=episodes.height):
            write_store(processed, result, fingerprint)
            prune_cache(cache, {cache_key(f, catalog_sha) for f in files})
        result.changed = True
    # After the store (a crash in between: the marker differs and the next run writes it).
    _feedback(files, result, processed)
    return result


def _feedback(files: list[RawFile], result: StoreResult, processed: Path) -> None:
    """The parties' feedback workbooks for this store (rewritten only when it changed)."""
    with log.stage("återkoppling") as counts:
        counts["arbetsböcker"] = write_feedback(files, result, processed)
