"""Readers: every export as tables of text cells, exactly as the party wrote them.

A reader never drops a row without saying so and never lets one bad row cost the file:

- CSV: the encoding is detected (UTF-8 with or without BOM, UTF-16 from Excel's "Unicode
  text", else Windows-1252); bytes invalid in it become U+FFFD and their rows are
  quarantined. CR, LF and CRLF line endings and their mixtures are read; a stray CR in a
  file of LF lines is whitespace. The separator (`;`, `,` or tab) is read off the heading.
  Records are split into fields by vectorized string operations (a quote-aware regular
  expression when the file has quotes), so every row's field count is known: a row with
  too few fields, or with data beyond the heading's columns, is reported as that row.
  Blank rows (nothing but separators and spaces) are skipped and counted.
- XLSX: every sheet is read, with its cells as text and its real row numbers (a sheet whose
  first rows are empty starts further down).
- Parquet: typed columns become the text a CSV would hold.

The heading row is the first of the first HEADER_SEARCH_ROWS non-blank rows that the
caller's `header_score` rates highest (a title above the table is allowed); rows above it
are kept as `preamble` so that they can be scanned for personnummer too.

Every cell is a String column named by its position (`c0`, `c1`, …), so headings that repeat
or are empty cannot collide; `_rad` is the row as a spreadsheet shows it (first row = 1).
Nothing here quotes a file's content in a message.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

ROW_COLUMN = "_rad"
EXTRA_COLUMN = "_overskott"  # fields beyond the heading's columns, joined (scanned, not used)
HEADER_SEARCH_ROWS = 20
SEPARATORS = (";", ",", "\t")
REPLACEMENT = "\ufffd"  # what an undecodable byte becomes

PROBLEM_SCHEMA = pl.Schema(
    {ROW_COLUMN: pl.Int64(), "position": pl.Int64(), "regel_id": pl.String(), "detalj": pl.String()}
)

HeaderScore = Callable[[Sequence[str | None]], int]


class Unreadable(Exception):
    """The file cannot be read at all; the message (Swedish) holds nothing from its content."""


@dataclass(frozen=True)
class Table:
    """One table of an export: a CSV or Parquet file, or one sheet of a workbook.

    `cells`: `_rad` and one String column per heading (`c0`…), plus EXTRA_COLUMN.
    `problems`: rows that could not be read as rows (PROBLEM_SCHEMA; `position` is the
    column position for a cell problem, null for a whole-row one).
    """

    sheet: str | None
    headers: tuple[str, ...]
    header_row: int | None  # None: no row was found (a sheet without a table)
    cells: pl.DataFrame
    problems: pl.DataFrame
    preamble: tuple[str, ...] = ()  # rows above the heading, as text
    blank_rows: int = 0
    encoding: str | None = None


def cell_columns(n: int) -> list[str]:
    return [f"c{i}" for i in range(n)]


# --- Encodings -------------------------------------------------------------------------------

_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def _looks_like_utf16(data: bytes) -> str | None:
    """'utf-16-le' / 'utf-16-be' for BOM-less UTF-16 text (every other byte NUL), else None."""
    head = data[:4096]
    if len(head) < 4:
        return None
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if odd > 0.4 * len(head) / 2 and even == 0:
        return "utf-16-le"
    if even > 0.4 * len(head) / 2 and odd == 0:
        return "utf-16-be"
    return None


def decode(data: bytes) -> tuple[str, str]:
    """The text of a CSV file and the name of its encoding (for the data-quality summary).

    Undecodable bytes become U+FFFD (their rows are quarantined, the rest is read). A file
    that is not valid UTF-8 is read as UTF-8 when most of its non-ASCII bytes form valid
    UTF-8 sequences (a few stray bytes), else as Windows-1252 (Swedish Excel).

    >>> decode("Kön".encode("cp1252"))
    ('Kön', 'windows-1252')
    >>> decode(b"\\xef\\xbb\\xbfK\\xc3\\xb6n")
    ('Kön', 'utf-8 med BOM')
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace"), "utf-16"
    utf16 = _looks_like_utf16(data)
    if utf16:
        return data.decode(utf16, errors="replace"), "utf-16"
    bom = data.startswith(codecs.BOM_UTF8)
    body = data[3:] if bom else data
    label = "utf-8 med BOM" if bom else "utf-8"
    try:
        return body.decode("utf-8"), label
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    # Decide on the stretch up to and around the first bad byte: a UTF-8 file with a stray
    # byte has valid multi-byte letters there; a Windows-1252 file has none.
    sample = body[: max(first_bad + 4096, 1 << 16)]
    valid = len(_UTF8_MULTIBYTE.findall(sample))
    invalid = sample.decode("utf-8", errors="replace").count(REPLACEMENT)
    if bom or (valid > 0 and valid >= invalid):
        return body.decode("utf-8", errors="replace"), f"{label} (med ogiltiga tecken)"
    return body.decode("windows-1252", errors="replace"), "windows-1252"


