"""The corpus of bad and awkward exports (tests/fixtures/felaktiga/korpus.py), end to end.

Every case is ingested together with two good exports. Each must give its status, its
kept rows, its rules and its message; no message may quote the file's content; the good
exports' episodes must be exactly those of a run without the corpus; and no personnummer
planted in the corpus may appear in any file the pipeline wrote, the published report
included (parquet, DuckDB and workbooks read through their readers).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import shutil
import zipfile
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.core.config import Settings
from pipeline.core.period import Period
from pipeline.jobs.run import run_report
from pipeline.store import build_store
from tests.fixtures.felaktiga.korpus import CASES, HANDWRITTEN, PLANTED, write_corpus

FIXTURES = Path(__file__).parents[1] / "fixtures"
TODAY = dt.date(2026, 1, 1)
BASE = ("2024-12_kommun.csv", "2025-06_kommun.csv")


def _base_raw(folder: Path) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(FIXTURES / "ingest" / "insatser.toml", folder)
    for name in BASE:
        shutil.copy(FIXTURES / "ingest" / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("korpus")
    raw = _base_raw(root / "raw")
    write_corpus(raw)
    processed = root / "processed"
    store = build_store(raw, processed, TODAY)
    alone = build_store(_base_raw(root / "bara_bra"), root / "bara_bra_lager", TODAY)
    return store, alone, raw, processed, root


def test_the_corpus_has_at_least_sixty_kinds():
    assert len(CASES) + len(HANDWRITTEN) >= 60
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_case_gives_its_status_rows_rules_and_message(corpus, case):
    store = corpus[0]
    shown = case.shown_as or case.name
    # A masked name ends in the start of its content hash: "… [3fa2b1c9]".
    rows = store.files.filter(
        pl.col("fil").str.starts_with(shown + " [") if case.shown_as else pl.col("fil") == shown
    )
    shown = rows["fil"][0] if rows.height == 1 else shown
    assert rows.height == 1, shown
    row = rows.row(0, named=True)
    assert row["status"] == case.status, (shown, row["meddelande"])
    assert row["godkanda_rader"] == case.kept, (shown, row)
    found = set(store.quarantine.filter(pl.col("fil") == shown)["regel_id"].to_list())
    assert found == case.rules, shown
    said = " ".join(m for m in (row["meddelande"], row["anmarkningar"]) if m)
    if case.message:
        assert case.message in said, (shown, said)
    for text in case.forbidden:
        assert text not in said, (shown, said)
    kept = store.episodes.join(
        pl.DataFrame({"deltagare_id": list(case.ids)}, schema={"deltagare_id": pl.String}),
        on="deltagare_id",
        how="semi",
    )
    assert sorted(kept["deltagare_id"].to_list()) == sorted(case.ids), shown


@pytest.mark.parametrize("name", list(HANDWRITTEN))
def test_each_handwritten_file_gives_its_status_rows_rules_and_message(corpus, name):
    store = corpus[0]
    status, accepted, rules, message = HANDWRITTEN[name]
    row = store.files.filter(pl.col("fil") == name).row(0, named=True)
    assert (row["status"], row["godkanda_rader"]) == (status, accepted), name
    assert set(store.quarantine.filter(pl.col("fil") == name)["regel_id"]) == rules, name
    if message:
        assert message in row["meddelande"], (name, row["meddelande"])


def test_no_message_quotes_a_value_from_a_file(corpus):
    store = corpus[0]
    said = " ".join(
        m for m in [*store.files["meddelande"].to_list(), *store.files["anmarkningar"]] if m
    )
    # Every row id of the corpus starts with C and a case number (or is a key of c45–c49).
    assert not re.search(r"\bC[0-9]{2}[A-Z]\b", said)
    for text in ("1980", "2024-01-15", "Sjöstad", "Eva"):
        assert text not in said


def test_the_good_exports_are_kept_exactly(corpus):
    store, alone = corpus[0], corpus[1]
    base_ids = alone.episodes["deltagare_id"].to_list()
    from_base = store.episodes.filter(pl.col("deltagare_id").is_in(base_ids))
    assert_frame_equal(from_base, alone.episodes)
    expected = sum(c.kept for c in CASES) + sum(h[1] for h in HANDWRITTEN.values())
    # Episodes of the corpus: the kept rows, less the one row kept twice in the series.
    assert store.episodes.height == alone.episodes.height + expected - 3


def test_rows_in_a_workbook_keep_their_row_numbers(corpus):
    store = corpus[0]
    bad = store.quarantine.filter(pl.col("fil") == "c74_rows_further_down.xlsx")
    assert bad.select("blad", "rad", "kolumn", "varde").rows() == [("Export", 5, "kon", "X")]


def test_a_quarantined_newest_version_and_a_dropped_episode_are_flagged(corpus):
    store = corpus[0]
    flagged = store.flagged.filter(pl.col("deltagare_id").str.starts_with("C86"))
    assert flagged.select("deltagare_id", "flagga", "fil").rows() == [
        ("C86A", "nyare_version_i_karantan", "serie/2025-06_export.csv"),
        ("C86B", "saknas_i_senaste_exporten", "serie/2025-06_export.csv"),
    ]
    # Both are kept, as their last valid version.
    kept = store.episodes.filter(pl.col("deltagare_id").is_in(["C86A", "C86B"]))
    assert kept["slutdatum"].to_list() == [None, None]
    summary = (corpus[3] / "datakvalitet.md").read_text(encoding="utf-8")
    assert "senaste versionen ligger i karantän" in summary


# --- Personnummer: nowhere outside the raw folder -----------------------------------------------


def _texts(folder: Path) -> list[tuple[str, str]]:
    """(file, text) for everything under `folder`: raw bytes, and parquet, DuckDB and zip
    members (XLSX) through their readers."""
    out: list[tuple[str, str]] = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(folder).as_posix()
        data = path.read_bytes()
        out.append((name, data.decode("utf-8", errors="replace")))
        out.append((name, data.decode("utf-16", errors="replace")))
        if path.suffix == ".parquet":
            frame = pl.read_parquet(path)
            out.append((name, frame.select(pl.all().cast(pl.String)).write_csv()))
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as book:
                for member in book.namelist():
                    out.append((f"{name}:{member}", book.read(member).decode("utf-8", "replace")))
        if path.suffix == ".duckdb":
            con = duckdb.connect(str(path), read_only=True)
            names = con.sql(
                "select table_name from duckdb_tables() union all "
                "select view_name from duckdb_views() where not internal"
            ).fetchall()
            for (table,) in names:
                with contextlib.suppress(duckdb.Error):  # a table macro needs arguments
                    rows = con.sql(f"select * from {table}").pl().write_csv()
                    out.append((f"{name}:{table}", rows))
            con.close()
    return out


def _forms(digits: str) -> list[str]:
    """How a planted number could appear: as digits, with a separator, with its century."""
    date, last = digits[:6], digits[6:]
    centuries = ("19", "20")
    return [
        digits,
        *(f"{date}{sep}{last}" for sep in ("-", " ", "+", "–", "—")),
        *(f"{c}{digits}" for c in centuries),
        *(f"{c}{date}-{last}" for c in centuries),
    ]


@pytest.mark.slow
def test_no_planted_personnummer_anywhere_outside_the_raw_folder(corpus):
    store, _, raw, processed, root = corpus
    reports = root / "reports"
    settings = Settings(raw=raw, processed=processed, reports=reports, k=3)
    run_report(settings, Period.year(2024), today=TODAY)
    assert (reports / "2024" / "rapport.html").exists()
    texts = [(f"processed/{n}", t) for n, t in _texts(processed)]
    texts += [(f"reports/{n}", t) for n, t in _texts(reports)]
    assert len(texts) > 50
    for digits in PLANTED:
        date_part = re.compile(rf"(?<![0-9a-fA-F]){digits[:6]}(?![0-9a-fA-F])")
        for name, text in texts:
            for form in _forms(digits):
                assert form not in text, (digits, name)
            assert not date_part.search(text), (digits, name)
    # What was found is shown masked, with where it was.
    masked = store.quarantine.filter(pl.col("regel_id") == "personnummer")
    assert set(masked["varde"]) == {"ÅÅMMDD-XXXX (maskerat)"}
    assert masked.height >= 20
