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
import dataclasses
import html
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
    number: int = 1  # the sheet's place in the workbook (messages name sheets by number)
    hidden_text: tuple[str, ...] = ()  # text outside the cells (comments, metadata): scanned
    merged_cells: int = 0  # cells filled from a merged range
    skipped_columns: tuple[int, ...] = ()  # columns that cannot be text (left out)


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

    Undecodable bytes become U+FFFD (their rows are quarantined, the rest is read).

    >>> decode("Kön".encode("cp1252"))
    ('Kön', 'windows-1252')
    >>> decode("Kön\\n".encode() + "Åbacka".encode("cp1252"))
    ('Kön\\nÅbacka', 'utf-8 (med rader i windows-1252)')
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
    # A file of UTF-8 with lines in Windows-1252 (pasted from elsewhere) is read line by
    # line; one with no valid UTF-8 letters at all is Windows-1252 (Swedish Excel).
    sample = body[: max(first_bad + 4096, 1 << 16)]
    if not bom and not _UTF8_MULTIBYTE.search(sample):
        return body.decode("windows-1252", errors="replace"), "windows-1252"
    return _decode_lines(body), f"{label} (med rader i windows-1252)"


def _decode_lines(body: bytes) -> str:
    """Each line as UTF-8, or as Windows-1252 when it is not UTF-8 and has no UTF-8 letters
    (bytes neither can read become U+FFFD, and their rows are quarantined). A loop over the
    lines of the rare file that mixes the two."""
    out = []
    for line in body.split(b"\n"):
        try:
            out.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            mixed = _UTF8_MULTIBYTE.search(line) is not None
            out.append(line.decode("utf-8" if mixed else "windows-1252", errors="replace"))
    return "\n".join(out)


_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f]")


