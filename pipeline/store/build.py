"""The processed store: current, validated episodes and the record of what was rejected.

`build_store(raw, processed)` reads every export under the raw folder, validates it, merges
the episodes (an episode is deltagare_id + insats_id + startdatum; the last file in sorted
path order wins, rows in file order) and writes, each file atomically:

- `episoder.parquet`: the episodes in canonical columns (the contract's output)
- `episoder_harledda.parquet` and `finsam.duckdb`: derived fields and SQL views for analysts
- `karantan.parquet` / `karantan.csv`: every rejected value with file, row, column, rule
- `inlasta_filer.parquet`: every file seen, its hash, rows read, accepted, rejected
- `dubbletter.parquet`: episodes carried by several files and how their versions differ
- `datakvalitet.md`: the readable data-quality summary
- `tillstand.json`, written last: the fingerprint of the inputs the store was built from

Per-file results are cached under `.cache/` by content hash, so a run re-reads only new or
changed files. A run whose inputs match `tillstand.json` rewrites nothing. A crash between
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

import contextlib
import datetime as dt
import errno
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import duckdb
import polars as pl

from pipeline.core import atomic, lock, log
from pipeline.core.catalog import Catalog, read_catalog
from pipeline.core.config import (
    CATALOG_FILE,
    DATA_QUALITY_FILE,
    DUCKDB_FILE,
    EPISODES_FILE,
    FILE_LOG_FILE,
    QUARANTINE_CSV,
    QUARANTINE_FILE,
)
from pipeline.core.contract import (
    CANONICAL_COLUMNS,
    EPISODE_KEY,
    EPISODE_SCHEMA,
    FILE_LOG_SCHEMA,
    FLAGGED_SCHEMA,
    FLAGS,
    QUARANTINE_SCHEMA,
    RULES,
)
from pipeline.ingest.load import (
    PERSONNUMMER_MASK,
    ROW_COLUMN,
    FileRejected,
    RawFile,
    discover,
    file_sha256,
)
from pipeline.ingest.load import load_export as _load_export
from pipeline.ingest.validate import KEY_SCHEMA, validate_export
from pipeline.store import views

DERIVED_FILE = views.DERIVED_FILE
DUPLICATES_FILE = "dubbletter.parquet"
FLAGGED_FILE = "flaggade_episoder.parquet"
STATE_FILE = "tillstand.json"
CACHE_DIR = ".cache"
# Bump when reading or validation rules change, so cached per-file results are not reused.
RULES_VERSION = "2"
# Order of a row in the merge: file number, sheet number and row, packed in one Int64.
_POSITION = "_position"
CACHE_PARTS = ("episodes", "quarantine", "rejected_keys")
# A series of exports is cumulative when its latest export still carries at least this share
# of the episodes of the export before it (docs/antaganden.md, I15).
CUMULATIVE_SHARE = 0.8


# Fields that a cumulative export fills in when an episode ends; a later version that only
# adds these to an open episode is an ordinary update, not a conflict.
END_FIELDS = (
    "slutdatum",
    "forsorjning_efter",
    "sysselsattning_efter",
    "omfattning_efter",
    "avslutsorsak",
    "steg_slut",
    "narmare_arbete",
)


class InputsChanged(Exception):
    """The raw folder changed during a run; nothing of this run was written to the store."""


class RawFileChanged(InputsChanged):
    """A raw file changed while it was read (e.g. it was still being copied in)."""

    def __init__(self, relative: str) -> None:
        self.relative = relative
        super().__init__(
            f"Filen {relative} i råmappen ändrades medan den lästes (kopieras den fortfarande "
            "dit?). Inget ur den har sparats."
        )


@dataclass
class FileResult:
    """What one raw file gave: good episodes and the keys of its quarantined rows (both with
    their position in the file, `_position`), its quarantine and its log row."""

    episodes: pl.DataFrame
    quarantine: pl.DataFrame
    log_row: dict[str, object]
    date_dependent: bool = False
    rejected_keys: pl.DataFrame = field(default_factory=lambda: _empty_keys())


@dataclass
class StoreResult:
    """The outcome of a store build: what the caller reports and decides an exit code on."""

    episodes: pl.DataFrame
    quarantine: pl.DataFrame
    files: pl.DataFrame
    duplicates: pl.DataFrame
    catalog: Catalog
    changed: bool
    flagged: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=FLAGGED_SCHEMA))
    files_reread: int = 0
    notes: list[str] = field(default_factory=list)
    fingerprint: str = ""  # of the inputs (tillstand.json holds it once written)

    @property
    def rejected_rows(self) -> int:
        return int(self.files["avvisade_rader"].sum())

    @property
    def rejected_files(self) -> int:
        return self.files.filter(pl.col("status") == "avvisad").height

    @property
    def files_read(self) -> int:
        return self.files.filter(pl.col("status") == "inlast").height


# --- One file ----------------------------------------------------------------------------------


def _empty_episodes() -> pl.DataFrame:
    return pl.DataFrame(schema={_POSITION: pl.Int64, **EPISODE_SCHEMA})


def _empty_keys() -> pl.DataFrame:
    return pl.DataFrame(schema={_POSITION: pl.Int64, **{c: KEY_SCHEMA[c] for c in EPISODE_KEY}})


def _positioned(sheet_no: int) -> pl.Expr:
    """The row's place within its file: sheet number and row (the file number is added at
    the merge, so that a cached file result does not depend on the other files)."""
    return (pl.lit(sheet_no, pl.Int64) * (1 << 32) + pl.col(ROW_COLUMN)).alias(_POSITION)


def _log_row(file: RawFile, **values: object) -> dict[str, object]:
    row = dict.fromkeys(FILE_LOG_SCHEMA.names())
    row |= {"fil": file.relative, "sha256": file.sha256, "format": file.format or "okänt"}
    return row | values


def process_file(file: RawFile, insats_ids: list[str], today: dt.date) -> FileResult:
    """Read and validate one export; a rejected file gives no episodes and a clear message."""
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
        return FileResult(_empty_episodes(), quarantine, log_row)
    episodes, quarantines, keys = [], [], []
    for sheet_no, sheet in enumerate(export.sheets):  # a loop over the file's sheets
        validated = validate_export(sheet.text, file.relative, insats_ids, today, sheet.sheet)
        position = _positioned(sheet_no)
        episodes.append(validated.episodes.select(position, *CANONICAL_COLUMNS))
        keys.append(validated.rejected_keys.select(position, *EPISODE_KEY))
        quarantines += [sheet.quarantine, validated.quarantine]
    quarantine = pl.concat(quarantines)
    good = pl.concat(episodes)
    log_row = _log_row(
        file,
        teckenkodning=export.encoding,
        blad=len(export.sheets),
        rader=export.rows,
        godkanda_rader=good.height,
        avvisade_rader=export.rows - good.height,
        tomma_rader=export.blank_rows,
        status="inlast",
        anmarkningar=" ".join(export.notes) or None,
    )
    date_dependent = bool(quarantine.filter(pl.col("regel_id") == "framtida_datum").height)
    return FileResult(good, quarantine, log_row, date_dependent, pl.concat(keys))


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


def _cache_key(file: RawFile, catalog_sha: str) -> str:
    text = f"{RULES_VERSION}|{catalog_sha}|{file.sha256}|{file.relative}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _checked_process_file(file: RawFile, insats_ids: list[str], today: dt.date) -> FileResult:
    """process_file, then make sure the file still has the hash it was discovered with."""
    result = process_file(file, insats_ids, today)
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
        )
    except (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError):
        return None  # a damaged cache entry is simply recomputed


def _cached_file_result(
    cache: Path,
    file: RawFile,
    insats_ids: list[str],
    catalog_sha: str,
    today: dt.date,
    *,
    write: bool = True,
) -> tuple[FileResult, bool]:
    """The file's result from the cache, or computed (and cached when `write`).
    Returns (result, was_read)."""
    key = _cache_key(file, catalog_sha)
    cached = _read_cache_entry(cache, key, today)
    if cached is not None:
        return cached, False
    result = _checked_process_file(file, insats_ids, today)
    if not write:
        return result, True
    hashes = {}
    frames = (result.episodes, result.quarantine, result.rejected_keys)
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


# --- Merging files -------------------------------------------------------------------------------


def _file_positions(per_file: list[pl.DataFrame]) -> pl.DataFrame:
    """The files' frames stacked in path order, `_position` made global (file number first)."""
    return pl.concat(
        [
            df.with_columns(pl.col(_POSITION) + pl.lit(n << 48, pl.Int64))
            for n, df in enumerate(per_file)
        ],
        rechunk=False,
    )


