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
two writes leaves every file whole and the old fingerprint in place, so the next run
rebuilds the store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from pipeline import atomic, log, views
from pipeline.catalog import Catalog, read_catalog
from pipeline.config import (
    CATALOG_FILE,
    DATA_QUALITY_FILE,
    DUCKDB_FILE,
    EPISODES_FILE,
    FILE_LOG_FILE,
    QUARANTINE_CSV,
    QUARANTINE_FILE,
)
from pipeline.contract import (
    CANONICAL_COLUMNS,
    EPISODE_KEY,
    EPISODE_SCHEMA,
    FILE_LOG_SCHEMA,
    QUARANTINE_SCHEMA,
)
from pipeline.ingest import PERSONNUMMER_MASK, ROW_COLUMN, FileRejected, RawFile, discover
from pipeline.ingest import load_export as _load_export
from pipeline.validate import RULES, validate_export

DERIVED_FILE = "episoder_harledda.parquet"
DUPLICATES_FILE = "dubbletter.parquet"
STATE_FILE = "tillstand.json"
CACHE_DIR = ".cache"
# Bump when reading or validation rules change, so cached per-file results are not reused.
RULES_VERSION = "1"

FILE_ORDER = "_fil_ordning"

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


@dataclass
class FileResult:
    """What one raw file gave: good episodes (with `_rad`), its quarantine and its log row."""

    episodes: pl.DataFrame
    quarantine: pl.DataFrame
    log_row: dict[str, object]
    date_dependent: bool = False


@dataclass
class StoreResult:
    """The outcome of a store build: what the caller reports and decides an exit code on."""

    episodes: pl.DataFrame
    quarantine: pl.DataFrame
    files: pl.DataFrame
    duplicates: pl.DataFrame
    catalog: Catalog
    changed: bool
    files_reread: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def rejected_rows(self) -> int:
        return int(self.files["avvisade_rader"].sum())

    @property
    def rejected_files(self) -> int:
        return self.files.filter(pl.col("status") == "avvisad").height


# --- One file ----------------------------------------------------------------------------------


def _empty_episodes() -> pl.DataFrame:
    return pl.DataFrame(schema={ROW_COLUMN: pl.Int64, **EPISODE_SCHEMA})


def process_file(file: RawFile, insats_ids: list[str], today: dt.date) -> FileResult:
    """Read and validate one export; a rejected file gives no episodes and a clear message."""
    log_row: dict[str, object] = {
        "fil": file.relative,
        "sha256": file.sha256,
        "format": file.format or "okänt",
    }
    try:
        text = _load_export(file)
    except FileRejected as rejected:
        quarantine = _rejected_file_quarantine(file.relative, rejected)
        log_row |= {
            "rader": None,
            "godkanda_rader": 0,
            "avvisade_rader": 0,
            "status": "avvisad",
            "meddelande": str(rejected),
        }
        return FileResult(_empty_episodes(), quarantine, log_row)
    validated = validate_export(text, file.relative, insats_ids, today)
    log_row |= {
        "rader": text.height,
        "godkanda_rader": validated.episodes.height,
        "avvisade_rader": text.height - validated.episodes.height,
        "status": "inlast",
        "meddelande": None,
    }
    date_dependent = bool(
        validated.quarantine.filter(pl.col("regel_id") == "framtida_datum").height
    )
    return FileResult(validated.episodes, validated.quarantine, log_row, date_dependent)


def _rejected_file_quarantine(fil: str, rejected: FileRejected) -> pl.DataFrame:
    """A personnummer file: one quarantine record per hit, the value masked, never written."""
    if rejected.hits is None or rejected.hits.height == 0:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    return rejected.hits.select(
        pl.lit(fil).alias("fil"),
        pl.col(ROW_COLUMN).alias("rad"),
        "kolumn",
        pl.lit(PERSONNUMMER_MASK).alias("varde"),
        pl.lit("personnummer").alias("regel_id"),
        pl.lit("personnummer eller samordningsnummer: hela filen avvisas").alias("regel"),
    ).cast(dict(QUARANTINE_SCHEMA))


# --- Per-file cache ------------------------------------------------------------------------------