def _is_binary(data: bytes) -> str | None:
    """What a non-text file looks like (so that its message can say), else None.

    A stray NUL byte in a text file is a bad character in one row, not a binary file: only
    many control characters (beyond UTF-16, whose every other byte is NUL) make it binary.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_like_utf16(data):
        return None
    if data.startswith(b"PK\x03\x04"):
        return "en XLSX- eller zip-fil"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return "en gammal Excel-fil (.xls)"
    if data.startswith(b"PAR1"):
        return "en Parquet-fil"
    if data.startswith(b"%PDF"):
        return "en PDF-fil"
    head = data[:4096]
    controls = len(_CONTROL.findall(head))
    if controls > max(8, len(head) // 20):  # text has next to no control characters
        return "en binärfil"
    return None


def normalize_line_endings(text: str) -> str:
    """Every line end as LF: CRLF, LF and a lone CR (old Mac Excel, or a mixture) all end
    a line, as in Python's csv module and in Excel. A file of only LF or only CRLF line
    ends is returned as it is (the same object): both are read as they are.

    >>> normalize_line_endings("a\\r\\nb\\rc\\n")
    'a\\nb\\nc\\n'
    >>> normalize_line_endings("a\\r\\nb\\r\\n")
    'a\\r\\nb\\r\\n'
    """
    if "\r" not in text or text.count("\r") == text.count("\r\n"):
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


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


# A last column without a heading is a column when at least this share of rows has it.
UNNAMED_COLUMN_SHARE = 0.9
# How many lines one quoted cell may run over before its opening quote is taken for a
# stray one (a cell of comments may hold a few line breaks; a stray quote would swallow
# every row after it).
MAX_LINES_IN_A_CELL = 50


def records(text: str, sep: str) -> pl.DataFrame:
    """The records of a CSV text: `row` (as a spreadsheet numbers them), rec (the text),
    first and last line of the text file.

    A line continues on the next only when it ends inside a quoted cell: a cell that starts
    with a quote and has not closed (a quote inside an unquoted cell, `5" skärm`, is a
    character). The few lines that open such a cell are followed in a loop until it closes;
    one that does not close within MAX_LINES_IN_A_CELL lines is a line of its own.
    """
    lines = _lines(text)
    if '"' not in text:
        return lines.with_columns(row=pl.col("first"))
    s = re.escape(sep)
    opens_cell = rf'(?:^|{s})"(?:[^"]|"")*$'
    starts = lines.filter(pl.col("rec").str.contains(opens_cell))["first"].to_list()
    if not starts:
        return lines.with_columns(row=pl.col("first"))
    texts = lines["rec"].to_list()
    pattern = re.compile(opens_cell, re.S)
    group = list(range(len(texts)))
    done = -1
    for start in starts:  # a loop over the few lines that open a quoted cell
        first = start - 1
        if first <= done:
            continue
        record, last = texts[first], first
        while (
            pattern.search(record) and last + 1 < len(texts) and last - first < MAX_LINES_IN_A_CELL
        ):
            last += 1
            record += "\n" + texts[last]
        if pattern.search(record):
            continue  # it never closes: a stray quote, the line is read on its own
        for n in range(first, last + 1):
            group[n] = first
        done = last
    return (
        lines.with_columns(_record=pl.Series(group, dtype=pl.Int64))
        .group_by("_record", maintain_order=True)
        .agg(pl.col("rec").str.join("\n"), pl.col("first").min(), pl.col("last").max())
        .drop("_record")
        .with_columns(row=pl.int_range(1, pl.len() + 1, dtype=pl.Int64))
    )


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
    unreadable = f"[{REPLACEMENT}\x00]"
    suspect = split.filter(
        pl.any_horizontal(pl.col(c).str.contains(unreadable) for c in columns)
        if columns
        else pl.lit(False)
    )
    bad_bytes = (
        suspect.select(
            ROW_COLUMN,
            *(pl.col(c).str.contains(unreadable).fill_null(False) for c in columns),
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
    body = _stripped(
        frame.slice(1).select(
            pl.col(ROW_COLUMN).cast(pl.Int64),
            *columns,
            pl.lit(None, pl.String).alias(EXTRA_COLUMN),
        ),
        n,
    )
    # A blank row (nothing but separators and spaces) is all missing once trimmed.
    kept = body.filter(~pl.all_horizontal(pl.col(c).is_null() for c in columns))
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
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_like_utf16(data)
    if not utf16:
        data = data.rstrip(b"\x1a\x00")  # end-of-file marks some old programs write
    if not re.search(rb"\S", data):
        raise Unreadable("Filen är tom.")
    plain = _plain_utf8(data) if _is_binary(data) is None else None
    if plain is not None and re.search(rb"[^\s\xef\xbb\xbf]", plain[0][:4096]):
        # Valid UTF-8 (polars checks it): no decoding of the whole file. A U+FFFD written in
        # such a file is text someone wrote, not a byte this reader could not read.
        fast = _fast_table(*plain, header_score, perfect, replaced=b"\x00" in plain[0])
        if fast is not None:
            return [fast]
    text, encoding = _decoded_text(data)
    if plain is None:
        replaced = REPLACEMENT in text or "\x00" in text
        fast = _fast_table(text.encode("utf-8"), encoding, header_score, perfect, replaced)
        if fast is not None:
            return [fast]
    quoted = '"' in text
    first_lines = text.replace("\r\n", "\n").split("\n", 4 * HEADER_SEARCH_ROWS)
    rows = [(n + 1, line) for n, line in enumerate(first_lines[: 4 * HEADER_SEARCH_ROWS])]
    sep, _ = _separator_and_candidates(
        [(n, line) for n, line in rows if line.strip()][:HEADER_SEARCH_ROWS],
        quoted,
        header_score,
        perfect,
    )
    recs = records(text, sep)
    recs = recs.with_columns(blank=~pl.col("rec").str.contains(rf'[^{re.escape(sep)}"\s]'))
    head = recs.filter(~pl.col("blank")).head(HEADER_SEARCH_ROWS)
    candidates = [
        (row, _fields_of(line, sep, quoted))
        for row, line in zip(head["row"].to_list(), head["rec"].to_list(), strict=True)
    ]
    if not candidates:
        raise Unreadable("Filen innehåller inga rader med text.")
    header_row, headers = _choose_header(candidates, header_score)
    before = recs.filter((pl.col("row") < header_row) & ~pl.col("blank"))
    body = recs.filter(pl.col("row") > header_row)
    data_rows = body.filter(~pl.col("blank"))
    headers = _with_unnamed_columns(headers, data_rows, sep, quoted)
    n = len(headers)
    named = max((i + 1 for i, h in enumerate(headers) if h.strip()), default=n)
    kept = split_records(data_rows, sep, quoted, n)
    cells = _stripped(kept.select(ROW_COLUMN, *cell_columns(n), EXTRA_COLUMN), n)
    return [
        Table(
            sheet=None,
            headers=tuple(headers),
            header_row=header_row,
            cells=cells,
            problems=_problems(kept, n, named, sep),
            preamble=tuple(before["rec"].to_list()),
            blank_rows=body.height - kept.height,
            encoding=encoding,
        )
    ]


def _with_unnamed_columns(headers: list[str], rows: pl.DataFrame, sep: str, quoted: bool):
    """The heading widened by unnamed columns when nearly every row has more fields than
    it (a last column without a heading): they are columns, not ragged rows."""
    if rows.height == 0:
        return headers
    counts = split_records(rows, sep, quoted, len(headers))["count"]
    common = counts.mode().sort()[-1]
    if common > len(headers) and (counts == common).mean() >= UNNAMED_COLUMN_SHARE:
        return [*headers, *([""] * (common - len(headers)))]
    return headers


def _stripped(cells: pl.DataFrame, n: int) -> pl.DataFrame:
    """Cells trimmed of spaces; an empty cell is a missing value."""
    return cells.with_columns(
        pl.col(c).str.strip_chars().replace("", None) for c in cell_columns(n)
    )


# --- XLSX ---------------------------------------------------------------------------------------

# Elements of the workbook's XML, with or without a namespace prefix, attributes in any order.
_ELEMENT = r"<(?:[A-Za-z_][\w.-]*:)?{name}\b([^>]*?)/?>"
_SHEET = re.compile(_ELEMENT.format(name="sheet").encode())
_REL = re.compile(_ELEMENT.format(name="Relationship").encode())
_ATTRIBUTE = re.compile(rb'([\w:.-]+)\s*=\s*"([^"]*)"')
# A cell with a value: its element followed by a value or an inline string.
_VALUE_CELL = re.compile(
    rb'<(?:[A-Za-z_][\w.-]*:)?c\b[^>]*?\br="[A-Z]+([0-9]+)"[^>]*?(?<!/)>\s*'
    rb"(?:<(?:[A-Za-z_][\w.-]*:)?f\b[^>]*?(?:/>|>[^<]*</(?:[A-Za-z_][\w.-]*:)?f>)\s*)?"
    rb"<(?:[A-Za-z_][\w.-]*:)?(?:v|is)\b"
)
_MERGE = re.compile(
    rb'<(?:[A-Za-z_][\w.-]*:)?mergeCell\b[^>]*?\bref="([A-Z]+)([0-9]+):([A-Z]+)([0-9]+)"'
)
# Text a workbook holds besides its cells: formulas, headers and footers, validation lists.
_HIDDEN_TEXT = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?(f|formula1|formula2|oddHeader|oddFooter|evenHeader|evenFooter|"
    rb"firstHeader|firstFooter)\b[^>]*>([^<]*)<"
)
_TEXT_NODE = re.compile(rb">([^<]+)<")


def _attributes(raw: bytes) -> dict[str, str]:
    """An element's attributes, names without namespace prefix (`r:id` is `id`)."""
    return {
        name.decode().rsplit(":", 1)[-1]: html.unescape(value.decode("utf-8", "replace"))
        for name, value in _ATTRIBUTE.findall(raw)
    }