def _is_binary(data: bytes) -> str | None:
    """What a non-text file looks like (so that its message can say), else None."""
    if data.startswith(b"PK\x03\x04"):
        return "en XLSX- eller zip-fil"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return "en gammal Excel-fil (.xls)"
    if data.startswith(b"PAR1"):
        return "en Parquet-fil"
    if data.startswith(b"%PDF"):
        return "en PDF-fil"
    if b"\x00" in data[:4096] and not _looks_like_utf16(data):
        return "en binärfil"
    return None


def normalize_line_endings(text: str) -> str:
    """CR-only files as LF lines; in a file of LF or CRLF lines a stray CR is a space.

    A file of only LF or only CRLF line ends is returned as it is (the same object).

    >>> normalize_line_endings("a\\r\\nb\\rc\\n")
    'a\\nb c\\n'
    >>> normalize_line_endings("a\\r\\nb\\r\\n")
    'a\\r\\nb\\r\\n'
    >>> normalize_line_endings("a\\rb\\rc")
    'a\\nb\\nc'
    """
    if "\r" not in text:
        return text
    crlf = text.count("\r\n")
    if text.count("\r") == crlf:
        return text  # LF or CRLF: both are read as they are
    text = text.replace("\r\n", "\n")
    lone_cr = text.count("\r")
    if lone_cr > text.count("\n"):  # mostly CR: old Mac Excel, or mixed with a few LF
        return text.replace("\r", "\n")
    return text.replace("\r", " ")


# --- CSV ----------------------------------------------------------------------------------------


def _lines(text: str) -> pl.DataFrame:
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return (
        pl.DataFrame({"rec": lines}, schema={"rec": pl.String})
        .with_columns(first=pl.int_range(1, pl.len() + 1, dtype=pl.Int64))
        .with_columns(last=pl.col("first"))
    )


def records(text: str) -> pl.DataFrame:
    """The records of a CSV text: `row` (as a spreadsheet numbers them), rec (the text),
    first and last line of the text file.

    Lines are joined while a quoted field is open (an odd number of quotes so far), so a
    cell with a line break is one record, as a spreadsheet shows it. When the file ends
    inside a quote, one stray quote would swallow every row after it, so the lines are then
    read one by one.
    """
    lines = _lines(text)
    quotes = lines.select(pl.col("rec").str.count_matches('"')).to_series()
    if '"' in text and int(quotes.sum()) % 2 == 0:
        open_before = ((quotes.cum_sum() - quotes) % 2).cast(pl.Boolean)
        lines = (
            lines.with_columns(_record=(~open_before).cum_sum())
            .group_by("_record", maintain_order=True)
            .agg(pl.col("rec").str.join("\n"), pl.col("first").min(), pl.col("last").max())
            .drop("_record")
        )
    return lines.with_columns(row=pl.int_range(1, pl.len() + 1, dtype=pl.Int64))


def _field_pattern(sep: str) -> str:
    s = re.escape(sep)
    return rf'{s}(?:"(?:[^"]|"")*"[^{s}]*|[^{s}]*)'


