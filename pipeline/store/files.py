"""One raw file: read, validated, its quarantine and log row; cached by content hash."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import polars as pl

from pipeline.core import atomic, log
from pipeline.core.catalog import Catalog
from pipeline.core.contract import (
    CANONICAL_COLUMNS,
    EPISODE_KEY,
    FILE_LOG_SCHEMA,
    QUARANTINE_SCHEMA,
    RULES,
)
from pipeline.core.hashing import file_sha256, text_sha256
from pipeline.ingest import (
    COUNTED,
    PERSONNUMMER_MASK,
    ROW_COLUMN,
    FileRejected,
    RawFile,
    counted_across_sheets,
    validate_counted,
    validate_export,
)
from pipeline.ingest import load_export as _load_export
from pipeline.store.results import (
    CACHE_PARTS,
    POSITION,
    RULES_VERSION,
    FileResult,
    RawFileChanged,
    empty_counted,
    empty_episodes,
    empty_keys,
)

# --- One file ----------------------------------------------------------------------------------


def _positioned(sheet_no: int) -> pl.Expr:
    """The row's place within its file: sheet number and row (the file number is added at
    the merge, so that a cached file result does not depend on the other files)."""
    return (pl.lit(sheet_no, pl.Int64) * (1 << 32) + pl.col(ROW_COLUMN)).alias(POSITION)


def _log_row(file: RawFile, **values: object) -> dict[str, object]:
    row = dict.fromkeys(FILE_LOG_SCHEMA.names())
    row |= {"fil": file.relative, "sha256": file.sha256, "format": file.format or "okänt"}
    return row | values


def process_file(file: RawFile, catalog: Catalog, today: dt.date) -> FileResult:
    """Read and validate one export; a rejected file gives no episodes and a clear message.

    A table of counted participants (contract section 5) is validated as such; its rows are
    kept apart from the episodes (`FileResult.counted`)."""
    try:
        export = _unexpected_as_rejection(file)
    except FileRejected as rejected:
        log_row = _log_row(
            file,
            godkanda_rader=0,
            avvisade_rader=0,
            status="avvisad",
            meddelande=str(rejected),
        )
        quarantine = _rejected_file_quarantine(file.relative, rejected)
        return FileResult(empty_episodes(), quarantine, log_row)
    episodes, quarantines, keys, counted_sheets = [], [], [], []
    for sheet_no, sheet in enumerate(export.sheets):  # a loop over the file's sheets
        quarantines.append(sheet.quarantine)
        if sheet.kind == COUNTED:
            counts = validate_counted(
                sheet.text, file.relative, catalog.inriktning, today, sheet.sheet
            )
            counted_sheets.append((sheet.text, sheet.sheet, counts))
            continue
        validated = validate_export(
            sheet.text,
            file.relative,
            catalog.with_records["insats_id"].to_list(),
            today,
            sheet.sheet,
            tuple(catalog.structural_ids),
            tuple(sorted(catalog.forbund_of.items())),
        )
        position = _positioned(sheet_no)
        episodes.append(validated.episodes.select(position, *CANONICAL_COLUMNS))
        keys.append(validated.rejected_keys.select(position, *EPISODE_KEY))
        quarantines.append(validated.quarantine)
    counted = counted_across_sheets(counted_sheets, file.relative) if counted_sheets else []
    quarantines += [c.quarantine for c in counted]
    quarantine = pl.concat(quarantines)
    good = pl.concat([empty_episodes(), *episodes])
    kept_counts = pl.concat([empty_counted(), *(c.counted.drop(ROW_COLUMN) for c in counted)])
    kept = good.height + kept_counts.height
    log_row = _log_row(
        file,
        teckenkodning=export.encoding,
        blad=len(export.sheets),
        rader=export.rows,
        godkanda_rader=kept,
        avvisade_rader=export.rows - kept,
        tomma_rader=export.blank_rows,
        status="inlast",
        anmarkningar=" ".join(export.notes) or None,
    )
    date_dependent = bool(quarantine.filter(pl.col("regel_id") == "framtida_datum").height)
    return FileResult(
        good,
        quarantine,
        log_row,
        date_dependent,
        pl.concat([empty_keys(), *keys]),
        kept_counts,
    )


DEBUG_ENV = "FINSAM_FELSOK"  # set to 1 to let an unexpected error while reading raise


def _unexpected_as_rejection(file: RawFile):
    """load_export, with an error nobody foresaw (a reader's bug on a strange file) turned
    into a rejection of that file: one file must not stop the run. Its message names only
    the kind of error (the error's own text could quote the file)."""
    try:
        return _load_export(file)
    except FileRejected:
        raise
    except Exception as exc:
        if os.environ.get(DEBUG_ENV) == "1":
            raise
        log.warning("oväntat fel vid läsning av en fil", fil=file.relative, fel=type(exc).__name__)
        raise FileRejected(
            f"Filen kunde inte läsas på grund av ett oväntat fel ({type(exc).__name__}). "
            "Spara den på nytt som CSV (UTF-8) eller XLSX och försök igen; kvarstår felet, "
            f"kör med {DEBUG_ENV}=1 och rapportera det."
        ) from exc


def _rejected_file_quarantine(fil: str, rejected: FileRejected) -> pl.DataFrame:
    """A personnummer file: one quarantine record per hit, the value masked, never written."""
    if rejected.hits is None or rejected.hits.height == 0:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    return rejected.hits.select(
        pl.lit(fil).alias("fil"),
        pl.col("blad"),
        pl.col(ROW_COLUMN).alias("rad"),
        "kolumn",
        pl.lit(PERSONNUMMER_MASK).alias("varde"),
        pl.lit("personnummer").alias("regel_id"),
        pl.lit(RULES["personnummer"]).alias("regel"),
    ).cast(dict(QUARANTINE_SCHEMA))


# --- Per-file cache ------------------------------------------------------------------------------


def cache_key(file: RawFile, catalog_sha: str) -> str:
    text = f"{RULES_VERSION}|{catalog_sha}|{file.sha256}|{file.relative}"
    return text_sha256(text)[:32]


def _checked_process_file(file: RawFile, catalog: Catalog, today: dt.date) -> FileResult:
    """process_file, then make sure the file still has the hash it was discovered with."""
    result = process_file(file, catalog, today)
    try:
        unchanged = file_sha256(file.path) == file.sha256
    except OSError:  # removed or replaced while read
        unchanged = False
    if not unchanged:
        raise RawFileChanged(file.relative)
    return result


def _read_cache_entry(cache: Path, key: str, today: dt.date) -> FileResult | None:
    """A valid cache entry, or None. An entry whose parts do not match the hashes its meta
    file recorded (a crash between writes, a damaged disk) is never trusted."""
    meta_path = cache / f"{key}.json"
    if not meta_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        # A rejection for a date in the future may not hold tomorrow: re-check daily.
        if meta["date_dependent"] and meta["today"] != today.isoformat():
            return None
        parts = {}
        for part in CACHE_PARTS:
            path = cache / f"{key}.{part}.parquet"
            if file_sha256(path) != meta["sha256"][part]:
                return None
            parts[part] = pl.read_parquet(path)
        return FileResult(
            parts["episodes"],
            parts["quarantine"],
            meta["log_row"],
            meta["date_dependent"],
            parts["rejected_keys"],
            parts["counted"],
        )
    except (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError):
        return None  # a damaged cache entry is simply recomputed


def cached_file_result(
    cache: Path,
    file: RawFile,
    catalog: Catalog,
    catalog_sha: str,
    today: dt.date,
    *,
    write: bool = True,
) -> tuple[FileResult, bool]:
    """The file's result from the cache, or computed (and cached when `write`).
    Returns (result, was_read)."""
    key = cache_key(file, catalog_sha)
    cached = _read_cache_entry(cache, key, today)
    if cached is not None:
        return cached, False
    result = _checked_process_file(file, catalog, today)
    if not write:
        return result, True
    hashes = {}
    frames = (result.episodes, result.quarantine, result.rejected_keys, result.counted)
    for part, frame in zip(CACHE_PARTS, frames, strict=True):
        path = cache / f"{key}.{part}.parquet"
        # No fsync: the meta file (written last, durably) holds each part's hash, and a part
        # that does not match it is never used.
        atomic.write_with(path, frame.write_parquet, durable=False)
        hashes[part] = file_sha256(path)
    meta = {
        "date_dependent": result.date_dependent,
        "today": today.isoformat(),
        "log_row": result.log_row,
        "sha256": hashes,
    }
    # The meta file is written last: without it (or with other hashes) the entry is not used.
    atomic.write_text(cache / f"{key}.json", json.dumps(meta, ensure_ascii=False, sort_keys=True))
    return result, True


def prune_cache(cache: Path, keep: set[str]) -> int:
    """Remove cache entries of files no longer in the raw folder (or of an old catalog).

    Runs after the store is written: a crash here only leaves entries that are pruned next
    time. Returns how many files were removed.
    """
    removed = 0
    for path in cache.glob("*") if cache.exists() else []:
        if path.name.split(".", 1)[0] not in keep and not path.name.startswith("."):
            path.unlink(missing_ok=True)
            removed += 1
    return removed
