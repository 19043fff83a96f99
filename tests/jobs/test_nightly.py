"""The nightly job (pipeline.jobs.nightly): incremental, locked, crash-safe, with clear signals.

Every fault test starts from a store built from two exports, adds a third, injects the fault
into the run that should take it in, and then checks (1) the exit code and the message,
(2) that the store is exactly as before or exactly as after (never half), and (3) that the
next clean run gives the same files as a run that was never disturbed, after which one more
run rewrites nothing. The kill -9 tests run `python -m pipeline nightly` as a subprocess with
FINSAM_TEST_KILL_AT (pipeline/core/log.py) and are marked slow.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline import store
from pipeline.core import log
from pipeline.core.config import Settings
from pipeline.core.lock import LOCK_FILE, hold
from pipeline.core.period import Period
from pipeline.jobs import nightly
from pipeline.jobs.nightly import (
    STAGING_DIR,
    TABLES_MANIFEST,
    describe_error,
    file_changes,
    nightly_periods,
    remove_leftovers,
    run_nightly,
    tertial,
)
from pipeline.store import files as store_files
from tests.lock_helpers import held_by_another_thread

TODAY = dt.date(2026, 6, 15)  # all data dates are before 2026-04-01, so also valid "today"
YEAR, TERTIAL = "2026", "2026-05-01_2026-08-31"

CATALOG = """# Syntetisk testkatalog
forbund = "Nattförbundet"

[[insats]]
id = "SOC"
namn = "Sociala företag"
mal = [ { matt = "arbete_studier", andel = 0.5 }, { matt = "deltagare", antal = 3 } ]

[[insats]]
id = "ISA"
namn = "Individanpassat stöd"
mal = [ { matt = "arbete_studier", andel = 0.3 } ]
"""
HEADER = (
    "deltagare_id,insats_id,kon,fodelsear,kommun,startdatum,slutdatum,avslutsorsak,"
    "sysselsattning_fore,sysselsattning_efter\n"
)
EXPORTS = {
    "2026-01_kommun.csv": HEADER
    + "NATT-001,SOC,K,1980,Nattby,2025-03-01,2026-02-28,enligt_plan,ingen,arbete\n"
    + "NATT-002,SOC,M,1975,Nattby,2025-09-01,,,ingen,\n"
    + "NATT-003,SOC,K,1990,Dagby,2026-01-15,,,arbetssokande,\n",
    "2026-02_region.csv": HEADER
    + "NATT-004,ISA,K,1985,Nattby,2025-01-10,2025-12-31,enligt_plan,ingen,studier\n"
    + "NATT-005,ISA,M,1970,Dagby,2026-02-01,2026-03-31,avbrott_eget_val,ingen,ingen\n",
    "2026-03_region.csv": HEADER + "NATT-006,ISA,K,1995,Nattby,2026-03-01,,,ingen,\n",
    # One good row and one with a value outside the code list.
    "2026-03_felaktig.csv": HEADER
    + "NATT-007,SOC,M,1960,Nattby,2026-03-02,,,ingen,\n"
    + "NATT-BAD,SOC,OGILTIGKOD,1960,Nattby,2026-03-02,,,ingen,\n",
}
OLD = ("2026-01_kommun.csv", "2026-02_region.csv")
NEW = (*OLD, "2026-03_region.csv")
# Strings from the test data that must never appear in a log.
PERSONAL = ("NATT-", "Nattby", "Dagby", "OGILTIGKOD")
NOT_STORE = {"pipeline.log", LOCK_FILE}  # appended / rewritten by every run, by design


@pytest.fixture(autouse=True)
def _logging():
    log.setup_logging()  # a console handler on this test's stderr
    yield
    log.logger.handlers.clear()


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch):
    monkeypatch.setattr(nightly, "RETRY_WAIT_SECONDS", 0.0)


def write_raw(raw: Path, *names: str) -> Path:
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "insatser.toml").write_text(CATALOG, encoding="utf-8")
    for name in names:
        (raw / name).write_text(EXPORTS[name], encoding="utf-8")
    return raw


def run(raw: Path, processed: Path, *, strict: bool = False, today: dt.date = TODAY) -> int:
    settings = Settings(raw=raw, processed=processed, reports=processed.parent / "reports", k=5)
    return run_nightly(settings, strict=strict, today=today)


def log_text(processed: Path) -> str:
    return (processed / "pipeline.log").read_text(encoding="utf-8")


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file (but the log and the lock file): content hash and mtime."""
    return {
        p.relative_to(folder).as_posix(): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_mtime_ns,
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in NOT_STORE
    }