def _unquote(field: pl.Expr) -> pl.Expr:
    inner = field.str.extract(r'^"((?:[^"]|"")*)"', 1)
    rest = field.str.extract(r'^"(?:[^"]|"")*"(.*)$', 1)
    return (
        pl.when(field.str.starts_with('"') & inner.is_not_null())
        .then(inner.str.replace_all('""', '"', literal=True) + rest)
        .otherwise(field)
    )


def _fields_of(line: str, sep: str, quoted: bool) -> list[str]:
    """One record's fields (for the few candidate heading rows)."""
    if not quoted:
        return line.split(sep)
    return next(csv.reader(io.StringIO(line), delimiter=sep), [""])


def split_records(recs: pl.DataFrame, sep: str, quoted: bool, n: int) -> pl.DataFrame:
    """Records as cells: _rad, c0..c{n-1}, EXTRA_COLUMN (the rest), `count` of fields.

    Without quotes a record is split at every separator (one vectorized splitn); with quotes
    a regular expression takes each field whole, quoted or not (doubled quotes undone).
    """
    columns = cell_columns(n)
    if not quoted:
        parts = pl.col("rec").str.splitn(sep, n + 1)
        fields = [parts.struct.field(f"field_{i}").alias(c) for i, c in enumerate(columns)]
        extra = parts.struct.field(f"field_{n}")
        count = pl.col("rec").str.count_matches(sep, literal=True) + 1
        return recs.select(
            pl.col("row").alias(ROW_COLUMN),
            *fields,
            extra.alias(EXTRA_COLUMN),
            count.cast(pl.Int64).alias("count"),
            "first",
            "last",
        )
    listed = recs.with_columns(
        _f=(pl.lit(sep) + pl.col("rec"))
        .str.extract_all(_field_pattern(sep))
        .list.eval(_unquote(pl.element().str.slice(1)))
    )
    return listed.select(
        pl.col("row").alias(ROW_COLUMN),
        *(pl.col("_f").list.get(i, null_on_oob=True).alias(c) for i, c in enumerate(columns)),
        pl.col("_f").list.slice(n).list.join(sep).alias(EXTRA_COLUMN),
        pl.col("_f").list.len().cast(pl.Int64).alias("count"),
        "first",
        "last",
    )


def _separator_and_candidates(
    rows: list[tuple[int, str]], quoted: bool, header_score: HeaderScore, perfect: int
) -> tuple[str, list[tuple[int, list[str]]]]:
    """The separator under which some early row (row number, text) reads best as a heading
    (then the one most frequent in the first row), and the candidate heading rows (row
    number, fields)."""
    if not rows:
        raise Unreadable("Filen innehåller inga rader med text.")
    first = rows[0][1]
    best: tuple[tuple[int, int], str, list[tuple[int, list[str]]]] | None = None
    for sep in SEPARATORS:  # a loop over three separators and at most 20 rows
        first_fields = _fields_of(first, sep, quoted)
        if header_score(first_fields) >= perfect:  # the usual export: its first row is it
            return sep, [(rows[0][0], first_fields)]
        candidates = [(row, _fields_of(line, sep, quoted)) for row, line in rows]
        rank = (max(header_score(fields) for _, fields in candidates), first.count(sep))
        if best is None or rank > best[0]:
            best = (rank, sep, candidates)
    assert best is not None
    _, sep, candidates = best
    return sep, candidates


def _choose_header(
    candidates: list[tuple[int, list[str]]], header_score: HeaderScore
) -> tuple[int, list[str]]:
    """The first of the best-scored candidate rows (row number, fields)."""
    best = max(range(len(candidates)), key=lambda i: (header_score(candidates[i][1]), -i))
    return candidates[best]


