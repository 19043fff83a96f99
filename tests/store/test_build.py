"""The processed store: merging exports, the bad-input corpus end to end, idempotence."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.core.contract import EPISODE_SCHEMA
from pipeline.core.lock import LOCK_FILE
from pipeline.store import build as build_module
from pipeline.store import build_store, merge_episodes

FIXTURES = Path(__file__).parents[1] / "fixtures"
TODAY = dt.date(2026, 1, 1)


def _episodes(rows: list[dict]) -> pl.DataFrame:
    base = {c: None for c in EPISODE_SCHEMA}
    frame = pl.DataFrame([base | r for r in rows], schema=EPISODE_SCHEMA)
    return frame.with_row_index("_rad", offset=2).with_columns(pl.col("_rad").cast(pl.Int64))


P1 = {
    "deltagare_id": "P1",
    "insats_id": "SOC",
    "kon": "K",
    "fodelsear": 1980,
    "startdatum": dt.date(2024, 1, 1),
}
P1_ENDED = P1 | {
    "slutdatum": dt.date(2024, 6, 30),
    "avslutsorsak": "enligt_plan",
    "sysselsattning_efter": "arbete",
}
P2 = P1 | {"deltagare_id": "P2"}


def test_last_file_wins_and_differences_are_classified():
    first = _episodes([P1, P2])
    second = _episodes([P1_ENDED, P2 | {"kon": "M"}])
    third = _episodes([P1_ENDED])
    episodes, duplicates = merge_episodes([first, second, third])
    assert episodes.select("deltagare_id", "kon", "slutdatum").rows() == [
        ("P1", "K", dt.date(2024, 6, 30)),
        ("P2", "M", None),
    ]
    assert duplicates.select("deltagare_id", "versioner", "skillnad").rows() == [
        ("P1", 3, "avslut_tillagt"),
        ("P2", 2, "konflikt"),
    ]


def test_within_one_file_the_last_row_wins():
    episodes, duplicates = merge_episodes([_episodes([P1, P1_ENDED])])
    assert episodes["slutdatum"].to_list() == [dt.date(2024, 6, 30)]
    assert duplicates["skillnad"].to_list() == ["avslut_tillagt"]


def test_an_ended_episode_changed_later_is_a_conflict():
    changed = P1_ENDED | {"sysselsattning_efter": "studier"}
    _, duplicates = merge_episodes([_episodes([P1_ENDED]), _episodes([changed])])
    assert duplicates["skillnad"].to_list() == ["konflikt"]


def _raw_folder(tmp_path: Path, *names: str) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir(parents=True)
    shutil.copy(FIXTURES / "ingest" / "insatser.toml", raw)
    for name in ("2024-12_kommun.csv", "2025-06_kommun.csv"):
        shutil.copy(FIXTURES / "ingest" / name, raw / name)
    for name in names:
        shutil.copy(FIXTURES / "felaktiga" / name, raw / name)
    return raw


BAD = {
    # file: (status, rows accepted, rules reported, message fragment)
    "okand_kod.csv": ("inlast", 1, {"kod"}, None),
    "omojliga_datum.csv": (
        "inlast",
        1,
        {"datumformat", "slut_fore_start", "framtida_datum"},
        None,
    ),
    "personnummer.csv": ("avvisad", 0, {"personnummer"}, "personnummer"),
    "samordningsnummer.csv": ("avvisad", 0, {"personnummer"}, "personnummer"),
    "trasig.xlsx": ("avvisad", 0, set(), "kan inte läsas som XLSX"),
    "saknad_kolumn.csv": ("avvisad", 0, set(), "Obligatoriska kolumner saknas: kon"),
    "alder.csv": ("inlast", 0, {"alder"}, None),
    "avslut_utan_orsak.csv": (
        "inlast",
        0,
        {
            "avslut_utan_orsak",
            "avslut_utan_sysselsattning",
            "orsak_utan_avslut",
            "sysselsattning_utan_avslut",
        },
        None,
    ),
    "okand_insats.csv": ("inlast", 0, {"okand_insats"}, None),
    "intervall.csv": ("inlast", 0, {"omfattning", "steg", "heltal"}, None),
    "dubbel_rubrik.csv": ("avvisad", 0, set(), "Två rubriker betyder samma kolumn"),
    "gammal.xls": ("avvisad", 0, set(), "Okänt filformat '.xls'"),
}


@pytest.fixture
def dirty_store(tmp_path: Path):
    raw = _raw_folder(tmp_path, *BAD)
    processed = tmp_path / "processed"
    return build_store(raw, processed, TODAY), processed


def test_bad_input_corpus(dirty_store):
    store, _ = dirty_store
    files = {row["fil"]: row for row in store.files.iter_rows(named=True)}
    for name, (status, accepted, rules, message) in BAD.items():
        row = files[name]
        assert row["status"] == status, name
        assert row["godkanda_rader"] == accepted, name
        found = set(store.quarantine.filter(pl.col("fil") == name)["regel_id"].to_list())
        assert found == rules, name
        if message:
            assert message in row["meddelande"], (name, row["meddelande"])


def test_every_good_episode_is_kept(dirty_store):
    store, _ = dirty_store
    # P001 ended in the later export; B002 and B006 are the good rows of dirty files.
    assert sorted(store.episodes["deltagare_id"].to_list()) == [
        "B002",
        "B006",
        "P001",
        "P002",
        "P003",
        "P004",
    ]
    p001 = store.episodes.filter(pl.col("deltagare_id") == "P001").row(0, named=True)
    assert p001["slutdatum"] == dt.date(2025, 3, 31)
    assert p001["sysselsattning_efter"] == "studier"


def test_each_bad_row_is_quarantined_with_file_row_column_value(dirty_store):
    store, _ = dirty_store
    rows = store.quarantine.filter(pl.col("fil") == "omojliga_datum.csv").select(
        "rad", "kolumn", "varde", "regel_id"
    )
    assert rows.rows() == [
        (2, "startdatum", "2024-02-30", "datumformat"),
        (3, "slutdatum", "2024-04-01", "slut_fore_start"),
        (4, "slutdatum", "2099-01-01", "framtida_datum"),
    ]


def _all_text_on_disk(folder: Path) -> str:
    """Everything written under `folder`, decoded: parquet and DuckDB through their readers."""
    chunks = []
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        chunks.append(path.read_bytes().decode("utf-8", errors="replace"))
        if path.suffix == ".parquet":
            frame = pl.read_parquet(path)
            chunks.append(frame.select(pl.all().cast(pl.String)).write_csv())
        if path.suffix == ".duckdb":
            con = duckdb.connect(str(path), read_only=True)
            for (view,) in con.sql(
                "select view_name from duckdb_views() where not internal"
            ).fetchall():
                with contextlib.suppress(duckdb.Error):  # a table macro needs arguments
                    chunks.append(con.sql(f"select * from {view}").pl().write_csv())
            con.close()
    return "\n".join(chunks)


def test_personnummer_is_nowhere_on_disk(dirty_store):
    store, processed = dirty_store
    # Content hashes (SHA-256 in hex) may hold any four digits; they are not data.
    text = re.sub(r"\b[0-9a-f]{64}\b", "", _all_text_on_disk(processed))
    for fragment in ("811218", "9876", "701063", "2383"):
        assert fragment not in text
    masked = store.quarantine.filter(pl.col("regel_id") == "personnummer")
    assert masked.select("fil", "rad", "kolumn").rows() == [
        ("personnummer.csv", 2, "kommentar"),
        ("samordningsnummer.csv", 2, "deltagare_id"),
    ]
    assert set(masked["varde"]) == {"ÅÅMMDD-XXXX (maskerat)"}


def test_store_files_and_summary(dirty_store):
    _, processed = dirty_store
    for name in (
        "episoder.parquet",
        "karantan.parquet",
        "karantan.csv",
        "inlasta_filer.parquet",
        "datakvalitet.md",
        "finsam.duckdb",
        "tillstand.json",
    ):
        assert (processed / name).exists(), name
    stored = pl.read_parquet(processed / "episoder.parquet")
    assert stored.schema == EPISODE_SCHEMA
    summary = (processed / "datakvalitet.md").read_text(encoding="utf-8")
    assert "Filer: 14 (8 inlästa, 6 avvisade)" in summary
    assert "Rader: 18 lästa, 7 godkända, 11 i karantän" in summary
    assert "avslut tillagt senare 1" in summary
    con = duckdb.connect(str(processed / "finsam.duckdb"), read_only=True)
    assert con.sql("select count(*) from episoder").fetchall() == [(6,)]
    con.close()


def test_same_input_twice_changes_nothing(tmp_path: Path):
    raw = _raw_folder(tmp_path)
    processed = tmp_path / "processed"
    first = build_store(raw, processed, TODAY)

    def mtimes() -> dict[Path, int]:  # the lock file records who last held the lock
        return {
            p: p.stat().st_mtime_ns
            for p in processed.rglob("*")
            if p.is_file() and p.name != LOCK_FILE
        }

    before = mtimes()
    second = build_store(raw, processed, TODAY)
    assert first.changed and not second.changed
    assert second.files_reread == 0
    assert mtimes() == before
    # The same export dropped in again under another name adds nothing.
    shutil.copy(raw / "2025-06_kommun.csv", raw / "2025-07_kopia.csv")
    third = build_store(raw, processed, TODAY)
    assert_frame_equal(third.episodes, first.episodes)
    assert third.files_reread == 1


def test_numbers_do_not_depend_on_file_format(tmp_path: Path):
    csv_raw = _raw_folder(tmp_path / "csv")
    from_csv = build_store(csv_raw, tmp_path / "p_csv", TODAY).episodes
    for fmt in ("xlsx", "parquet"):
        raw = tmp_path / fmt
        raw.mkdir()
        shutil.copy(csv_raw / "insatser.toml", raw)
        for name in ("2024-12_kommun", "2025-06_kommun"):
            frame = pl.read_csv(
                (csv_raw / f"{name}.csv")
                .read_bytes()
                .decode("windows-1252" if "2024" in name else "utf-8-sig")
                .encode(),
                separator=";" if "2024" in name else ",",
                infer_schema=False,
            )
            frame = frame.with_columns(
                pl.col(c).str.to_date() for c in frame.columns if "datum" in c.lower()
            )
            if fmt == "xlsx":
                frame.write_excel(raw / f"{name}.xlsx")
            else:
                frame.write_parquet(raw / f"{name}.parquet")
        assert_frame_equal(build_store(raw, tmp_path / f"p_{fmt}", TODAY).episodes, from_csv)


def test_cache_keeps_only_entries_of_current_files(tmp_path: Path):
    raw = _raw_folder(tmp_path, "okand_kod.csv")
    processed = tmp_path / "processed"
    build_store(raw, processed, TODAY)

    def entries() -> set[str]:
        return {p.name.split(".", 1)[0] for p in (processed / ".cache").iterdir()}

    assert len(entries()) == 3  # one entry (json + two parquet parts) per file
    (raw / "okand_kod.csv").unlink()
    build_store(raw, processed, TODAY)
    assert len(entries()) == 2


def _export(raw: Path, name: str, ids: list[str]) -> None:
    header = "deltagare_id;insats_id;kon;fodelsear;startdatum\n"
    rows = "".join(f"{pid};SOC;K;1980;2024-01-15\n" for pid in ids)
    (raw / name).parent.mkdir(parents=True, exist_ok=True)
    (raw / name).write_text(header + rows, encoding="utf-8")


def test_an_incremental_series_flags_nothing_a_cumulative_one_flags_what_left(tmp_path: Path):
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(FIXTURES / "ingest" / "insatser.toml", raw)
    # Incremental: each export holds only what is new.
    _export(raw, "region/2025-01_export.csv", ["R1", "R2", "R3"])
    _export(raw, "region/2025-06_export.csv", ["R4", "R5"])
    # Cumulative: the later export repeats the earlier one, but R7 is gone.
    _export(raw, "kommun/2025-01_export.csv", ["K1", "K2", "K3", "K4", "K5", "K6", "K7"])
    _export(raw, "kommun/2025-06_export.csv", ["K1", "K2", "K3", "K4", "K5", "K6", "K8"])
    store = build_store(raw, tmp_path / "processed", TODAY)
    assert store.flagged.select("deltagare_id", "flagga", "fil").rows() == [
        ("K7", "saknas_i_senaste_exporten", "kommun/2025-06_export.csv")
    ]
    assert store.episodes.height == 13  # every episode kept, the flagged one too


def test_export_series_ignores_dates_and_format():
    from pipeline.store.merge import export_series

    assert export_series("a/2025-06_export.csv") == export_series("a/20241231_export.xlsx")
    assert export_series("a/2025-06_export.csv") != export_series("a/2025-06_annat.csv")


def test_an_unforeseen_error_while_reading_rejects_that_file_only(tmp_path: Path, monkeypatch):
    raw = _raw_folder(tmp_path)
    (raw / "2025-07_konstig.csv").write_text("deltagare_id\nX1\n", encoding="utf-8")
    from pipeline.store import files as store

    real = store._load_export

    def flaky(file):
        if file.relative == "2025-07_konstig.csv":
            raise IndexError("något i 'X1'")
        return real(file)

    monkeypatch.setattr(store, "_load_export", flaky)
    result = build_store(raw, tmp_path / "processed", TODAY)
    row = result.files.filter(pl.col("fil") == "2025-07_konstig.csv").row(0, named=True)
    assert row["status"] == "avvisad"
    assert "oväntat fel (IndexError)" in row["meddelande"] and "X1" not in row["meddelande"]
    assert result.episodes.height == 4  # the other files are read
    monkeypatch.setenv("FINSAM_FELSOK", "1")
    (raw / "2025-07_konstig.csv").write_text("deltagare_id\nX2\n", encoding="utf-8")
    with pytest.raises(IndexError):
        build_store(raw, tmp_path / "processed", TODAY)


def _counted_raw(tmp_path: Path) -> Path:
    """The statistics fixture's catalog with TOM strukturövergripande, one export and the
    counted-participants fixture (tests/fixtures/raknade/README.md)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    catalog = (FIXTURES / "statistik" / "insatser.toml").read_text(encoding="utf-8")
    catalog = catalog.replace(
        'namn = "Insats utan deltagare"\nmal = [ { matt = "aktivitet_sysselsattning", '
        "andel = 0.5 } ]",
        'namn = "Insats utan deltagare"\ninriktning = "strukturovergripande"',
    )
    (raw / "insatser.toml").write_text(catalog, encoding="utf-8")
    shutil.copy(FIXTURES / "raknade" / "raknade_2024.csv", raw / "2025-01_raknade.csv")
    (raw / "2025-01_export.csv").write_text(
        "deltagare_id,insats_id,kon,fodelsear,startdatum\n"
        "P1,SOC,K,1980,2024-01-01\n"
        "P2,TOM,M,1980,2024-01-01\n",  # an episode of a strukturövergripande insats
        encoding="utf-8",
    )
    return raw


