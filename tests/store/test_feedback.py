"""Feedback workbooks for the parties, on the faulty fixtures of tests/fixtures/felaktiga:
every quarantined value highlighted with its rule, rejected files explained, no
personnummer anywhere in them."""

from __future__ import annotations

import datetime as dt
import shutil
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from pipeline.core.contract import CANONICAL_COLUMNS, COLUMN_BY_NAME
from pipeline.store import build_store
from pipeline.store.feedback import FEEDBACK_DIR, feedback_name

FIXTURES = Path(__file__).parents[1] / "fixtures"
TODAY = dt.date(2026, 1, 1)
# Read as rows they could not be: listed by row number only (tested in test_build).
NOT_AS_ROWS = {"faltantal", "teckenkodning"}


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    root = tmp_path_factory.mktemp("aterkoppling")
    raw = root / "raw"
    raw.mkdir()
    shutil.copy(FIXTURES / "ingest" / "insatser.toml", raw)
    for path in (FIXTURES / "ingest").glob("*.csv"):
        shutil.copy(path, raw)
    for path in (FIXTURES / "felaktiga").iterdir():
        if path.suffix in {".csv", ".xlsx", ".xls"}:
            shutil.copy(path, raw)
    processed = root / "processed"
    return build_store(raw, processed, TODAY), processed / FEEDBACK_DIR


def test_every_quarantined_value_is_highlighted_with_its_rule(fed):
    store, folder = fed
    quarantine = store.quarantine.join(
        store.files.filter(pl.col("status") == "inlast").select("fil"), on="fil"
    ).filter(
        pl.col("kolumn").is_in(list(CANONICAL_COLUMNS)) & ~pl.col("regel_id").is_in(NOT_AS_ROWS)
    )
    assert quarantine.height >= 8
    for fil, rows in quarantine.group_by("fil"):
        book = openpyxl.load_workbook(folder / feedback_name(fil[0]))
        assert book.sheetnames[0] == "Att rätta"
        sheet = book["Rader"]
        headings = [c.value for c in sheet[1]]
        marked = {
            (sheet.cell(r, 1).value, headings[c - 1]): sheet.cell(r, c).comment.text
            for r in range(2, sheet.max_row + 1)
            for c in range(2, sheet.max_column + 1)
            if sheet.cell(r, c).comment is not None
        }
        for q in rows.iter_rows(named=True):
            heading = COLUMN_BY_NAME[q["kolumn"]].aliases[0]
            assert marked[(q["rad"], heading)] == q["regel"], (fil, q)
            cell = next(
                sheet.cell(r, headings.index(heading) + 1)
                for r in range(2, sheet.max_row + 1)
                if sheet.cell(r, 1).value == q["rad"]
            )
            assert cell.fill.fgColor.rgb.endswith("FFE08A")  # highlighted
            assert (cell.value or None) == q["varde"]  # the value as it was sent


def test_a_rejected_file_gets_one_sheet_saying_why(fed):
    store, folder = fed
    rejected = store.files.filter(pl.col("status") == "avvisad")
    assert rejected.height >= 4
    for row in rejected.iter_rows(named=True):
        book = openpyxl.load_workbook(folder / feedback_name(row["fil"]))
        assert book.sheetnames == ["Avvisad fil"]
        texts = [c.value for r in book.active.iter_rows() for c in r if c.value]
        assert row["meddelande"] in texts


def test_no_personnummer_in_any_feedback_workbook(fed):
    _, folder = fed
    workbooks = sorted(folder.glob("*.xlsx"))
    assert workbooks
    for path in workbooks:
        with zipfile.ZipFile(path) as z:
            text = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
        for fragment in ("811218", "9876", "701063", "2383"):
            assert fragment not in text, path.name


def test_clean_files_get_none_and_a_rebuild_removes_stale_ones(fed, tmp_path: Path):
    _, folder = fed
    names = {p.name for p in folder.glob("*.xlsx")}
    assert feedback_name("2024-12_kommun.csv") not in names  # nothing to fix there
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(FIXTURES / "ingest" / "insatser.toml", raw)
    shutil.copy(FIXTURES / "felaktiga" / "okand_kod.csv", raw)
    build_store(raw, tmp_path / "p", TODAY)
    (raw / "okand_kod.csv").unlink()
    shutil.copy(FIXTURES / "ingest" / "2024-12_kommun.csv", raw)
    build_store(raw, tmp_path / "p", TODAY)
    assert list((tmp_path / "p" / FEEDBACK_DIR).glob("*.xlsx")) == []


def test_two_rules_on_one_cell_long_names_and_names_that_flatten_alike(tmp_path: Path):
    raw = tmp_path / "raw"
    (raw / "kommun").mkdir(parents=True)
    shutil.copy(FIXTURES / "ingest" / "insatser.toml", raw)
    bad = "Deltagare-ID;Insats;Kön;Födelseår;Inskrivningsdatum;Avslutsanledning\n"
    bad += "P1;SOC;K;1980;2024-01-15;xyz\n"  # not a code, and no end date
    (raw / "kommun" / "export.csv").write_text(bad, encoding="utf-8")
    (raw / "kommun__export.csv").write_text(bad, encoding="utf-8")
    deep = raw / ("mapp_" * 30) / ("lång_" * 30)
    deep.mkdir(parents=True)
    (deep / "export.doc").write_text("x", encoding="utf-8")  # rejected: unknown format
    build_store(raw, tmp_path / "p", TODAY)
    folder = tmp_path / "p" / FEEDBACK_DIR
    books = sorted(folder.glob("*.xlsx"))
    assert len(books) == 3 and all(len(p.name.encode()) < 255 for p in books)
    sheet = openpyxl.load_workbook(folder / feedback_name("kommun/export.csv"))["Rader"]
    comments = [c.comment.text for r in sheet.iter_rows() for c in r if c.comment]
    assert len(comments) == 1  # one cell, both its rules
    assert comments[0].startswith("värdet finns inte i kodlistan")
    assert comments[0].endswith("; avslutsanledning får bara anges när avslutsdatum finns")