def contents(folder: Path) -> dict[str, str]:
    """What a run produced, comparable between runs: every file's hash, except the DuckDB
    file (not byte-reproducible; compared by query) and tillstand.json (holds its hash)."""
    found = {k: v[0] for k, v in snapshot(folder).items()}
    found.pop("finsam.duckdb", None)
    found.pop("tillstand.json", None)
    return found


def assert_same_results(
    processed: Path, reference: Path, labels: tuple[str, str] = (YEAR, TERTIAL)
) -> None:
    assert contents(processed) == contents(reference)
    year, tertial_label = labels
    for name in (
        "episoder.parquet",
        f"{year}/maluppfyllelse.parquet",
        f"{tertial_label}/deltagare.parquet",
    ):
        assert_frame_equal(pl.read_parquet(processed / name), pl.read_parquet(reference / name))
    state, ref_state = (store.read_state(p) for p in (processed, reference))
    assert state["fingerprint"] == ref_state["fingerprint"]
    con = duckdb.connect(str(processed / "finsam.duckdb"), read_only=True)
    assert con.sql("select count(*) from episoder").fetchall() == [(6,)]
    con.close()
    assert not list(processed.rglob("*.tmp*")), "kvarlämnade temporära filer"
    assert not (processed / STAGING_DIR).exists()