def _column_number(letters: bytes) -> int:
    """A, B, …, Z, AA, … as 1, 2, …"""
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


@dataclass
class SheetXml:
    """What the readers need from a sheet's XML besides its cells (calamine gives those)."""

    first_row: int = 1  # the row of its first cell with a value: calamine starts there
    first_column: int = 1
    merged: list[tuple[int, int, int, int]] = dataclasses.field(default_factory=list)
    hidden_text: list[str] = dataclasses.field(default_factory=list)


def _read_sheet_xml(sheet) -> SheetXml:
    """One pass over a sheet's XML (in blocks): first value cell, merged cells, formulas
    and header and footer texts."""
    out = SheetXml()
    found = None
    tail = b""
    while True:  # a loop over 1 MB blocks of one sheet's XML
        block = sheet.read(1 << 20)
        if not block:
            break
        chunk = tail + block
        if found is None:
            found = _VALUE_CELL.search(chunk)
            if found is not None:
                out.first_row = int(found.group(1))
        for a, r1, b, r2 in _MERGE.findall(chunk):
            merge = (int(r1), _column_number(a), int(r2), _column_number(b))
            if merge not in out.merged:
                out.merged.append(merge)
        out.hidden_text += [
            html.unescape(t.decode("utf-8", "replace")) for _, t in _HIDDEN_TEXT.findall(block)
        ]
        tail = block[-512:]
    return out


