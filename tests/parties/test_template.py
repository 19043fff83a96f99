"""The submission template: dropdowns with the contract's texts, and a filled template read
back by the ordinary ingest into the same store as the same rows in canonical CSV."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from pipeline.core.catalog import read_catalog
from pipeline.core.contract import CODE_TEXTS, COLUMNS
from pipeline.parties.template import CODE_SHEET, DATA_SHEET, write_template
from pipeline.store import build_store

FIXTURES = Path(__file__).parents[1] / "fixtures"
CATALOG = FIXTURES / "ingest" / "insatser.toml"
TODAY = dt.date(2026, 1, 1)

# Three episodes: by codes, by Swedish texts (another case, a hyphen for a dash), ended.
ROWS = [
    {
        "deltagare_id": "P001",
        "insats_id": "SOC",
        "kon": "K",
        "fodelsear": 1980,
        "startdatum": dt.date(2024, 1, 15),
        "utbildning": "gymnasial",
        "tid_offentlig_forsorjning": "1_2_ar",
        "forsorjning_fore": "sjukersattning",
        "sysselsattning_fore": "ingen",
    },
    {
        "deltagare_id": "P002",
        "insats_id": "ISA",
        "kon": ("M", "man"),
        "fodelsear": 1975,
        "startdatum": dt.date(2024, 2, 1),
        "utbildning": ("forgymnasial", "FÖRGYMNASIAL"),
        "tid_offentlig_forsorjning": ("1_2_ar", "1-2 år"),
        "forsorjning_fore": ("a_kassa", "A-kassa"),
        "sysselsattning_fore": ("arbetssokande", "Arbetssökande"),
    },
    {
        "deltagare_id": "P003",
        "insats_id": "SOC",
        "kon": ("K", "Kvinna"),
        "fodelsear": 1990,
        "startdatum": dt.date(2024, 3, 1),
        "slutdatum": dt.date(2024, 9, 30),
        "avslutsorsak": ("enligt_plan", "Enligt plan"),
        "sysselsattning_efter": ("arbete_med_stod", "Arbete med stöd"),
        "forsorjning_efter": ("ingen_offentlig", "Ingen offentlig försörjning"),
        "omfattning_efter": 50,
        "steg_start": 2,
        "steg_slut": 4,
        "narmare_arbete": ("ja", "Ja"),
    },
]


def _code(value):
    return value[0] if isinstance(value, tuple) else value


def _as_typed(value):
    return value[1] if isinstance(value, tuple) else value


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return write_template(tmp_path_factory.mktemp("mall") / "mall.xlsx", read_catalog(CATALOG))


def _list_values(book, formula: str) -> list[str]:
    match = re.fullmatch(r"=?(\w+)!\$([A-Z])\$(\d+):\$[A-Z]\$(\d+)", formula)
    sheet, col, first, last = (
        match.group(1),
        match.group(2),
        int(match.group(3)),
        int(match.group(4)),
    )
    return [book[sheet][f"{col}{r}"].value for r in range(first, last + 1)]


def test_every_code_column_has_a_dropdown_of_exactly_the_contracts_texts(template):
    book = openpyxl.load_workbook(template)
    data = book[DATA_SHEET]
    headings = [c.value for c in data[1]]
    assert headings == [c.heading for c in COLUMNS]
    lists = {}
    for validation in data.data_validations.dataValidation:
        if validation.type == "list":
            for cell_range in validation.sqref.ranges:
                lists[cell_range.min_col] = _list_values(book, validation.formula1)
    for j, column in enumerate(COLUMNS, start=1):
        if column.codes is not None:
            assert lists[j] == [CODE_TEXTS[code] for code in column.codes], column.name
    assert lists[COLUMNS.index(next(c for c in COLUMNS if c.name == "insats_id")) + 1] == [
        "SOC",
        "ISA",
    ]
    koder = [tuple(r) for r in book[CODE_SHEET].iter_rows(values_only=True)]
    assert koder[0] == ("Kolumn", "Kod", "Text")
    assert ("Kön", "K", "Kvinna") in koder


def test_the_id_column_refuses_a_personnummer_and_dates_and_ranges_are_checked(template):
    data = openpyxl.load_workbook(template)[DATA_SHEET]
    kinds = {}
    for validation in data.data_validations.dataValidation:
        for cell_range in validation.sqref.ranges:
            if cell_range.min_row == 2:
                kinds[COLUMNS[cell_range.min_col - 1].name] = validation
    assert kinds["deltagare_id"].type == "custom" and "LEN" in kinds["deltagare_id"].formula1
    assert kinds["startdatum"].type == "date" and kinds["slutdatum"].type == "date"
    assert (
        kinds["steg_start"].type,
        kinds["steg_start"].formula1,
        kinds["steg_start"].formula2,
    ) == (
        "whole",
        "1",
        "7",
    )
    # Every heading says what goes there.
    validations = data.data_validations.dataValidation
    messages = [v for v in validations if min(r.min_row for r in v.sqref.ranges) == 1]
    assert len(messages) == len(COLUMNS) and all(v.prompt for v in messages)


def _store(raw: Path, processed: Path) -> pl.DataFrame:
    result = build_store(raw, processed, TODAY)
    assert result.quarantine.height == 0 and result.rejected_files == 0
    return result.episodes.sort("deltagare_id")


def test_a_filled_template_gives_the_store_of_the_same_rows_in_canonical_csv(
    template, tmp_path: Path
):
    # Filled as a party would in Excel (openpyxl keeps the template's validations).
    book = openpyxl.load_workbook(template)
    data = book[DATA_SHEET]
    names = [c.name for c in COLUMNS]
    for i, row in enumerate(ROWS, start=2):
        for name, value in row.items():
            data.cell(row=i, column=names.index(name) + 1, value=_as_typed(value))
    assert data.data_validations.dataValidation  # still there
    filled_raw = tmp_path / "mall"
    filled_raw.mkdir()
    shutil.copy(CATALOG, filled_raw)
    book.save(filled_raw / "2025-01_mall.xlsx")

    csv_raw = tmp_path / "csv"
    csv_raw.mkdir()
    shutil.copy(CATALOG, csv_raw)
    canonical = pl.DataFrame(
        [
            {n: (None if _code(r.get(n)) is None else str(_code(r.get(n)))) for n in names}
            for r in ROWS
        ],
        schema=dict.fromkeys(names, pl.String),
    )
    canonical.write_csv(csv_raw / "2025-01_export.csv")

    from_template = _store(filled_raw, tmp_path / "p1")
    assert from_template.equals(_store(csv_raw, tmp_path / "p2"))
    assert from_template.height == 3
    quality = (tmp_path / "p1" / "datakvalitet.md").read_text(encoding="utf-8")
    assert "lästes inte" in quality  # the Koder and Instruktioner sheets, noted as skipped


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None, reason="needs LibreOffice (libreoffice-calc)")
def test_a_person_sees_every_sheet_of_the_template_printed(template, tmp_path: Path):
    import subprocess

    subprocess.run(
        ["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(template)],
        check=True,
        capture_output=True,
        timeout=180,
    )
    pdf = tmp_path / "mall.pdf"
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    pages = text.split("\f")
    # Headings on one page (one page wide), the codes with their texts, the instructions.
    assert "Deltagare-ID" in pages[0] and "Närmare arbete" in pages[0]
    assert "Ingen offentlig försörjning" in text and "Sociala företag" in text
    assert "Pseudonym" in text and "Uppdateringar" in text