def _problems(split: pl.DataFrame, n: int, named: int, sep: str) -> pl.DataFrame:
    """Rows with too few fields or data beyond the heading's columns, and undecodable bytes."""
    extra_data = (
        pl.col(EXTRA_COLUMN).str.replace_all(rf"[{re.escape(sep)}\s]", "").fill_null("") != ""
    )
    span = (
        pl.when(pl.col("last") > pl.col("first"))
        .then(pl.format(" (textraderna {}–{}: ett citattecken stängs inte)", "first", "last"))
        .otherwise(pl.lit(""))
    )
    ragged = split.filter((pl.col("count") < named) | extra_data).select(
        ROW_COLUMN,
        position=pl.lit(None, pl.Int64),
        regel_id=pl.lit("faltantal"),
        detalj=pl.format("{} fält, rubrikraden har {}", "count", pl.lit(named)) + span,
    )
    columns = cell_columns(n)
    suspect = split.filter(
        pl.any_horizontal(pl.col(c).str.contains(REPLACEMENT, literal=True) for c in columns)
        if columns
        else pl.lit(False)
    )
    bad_bytes = (
        suspect.select(
            ROW_COLUMN,
            *(pl.col(c).str.contains(REPLACEMENT, literal=True).fill_null(False) for c in columns),
        )
        .unpivot(index=ROW_COLUMN, variable_name="column", value_name="bad")
        .filter("bad")
        .select(
            ROW_COLUMN,
            position=pl.col("column").str.slice(1).cast(pl.Int64),
            regel_id=pl.lit("teckenkodning"),
            detalj=pl.lit("tecken som inte går att läsa i filens teckenkodning"),
        )
        .sort(ROW_COLUMN, "position")
    )
    return pl.concat([ragged.cast(PROBLEM_SCHEMA), bad_bytes.cast(PROBLEM_SCHEMA)])


def _decoded_text(data: bytes) -> tuple[str, str]:
    """The text of a CSV file (LF or CRLF line ends) and its encoding; Unreadable if the
    file is not text."""
    binary = _is_binary(data)
    if binary:
        raise Unreadable(
            f"Filen är inte en textfil utan ser ut att vara {binary}. Spara exporten som CSV "
            "(UTF-8) eller XLSX med rätt filändelse."
        )
    decoded, encoding = decode(data)
    if not decoded.strip("\ufeff \t\r\n"):
        raise Unreadable("Filen är tom.")
    return normalize_line_endings(decoded), encoding


def blank_rows(frame: pl.DataFrame, columns: list[str]) -> pl.Series:
    """True for rows with nothing but empty cells and spaces (skipped and counted).

    Cheap for millions of rows: only rows whose cells hold few bytes in all are stripped.
    """
    if not columns:
        return pl.Series([True] * frame.height, dtype=pl.Boolean)
    total = frame.select(
        pl.sum_horizontal(pl.col(c).str.len_bytes().fill_null(0) for c in columns)
    ).to_series()
    small = total <= 4 * len(columns)
    if not small.any():
        return small
    blank = small.clone()
    few = frame.filter(small)
    exact = few.select(
        pl.all_horizontal(pl.col(c).str.strip_chars().fill_null("") == "" for c in columns)
    ).to_series()
    return blank.scatter(small.arg_true(), exact)