def test_counted_participants_are_kept_apart_row_by_row(tmp_path: Path):
    raw = _counted_raw(tmp_path)
    store = build_store(raw, tmp_path / "p", TODAY)
    # The good rows of the counted file, in their own table; not one of them an episode.
    assert store.counted.select("insats_id", "ar", "slag", "kvinnor", "man").rows() == [
        ("SOC", 2024, "anonyma", 2, 1),
        ("TOM", 2024, "strukturovergripande", 9, 5),
    ]
    assert store.episodes["deltagare_id"].to_list() == ["P1"]
    log = {r["fil"]: r for r in store.files.iter_rows(named=True)}
    assert (
        log["2025-01_raknade.csv"]["godkanda_rader"],
        log["2025-01_raknade.csv"]["avvisade_rader"],
    ) == (2, 9)
    # The episode of the strukturövergripande insats is rejected with its own rule.
    rejected = store.quarantine.filter(pl.col("fil") == "2025-01_export.csv")
    assert rejected.select("rad", "kolumn", "regel_id").rows() == [
        (3, "insats_id", "struktur_insats")
    ]
    assert store.quarantine.filter(pl.col("fil") == "2025-01_raknade.csv").height == 9
    # Written to the store and to the analysts' database, as its own view.
    on_disk = pl.read_parquet(tmp_path / "p" / "raknade_deltagare.parquet")
    assert on_disk.equals(store.counted)
    con = duckdb.connect(str(tmp_path / "p" / "finsam.duckdb"), read_only=True)
    try:
        total = con.execute("SELECT sum(kvinnor + man) FROM raknade_deltagare").fetchall()[0][0]
    finally:
        con.close()
    assert total == 17


