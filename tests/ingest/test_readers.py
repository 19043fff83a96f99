"""The readers (pipeline.ingest.readers): encodings, line ends, fields, blank rows, workbooks."""

from __future__ import annotations

import codecs
import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from pipeline.ingest import readers


def _score(fields) -> int:
    return sum(1 for f in fields if f and f.strip().lower() in {"a", "b", "c"})


def _csv(data: bytes) -> readers.Table:
    [table] = readers.read_csv_tables(data, _score, 3)
    return table


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("a;b;c\nå;ä;ö\n".encode(), "utf-8"),
        (codecs.BOM_UTF8 + "a;b;c\nå;ä;ö\n".encode(), "utf-8 med BOM"),
        ("a;b;c\nå;ä;ö\n".encode("cp1252"), "windows-1252"),
        (codecs.BOM_UTF16_LE + "a\tb\tc\r\nå\tä\tö\r\n".encode("utf-16-le"), "utf-16"),
        ("a\tb\tc\nå\tä\tö\n".encode("utf-16-le"), "utf-16"),  # no BOM
    ],
)
def test_encodings_are_detected(data: bytes, encoding: str):
    table = _csv(data)
    assert table.encoding == encoding
    assert table.cells.select("c0", "c1", "c2").row(0) == ("å", "ä", "ö")


def test_a_line_in_windows_1252_inside_a_utf8_file_is_read_as_such():
    data = "a;b;c\nSjöstad;1;2\n".encode() + "Ekdäla;3;4\n".encode("cp1252")
    table = _csv(data)
    assert table.encoding == "utf-8 (med rader i windows-1252)"
    assert table.cells["c0"].to_list() == ["Sjöstad", "Ekdäla"]
    assert table.problems.height == 0


def test_a_byte_no_encoding_can_read_is_one_quarantined_cell():
    data = "a;b;c\nSjöstad;1;2\n".encode() + b"Norr\x81y;3;4\n"
    table = _csv(data)
    assert table.problems.select("_rad", "position", "regel_id").rows() == [(3, 0, "teckenkodning")]
    assert table.cells["c0"].to_list() == ["Sjöstad", "Norr\ufffdy"]


def test_a_stray_nul_byte_is_a_bad_character_not_a_binary_file():
    table = _csv(b"a;b;c\nx;1;2\ny\x00;3;4\n")
    assert table.problems.select("_rad", "regel_id").rows() == [(3, "teckenkodning")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\nb\n", "a\nb\n"),
        ("a\r\nb\r\n", "a\r\nb\r\n"),
        ("a\rb\rc", "a\nb\nc"),
        ("a\r\nb\rc\r\nd\n", "a\nb\nc\nd\n"),  # a lone CR ends a line too (as in Excel)
        ("a\rb\rc\r\nd", "a\nb\nc\nd"),
    ],
)
def test_line_endings(text: str, expected: str):
    assert readers.normalize_line_endings(text) == expected


def test_row_numbers_count_blank_rows_and_skip_them():
    table = _csv(b"a;b;c\n1;2;3\n\n;;\n4;5;6\n")
    assert table.cells.select("_rad", "c0").rows() == [(2, "1"), (5, "4")]
    assert table.blank_rows == 2
    assert table.problems.height == 0


def test_ragged_rows_are_reported_as_rows():
    table = _csv(b"a;b;c\n1;2;3\n4;5\n6;7;8;9\n10;11;12;\n")
    assert table.problems.select("_rad", "regel_id", "detalj").rows() == [
        (3, "faltantal", "2 fält, rubrikraden har 3"),
        (4, "faltantal", "4 fält, rubrikraden har 3"),
    ]
    # Empty fields after the last column are no data: row 5 is read.
    assert table.cells.filter(pl.col("_rad") == 5)["c2"].to_list() == ["12"]
    # A row's extra fields are kept for the personnummer scan.
    assert table.cells.filter(pl.col("_rad") == 4)[readers.EXTRA_COLUMN].to_list() == ["9"]


def test_quoted_fields_with_separators_line_breaks_and_quotes():
    table = _csv(b'a;b;c\n1;"x;y";"sa ""hej"""\n2;"rad ett\nrad tva";3\n4;5;6\n')
    assert table.cells.select("_rad", "c1", "c2").rows() == [
        (2, "x;y", 'sa "hej"'),
        (3, "rad ett\nrad tva", "3"),
        (4, "5", "6"),  # the spreadsheet's row 4: the third record
    ]
    assert table.problems.height == 0