def assert_rewrites_nothing(raw: Path, processed: Path, today: dt.date = TODAY) -> None:
    before = snapshot(processed)
    assert run(raw, processed, today=today) == 0
    assert snapshot(processed) == before


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The store and tables of an undisturbed run on the three exports (TODAY)."""
    base = tmp_path_factory.mktemp("referens")
    log.setup_logging()
    assert run(write_raw(base / "raw", *NEW), base / "processed") == 0
    return base / "processed"


@pytest.fixture
def before(tmp_path: Path) -> tuple[Path, Path]:
    """A store built from the two old exports; the third export then dropped into raw."""
    raw, processed = tmp_path / "raw", tmp_path / "processed"
    assert run(write_raw(raw, *OLD), processed) == 0
    write_raw(raw, *NEW)
    return raw, processed


# --- Periods and small pieces -----------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "start", "end"),
    [
        (dt.date(2026, 1, 1), dt.date(2026, 1, 1), dt.date(2026, 4, 30)),
        (dt.date(2026, 4, 30), dt.date(2026, 1, 1), dt.date(2026, 4, 30)),
        (dt.date(2026, 5, 1), dt.date(2026, 5, 1), dt.date(2026, 8, 31)),
        (dt.date(2026, 8, 31), dt.date(2026, 5, 1), dt.date(2026, 8, 31)),
        (dt.date(2026, 9, 1), dt.date(2026, 9, 1), dt.date(2026, 12, 31)),
        (dt.date(2024, 12, 31), dt.date(2024, 9, 1), dt.date(2024, 12, 31)),
    ],
)
def test_tertial(today: dt.date, start: dt.date, end: dt.date):
    assert tertial(today) == Period(start, end)


def test_nightly_periods_are_the_whole_year_and_tertial():
    assert nightly_periods(TODAY) == [
        Period.year(2026),
        Period(dt.date(2026, 5, 1), dt.date(2026, 8, 31)),
    ]
    assert [p.label for p in nightly_periods(TODAY)] == [YEAR, TERTIAL]


def test_file_changes():
    previous = pl.DataFrame({"fil": ["a.csv", "b.csv", "c.csv"], "sha256": ["1", "2", "3"]})
    current = pl.DataFrame(
        {"fil": ["a.csv", "b.csv", "d.csv", "e.csv"], "sha256": ["1", "9", "4", "5"]}
    )
    assert file_changes(previous, current) == {
        "nya": 2,
        "ändrade": 1,
        "borttagna": 1,
        "oförändrade": 1,
    }
    empty = pl.DataFrame(schema={"fil": pl.String, "sha256": pl.String})
    assert file_changes(empty, current)["nya"] == 4


def test_error_messages_never_quote_data():
    full = OSError(errno.ENOSPC, "No space left on device", "/data/processed/episoder.parquet")
    assert describe_error(full).startswith(
        "Disken är full: en fil kunde inte skrivas (/data/processed/episoder.parquet)."
    )
    # What polars 2.1 raises on a full disk (checked by writing to /dev/full).
    for polars_full in (
        pl.exceptions.ComputeError(
            "parquet: File out of specification: underlying IO error: No space left on device "
            "(os error 28)"
        ),
        OSError("No space left on device (os error 28)"),
    ):
        assert describe_error(polars_full).startswith("Disken är full: en fil kunde inte skrivas.")
    denied = PermissionError(errno.EACCES, "Permission denied", "/data/processed")
    assert describe_error(denied) == (
        "Saknar skriv- eller läsrätt (/data/processed). Kontrollera mappens rättigheter."
    )
    try:
        raise ValueError("could not parse 'NATT-001' as date")
    except ValueError as exc:
        message = describe_error(exc)
    assert "NATT-001" not in message
    assert message.startswith("Oväntat fel: ValueError i test_nightly.py:")
    assert "FINSAM_FELSOK=1" in message


def test_an_unexplained_error_on_a_nearly_full_disk_is_called_so(tmp_path, monkeypatch):
    torn = pl.exceptions.ComputeError("parquet: File out of specification: Invalid thrift")
    assert describe_error(torn, tmp_path).startswith("Oväntat fel: ComputeError")
    monkeypatch.setattr(nightly, "_free_bytes", lambda folder: 20_000)
    assert describe_error(torn, tmp_path).startswith(
        f"Disken är troligen full: bara 0.02 MB ledigt för {tmp_path} (ComputeError i"
    )


def test_remove_leftovers_keeps_young_temporary_files(tmp_path: Path):
    (tmp_path / ".cache").mkdir()
    old = tmp_path / ".cache" / ".abc.json.x1y2.tmp"
    young = tmp_path / ".episoder.parquet.z9.tmp"
    wal = tmp_path / ".finsam.duckdb.q1.tmp.wal"
    keep = tmp_path / "episoder.parquet"
    for path in (old, young, wal, keep):
        path.write_text("x")
    (tmp_path / STAGING_DIR / YEAR).mkdir(parents=True)
    now = young.stat().st_mtime + 10
    for path in (old, wal):
        os.utime(path, (now - nightly.STALE_TEMP_SECONDS - 1,) * 2)
    assert remove_leftovers(tmp_path, now=now) == 3
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        [young.name, keep.name]
    )
    assert not (tmp_path / STAGING_DIR).exists()


# --- Normal nights --------------------------------------------------------------------------


def test_first_run_builds_the_store_and_the_tables(tmp_path: Path):
    raw, processed = write_raw(tmp_path / "raw", *OLD), tmp_path / "processed"
    assert run(raw, processed) == 0
    # Hand-computed. Year 2026: SOC has NATT-001 (ends 2026-02-28), -002 and -003 (open);
    # ISA has NATT-005 (2026-02-01..03-31); NATT-004 ended 2025-12-31 and is not in 2026.
    year = pl.read_parquet(processed / YEAR / "deltagare.parquet")
    assert year.select(
        "insats_id", "deltagare", "kvinnor", "man", "nya", "avslutade", "pagaende"
    ).rows() == [
        ("SOC", 3, 2, 1, 1, 1, 2),
        ("ISA", 1, 0, 1, 1, 1, 0),
        ("TOTALT", 4, 2, 2, 2, 2, 2),
    ]
    # Enrolled days in 2026 / 365: SOC 59 + 365 + 351, ISA 28 + 31.
    assert year["arsplatser"].to_list() == pytest.approx([775 / 365, 59 / 365, 834 / 365])
    # Tertial May–Aug 2026 (123 days): only the two open SOC episodes.
    tertial_table = pl.read_parquet(processed / TERTIAL / "deltagare.parquet")
    assert tertial_table.select(
        "insats_id", "deltagare", "nya", "avslutade", "pagaende", "arsplatser"
    ).rows() == [
        ("SOC", 2, 0, 0, 2, 2.0),
        ("ISA", 0, 0, 0, 0, 0.0),
        ("TOTALT", 2, 0, 0, 2, 2.0),
    ]
    # The CSV twin of each table, the manifest, and nothing under reports/.
    assert (processed / YEAR / "maluppfyllelse.csv").exists()
    assert json.loads((processed / YEAR / TABLES_MANIFEST).read_text())["filer"]
    assert not (tmp_path / "reports").exists()
    text = log_text(processed)
    assert "meddelande='inläsning' steg=inläsning filer=2 omlästa=2" in text
    assert "nya=2 ändrade=0 borttagna=0 oförändrade=0 lagret_ändrat=ja" in text
    assert f"period={YEAR} skrivna=8" in text
    assert "meddelande='nattkörning slut' kod=0" in text


def test_a_night_without_new_data_rewrites_nothing(before):
    raw, processed = before
    (raw / "2026-03_region.csv").unlink()
    assert_rewrites_nothing(raw, processed)
    # Also on another day of the same tertial: the tables cover whole periods.
    assert_rewrites_nothing(raw, processed, today=TODAY + dt.timedelta(days=30))
    last_run = log_text(processed).split("nattkörning startar")[-1]
    assert "omlästa=0" in last_run and "lagret_ändrat=nej" in last_run
    assert last_run.count("skrivna=0") == 2
    assert "meddelande='lager'" not in last_run


def test_a_new_tertial_adds_its_folder_and_keeps_the_year(before):
    raw, processed = before
    (raw / "2026-03_region.csv").unlink()
    year = snapshot(processed / YEAR)
    assert run(raw, processed, today=dt.date(2026, 9, 1)) == 0
    assert snapshot(processed / YEAR) == year
    assert (processed / "2026-09-01_2026-12-31" / "deltagare.parquet").exists()


def test_only_the_new_file_is_read(before, reference):
    raw, processed = before
    assert run(raw, processed) == 0
    last_run = log_text(processed).split("nattkörning startar")[-1]
    assert "filer=3 omlästa=1" in last_run
    assert "nya=1 ändrade=0 borttagna=0 oförändrade=2 lagret_ändrat=ja" in last_run
    assert_same_results(processed, reference)
    assert_rewrites_nothing(raw, processed)


def test_a_changed_file_is_read_again(before):
    raw, processed = before
    path = raw / "2026-01_kommun.csv"
    path.write_text(path.read_text().replace("NATT-002,SOC,M", "NATT-002,SOC,K"))
    assert run(raw, processed) == 0
    last_run = log_text(processed).split("nattkörning startar")[-1]
    assert "filer=3 omlästa=2" in last_run  # the changed file and the new one
    assert "nya=1 ändrade=1" in last_run
    year = pl.read_parquet(processed / YEAR / "deltagare.parquet")
    assert year.filter(pl.col("insats_id") == "SOC")["kvinnor"].item() == 3


def test_rejections_give_exit_3_and_the_log_holds_no_personal_data(before):
    raw, processed = before
    write_raw(raw, *NEW, "2026-03_felaktig.csv")
    assert run(raw, processed) == 3
    text = log_text(processed)
    assert "1 rader i karantän och 0 avvisade filer" in text
    assert "kod=3" in text
    for fragment in PERSONAL:
        assert fragment not in text, fragment
    quarantine = pl.read_parquet(processed / "karantan.parquet")
    assert quarantine.select("fil", "rad", "kolumn", "regel_id").rows() == [
        ("2026-03_felaktig.csv", 3, "kon", "kod")
    ]
    assert "NATT-007" in pl.read_parquet(processed / "episoder.parquet")["deltagare_id"].to_list()


def test_strict_fails_on_a_rejection_and_writes_nothing(before):
    raw, processed = before
    write_raw(raw, *NEW, "2026-03_felaktig.csv")
    untouched = snapshot(processed)  # the cache included: the dry run adds no entries
    assert run(raw, processed, strict=True) == 1
    assert snapshot(processed) == untouched
    text = log_text(processed)
    assert "--strict: 1 rader i karantän och 0 avvisade filer. Ingenting skrevs" in text
    for fragment in PERSONAL:
        assert fragment not in text, fragment


def test_strict_on_clean_inputs_writes_as_usual(before, reference):
    raw, processed = before
    assert run(raw, processed, strict=True) == 0
    assert_same_results(processed, reference)


def test_strict_refuses_to_write_inputs_it_did_not_check(before):
    raw, processed = before
    untouched = snapshot(processed)
    with pytest.raises(store.InputsChanged, match="Inget skrevs"):
        store.build_store(raw, processed, TODAY, expect_fingerprint="en annan körnings")
    assert _without_cache(snapshot(processed)) == _without_cache(untouched)


# --- Faults ---------------------------------------------------------------------------------


def test_a_second_run_is_refused_while_the_first_holds_the_lock(before):
    raw, processed = before
    untouched = snapshot(processed)
    with held_by_another_thread(processed):
        assert run(raw, processed) == 1
    assert snapshot(processed) == untouched
    assert f"En annan körning pågår redan (pid {os.getpid()}, startad" in log_text(processed)
    assert run(raw, processed) == 0  # released: the next run goes ahead


def test_an_unusable_processed_folder_fails_cleanly(tmp_path: Path, capsys):
    raw = write_raw(tmp_path / "raw", *OLD)
    (tmp_path / "en_fil").write_text("ingen mapp")
    log.setup_logging()  # on capsys's stderr
    assert run(raw, tmp_path / "en_fil" / "processed") == 1
    assert "Nattkörningen kan inte starta: Fel vid filåtkomst (ENOTDIR" in capsys.readouterr().err


def test_a_missing_catalog_fails_with_a_message(before):
    raw, processed = before
    (raw / "insatser.toml").unlink()
    untouched = snapshot(processed)
    assert run(raw, processed) == 1
    assert snapshot(processed) == untouched
    assert "insatskatalogen saknas" in log_text(processed)


def test_an_unexpected_error_is_logged_without_its_message(before, monkeypatch):
    raw, processed = before

    def broken(*args, **kwargs):
        raise ValueError("NATT-001 hemligt värde")

    monkeypatch.setattr(nightly, "compute_tables", broken)
    assert run(raw, processed) == 1
    text = log_text(processed)
    assert "Oväntat fel: ValueError i" in text
    assert "NATT-001" not in text and "hemligt" not in text


class _Writes:
    """Counts polars writes (parquet and CSV) and fails the n-th with a full disk."""

    def __init__(self, monkeypatch, fail_at: int | None = None) -> None:
        self.paths: list[Path] = []
        self.fail_at = fail_at
        for method in ("write_parquet", "write_csv"):
            original = getattr(pl.DataFrame, method)
            monkeypatch.setattr(pl.DataFrame, method, self._wrap(original))

    def _wrap(self, original):
        def write(frame, file=None, *args, **kwargs):
            if file is None:  # to a string in memory, not to disk
                return original(frame, file, *args, **kwargs)
            self.paths.append(Path(file))
            if len(self.paths) == self.fail_at:
                if original.__name__ == "write_parquet":  # as polars 2.1 reports it
                    raise pl.exceptions.ComputeError(
                        "parquet: File out of specification: underlying IO error: "
                        "No space left on device (os error 28)"
                    )
                raise OSError("No space left on device (os error 28)")
            return original(frame, file, *args, **kwargs)

        return write


def _without_cache(files: dict) -> dict:
    return {k: v for k, v in files.items() if not k.startswith(".cache/")}


def _phase(path: Path, processed: Path) -> str:
    relative = path.relative_to(processed).as_posix()
    if relative.startswith(".cache/"):
        return "cache"
    if relative.startswith(STAGING_DIR):
        return "tabeller"
    return "lager"


@pytest.mark.slow  # many runs
def test_a_full_disk_at_any_write_leaves_the_store_whole(before, reference, tmp_path, monkeypatch):
    raw, processed = before
    pristine = tmp_path / "pristine"
    shutil.copytree(processed, pristine)
    counting = _Writes(monkeypatch)
    assert run(raw, processed) == 0
    monkeypatch.undo()
    monkeypatch.setattr(nightly, "RETRY_WAIT_SECONDS", 0.0)
    phases = [_phase(p, processed) for p in counting.paths]
    assert phases.count("cache") == 4 and phases.count("lager") == 8
    assert phases.count("tabeller") == 32
    # Every write of the cache and the store, and the first, a middle and the last table.
    first_table = phases.index("tabeller") + 1
    points = [*range(1, first_table), first_table, first_table + 15, len(phases)]
    for fail_at in points:
        shutil.rmtree(processed)
        shutil.copytree(pristine, processed)
        with monkeypatch.context() as m:
            _Writes(m, fail_at=fail_at)
            assert run(raw, processed) == 1, fail_at
        assert "Nattkörningen misslyckades: Disken är full: en fil kunde inte skrivas" in log_text(
            processed
        )
        now = contents(processed)
        store_files = {k: v for k, v in now.items() if "/" not in k}
        old = {k: v for k, v in contents(pristine).items() if "/" not in k}
        new = {k: v for k, v in contents(reference).items() if "/" not in k}
        if phases[fail_at - 1] == "tabeller":
            assert store_files == new, fail_at  # the store was complete before the tables
        else:  # not one file of the store or the tables touched (mtimes included)
            assert _without_cache(snapshot(processed)) == _without_cache(snapshot(pristine))
            assert store_files == old
        for label in (YEAR, TERTIAL):  # each table folder wholly old or wholly new
            folder = {k: v for k, v in now.items() if k.startswith(f"{label}/")}
            assert folder in (
                {k: v for k, v in contents(pristine).items() if k.startswith(f"{label}/")},
                {k: v for k, v in contents(reference).items() if k.startswith(f"{label}/")},
            ), (fail_at, label)
        assert run(raw, processed) == 0, fail_at
        assert_same_results(processed, reference)
    assert_rewrites_nothing(raw, processed)


class _Killed(BaseException):
    """Stands in for kill -9 in-process: not an Exception, so nothing catches it."""


def _crash_points(moves: list[str], processed: Path) -> list[int]:
    """1-based indices of the moves to crash after: every move in the cache and the store,
    and per table folder the first and last table staged and moved into place (the last
    move into a table folder is its manifest)."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, dst in enumerate(moves, start=1):
        parts = Path(dst).relative_to(processed).parts
        key = ("lager",) if len(parts) == 1 else parts[:2] if parts[0] == STAGING_DIR else parts[:1]
        groups.setdefault(key, []).append(i)
    points = [i for key, found in groups.items() if key in {("lager",), (".cache",)} for i in found]
    points += [i for key, found in groups.items() for i in (found[0], found[-1])]
    return sorted(set(points))