def test_a_later_counted_file_replaces_the_rows_it_repeats(tmp_path: Path):
    raw = _counted_raw(tmp_path)
    (raw / "2025-03_raknade.csv").write_text(
        "insats_id,ar,slag,kvinnor,man\nSOC,2024,anonyma,4,4\n", encoding="utf-8"
    )
    store = build_store(raw, tmp_path / "p", TODAY)
    assert store.counted.select("insats_id", "kvinnor", "man", "fil").rows() == [
        ("SOC", 4, 4, "2025-03_raknade.csv"),
        ("TOM", 9, 5, "2025-01_raknade.csv"),
    ]


def test_one_key_on_two_sheets_of_a_workbook_is_quarantined_not_overwritten(tmp_path: Path):
    import xlsxwriter

    raw = _counted_raw(tmp_path)
    (raw / "2025-01_raknade.csv").unlink()
    wb = xlsxwriter.Workbook(str(raw / "2025-02_raknade.xlsx"))
    for name, counts in (("A", (4, 1)), ("B", (7, 7))):
        sheet = wb.add_worksheet(name)
        sheet.write_row(0, 0, ["insats_id", "ar", "slag", "kvinnor", "man"])
        sheet.write_row(1, 0, ["SOC", 2024, "anonyma", *counts])
        sheet.write_row(2, 0, ["TOM", 2024 - (name == "B"), "strukturovergripande", 3, 3])
    wb.close()
    store = build_store(raw, tmp_path / "p", TODAY)
    # SOC 2024 anonyma stands on both sheets: both rows out, each with its sheet and row;
    # TOM 2024 and TOM 2023 are different keys and kept.
    assert store.counted.select("insats_id", "ar").rows() == [("TOM", 2023), ("TOM", 2024)]
    rejected = store.quarantine.filter(pl.col("fil") == "2025-02_raknade.xlsx")
    assert rejected.select("blad", "rad", "regel_id").rows() == [
        ("A", 2, "dubbel_rad"),
        ("B", 2, "dubbel_rad"),
    ]