def workbook_xml(path: Path) -> tuple[dict[str, SheetXml], list[str]]:
    """Per sheet name what `_read_sheet_xml` finds, and the workbook's other text (names of
    ranges, comments, document properties): all of it is scanned for personnummer."""
    sheets: dict[str, SheetXml] = {}
    other: list[str] = []
    with zipfile.ZipFile(path) as book:
        names = book.namelist()
        workbook = book.read("xl/workbook.xml")
        rels = book.read("xl/_rels/workbook.xml.rels")
        targets = {}
        for raw in _REL.findall(rels):
            attrs = _attributes(raw)
            targets[attrs.get("Id", "")] = attrs.get("Target", "")
        for raw in _SHEET.findall(workbook):
            attrs = _attributes(raw)
            target = targets.get(attrs.get("id", ""), "").lstrip("/")
            member = target if target.startswith("xl/") else f"xl/{target}"
            if member in names:
                with book.open(member) as sheet:
                    sheets[attrs.get("name", "")] = _read_sheet_xml(sheet)
        for member in names:  # a loop over the workbook's parts
            if (
                member.startswith(("docProps/", "xl/comments", "xl/threadedComments", "xl/persons"))
                or member == "xl/workbook.xml"
            ):
                other += [
                    html.unescape(t.decode("utf-8", "replace"))
                    for t in _TEXT_NODE.findall(book.read(member))
                ]
    return sheets, other


def _fill_merged(raw: pl.DataFrame, xml: SheetXml, columns: list[str]) -> pl.DataFrame:
    """Cells of a merged range hold their top-left cell's value, as a spreadsheet shows."""
    for r1, c1, r2, c2 in xml.merged:  # a loop over the sheet's few merged ranges
        first, last = c1 - xml.first_column, c2 - xml.first_column
        if first < 0 or last >= len(columns):
            continue
        top = raw.filter(pl.col(ROW_COLUMN) == r1)
        if top.height == 0:
            continue
        value = top[columns[first]][0]
        inside = pl.col(ROW_COLUMN).is_between(r1, r2)
        raw = raw.with_columns(
            pl.when(inside).then(pl.lit(value, pl.String)).otherwise(pl.col(c)).alias(c)
            for c in columns[first : last + 1]
        )
    return raw


def _sheet_table(
    name: str, number: int, frame: pl.DataFrame, xml: SheetXml, header_score: HeaderScore
) -> Table:
    """One sheet read as text (every cell a String column) as a Table."""
    n = frame.width
    columns = cell_columns(n)
    first_row = xml.first_row
    raw = frame.rename(dict(zip(frame.columns, columns, strict=True))).with_columns(
        pl.int_range(first_row, first_row + pl.len(), dtype=pl.Int64).alias(ROW_COLUMN)
    )
    raw = _fill_merged(_stripped(raw, n), xml, columns)
    raw = raw.with_columns(
        _blank=pl.all_horizontal(pl.col(c).is_null() for c in columns) if columns else pl.lit(True)
    )
    head = raw.filter(~pl.col("_blank")).head(HEADER_SEARCH_ROWS)
    empty_problems = pl.DataFrame(schema=PROBLEM_SCHEMA)
    if head.height == 0:
        cells = raw.select(ROW_COLUMN, *columns).clear()
        return Table(
            name,
            (),
            None,
            cells.with_columns(pl.lit(None, pl.String).alias(EXTRA_COLUMN)),
            empty_problems,
            number=number,
            hidden_text=tuple(xml.hidden_text),
        )
    candidates = [
        (row[ROW_COLUMN], [row[c] or "" for c in columns]) for row in head.iter_rows(named=True)
    ]  # at most HEADER_SEARCH_ROWS rows
    header_row, headers = _choose_header(candidates, header_score)
    before = raw.filter((pl.col(ROW_COLUMN) < header_row) & ~pl.col("_blank"))
    body = raw.filter(pl.col(ROW_COLUMN) > header_row)
    kept = body.filter(~pl.col("_blank"))
    preamble = before.select(pl.concat_str(columns, separator=";", ignore_nulls=True)).to_series()
    merged = sum(
        (r2 - r1 + 1) * (c2 - c1 + 1) - 1 for r1, c1, r2, c2 in xml.merged if r2 > header_row
    )
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
        number=number,
        hidden_text=tuple(xml.hidden_text),
        merged_cells=merged,
    )


def read_xlsx_tables(path: Path, header_score: HeaderScore) -> list[Table]:
    """Every sheet of a workbook as a Table, cells as text with their real row numbers.

    The workbook's text outside the cells (formulas, comments, headers and footers, names,
    document properties) rides on the first table as `hidden_text`, to be scanned too.
    """
    import fastexcel

    try:
        xml, other = workbook_xml(path)
        book = fastexcel.read_excel(str(path))
        tables = []
        for index, name in enumerate(book.sheet_names):  # a loop over sheets
            sheet = book.load_sheet(index, header_row=None, dtypes="string")
            found = xml.get(name, SheetXml())
            absolute = [c.absolute_index for c in sheet.available_columns()]
            found.first_column = (min(absolute) + 1) if absolute else 1
            frame = sheet.to_polars()
            tables.append(_sheet_table(name, index + 1, frame, found, header_score))
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
    if tables and other:
        tables[0] = dataclasses.replace(tables[0], hidden_text=(*tables[0].hidden_text, *other))
    return tables