def _fast_table(
    raw: bytes,
    encoding: str,
    header_score: HeaderScore,
    perfect: int,
    replaced: bool,
) -> Table | None:
    """The common export read by polars' own CSV reader, or None for the general path.

    `raw` is the file as UTF-8 without BOM (polars refuses invalid UTF-8: general path);
    `replaced` says whether decoding it put U+FFFD for bytes it could not read. Applies
    when the file has no quotes, its line ends are LF or CRLF, its heading is its first row
    and every row has exactly the heading's number of fields: polars raises on a row with
    more fields, and any row with fewer makes the file's separator count fall short of
    (fields − 1) × rows.
    """
    if b'"' in raw:
        return None
    head = raw[: 1 << 16].decode("utf-8", errors="replace")
    head_lines = [line.rstrip("\r") for line in head.split("\n")[:HEADER_SEARCH_ROWS]]
    rows = [(i + 1, line) for i, line in enumerate(head_lines) if line.strip()]
    if not rows or rows[0][0] != 1:
        return None
    sep, candidates = _separator_and_candidates(rows, False, header_score, perfect)
    header_row, headers = _choose_header(candidates, header_score)
    n = len(headers)
    if header_row != 1 or n < 2:
        return None
    columns = cell_columns(n)
    try:
        frame = pl.read_csv(
            io.BytesIO(raw),
            has_header=False,
            separator=sep,
            quote_char=None,
            infer_schema=False,
            schema=dict.fromkeys(columns, pl.String),
            row_index_name=ROW_COLUMN,
            row_index_offset=1,
        )
    except pl.exceptions.PolarsError:
        return None
    # Line ends: LF or CRLF, every line ending in CR or none (a count is memchr-fast). A
    # stray CR would stay inside its cell, where trimming or validation meets it.
    cr = raw.count(b"\r")
    if cr not in (0, frame.height, frame.height - 1):
        return None
    if raw.count(sep.encode()) != (n - 1) * frame.height:
        return None
    body = frame.slice(1).select(
        pl.col(ROW_COLUMN).cast(pl.Int64),
        *columns,
        pl.lit(None, pl.String).alias(EXTRA_COLUMN),
    )
    # A blank row (nothing but separators and spaces) has an empty or short first cell:
    # only such rows are looked at closer (the first cell is usually the id).
    short_first = body.filter(pl.col("c0").is_null() | (pl.col("c0").str.len_bytes() <= 2))
    kept = body
    if short_first.height:
        blank = short_first.filter(blank_rows(short_first, columns)).select(ROW_COLUMN)
        if blank.height:
            kept = body.join(blank, on=ROW_COLUMN, how="anti", maintain_order="left")
    problems = (
        _problems(
            kept.with_columns(
                count=pl.lit(n, pl.Int64), first=pl.col(ROW_COLUMN), last=pl.col(ROW_COLUMN)
            ),
            n,
            n,
            sep,
        )
        if replaced
        else pl.DataFrame(schema=PROBLEM_SCHEMA)
    )
    return Table(
        sheet=None,
        headers=tuple(headers),
        header_row=1,
        cells=kept,
        problems=problems,
        blank_rows=body.height - kept.height,
        encoding=encoding,
    )