def _cache_key(file: RawFile, catalog_sha: str) -> str:
    text = f"{RULES_VERSION}|{catalog_sha}|{file.sha256}|{file.relative}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _cached_file_result(
    cache: Path, file: RawFile, insats_ids: list[str], catalog_sha: str, today: dt.date
) -> tuple[FileResult, bool]:
    """The file's result from the cache, or computed and cached. Returns (result, was_read)."""
    key = _cache_key(file, catalog_sha)
    meta_path = cache / f"{key}.json"
    if meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            # A rejection for a date in the future may not hold tomorrow: re-check daily.
            if not meta["date_dependent"] or meta["today"] == today.isoformat():
                return (
                    FileResult(
                        pl.read_parquet(cache / f"{key}.episodes.parquet"),
                        pl.read_parquet(cache / f"{key}.quarantine.parquet"),
                        meta["log_row"],
                        meta["date_dependent"],
                    ),
                    False,
                )
        except (OSError, ValueError, KeyError, pl.exceptions.PolarsError):
            pass  # a damaged cache entry is simply recomputed
    result = process_file(file, insats_ids, today)
    atomic.write_with(cache / f"{key}.episodes.parquet", result.episodes.write_parquet)
    atomic.write_with(cache / f"{key}.quarantine.parquet", result.quarantine.write_parquet)
    meta = {
        "date_dependent": result.date_dependent,
        "today": today.isoformat(),
        "log_row": result.log_row,
    }
    atomic.write_text(meta_path, json.dumps(meta, ensure_ascii=False, sort_keys=True))
    return result, True


# --- Merging files -------------------------------------------------------------------------------