@pytest.mark.slow  # many runs
def test_a_crash_between_two_file_moves_heals(before, reference, tmp_path, monkeypatch):
    """os.replace is where a file changes: stop the run right after it (cache, store, tables)."""
    raw, processed = before
    pristine = tmp_path / "pristine"
    shutil.copytree(processed, pristine)
    original = os.replace
    moves: list[str] = []
    crash_after = 0

    def counting(src, dst, *args, **kwargs):
        original(src, dst, *args, **kwargs)
        moves.append(str(dst))
        if len(moves) == crash_after:
            raise _Killed

    monkeypatch.setattr(os, "replace", counting)
    assert run(raw, processed) == 0
    points = _crash_points(moves, processed)
    assert len(moves) > 60 and len(points) >= 15
    for crash_after in points:
        moves.clear()
        shutil.rmtree(processed)
        shutil.copytree(pristine, processed)
        with pytest.raises(_Killed):
            run(raw, processed)
        assert run(raw, processed) == 0, crash_after
        assert_same_results(processed, reference)
    monkeypatch.undo()
    assert_rewrites_nothing(raw, processed)


def test_a_crash_while_moving_the_store_into_place_is_never_mistaken_for_current(
    before, tmp_path, monkeypatch
):
    """Killed halfway through moving the new store files into place, and the new export then
    taken away again: the inputs match the old state, but the store is half new. The state
    file is removed before the first move, so the next run rebuilds instead of trusting it."""
    raw, processed = before
    old = _without_cache(contents(processed))
    original = os.replace
    moved: list[str] = []

    def crash_mid_store(src, dst, *args, **kwargs):
        original(src, dst, *args, **kwargs)
        if Path(dst).parent == processed and Path(dst).suffix == ".parquet":
            moved.append(str(dst))
            if len(moved) == 2:
                raise _Killed

    with monkeypatch.context() as m:
        m.setattr(os, "replace", crash_mid_store)
        with pytest.raises(_Killed):
            run(raw, processed)
    assert _without_cache(contents(processed)) != old
    assert not (processed / "tillstand.json").exists()
    (raw / "2026-03_region.csv").unlink()
    assert run(raw, processed) == 0
    assert _without_cache(contents(processed)) == old  # (the cache keeps the new file's entry)