def test_a_quote_that_never_closes_does_not_swallow_the_file():
    table = _csv(b'a;b;c\n1;"2;3\n4;5;6\n7;8;9\n')
    assert table.cells["c0"].to_list() == ["1", "4", "7"]


def test_a_quote_inside_an_unquoted_cell_is_a_character():
    table = _csv(b'a;b;c\n1;Storgatan 5" A;x\n2;y;z\n3;Storgatan 7" B;w\n4;q;X\n')
    assert table.cells.select("_rad", "c0", "c1").rows() == [
        (2, "1", 'Storgatan 5" A'),
        (3, "2", "y"),
        (4, "3", 'Storgatan 7" B'),
        (5, "4", "q"),
    ]
    assert table.problems.height == 0


def test_a_column_without_a_heading_in_every_row_is_a_column():
    table = _csv(b"a;b;c\n1;2;3;anteckning\n4;5;6;anteckning\n")
    assert table.headers == ("a", "b", "c", "")
    assert table.problems.height == 0


def test_cells_are_trimmed_and_rows_of_spaces_are_blank():
    table = _csv(b"a;b;c\n 1 ; 2;3\n   ;;\n4;5;6\n")
    assert table.cells.select("_rad", "c0", "c1").rows() == [(2, "1", "2"), (4, "4", "5")]
    assert table.blank_rows == 1


def test_a_title_above_the_heading_is_kept_aside():
    table = _csv(b"Export fran systemet\n\na;b;c\n1;2;3\n")
    assert table.header_row == 3
    assert table.preamble == ("Export fran systemet",)
    assert table.cells.select("_rad", "c0").rows() == [(4, "1")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Filen är tom"),
        (codecs.BOM_UTF8, "Filen är tom"),
        (b"PK\x03\x04rest", "XLSX- eller zip-fil"),
        (b"%PDF-1.7", "PDF-fil"),
        (bytes(range(256)) * 4, "binärfil"),
    ],
)
def test_files_that_are_not_text(data: bytes, message: str):
    with pytest.raises(readers.Unreadable, match=message):
        readers.read_csv_tables(data, _score, 3)


def test_the_fast_path_and_the_general_path_agree():
    """The same rows read by polars' reader (first) and by the general path (second, made
    to apply by a quote in an unused column)."""
    rows = [f"{i};x{i};{i * 2}" for i in range(200)]
    fast = _csv(("a;b;c\n" + "\n".join(rows) + "\n").encode())
    general = _csv(("a;b;c;d\n" + "\n".join(r + ';"q"' for r in rows) + "\n").encode())
    assert fast.cells.select("_rad", "c0", "c1", "c2").equals(
        general.cells.select("_rad", "c0", "c1", "c2")
    )


def test_every_sheet_of_a_workbook_with_its_real_row_numbers(tmp_path: Path):
    path = tmp_path / "bok.xlsx"
    book = xlsxwriter.Workbook(str(path))
    first = book.add_worksheet("Ett")
    first.write_row(2, 0, ["a", "b", "c"])  # the table starts on row 3
    first.write_row(3, 0, [1, "x", 1980.0])
    first.write_datetime(
        4, 0, dt.datetime(2024, 1, 15), book.add_format({"num_format": "yyyy-mm-dd"})
    )
    second = book.add_worksheet("Två")
    second.write(0, 0, "anteckning")
    book.add_worksheet("Tom")
    book.close()
    tables = readers.read_xlsx_tables(path, _score)
    assert [t.sheet for t in tables] == ["Ett", "Två", "Tom"]
    assert tables[0].header_row == 3
    assert tables[0].cells.select("_rad", "c0", "c2").rows() == [
        (4, "1", "1980"),
        (5, "2024-01-15 00:00:00", None),
    ]
    assert tables[1].headers == ("anteckning",)
    assert tables[2].header_row is None


def test_parquet_cells_as_text_and_nested_types_refused(tmp_path: Path):
    frame = pl.DataFrame({"a": [1980.0, 1.5], "b": [dt.date(2024, 1, 1), None]})
    frame.write_parquet(tmp_path / "x.parquet")
    [table] = readers.read_parquet_tables((tmp_path / "x.parquet").read_bytes())
    assert table.cells.select("_rad", "c0", "c1").rows() == [
        (2, "1980", "2024-01-01"),
        (3, "1.5", None),
    ]
    pl.DataFrame({"a": [[1]]}).write_parquet(tmp_path / "y.parquet")
    with pytest.raises(readers.Unreadable, match="sammansatt"):
        readers.read_parquet_tables((tmp_path / "y.parquet").read_bytes())