def merge_episodes(per_file: list[pl.DataFrame]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Merge episodes of files given in sorted path order: last file wins, rows in file order.

    Each frame holds `_position` (its rows' place in the file) and the canonical columns; a
    frame without `_position` is taken in its row order. Returns (episodes, duplicates):
    episodes keep the winning version's global `_position`; `duplicates` lists every
    episode carried more than once with how many versions it had and whether they differ:
    `avslut_tillagt` when only an open episode was ended later (the ordinary cumulative
    export), `konflikt` otherwise.
    """
    if not per_file:
        return pl.DataFrame(schema={_POSITION: pl.Int64, **EPISODE_SCHEMA}), _empty_duplicates()
    per_file = [
        df if _POSITION in df.columns else df.with_row_index(_POSITION).cast({_POSITION: pl.Int64})
        for df in per_file
    ]
    # Each file's rows are in file order and the files come in path order, so the stacked
    # frame is already in "last wins" order: no sort, and no window over every key (at
    # national scale the windows cost seconds); only repeated keys are looked at closer.
    stacked = _file_positions([df.select(_POSITION, *CANONICAL_COLUMNS) for df in per_file])
    key = list(EPISODE_KEY)
    episode_key = pl.struct(key)
    order = ["insats_id", "deltagare_id", "startdatum"]
    # Keys are compared by a 64-bit hash first: only rows whose hash repeats are compared by
    # the key itself (two different keys with one hash are both kept, as they must be).
    repeated_mask = stacked.select(episode_key.hash().is_duplicated()).to_series()
    if not repeated_mask.any():
        episodes = stacked.sort(order)
        return episodes.cast(dict(EPISODE_SCHEMA)), _empty_duplicates()
    repeated = stacked.filter(repeated_mask)
    episodes = pl.concat(
        [stacked.filter(~repeated_mask), repeated.filter(episode_key.is_last_distinct())]
    ).sort(order)
    del stacked
    repeated = repeated.drop(_POSITION)
    single = repeated.select(episode_key.is_unique()).to_series()
    if single.all():  # only hash collisions: no episode was carried twice
        return episodes.cast(dict(EPISODE_SCHEMA)), _empty_duplicates()
    repeated = repeated.filter(~single)
    is_winner = episode_key.is_last_distinct()
    start_fields = [c for c in CANONICAL_COLUMNS if c not in END_FIELDS]
    winners = repeated.filter(is_winner)
    earlier = repeated.filter(~is_winner)
    compared = earlier.join(winners, on=key, suffix="_senast", nulls_equal=True)

    def same(cols: list[str]) -> pl.Expr:
        return pl.all_horizontal(
            pl.col(c).eq_missing(pl.col(f"{c}_senast")) for c in cols if c not in key
        )

    kind = (
        pl.when(same(list(CANONICAL_COLUMNS)))
        .then(pl.lit("identisk"))
        .when(same(start_fields) & pl.col("slutdatum").is_null())
        .then(pl.lit("avslut_tillagt"))
        .otherwise(pl.lit("konflikt"))
    )
    duplicates = (
        compared.with_columns(kind.alias("skillnad"))
        .group_by(key)
        .agg(
            (pl.len() + 1).alias("versioner"),
            pl.when((pl.col("skillnad") == "konflikt").any())
            .then(pl.lit("konflikt"))
            .when((pl.col("skillnad") == "avslut_tillagt").any())
            .then(pl.lit("avslut_tillagt"))
            .otherwise(pl.lit("identisk"))
            .alias("skillnad"),
        )
        .with_columns(pl.col("versioner").cast(pl.Int64))
        .sort(key)
    )
    return episodes.cast(dict(EPISODE_SCHEMA)), duplicates


# --- Episodes kept with a warning -------------------------------------------------------------

_DATE_PART = re.compile(r"(?:19|20)[0-9]{2}(?:[-_.]?[0-9]{2}){0,2}")


def export_series(relative: str) -> str:
    """Which export series a file belongs to: its folder and its name without dates.

    A party's cumulative exports differ only in their date (docs/antaganden.md, I15).

    >>> export_series("kommun/2025-06_export.csv") == export_series("kommun/2024-12_export.xlsx")
    True
    >>> export_series("a/2025_x.csv") == export_series("b/2025_x.csv")
    False
    """
    path = PurePosixPath(relative)
    stem = _DATE_PART.sub("", path.stem).strip(" -_.").lower()
    return f"{path.parent.as_posix()}/{stem}"


def flag_episodes(
    episodes: pl.DataFrame, results: list[FileResult], files: list[RawFile]
) -> pl.DataFrame:
    """Episodes kept with a warning (FLAGGED_SCHEMA): a newer version was quarantined, or the
    latest export of the series that carried them no longer does.

    `episodes` hold the winning version's global `_position` (merge_episodes); `results` and
    `files` are in path order.
    """
    key = list(EPISODE_KEY)
    if not results:
        return pl.DataFrame(schema=FLAGGED_SCHEMA)
    names = pl.DataFrame(
        {"_file": list(range(len(files))), "fil": [f.relative for f in files]},
        schema={"_file": pl.Int64, "fil": pl.String},
    )
    winners = episodes.select(*key, pl.col(_POSITION).alias("_won"))
    rejected = _file_positions([r.rejected_keys for r in results])
    newer = (
        rejected.group_by(key)
        .agg(pl.col(_POSITION).max())
        .join(winners, on=key)
        .filter(pl.col(_POSITION) > pl.col("_won"))
        .select(
            *key, flagga=pl.lit("nyare_version_i_karantan"), _file=pl.col(_POSITION) // (1 << 48)
        )
    )
    read = [i for i, r in enumerate(results) if r.log_row["status"] == "inlast"]
    members: dict[str, list[int]] = {}
    for i in read:  # a loop over files
        members.setdefault(export_series(files[i].relative), []).append(i)
    gone = []
    for series in members.values():  # a loop over series of exports
        if len(series) < 2:
            continue
        *earlier, last = series
        carried = pl.concat(
            [results[last].episodes.select(key), results[last].rejected_keys.select(key)]
        ).unique()
        previous = results[earlier[-1]].episodes.select(key).unique()
        # Only a cumulative series repeats what it sent before; an incremental one (each
        # export holds what is new) would flag nearly everything, so it is left alone.
        kept_share = previous.join(carried, on=key).height / max(previous.height, 1)
        if kept_share < CUMULATIVE_SHARE:
            continue
        won_here = winners.filter((pl.col("_won") // (1 << 48)).is_in(earlier))
        gone.append(
            won_here.join(carried, on=key, how="anti").select(
                *key, flagga=pl.lit("saknas_i_senaste_exporten"), _file=pl.lit(last, pl.Int64)
            )
        )
    flagged = pl.concat([newer.cast({"_file": pl.Int64}), *gone])
    return (
        flagged.join(names, on="_file", how="left")
        .select(FLAGGED_SCHEMA.names())
        .sort("insats_id", "deltagare_id", "startdatum", "flagga")
        .cast(dict(FLAGGED_SCHEMA))
    )


def _empty_duplicates() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "deltagare_id": pl.String,
            "insats_id": pl.String,
            "startdatum": pl.Date,
            "versioner": pl.Int64,
            "skillnad": pl.String,
        }
    )


# --- The data-quality summary --------------------------------------------------------------------


def _md(text: object) -> str:
    """A table cell of Markdown: pipes and line breaks would break the table."""
    return str(text).replace("|", "/").replace("\n", " ")


def data_quality_markdown(
    files: pl.DataFrame,
    quarantine: pl.DataFrame,
    duplicates: pl.DataFrame,
    episodes: pl.DataFrame,
    flagged: pl.DataFrame,
) -> str:
    """A readable Swedish summary of the latest ingest, for the förbund's analyst.

    It names files, sheets, columns, rules and counts; never an id or a value.
    """
    lines = ["# Datakvalitet", ""]
    read = files.filter(pl.col("status") == "inlast")
    if read.height == 0:
        lines += [
            "**INGA DATA: ingen fil kunde läsas in.**"
            if files.height
            else "**INGA DATA: råmappen innehåller inga exporter.**",
            "",
        ]
    lines.append(
        f"- Filer: {files.height} ({read.height} inlästa, {files.height - read.height} avvisade)"
    )
    lines.append(
        f"- Rader: {int(read['rader'].sum() or 0)} lästa, "
        f"{int(read['godkanda_rader'].sum() or 0)} godkända, "
        f"{int(read['avvisade_rader'].sum() or 0)} i karantän, "
        f"{int(read['tomma_rader'].sum() or 0)} tomma (överhoppade)"
    )
    lines.append(f"- Episoder i lagret: {episodes.height}")
    counts = duplicates.group_by("skillnad").len()
    by_kind = dict(zip(counts["skillnad"].to_list(), counts["len"].to_list(), strict=True))
    lines.append(
        f"- Episoder i flera filer: {duplicates.height} (identiska {by_kind.get('identisk', 0)}, "
        f"avslut tillagt senare {by_kind.get('avslut_tillagt', 0)}, "
        f"konflikter {by_kind.get('konflikt', 0)}: senaste filen gäller)"
    )
    lines.append(f"- Episoder med varning: {flagged.height} (se nedan)")
    lines += [
        "",
        "## Filer",
        "",
        "| fil | status | teckenkodning | rader | godkända | i karantän | meddelande |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for row in files.iter_rows(named=True):  # one row per file
        rows_read = row["rader"] if row["rader"] is not None else "–"
        message = " ".join(m for m in (row["meddelande"], row["anmarkningar"]) if m)
        lines.append(
            f"| {_md(row['fil'])} | {row['status']} | {row['teckenkodning'] or ''} | "
            f"{rows_read} | {row['godkanda_rader']} | {row['avvisade_rader']} | {_md(message)} |"
        )
    if quarantine.height:
        summary = (
            quarantine.group_by("regel_id", "regel", "kolumn")
            .agg(pl.len().alias("antal"), pl.col("fil").n_unique().alias("filer"))
            .sort("antal", "regel_id", "kolumn", descending=[True, False, False])
        )
        lines += ["", "## Fel per regel och kolumn", "", "| regel | kolumn | antal | filer |"]
        lines.append("|---|---|---:|---:|")
        for row in summary.iter_rows(named=True):  # one row per rule and column
            lines.append(
                f"| {_md(row['regel'])} | {_md(row['kolumn'])} | {row['antal']} | {row['filer']} |"
            )
        lines += [
            "",
            f"Varje fel finns med fil, blad, rad, kolumn och värde i {QUARANTINE_CSV} "
            "(personnummer visas aldrig, bara maskerade).",
        ]
    if flagged.height:
        per_insats = flagged.group_by("insats_id", "flagga").len().sort("insats_id", "flagga")
        lines += [
            "",
            "## Episoder med varning",
            "",
            "Episoderna finns kvar i lagret och räknas i statistiken; rätta dem hos parten. "
            f"Varje episod finns i {FLAGGED_FILE}.",
            "",
            "| insats | varning | episoder |",
            "|---|---|---:|",
        ]
        for row in per_insats.iter_rows(named=True):  # one row per insats and warning
            lines.append(f"| {row['insats_id']} | {FLAGS[row['flagga']]} | {row['len']} |")
    return "\n".join(lines) + "\n"


# --- The whole build ------------------------------------------------------------------------------


def _fingerprint(files: list[RawFile], catalog_sha: str, today: dt.date, dated: bool) -> str:
    parts = [RULES_VERSION, catalog_sha, *(f"{f.relative}:{f.sha256}" for f in files)]
    if dated:
        parts.append(today.isoformat())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


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
    try:
        return all(file_sha256(processed / name) == hashes.get(name) for name in names)
    except OSError:
        return False


def _write_duckdb(processed: Path, catalog: Catalog) -> None:
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
    catalog_sha = hashlib.sha256(catalog_path.read_bytes()).hexdigest()
    files = discover(raw)
    cache = processed / CACHE_DIR
    with log.stage("inläsning", filer=len(files)) as counts:
        results: list[FileResult] = []
        reread = 0
        for file in files:  # a loop over files, not rows
            # write=False still uses valid cache entries, but adds none.
            result, was_read = _cached_file_result(
                cache, file, catalog.ids, catalog_sha, today, write=write
            )
            results.append(result)
            reread += was_read
        counts["omlästa"] = reread
    file_log = pl.DataFrame([r.log_row for r in results], schema=FILE_LOG_SCHEMA, orient="row")
    quarantine = pl.concat(
        [pl.DataFrame(schema=QUARANTINE_SCHEMA), *(r.quarantine for r in results)]
    )
    with log.stage("sammanslagning") as counts:
        positioned, duplicates = merge_episodes([r.episodes for r in results])
        flagged = flag_episodes(positioned, results, files)
        episodes = positioned.drop(_POSITION)
        del positioned
        counts["episoder"] = episodes.height
        counts["i_karantan"] = quarantine.height
        counts["med_varning"] = flagged.height
    fingerprint = _fingerprint(files, catalog_sha, today, any(r.date_dependent for r in results))
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
    )
    if expect_fingerprint is not None and fingerprint != expect_fingerprint:
        raise InputsChanged(
            "Råmappen ändrades mellan kontrollen och skrivningen (en fil lades till, togs bort "
            "eller ändrades). Inget skrevs."
        )
    if not write or store_is_current(processed, fingerprint):
        return result
    with log.stage("lager", episoder=episodes.height):
        write_store(processed, result, fingerprint)
        prune_cache(cache, {_cache_key(f, catalog_sha) for f in files})
    result.changed = True
    return result


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
    _write_duckdb(processed, result.catalog)
    written = [*writers, DUCKDB_FILE]
    state = {
        "fingerprint": fingerprint,
        "files": written,
        "rules": sorted(RULES),
        "sha256": {name: file_sha256(processed / name) for name in written},
    }
    atomic.write_text(processed / STATE_FILE, json.dumps(state, indent=2, sort_keys=True))
