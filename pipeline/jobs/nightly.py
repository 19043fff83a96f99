"""The nightly job: bring the store and the running period's exact tables up to date.

`run_nightly(settings)` is what `python -m pipeline nightly` (and `make nightly`) runs from
cron or a systemd timer. docs/nattkorning.md is the operator's guide; in short:

1. Take the store's lock (`pipeline.core.lock`): one run at a time; a second run exits 1 and
   names the holder.
2. Remove what a killed run may have left (temporary files, the tables' staging folder).
3. Update the store (`pipeline.store.build_store`): only new or changed raw files are read
   (per-file cache by content hash); with unchanged inputs nothing is rewritten. With
   `strict`, a dry run first decides, and any rejected row or file fails the run with
   nothing written.
4. Refresh the exact tables of the running calendar year and the running tertial under
   `<processed>/<label>/`, unless their manifest says they were made from exactly this
   store, catalog, period, k and code version.

It never publishes to reports/ (that is `make report`, a deliberate act at year end) and
never generates example data.

Exit codes (pipeline.core.exit_codes): 0 all clean; 1 failed (the store is as before the
run, or, when
only the tables failed, complete and current); 2 wrong usage (argparse); 3 completed, but
rows or files were rejected (still there in the raw folder; see datakvalitet.md).

Every line it logs holds stage names, counts, seconds, file names and paths: never an id or
a value from the data. An unexpected error is logged by type and code location only (its
message could quote a value); set FINSAM_FELSOK=1 to let it raise with the full traceback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import os
import re
import shutil
import time
import traceback
from pathlib import Path

import polars as pl

from pipeline.core import atomic, lock, log
from pipeline.core.catalog import CatalogError
from pipeline.core.config import EPISODES_FILE, FILE_LOG_FILE, Settings
from pipeline.core.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_REJECTIONS
from pipeline.core.hashing import files_match, files_sha256, fingerprint, frames_sha256
from pipeline.core.period import Period
from pipeline.ingest.validate import ValidationDisabled
from pipeline.jobs.run import InputError, code_version, is_example_input, write_exact_tables
from pipeline.measures.statistics import compute_tables
from pipeline.store import InputsChanged, StoreResult, build_store, read_state

DEBUG_ENV = "FINSAM_FELSOK"
TABLES_MANIFEST = ".tabeller.json"  # in <processed>/<label>/, written after the tables
STAGING_DIR = ".nattkorning-ny"  # in <processed>/, the tables are written here first
# Temporary files of atomic writes left by a killed process are removed when older than this.
# (`ingest` and `report` do not take the lock, so a younger one may be theirs, in use.)
STALE_TEMP_SECONDS = 3600
# Less free space than this on the processed folder's disk makes a failure "probably disk full".
LOW_DISK_BYTES = 100_000_000
# A raw file that changes while it is read (being copied in): how often to try, how long to wait.
READ_ATTEMPTS = 3
RETRY_WAIT_SECONDS = 5.0

TERTIAL_START_MONTHS = (1, 5, 9)  # Jan–Apr, May–Aug, Sep–Dec
_OS_ERROR = re.compile(r"\(os error (\d+)\)")


# --- Periods --------------------------------------------------------------------------------


def tertial(today: dt.date) -> Period:
    """The whole tertial (Jan–Apr, May–Aug, Sep–Dec) that `today` falls in.

    >>> tertial(dt.date(2026, 6, 15)).label
    '2026-05-01_2026-08-31'
    >>> tertial(dt.date(2026, 12, 31)).label
    '2026-09-01_2026-12-31'
    """
    first = max(m for m in TERTIAL_START_MONTHS if m <= today.month)
    start = dt.date(today.year, first, 1)
    end = (
        dt.date(today.year, 12, 31)
        if first == TERTIAL_START_MONTHS[-1]
        else dt.date(today.year, first + 4, 1) - dt.timedelta(days=1)
    )
    return Period(start, end)


def nightly_periods(today: dt.date) -> list[Period]:
    """The running calendar year and the running tertial, each as a whole period.

    Whole periods (not "up to today") keep one folder per period, the one `make report`
    writes for it, and make the tables independent of the day the job runs: a night without
    new data rewrites nothing (docs/nattkorning.md explains what that means for årsplatser).

    >>> [p.label for p in nightly_periods(dt.date(2026, 3, 2))]
    ['2026', '2026-01-01_2026-04-30']
    """
    return [Period.year(today.year), tertial(today)]


# --- Small helpers ----------------------------------------------------------------------------


def remove_leftovers(processed: Path, now: float | None = None) -> int:
    """Remove what a killed run leaves: the tables' staging folder, and temporary files of
    atomic writes (`.name.XXXX.tmp`, DuckDB's `.tmp.wal`) older than STALE_TEMP_SECONDS.
    Returns how many were removed. Call only while holding the lock."""
    now = time.time() if now is None else now
    removed = 0
    staging = processed / STAGING_DIR
    if staging.exists():
        shutil.rmtree(staging)
        removed += 1
    for path in processed.rglob(".*.tmp*"):
        if not path.is_file() or not path.name.endswith((".tmp", ".tmp.wal")):
            continue
        try:
            if now - path.stat().st_mtime >= STALE_TEMP_SECONDS:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def file_changes(previous: pl.DataFrame, current: pl.DataFrame) -> dict[str, int]:
    """New, changed, removed and unchanged raw files between two file logs (fil, sha256).

    >>> old = pl.DataFrame({"fil": ["a", "b", "c"], "sha256": ["1", "2", "3"]})
    >>> new = pl.DataFrame({"fil": ["a", "b", "d"], "sha256": ["1", "9", "4"]})
    >>> file_changes(old, new)
    {'nya': 1, 'ändrade': 1, 'borttagna': 1, 'oförändrade': 1}
    """
    joined = current.select("fil", "sha256").join(
        previous.select("fil", pl.col("sha256").alias("tidigare")), on="fil", how="full"
    )
    counts = joined.select(
        (pl.col("fil").is_not_null() & pl.col("fil_right").is_null()).sum().alias("nya"),
        (pl.col("fil_right").is_not_null() & (pl.col("sha256") != pl.col("tidigare")))
        .fill_null(False)
        .sum()
        .alias("ändrade"),
        pl.col("fil").is_null().sum().alias("borttagna"),
        (pl.col("sha256") == pl.col("tidigare")).fill_null(False).sum().alias("oförändrade"),
    )
    return {name: int(value) for name, value in counts.row(0, named=True).items()}


def _previous_file_log(processed: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(processed / FILE_LOG_FILE, columns=["fil", "sha256"])
    except (OSError, pl.exceptions.PolarsError):
        return pl.DataFrame(schema={"fil": pl.String, "sha256": pl.String})


# --- The store --------------------------------------------------------------------------------


def _build(settings: Settings, strict: bool, today: dt.date) -> tuple[StoreResult, bool]:
    """One attempt: (store, rejected_strictly). With `strict`, a dry run decides first and
    the store is then written only from exactly the inputs the dry run checked."""
    expected = None
    if strict:
        dry = build_store(settings.raw, settings.processed, today, write=False)
        if dry.rejected_rows or dry.rejected_files:
            return dry, True
        expected = dry.fingerprint
    return build_store(settings.raw, settings.processed, today, expect_fingerprint=expected), False


def update_store(settings: Settings, strict: bool, today: dt.date) -> tuple[StoreResult, bool]:
    """Update the store; returns (store, rejected_strictly). A raw file that changes while
    it is read (InputsChanged) is tried again, READ_ATTEMPTS times in all."""
    for attempt in range(1, READ_ATTEMPTS):
        try:
            return _build(settings, strict, today)
        except InputsChanged as exc:
            log.warning(f"{exc} Försöker igen om {RETRY_WAIT_SECONDS:g} sekunder.", försök=attempt)
            time.sleep(RETRY_WAIT_SECONDS)
    return _build(settings, strict, today)


# --- The exact tables -------------------------------------------------------------------------


def tables_fingerprint(
    settings: Settings, store: StoreResult, period: Period, code: str
) -> str | None:
    """What the tables of `period` are made from (store, catalog, period, k and the code
    version `code`); None when the store state lacks the episodes' hash."""
    hashes = read_state(settings.processed).get("sha256")
    episodes_sha = hashes.get(EPISODES_FILE) if isinstance(hashes, dict) else None
    if not episodes_sha:
        return None
    parts = {
        "episoder": episodes_sha,
        "katalog": frames_sha256(store.catalog.insatser, store.catalog.mal),
        "period": [period.start.isoformat(), period.end.isoformat()],
        "k": settings.k,
        "kod": code,
    }
    return fingerprint(parts)


def tables_are_current(folder: Path, fingerprint: str | None) -> bool:
    """The manifest names this fingerprint and every table file still has its hash."""
    if fingerprint is None:
        return False
    try:
        manifest = json.loads((folder / TABLES_MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("fingerprint") != fingerprint or not manifest.get("filer"):
            return False
        return files_match(folder, manifest["filer"])
    except (OSError, ValueError, AttributeError, TypeError):
        return False


def write_tables(
    processed: Path, folder: Path, tables: dict[str, pl.DataFrame], fingerprint: str | None
) -> None:
    """Write the tables as a group: all to a staging folder (where a full disk shows), then
    the manifest removed, each file moved into place, and the manifest written last."""
    staging = processed / STAGING_DIR / folder.name
    if staging.exists():
        shutil.rmtree(staging)
    write_exact_tables(tables, staging)
    names = sorted(p.name for p in staging.iterdir() if not p.name.startswith("."))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / TABLES_MANIFEST).unlink(missing_ok=True)
    for name in names:
        os.replace(staging / name, folder / name)
    shutil.rmtree(processed / STAGING_DIR)
    if fingerprint is not None:
        manifest = {
            "fingerprint": fingerprint,
            "filer": files_sha256(folder, names),
        }
        atomic.write_text(folder / TABLES_MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))


def refresh_tables(settings: Settings, store: StoreResult, today: dt.date) -> int:
    """Compute and write the exact tables of every nightly period not already current.
    Returns how many periods were written."""
    code = code_version()
    written = 0
    for period in nightly_periods(today):
        folder = settings.processed / period.label
        with log.stage("tabeller", period=period.label) as counts:
            fingerprint = tables_fingerprint(settings, store, period, code)
            if tables_are_current(folder, fingerprint):
                counts["skrivna"] = 0
                continue
            tables = compute_tables(store.episodes, store.catalog, period, k=settings.k)
            write_tables(settings.processed, folder, tables, fingerprint)
            counts["skrivna"] = len(tables)
            written += 1
    return written


# --- Errors -----------------------------------------------------------------------------------


def _location(exc: BaseException) -> str:
    """file:line (function) of the innermost frame in the pipeline's own code, else the
    innermost frame."""
    frames = traceback.extract_tb(exc.__traceback__)
    package = str(Path(__file__).parents[1])
    own = [f for f in frames if f.filename.startswith(package)]
    if not (own or frames):
        return "okänd plats"
    frame = (own or frames)[-1]
    where = Path(frame.filename)
    shown = where.relative_to(package).as_posix() if own else where.name  # store/files.py
    return f"{shown}:{frame.lineno} ({frame.name})"


def _free_bytes(folder: Path | None) -> int | None:
    if folder is None:
        return None
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _errno_of(exc: BaseException) -> int | None:
    """The OS error number of an OSError, or of a polars error that wraps one: polars
    reports a full disk as ComputeError('... No space left on device (os error 28)') when
    writing parquet, and as an OSError without errno when writing CSV."""
    if isinstance(exc, OSError) and exc.errno:
        return exc.errno
    if os.strerror(errno.ENOSPC) in str(exc):  # e.g. DuckDB's IOException and FatalException
        return errno.ENOSPC
    found = (
        _OS_ERROR.search(str(exc)) if isinstance(exc, OSError | pl.exceptions.PolarsError) else None
    )
    return int(found.group(1)) if found else None


def describe_error(exc: BaseException, processed: Path | None = None) -> str:
    """A Swedish message for the log that never quotes data: our own messages are written
    without values; other messages (a parser's, say) could quote one and are left out.

    Not every library says "disk full" (polars may report a torn parquet footer as
    "Invalid thrift"), so when `processed` is given and its disk has under LOW_DISK_BYTES
    free, an unexplained error is reported as a probable full disk.
    """
    if isinstance(
        exc, lock.LockHeld | InputsChanged | InputError | CatalogError | ValidationDisabled
    ):
        return str(exc)
    code = _errno_of(exc)
    if code is not None:
        filename = getattr(exc, "filename", None)
        where = f" ({filename})" if filename else ""
        if code in (errno.ENOSPC, errno.EDQUOT):
            return (
                f"Disken är full: en fil kunde inte skrivas{where}. Frigör utrymme och kör "
                "igen; det som inte blev klart skrivs då om."
            )
        if code in (errno.EACCES, errno.EPERM, errno.EROFS):
            return f"Saknar skriv- eller läsrätt{where}. Kontrollera mappens rättigheter."
        if code == errno.ENOENT:
            return f"En fil eller mapp saknas{where}."
        name = errno.errorcode.get(code, "okänt")
        return f"Fel vid filåtkomst ({name}: {os.strerror(code)}){where}."
    free = _free_bytes(processed)
    if free is not None and free < LOW_DISK_BYTES:
        return (
            f"Disken är troligen full: bara {free / 1e6:.2f} MB ledigt för {processed} "
            f"({type(exc).__name__} i {_location(exc)}). Frigör utrymme och kör igen; det som "
            "inte blev klart skrivs då om."
        )
    return (
        f"Oväntat fel: {type(exc).__name__} i {_location(exc)}. Felmeddelandet skrivs inte i "
        f"loggen eftersom det kan innehålla uppgifter ur data; kör med {DEBUG_ENV}=1 för att "
        "se hela felet."
    )


# --- The job ----------------------------------------------------------------------------------


def run_nightly(settings: Settings, strict: bool = False, today: dt.date | None = None) -> int:
    """Run the nightly job once; returns the exit code (module docstring)."""
    today = today or dt.date.today()
    started = time.perf_counter()
    with contextlib.ExitStack() as file_log:
        try:
            settings.processed.mkdir(parents=True, exist_ok=True)
            file_log.enter_context(log.log_to_file(settings.processed))
        except OSError as exc:
            if not log.logger.handlers:
                log.setup_logging()
            log.error(f"Nattkörningen kan inte starta: {describe_error(exc)}", kod=EXIT_FAILED)
            return EXIT_FAILED
        code = _run_locked(settings, strict, today)
        log.info("nattkörning slut", kod=code, sekunder=f"{time.perf_counter() - started:.2f}")
        return code


def _run_locked(settings: Settings, strict: bool, today: dt.date) -> int:
    try:
        with lock.hold(settings.processed, "nightly" + (" --strict" if strict else "")) as held:
            log.info(
                "nattkörning startar",
                pid=held.pid,
                datum=today.isoformat(),
                strikt="ja" if strict else "nej",
                version=code_version(),
            )
            return _run(settings, strict, today)
    except Exception as exc:
        if os.environ.get(DEBUG_ENV) == "1":
            raise
        message = describe_error(exc, settings.processed)
        log.error(f"Nattkörningen misslyckades: {message}", kod=EXIT_FAILED)
        return EXIT_FAILED


def _run(settings: Settings, strict: bool, today: dt.date) -> int:
    with log.stage("förberedelse") as counts:
        counts["kvarlämnade_borttagna"] = remove_leftovers(settings.processed)
        if is_example_input(settings.raw):
            log.warning("Råmappen innehåller exempelförbundet: FIKTIVA data", mapp=settings.raw)
        previous = _previous_file_log(settings.processed)

    store, rejected_strictly = update_store(settings, strict, today)
    if store.files_read == 0:
        log.error(
            "INGA DATA: ingen export i råmappen kunde läsas in"
            + (f" ({store.files.height} filer avvisade)" if store.files.height else "")
            + f"; se {settings.processed / 'datakvalitet.md'}",
            kod=EXIT_REJECTIONS,
        )
    changes = file_changes(previous, store.files)
    log.info(
        "råfiler",
        filer=store.files.height,
        **changes,
        lagret_ändrat="ja" if store.changed else "nej",
    )
    rejected = store.files.filter(pl.col("status") == "avvisad")["fil"].to_list()
    if rejected_strictly:
        log.error(
            f"--strict: {store.rejected_rows} rader i karantän och {store.rejected_files} "
            "avvisade filer. Ingenting skrevs; lagret är som före körningen.",
            avvisade_filer=", ".join(rejected[:5]) or "inga",
            kod=EXIT_FAILED,
        )
        return EXIT_FAILED

    refresh_tables(settings, store, today)

    if store.rejected_rows or store.rejected_files:
        log.warning(
            f"Klar med avvisningar: {store.rejected_rows} rader i karantän och "
            f"{store.rejected_files} avvisade filer (se datakvalitet.md och karantan.csv i "
            f"{settings.processed}). Avvisningarna finns kvar tills filerna rättas eller tas "
            "bort ur råmappen.",
            avvisade_filer=", ".join(rejected[:5]) or "inga",
            kod=EXIT_REJECTIONS,
        )
        return EXIT_REJECTIONS
    log.info("klar utan avvisningar", episoder=store.episodes.height, kod=EXIT_OK)
    return EXIT_OK