def test_a_current_store_is_read_from_its_own_files(tmp_path: Path, monkeypatch):
    raw = _raw_folder(tmp_path, "okand_kod.csv", "personnummer.csv", "omojliga_datum.csv")
    processed = tmp_path / "processed"
    first = build_store(raw, processed, TODAY)
    assert first.quarantine.height and first.duplicates.height

    def not_called(*_args, **_kwargs):
        raise AssertionError("a current store reads no raw file, cache entry or merge")

    monkeypatch.setattr(build_module, "cached_file_result", not_called)
    monkeypatch.setattr(build_module, "merge_episodes", not_called)
    second = build_store(raw, processed, TODAY)
    assert not second.changed and second.files_reread == 0
    assert second.fingerprint == first.fingerprint
    for part in ("episodes", "quarantine", "files", "duplicates", "flagged", "counted"):
        assert_frame_equal(getattr(second, part), getattr(first, part))
    # A date after the run date was rejected: the store holds for this day only.
    with pytest.raises(AssertionError, match="a current store"):
        build_store(raw, processed, TODAY + dt.timedelta(days=1))
    # Any changed input makes it stale too.
    shutil.copy(FIXTURES / "felaktiga" / "alder.csv", raw / "alder.csv")
    with pytest.raises(AssertionError, match="a current store"):
        build_store(raw, processed, TODAY)