def merge_episodes(per_file: list[pl.DataFrame]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Merge episodes of files given in sorted path order: last file wins, rows in file order.

    Returns (episodes, duplicates). `duplicates` lists every episode carried more than once
    with how many versions it had and whether they differ: `avslut_tillagt` when only an open
    episode was ended later (the ordinary cumulative export), `konflikt` otherwise.
    """
    if not per_file:
        return pl.DataFrame(schema=EPISODE_SCHEMA), _empty_duplicates()
    stacked = pl.concat(
        [
            df.with_columns(pl.lit(i, dtype=pl.Int32).alias(FILE_ORDER))
            for i, df in enumerate(per_file)
        ]
    ).sort(FILE_ORDER, ROW_COLUMN)
    key = list(EPISODE_KEY)
    versions = stacked.with_columns(
        pl.len().over(key).alias("_versioner"),
        (pl.int_range(pl.len()).over(key) == pl.len().over(key) - 1).alias("_vinnare"),
    )
    episodes = (
        versions.filter(pl.col("_vinnare"))
        .select(CANONICAL_COLUMNS)
        .sort("insats_id", "deltagare_id", "startdatum")
    )
    start_fields = [c for c in CANONICAL_COLUMNS if c not in END_FIELDS]
    repeated = versions.filter(pl.col("_versioner") > 1)
    winners = repeated.filter(pl.col("_vinnare")).select(CANONICAL_COLUMNS)
    earlier = repeated.filter(~pl.col("_vinnare")).select(CANONICAL_COLUMNS)
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


def data_quality_markdown(
    files: pl.DataFrame, quarantine: pl.DataFrame, duplicates: pl.DataFrame, episodes: int
) -> str:
    """A readable Swedish summary of the latest ingest, for the förbund's analyst."""
    lines = ["# Datakvalitet", ""]
    read = files.filter(pl.col("status") == "inlast")
    lines.append(
        f"- Filer: {files.height} ({read.height} inlästa, {files.height - read.height} avvisade)"
    )
    lines.append(
        f"- Rader: {int(read['rader'].sum() or 0)} lästa, "
        f"{int(read['godkanda_rader'].sum() or 0)} godkända, "
        f"{int(read['avvisade_rader'].sum() or 0)} i karantän"
    )
    lines.append(f"- Episoder i lagret: {episodes}")
    counts = duplicates.group_by("skillnad").len()
    by_kind = dict(zip(counts["skillnad"].to_list(), counts["len"].to_list(), strict=True))
    lines.append(
        f"- Episoder i flera filer: {duplicates.height} (identiska {by_kind.get('identisk', 0)}, "
        f"avslut tillagt senare {by_kind.get('avslut_tillagt', 0)}, "
        f"konflikter {by_kind.get('konflikt', 0)}: senaste filen gäller)"
    )
    lines += ["", "## Filer", "", "| fil | status | rader | godkända | i karantän | meddelande |"]
    lines.append("|---|---|---:|---:|---:|---|")
    for row in files.iter_rows(named=True):
        rows_read = row["rader"] if row["rader"] is not None else "–"
        lines.append(
            f"| {row['fil']} | {row['status']} | {rows_read} "
            f"| {row['godkanda_rader']} | {row['avvisade_rader']} | {row['meddelande'] or ''} |"
        )
    if quarantine.height:
        summary = (
            quarantine.group_by("regel_id", "regel", "kolumn")
            .agg(pl.len().alias("antal"), pl.col("fil").n_unique().alias("filer"))
            .sort("antal", "regel_id", "kolumn", descending=[True, False, False])
        )
        lines += ["", "## Fel per regel och kolumn", "", "| regel | kolumn | antal | filer |"]
        lines.append("|---|---|---:|---:|")
        for row in summary.iter_rows(named=True):
            lines.append(f"| {row['regel']} | {row['kolumn']} | {row['antal']} | {row['filer']} |")
        lines += [
            "",
            f"Varje fel finns med fil, rad, kolumn och värde i {QUARANTINE_CSV} "
            "(personnummer visas aldrig, bara maskerade).",
        ]
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
    """The state file names these inputs and every store file it lists is present."""
    state = read_state(processed)
    return state.get("fingerprint") == fingerprint and all(
        (processed / name).exists() for name in state.get("files", [])
    )


def _write_duckdb(processed: Path) -> None:
    """Build the analysts' database as a new file and move it into place (pitfalls: lock)."""

    def build(tmp: Path) -> None:
        tmp.unlink(missing_ok=True)  # DuckDB wants to create the file itself
        con = duckdb.connect(str(tmp))
        try:
            views.create_views(con, processed)
        finally:
            con.close()

    atomic.write_with(processed / DUCKDB_FILE, build)


def build_store(
    raw: Path, processed: Path, today: dt.date | None = None, *, write: bool = True
) -> StoreResult:
    """Ingest every export under `raw` into the store under `processed`.

    With `write=False` nothing is written (used by the nightly job's --strict mode to decide
    before it changes anything).
    """
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
            if write:
                result, was_read = _cached_file_result(cache, file, catalog.ids, catalog_sha, today)
            else:
                result, was_read = process_file(file, catalog.ids, today), True
            results.append(result)
            reread += was_read
        counts["omlästa"] = reread
    file_log = pl.DataFrame([r.log_row for r in results], schema=FILE_LOG_SCHEMA, orient="row")
    quarantine = pl.concat(
        [pl.DataFrame(schema=QUARANTINE_SCHEMA), *(r.quarantine for r in results)]
    )
    with log.stage("sammanslagning") as counts:
        episodes, duplicates = merge_episodes([r.episodes for r in results if r.episodes.height])
        counts["episoder"] = episodes.height
        counts["i_karantan"] = quarantine.height
    fingerprint = _fingerprint(files, catalog_sha, today, any(r.date_dependent for r in results))
    result = StoreResult(episodes, quarantine, file_log, duplicates, catalog, False, reread)
    if not write or store_is_current(processed, fingerprint):
        return result
    with log.stage("lager", episoder=episodes.height):
        write_store(processed, result, fingerprint)
    result.changed = True
    return result


def write_store(processed: Path, result: StoreResult, fingerprint: str) -> None:
    """Write every store file atomically; the state file last (see module docstring)."""
    processed.mkdir(parents=True, exist_ok=True)
    atomic.write_with(processed / EPISODES_FILE, result.episodes.write_parquet)
    views.write_derived(result.episodes, processed / DERIVED_FILE)
    atomic.write_with(processed / QUARANTINE_FILE, result.quarantine.write_parquet)
    atomic.write_with(processed / QUARANTINE_CSV, result.quarantine.write_csv)
    atomic.write_with(processed / FILE_LOG_FILE, result.files.write_parquet)
    atomic.write_with(processed / DUPLICATES_FILE, result.duplicates.write_parquet)
    atomic.write_text(
        processed / DATA_QUALITY_FILE,
        data_quality_markdown(
            result.files, result.quarantine, result.duplicates, result.episodes.height
        ),
    )
    _write_duckdb(processed)
    written = [
        EPISODES_FILE,
        DERIVED_FILE,
        QUARANTINE_FILE,
        QUARANTINE_CSV,
        FILE_LOG_FILE,
        DUPLICATES_FILE,
        DATA_QUALITY_FILE,
        DUCKDB_FILE,
    ]
    state = {"fingerprint": fingerprint, "files": written, "rules": sorted(RULES)}
    atomic.write_text(processed / STATE_FILE, json.dumps(state, indent=2, sort_keys=True))


def load_store(processed: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(episodes, file log, quarantine) as last written to the store."""
    missing = [
        n for n in (EPISODES_FILE, FILE_LOG_FILE, QUARANTINE_FILE) if not (processed / n).exists()
    ]
    if missing:
        raise FileNotFoundError(
            f"Lagret i {processed} saknar {', '.join(missing)}: kör först "
            "`python -m pipeline ingest`."
        )
    return (
        pl.read_parquet(processed / EPISODES_FILE),
        pl.read_parquet(processed / FILE_LOG_FILE),
        pl.read_parquet(processed / QUARANTINE_FILE),
    )
