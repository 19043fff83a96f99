"""Readers, header matching and the personnummer rule of pipeline.ingest."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from pipeline.core.contract import CANONICAL_COLUMNS
from pipeline.ingest import FileRejected, RawFile, discover, load_export
from pipeline.ingest.headings import column_mapping, missing_columns_message
from pipeline.ingest.readers import Table, read_csv_tables

FIXTURES = Path(__file__).parents[1] / "fixtures"


def _raw(path: Path) -> RawFile:
    suffix = {".csv": "csv", ".xlsx": "xlsx", ".parquet": "parquet"}.get(path.suffix)
    return RawFile(path, path.name, "x", suffix)


def _text(path: Path) -> pl.DataFrame:
    """The canonical text of a one-table export."""
    [sheet] = load_export(_raw(path)).sheets
    return sheet.text


def _table(headers: list[str]) -> Table:
    cells = pl.DataFrame({"_rad": [2]}, schema={"_rad": pl.Int64})
    return Table(None, tuple(headers), 1, cells, pl.DataFrame())


def test_windows_1252_semicolon_with_swedish_headings():
    export = _text(FIXTURES / "ingest" / "2024-12_kommun.csv")
    assert export.columns == ["_rad", *CANONICAL_COLUMNS]
    assert export["deltagare_id"].to_list() == ["P001", "P002", "P003"]
    assert export["kommun"].to_list() == ["Mjölby", "Motala", "Vadstena"]
    assert export["_rad"].to_list() == [2, 3, 4]  # header is row 1, as Excel shows it
    # empty cells are missing values, not empty strings; absent optional columns are added
    assert export["slutdatum"].to_list() == [None, "2024-10-31", None]
    assert export["steg_start"].null_count() == 3


def test_utf8_bom_comma():
    export = _text(FIXTURES / "ingest" / "2025-06_kommun.csv")
    assert export["deltagare_id"].to_list() == ["P001", "P004"]
    assert export["kommun"].to_list() == ["Mjölby", "Motala"]


@pytest.mark.parametrize(
    ("text", "headers"),
    [
        ("a;b\n1;2\n", ("a", "b")),
        ("a,b\n1,2\n", ("a", "b")),
        ("a,b;c\n1,2;3\n", ("a,b", "c")),  # a tie goes to the semicolon
        ("a;b;c,d\n1;2;3,4\n", ("a", "b", "c,d")),
        ("a\tb\tc\n1\t2\t3\n", ("a", "b", "c")),
    ],
)
def test_separator_detection(text: str, headers: tuple[str, ...]):
    [table] = read_csv_tables(text.encode(), lambda _fields: 0, 5)
    assert table.headers == headers
    assert table.cells.height == 1


def test_headers_match_case_accent_and_alias():
    headers = ["DELTAGARE-ID", "insats", "KÖN", "Födelseår", "inskrivningsdatum", "extra"]
    mapping = column_mapping(_table(headers))
    assert mapping == {
        0: "deltagare_id",
        1: "insats_id",
        2: "kon",
        3: "fodelsear",
        4: "startdatum",
    }


def test_missing_required_column_is_named_with_its_swedish_heading():
    table = _table(["deltagare_id", "insats_id", "Födelsär"])
    message = missing_columns_message(table, column_mapping(table))
    assert "kon (Kön), fodelsear (Födelseår), startdatum (Inskrivningsdatum)" in message
    assert "'Födelsär' (liknar 'Födelseår')" in message


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
    export = _text(_xlsx(tmp_path / "e.xlsx", frame))
    # date cells are read as text with a midnight time, which validation reads as a date
    assert export["startdatum"].str.slice(0, 10).to_list() == ["2024-01-15", "2024-02-01"]
    assert export["slutdatum"].str.slice(0, 10).to_list() == [None, "2024-10-31"]
    assert export["fodelsear"].to_list() == ["1980", "1975"]
    assert export["_rad"].to_list() == [2, 3]


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
    export = _text(tmp_path / "e.parquet")
    assert export.row(0, named=True)["startdatum"] == "2024-01-15"
    assert export.row(0, named=True)["fodelsear"] == "1980"


def test_personnummer_rejects_file_and_message_is_masked():
    with pytest.raises(FileRejected) as rejected:
        load_export(_raw(FIXTURES / "felaktiga" / "personnummer.csv"))
    message = str(rejected.value)
    assert "'kommentar', rad 2" in message
    assert "9876" not in message and "811218" not in message


def test_discover_sorted_and_skips_catalog_and_hidden(tmp_path: Path):
    names = ["b/2025-01.csv", "a.csv", "insatser.toml", ".cache/x.parquet", "notes.doc", "u.txt"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    found = discover(tmp_path)
    assert [f.relative for f in found] == ["a.csv", "b/2025-01.csv", "notes.doc", "u.txt"]
    # .txt is what Excel's "Unicode text" writes: read as text (tab or other separator)
    assert [f.format for f in found] == ["csv", "csv", None, "csv"]


def test_a_personnummer_in_a_file_name_is_masked_and_the_file_is_not_read(tmp_path: Path):
    (tmp_path / "850312-1234.csv").write_text("deltagare_id\nP1\n")
    [found] = discover(tmp_path)
    assert found.relative == f"XXXXXX-XXXX.csv [{found.sha256[:8]}]"
    assert found.name_has_personnummer
    with pytest.raises(FileRejected, match="namn innehåller ett personnummer"):
        load_export(found)


def test_cells_are_trimmed_and_blank_cells_are_missing(tmp_path: Path):
    path = tmp_path / "export.csv"
    path.write_text(
        "deltagare_id;insats_id;kon;fodelsear;startdatum;kommun\n"
        "  P1 ; SOC;K ;1980; 2024-01-01 ;   \n",
        encoding="utf-8",
    )
    row = _text(path).row(0, named=True)
    assert (row["deltagare_id"], row["insats_id"], row["kon"]) == ("P1", "SOC", "K")
    assert row["startdatum"] == "2024-01-01"
    assert row["kommun"] is None


def test_a_file_name_that_is_not_utf8_is_rejected_and_the_run_goes_on(tmp_path: Path):
    import os

    with open(os.path.join(os.fsencode(tmp_path), b"Mj\xf6lby.csv"), "wb") as fh:
        fh.write(b"deltagare_id\nP1\n")
    [found] = discover(tmp_path)
    assert found.unreadable_name and "\ufffd" in found.relative
    with pytest.raises(FileRejected, match="inte kan läsas som text"):
        load_export(found)