# --- Parquet ------------------------------------------------------------------------------------

STOCKHOLM = "Europe/Stockholm"


def as_text(df: pl.DataFrame) -> tuple[pl.DataFrame, list[int]]:
    """Typed cells (dates, numbers) as the text a CSV would hold, and the positions of
    columns that cannot be text (durations and the like: they are left out, noted).
    Nested and binary columns are refused: they could hide anything."""

    def text(name: str, dtype: pl.DataType) -> pl.Expr | None:
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            # In Swedish time when the time zone is known; a date at midnight is a date; a
            # time part is kept so that validation rejects it.
            local = col.dt.convert_time_zone(STOCKHOLM) if dtype.time_zone else col
            return (
                pl.when(local.dt.time() == pl.time(0))
                .then(local.dt.date().cast(pl.String))
                .otherwise(local.dt.replace_time_zone(None).cast(pl.String))
            )
        if dtype.is_float() or isinstance(dtype, pl.Decimal):
            # 1980.0 (or a decimal 1980.0000000000) is the integer 1980.
            number = col.cast(pl.Float64)
            return (
                pl.when(number == number.round(0))
                .then(number.cast(pl.Int64, strict=False).cast(pl.String))
                .otherwise(col.cast(pl.String))
            )
        if isinstance(dtype, pl.Duration | pl.Object):
            return None
        return col.cast(pl.String)

    nested = [i for i, dtype in enumerate(df.dtypes) if dtype.is_nested() or dtype == pl.Binary]
    if nested:
        raise Unreadable(
            f"Kolumn nr {nested[0] + 1} har en sammansatt eller binär typ som inte kan läsas som "
            "text. Exportera varje uppgift som en egen kolumn med text, tal eller datum."
        )
    exprs = {name: text(name, dtype) for name, dtype in df.schema.items()}
    skipped = [i for i, e in enumerate(exprs.values()) if e is None]
    return (
        df.select(
            (e if e is not None else pl.lit(None, pl.String)).alias(name)
            for name, e in exprs.items()
        ),
        skipped,
    )


def parquet_metadata(data: bytes) -> list[str]:
    """The texts of a Parquet file's metadata (of the file and of each column)."""
    import pyarrow.parquet as pq

    schema = pq.read_schema(io.BytesIO(data))
    texts = []
    for meta in [schema.metadata, *(f.metadata for f in schema)]:  # file, then each column
        for key, value in (meta or {}).items():
            if key == b"ARROW:schema":  # the serialized schema: its names are the headings
                continue
            texts += [key.decode("utf-8", "replace"), value.decode("utf-8", "replace")]
    return texts


def read_parquet_tables(data: bytes) -> list[Table]:
    """A Parquet export as one Table: its column names are the headings (row 1)."""
    try:
        frame = pl.read_parquet(io.BytesIO(data))
        metadata = parquet_metadata(data)
    except pl.exceptions.DuplicateError as exc:
        raise Unreadable(
            "Två kolumner i Parquet-filen har samma namn. Ge varje kolumn ett eget namn och "
            "exportera igen."
        ) from exc
    except Exception as exc:  # the reader's own errors: the file is rejected, the run goes on
        raise Unreadable(
            f"Filen kan inte läsas som Parquet ({type(exc).__name__}): den är skadad eller "
            "ofullständig. Be parten skicka den igen."
        ) from exc
    text, skipped = as_text(frame)
    n = text.width
    columns = cell_columns(n)
    cells = _stripped(
        text.rename(dict(zip(text.columns, columns, strict=True))).with_columns(
            pl.int_range(2, pl.len() + 2, dtype=pl.Int64).alias(ROW_COLUMN),
            pl.lit(None, pl.String).alias(EXTRA_COLUMN),
        ),
        n,
    )
    kept = (
        cells.filter(~pl.all_horizontal(pl.col(c).is_null() for c in columns))
        if columns
        else cells.clear()
    )
    return [
        Table(
            sheet=None,
            headers=tuple(frame.columns),
            header_row=1,
            cells=kept.select(ROW_COLUMN, *columns, EXTRA_COLUMN),
            problems=pl.DataFrame(schema=PROBLEM_SCHEMA),
            blank_rows=cells.height - kept.height,
            hidden_text=tuple(metadata),
            skipped_columns=tuple(skipped),
        )
    ]