def _plain_utf8(data: bytes) -> tuple[bytes, str] | None:
    """(the bytes without BOM, the encoding's name) when the file may be read as UTF-8 as
    it is; None when it is UTF-16, binary or not UTF-8 at its start."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_like_utf16(data):
        return None
    bom = data.startswith(codecs.BOM_UTF8)
    body = data[3:] if bom else data
    try:
        body[: 1 << 16].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < (1 << 16) - 4:  # not merely a character cut at the sample's end
            return None
    return body, "utf-8 med BOM" if bom else "utf-8"


def read_csv_tables(data: bytes, header_score: HeaderScore, perfect: int) -> list[Table]:
    """A CSV export as one Table (see the module docstring)."""
    if not re.search(rb"\S", data):
        raise Unreadable("Filen är tom.")
    plain = _plain_utf8(data) if _is_binary(data) is None else None
    if plain is not None and re.search(rb"[^\s\xef\xbb\xbf]", plain[0][:4096]):
        # Valid UTF-8 (polars checks it): no decoding of the whole file. A U+FFFD written in
        # such a file is text someone wrote, not a byte this reader could not read.
        fast = _fast_table(*plain, header_score, perfect, replaced=False)
        if fast is not None:
            return [fast]
    text, encoding = _decoded_text(data)
    if plain is None:
        replaced = REPLACEMENT in text
        fast = _fast_table(text.encode("utf-8"), encoding, header_score, perfect, replaced)
        if fast is not None:
            return [fast]
    quoted = '"' in text
    recs = records(text)
    head = recs.filter(pl.col("rec").str.strip_chars() != "").head(HEADER_SEARCH_ROWS)
    rows = list(zip(head["row"].to_list(), head["rec"].to_list(), strict=True))
    sep, candidates = _separator_and_candidates(rows, quoted, header_score, perfect)
    recs = recs.with_columns(blank=~pl.col("rec").str.contains(rf'[^{re.escape(sep)}"\s]'))
    header_row, headers = _choose_header(candidates, header_score)
    n = len(headers)
    named = max((i + 1 for i, h in enumerate(headers) if h.strip()), default=n)
    before = recs.filter((pl.col("row") < header_row) & ~pl.col("blank"))
    body = recs.filter(pl.col("row") > header_row)
    kept = split_records(body.filter(~pl.col("blank")), sep, quoted, n)
    return [
        Table(
            sheet=None,
            headers=tuple(headers),
            header_row=header_row,
            cells=kept.select(ROW_COLUMN, *cell_columns(n), EXTRA_COLUMN),
            problems=_problems(kept, n, named, sep),
            preamble=tuple(before["rec"].to_list()),
            blank_rows=body.height - kept.height,
            encoding=encoding,
        )
    ]


# --- XLSX ---------------------------------------------------------------------------------------

_SHEET = re.compile(rb'<sheet\b[^>]*?\bname="([^"]*)"[^>]*?\br:id="([^"]*)"')
_REL = re.compile(rb'<Relationship\b[^>]*?\bId="([^"]*)"[^>]*?\bTarget="([^"]*)"')
_REL_REVERSED = re.compile(rb'<Relationship\b[^>]*?\bTarget="([^"]*)"[^>]*?\bId="([^"]*)"')
_FIRST_VALUE_CELL = re.compile(rb'<c\b[^>]*?\br="[A-Z]+([0-9]+)"[^>]*?(?<!/)>')


def _xml_unescape(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    for entity, char in (
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", '"'),
        ("&apos;", "'"),
        ("&amp;", "&"),
    ):
        text = text.replace(entity, char)
    return text


def first_rows(path: Path) -> dict[str, int]:
    """Sheet name → the row number of its first cell with a value (calamine starts there).

    Read from the sheet XML's first cell element that is not empty (`<c …/>` is formatting
    only); a sheet without such a cell is absent.
    """
    out: dict[str, int] = {}
    with zipfile.ZipFile(path) as book:
        workbook = book.read("xl/workbook.xml")
        rels = book.read("xl/_rels/workbook.xml.rels")
        targets = {rid: target for rid, target in _REL.findall(rels)}
        targets |= {rid: target for target, rid in _REL_REVERSED.findall(rels)}
        for raw_name, rid in _SHEET.findall(workbook):
            target = targets.get(rid, b"").decode("utf-8", errors="replace").lstrip("/")
            member = target if target.startswith("xl/") else f"xl/{target}"
            try:
                with book.open(member) as sheet:
                    found = None
                    tail = b""
                    while found is None:  # a loop over 1 MB blocks of one sheet's XML
                        block = sheet.read(1 << 20)
                        if not block:
                            break
                        found = _FIRST_VALUE_CELL.search(tail + block)
                        tail = block[-256:]
            except KeyError:
                continue
            if found is not None:
                out[_xml_unescape(raw_name)] = int(found.group(1))
    return out


def _sheet_table(
    name: str, frame: pl.DataFrame, first_row: int, header_score: HeaderScore
) -> Table:
    """One sheet read as text (every cell a String column) as a Table."""
    n = frame.width
    raw = frame.rename(dict(zip(frame.columns, cell_columns(n), strict=True))).with_columns(
        pl.int_range(first_row, first_row + pl.len(), dtype=pl.Int64).alias(ROW_COLUMN)
    )
    columns = cell_columns(n)
    raw = raw.with_columns(_blank=blank_rows(raw, columns))
    head = raw.filter(~pl.col("_blank")).head(HEADER_SEARCH_ROWS)
    empty_problems = pl.DataFrame(schema=PROBLEM_SCHEMA)
    if head.height == 0:
        return Table(
            name,
            (),
            None,
            raw.select(ROW_COLUMN, *columns)
            .clear()
            .with_columns(pl.lit(None, pl.String).alias(EXTRA_COLUMN)),
            empty_problems,
        )
    candidates = [
        (row[ROW_COLUMN], [row[c] or "" for c in columns]) for row in head.iter_rows(named=True)
    ]  # at most HEADER_SEARCH_ROWS rows
    header_row, headers = _choose_header(candidates, header_score)
    before = raw.filter((pl.col(ROW_COLUMN) < header_row) & ~pl.col("_blank"))
    body = raw.filter(pl.col(ROW_COLUMN) > header_row)
    kept = body.filter(~pl.col("_blank"))
    preamble = before.select(pl.concat_str(columns, separator=";", ignore_nulls=True)).to_series()
    return Table(
        sheet=name,
        headers=tuple(headers),
        header_row=header_row,
        cells=kept.select(ROW_COLUMN, *columns).with_columns(
            pl.lit(None, pl.String).alias(EXTRA_COLUMN)
        ),
        problems=empty_problems,
        preamble=tuple(preamble.to_list()),
        blank_rows=body.height - kept.height,
    )


def read_xlsx_tables(path: Path, header_score: HeaderScore) -> list[Table]:
    """Every sheet of a workbook as a Table, cells as text with their real row numbers."""
    import fastexcel

    try:
        starts = first_rows(path)
        book = fastexcel.read_excel(str(path))
        tables = []
        for index, name in enumerate(book.sheet_names):  # a loop over sheets
            sheet = book.load_sheet(index, header_row=None, dtypes="string")
            frame = sheet.to_polars()
            tables.append(_sheet_table(name, frame, starts.get(name, 1), header_score))
    except (zipfile.BadZipFile, KeyError) as exc:
        raise Unreadable(
            "Filen kan inte läsas som XLSX (den är skadad eller inte en Excel-arbetsbok). "
            "Öppna den i Excel och spara den igen som Excel-arbetsbok (.xlsx)."
        ) from exc
    except Exception as exc:  # the reader's own errors: the file is rejected, the run goes on
        raise Unreadable(
            f"Filen kan inte läsas som XLSX ({type(exc).__name__}). Öppna den i Excel och spara "
            "den igen som Excel-arbetsbok (.xlsx)."
        ) from exc
    return tables


# --- Parquet ------------------------------------------------------------------------------------


def as_text(df: pl.DataFrame) -> pl.DataFrame:
    """Typed cells (dates, numbers) as the text a CSV would hold; nested types are refused."""

    def text(name: str, dtype: pl.DataType) -> pl.Expr:
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            # A date at midnight is a date; a time part is kept so that validation rejects it.
            return (
                pl.when(col.dt.time() == pl.time(0))
                .then(col.dt.date().cast(pl.String))
                .otherwise(col.cast(pl.String))
            )
        if dtype.is_float():
            # 1980.0 is the integer 1980.
            return (
                pl.when(col == col.round(0))
                .then(col.cast(pl.Int64, strict=False).cast(pl.String))
                .otherwise(col.cast(pl.String))
            )
        return col.cast(pl.String)

    nested = [i for i, dtype in enumerate(df.dtypes) if dtype.is_nested() or dtype == pl.Binary]
    if nested:
        raise Unreadable(
            f"Kolumn nr {nested[0] + 1} har en sammansatt eller binär typ som inte kan läsas som "
            "text. Exportera varje uppgift som en egen kolumn med text, tal eller datum."
        )
    return df.select(text(name, dtype).alias(name) for name, dtype in df.schema.items())


def read_parquet_tables(data: bytes) -> list[Table]:
    """A Parquet export as one Table: its column names are the headings (row 1)."""
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception as exc:  # the reader's own errors: the file is rejected, the run goes on
        raise Unreadable(
            f"Filen kan inte läsas som Parquet ({type(exc).__name__}): den är skadad eller "
            "ofullständig. Be parten skicka den igen."
        ) from exc
    text = as_text(frame)
    n = text.width
    cells = text.rename(dict(zip(text.columns, cell_columns(n), strict=True))).with_columns(
        pl.int_range(2, pl.len() + 2, dtype=pl.Int64).alias(ROW_COLUMN),
        pl.lit(None, pl.String).alias(EXTRA_COLUMN),
    )
    columns = cell_columns(n)
    kept = cells.filter(~blank_rows(cells, columns))
    return [
        Table(
            sheet=None,
            headers=tuple(frame.columns),
            header_row=1,
            cells=kept.select(ROW_COLUMN, *columns, EXTRA_COLUMN),
            problems=pl.DataFrame(schema=PROBLEM_SCHEMA),
            blank_rows=cells.height - kept.height,
        )
    ]
