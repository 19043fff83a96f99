"""Readers, header matching and the personnummer rule of pipeline.ingest."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from pipeline.contract import CANONICAL_COLUMNS
from pipeline.ingest import (
    FileRejected,
    RawFile,
    canonical_headers,
    discover,
    load_export,
    personnummer_hits,
    read_csv_text,
)

FIXTURES = Path(__file__).parent / "fixtures"


def _raw(path: Path) -> RawFile:
    suffix = {".csv": "csv", ".xlsx": "xlsx", ".parquet": "parquet"}.get(path.suffix)
    return RawFile(path, path.name, "x", suffix)


def test_windows_1252_semicolon_with_swedish_headings():
    export = load_export(_raw(FIXTURES / "ingest" / "2024-12_kommun.csv"))
    assert export.columns == ["_rad", *CANONICAL_COLUMNS]
    assert export["deltagare_id"].to_list() == ["P001", "P002", "P003"]
    assert export["kommun"].to_list() == ["Mjölby", "Motala", "Vadstena"]
    assert export["_rad"].to_list() == [2, 3, 4]  # header is row 1, as Excel shows it
    # empty cells are missing values, not empty strings; absent optional columns are added
    assert export["slutdatum"].to_list() == [None, "2024-10-31", None]
    assert export["steg_start"].null_count() == 3


def test_utf8_bom_comma():
    export = load_export(_raw(FIXTURES / "ingest" / "2025-06_kommun.csv"))
    assert export["deltagare_id"].to_list() == ["P001", "P004"]
    assert export["kommun"].to_list() == ["Mjölby", "Motala"]


@pytest.mark.parametrize(
    ("text", "columns"),
    [
        ("a;b\n1;2\n", ["a", "b"]),
        ("a,b\n1,2\n", ["a", "b"]),
        ("a,b;c\n1,2;3\n", ["a", "b;c"]),  # a tie goes to the comma
        ("a;b;c,d\n1;2;3,4\n", ["a", "b", "c,d"]),
    ],
)
def test_separator_detection(text: str, columns: list[str]):
    table = read_csv_text(text.encode())
    assert table.columns == columns
    assert table.height == 1


def test_headers_match_case_accent_and_alias():
    df = pl.DataFrame(
        {
            "_rad": [2],
            "DELTAGARE-ID": ["a"],
            "insats": ["S"],
            "KÖN": ["K"],
            "Födelseår": ["1980"],
            "inskrivningsdatum": ["2024-01-01"],
            "extra": ["x"],
        }
    )
    out = canonical_headers(df)
    assert out.columns == ["_rad", *CANONICAL_COLUMNS]
    assert out.row(0, named=True)["fodelsear"] == "1980"


def test_missing_required_column_rejects_with_names():
    df = pl.DataFrame({"_rad": [2], "deltagare_id": ["a"], "insats_id": ["S"]})
    with pytest.raises(FileRejected, match="kon, fodelsear, startdatum"):
        canonical_headers(df)


def _xlsx(path: Path, frame: pl.DataFrame) -> Path:
    frame.write_excel(path)
    return path


def test_xlsx_date_cells_and_numbers(tmp_path: Path):
    frame = pl.DataFrame(
        {
            "Deltagare-ID": ["X1", "X2"],
            "Insats": ["SOC", "SOC"],
            "Kön": ["K", "M"],
            "Födelseår": [1980.0, 1975.0],
            "Inskrivningsdatum": [dt.date(2024, 1, 15), dt.date(2024, 2, 1)],
            "Avslutsdatum": [None, dt.date(2024, 10, 31)],
        }
    )
    export = load_export(_raw(_xlsx(tmp_path / "e.xlsx", frame)))
    assert export["startdatum"].to_list() == ["2024-01-15", "2024-02-01"]
    assert export["slutdatum"].to_list() == [None, "2024-10-31"]
    assert export["fodelsear"].to_list() == ["1980", "1975"]


def test_parquet_typed_columns(tmp_path: Path):
    frame = pl.DataFrame(
        {
            "deltagare_id": ["X1"],
            "insats_id": ["SOC"],
            "kon": ["K"],
            "fodelsear": [1980],
            "startdatum": [dt.date(2024, 1, 15)],
        }
    )
    frame.write_parquet(tmp_path / "e.parquet")
    export = load_export(_raw(tmp_path / "e.parquet"))
    assert export.row(0, named=True)["startdatum"] == "2024-01-15"
    assert export.row(0, named=True)["fodelsear"] == "1980"


@pytest.mark.parametrize(
    ("cell", "found"),
    [
        ("19811218-9876", True),  # Skatteverket's test number, with century and dash
        ("811218-9876", True),
        ("8112189876", True),
        ("text 198112189876 text", True),
        ("701063-2383", True),  # samordningsnummer: day + 60
        ("811218-9875", False),  # wrong check digit
        ("EX-000123", False),
        ("2024-01-15", False),
        ("12345678901234", False),  # longer digit runs are not a personnummer
    ],
)
def test_personnummer_detection(cell: str, found: bool):
    hits = personnummer_hits(pl.DataFrame({"_rad": [2], "any_column": [cell]}))
    assert (hits.height == 1) is found


def test_personnummer_rejects_file_and_message_is_masked():
    with pytest.raises(FileRejected) as rejected:
        load_export(_raw(FIXTURES / "felaktiga" / "personnummer.csv"))
    message = str(rejected.value)
    assert "kolumn 'kommentar', rad 2" in message
    assert "9876" not in message and "811218" not in message


def test_discover_sorted_and_skips_catalog_and_hidden(tmp_path: Path):
    for name in ["b/2025-01.csv", "a.csv", "insatser.toml", ".cache/x.parquet", "notes.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    found = discover(tmp_path)
    assert [f.relative for f in found] == ["a.csv", "b/2025-01.csv", "notes.txt"]
    assert [f.format for f in found] == ["csv", "csv", None]


def test_cells_are_trimmed_and_blank_cells_are_missing(tmp_path: Path):
    path = tmp_path / "export.csv"
    path.write_text(
        "deltagare_id;insats_id;kon;fodelsear;startdatum;kommun\n"
        "  P1 ; SOC;K ;1980; 2024-01-01 ;   \n",
        encoding="utf-8",
    )
    row = load_export(_raw(path)).row(0, named=True)
    assert (row["deltagare_id"], row["insats_id"], row["kon"]) == ("P1", "SOC", "K")
    assert row["startdatum"] == "2024-01-01"
    assert row["kommun"] is None