@pytest.mark.parametrize(
    ("damage", "rebuilds_store"),
    [
        ("episoder.parquet", True),
        ("tillstand.json", True),
        ("finsam.duckdb", True),
        ("karantan.csv", True),
        ("cache-parquet", False),
        ("cache-meta", False),
        ("cache-swapped", False),  # a whole, readable parquet, but not this entry's
        ("table-csv", False),
        ("table-manifest", False),
    ],
)
def test_a_damaged_file_is_detected_and_rebuilt(before, reference, damage, rebuilds_store):
    raw, processed = before
    assert run(raw, processed) == 0
    cache = processed / ".cache"
    target = {
        "cache-parquet": next(cache.glob("*.episodes.parquet")),
        "cache-meta": next(cache.glob("*.json")),
        "table-csv": processed / YEAR / "deltagare.csv",
        "table-manifest": processed / TERTIAL / TABLES_MANIFEST,
    }.get(damage, processed / damage)
    if damage == "cache-swapped":
        target = next(cache.glob("*.episodes.parquet"))
        other = next(p for p in cache.glob("*.episodes.parquet") if p != target)
        target.write_bytes(other.read_bytes())
    else:
        data = target.read_bytes()
        target.write_bytes(data[: len(data) // 2])  # truncated, as by a crash or a full disk
    assert run(raw, processed) == 0
    last_run = log_text(processed).split("nattkörning startar")[-1]
    assert ("meddelande='lager'" in last_run) == rebuilds_store
    assert "omlästa=0" in last_run
    if damage.startswith("cache"):
        # The store is current: the night read neither raw files nor the cache. A damaged
        # entry is found when it is next used (here: the store must be rebuilt).
        assert "lagret_aktuellt=ja" in last_run
        (processed / "tillstand.json").unlink()
        assert run(raw, processed) == 0
        assert "omlästa=1" in log_text(processed).split("nattkörning startar")[-1]
    assert_same_results(processed, reference)
    assert_rewrites_nothing(raw, processed)


def test_a_file_that_changes_while_read_is_read_again(before, monkeypatch):
    raw, processed = before
    original = store_files.process_file
    grown = []

    def copying_in(file, *args, **kwargs):
        result = original(file, *args, **kwargs)
        if file.relative == "2026-03_region.csv" and not grown:
            with open(file.path, "a", encoding="utf-8") as fh:  # the rest of the copy arrives
                fh.write("NATT-008,ISA,M,1999,Dagby,2026-03-05,,,ingen,\n")
            grown.append(True)
        return result

    monkeypatch.setattr(store_files, "process_file", copying_in)
    assert run(raw, processed) == 0
    text = log_text(processed)
    assert "Filen 2026-03_region.csv i råmappen ändrades medan den lästes" in text
    assert "Försöker igen" in text
    ids = pl.read_parquet(processed / "episoder.parquet")["deltagare_id"].to_list()
    assert "NATT-008" in ids and "NATT-006" in ids


def test_a_file_that_keeps_changing_fails_and_writes_nothing(before, monkeypatch):
    raw, processed = before
    untouched = snapshot(processed)
    original = store_files.process_file

    def never_done(file, *args, **kwargs):
        result = original(file, *args, **kwargs)
        if file.relative == "2026-03_region.csv":
            with open(file.path, "a", encoding="utf-8") as fh:
                fh.write("NATT-009,ISA,M,1999,Dagby,2026-03-05,,,ingen,\n")
        return result

    monkeypatch.setattr(store_files, "process_file", never_done)
    assert run(raw, processed) == 1
    assert snapshot(processed) == untouched  # nothing stored, nothing cached
    text = log_text(processed)
    assert text.count("ändrades medan den lästes") == nightly.READ_ATTEMPTS
    assert "Nattkörningen misslyckades: Filen 2026-03_region.csv" in text


# --- kill -9 (subprocesses) --------------------------------------------------------------------


def _cli(raw: Path, processed: Path, kill_at: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PANDERA_VALIDATION_ENABLED"}
    env.pop(log.TEST_KILL_ENV, None)
    if kill_at:
        env[log.TEST_KILL_ENV] = kill_at
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "nightly",
            "--raw",
            str(raw),
            "--processed",
            str(processed),
            "--reports",
            str(processed.parent / "reports"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def reference_today(tmp_path_factory) -> Path:
    """The undisturbed run, dated today as the subprocesses are."""
    base = tmp_path_factory.mktemp("referens_idag")
    log.setup_logging()
    assert run(write_raw(base / "raw", *NEW), base / "processed", today=dt.date.today()) == 0
    return base / "processed"


@pytest.mark.slow
@pytest.mark.parametrize(
    "stage", ["förberedelse", "inläsning", "sammanslagning", "lager", "tabeller"]
)
def test_kill_9_at_a_stage_then_a_clean_run(tmp_path: Path, reference_today: Path, stage: str):
    today = dt.date.today()
    raw, processed = tmp_path / "raw", tmp_path / "processed"
    assert run(write_raw(raw, *OLD), processed, today=today) == 0
    write_raw(raw, *NEW)
    killed = _cli(raw, processed, kill_at=stage)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert f"steg={stage}" in killed.stderr
    assert "nattkörning slut" not in killed.stderr
    assert run(raw, processed, today=today) == 0  # the lock was released by the kernel
    year, tertial_label = (p.label for p in nightly_periods(today))
    assert_same_results(processed, reference_today, (year, tertial_label))
    assert_rewrites_nothing(raw, processed, today=today)


@pytest.mark.slow
def test_the_command_line_exit_codes(tmp_path: Path):
    raw, processed = write_raw(tmp_path / "raw", *OLD), tmp_path / "processed"
    clean = _cli(raw, processed)
    assert clean.returncode == 0, clean.stderr
    assert "meddelande='nattkörning slut' kod=0" in clean.stderr
    with hold(processed):
        refused = _cli(raw, processed)
    assert refused.returncode == 1
    assert f"En annan körning pågår redan (pid {os.getpid()}" in refused.stderr
    write_raw(raw, *OLD, "2026-03_felaktig.csv")
    rejected = _cli(raw, processed)
    assert rejected.returncode == 3
    for fragment in PERSONAL:
        assert fragment not in rejected.stderr
        assert fragment not in log_text(processed)
