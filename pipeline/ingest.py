"""Ingest: find the raw exports and read each into a frame of text columns with canonical names.

Reading is deliberately separate from validation: every value is kept as the text the party
sent, so a rejected value can be shown exactly as it was (contract section 1). Types are cast
in `pipeline.validate`.

A file is rejected as a whole (`FileRejected`) when it cannot be parsed, when its headers
do not give the required columns, or when any cell holds a personnummer or samordningsnummer.
"""

from __future__ import annotations

import hashlib
import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from fastexcel import FastExcelError

from pipeline.config import CATALOG_FILE, EXAMPLE_MARKER
from pipeline.contract import CANONICAL_COLUMNS, HEADER_ALIASES, REQUIRED_COLUMNS, normalize_header

DATA_SUFFIXES = {".csv": "csv", ".xlsx": "xlsx", ".parquet": "parquet"}
# Files in the raw folder that are not participant exports.
NOT_EXPORTS = {CATALOG_FILE, EXAMPLE_MARKER}

# What a reader raises for a file it cannot parse (a bug of ours is not caught here).
PARSE_ERRORS = (pl.exceptions.PolarsError, FastExcelError, OSError, ValueError, UnicodeError)

ROW_COLUMN = "_rad"  # row number as a person sees it in the file (header = row 1)

# Personnummer (YYMMDD-NNNN, YYYYMMDDNNNN, with or without - or +) and samordningsnummer
# (day + 60). Candidates are confirmed by the Luhn check digit before a file is rejected, so
# that ordinary numbers are not mistaken for one.
_PNR_CANDIDATE = (
    r"(?:^|[^0-9])"
    r"((?:19|20)?[0-9]{2}(?:0[1-9]|1[0-2])(?:[0-3][0-9]|[6-9][0-9])[-+]?[0-9]{4})"
    r"(?:[^0-9]|$)"
)
# Cheap first filter: ten digits, possibly split by - or + (a superset of the candidates).
_PNR_LOOSE = r"[0-9]{6}[-+]?[0-9]{4}"
PERSONNUMMER_MASK = "ÅÅMMDD-XXXX (maskerat)"


class FileRejected(Exception):
    """A whole file is rejected; the message is Swedish and never holds a personnummer."""

    def __init__(self, message: str, hits: pl.DataFrame | None = None) -> None:
        super().__init__(message)
        self.hits = hits  # rows/columns of personnummer hits: (_rad, kolumn), no values


@dataclass(frozen=True)
class RawFile:
    """An export in the raw folder: its path relative to the raw folder and its content hash."""

    path: Path
    relative: str
    sha256: str
    format: str | None  # csv, xlsx, parquet, or None for an unknown kind of file


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def discover(raw: Path) -> list[RawFile]:
    """Every export under `raw`, in sorted path order (the order in which later files win)."""
    exports = sorted(
        (path.relative_to(raw).as_posix(), path)
        for path in raw.rglob("*")
        if path.is_file()
        and path.relative_to(raw).as_posix() not in NOT_EXPORTS
        and not any(part.startswith((".", "~$")) for part in path.relative_to(raw).parts)
    )
    # Hashing is most of the time here; hashlib releases the GIL, so files hash in parallel.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        hashes = list(pool.map(file_sha256, [path for _, path in exports]))
    return [
        RawFile(path, relative, sha, DATA_SUFFIXES.get(path.suffix.lower()))
        for (relative, path), sha in zip(exports, hashes, strict=True)
    ]


# --- Readers: every reader returns all columns as text ---------------------------------------


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252 as Swedish Excel writes it."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("windows-1252")


def _detect_separator(text: str) -> str:
    header = text.split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


def _utf8_bytes(data: bytes) -> bytes:
    """The file as UTF-8 without BOM, decoded as `_decode` does.

    Valid UTF-8 (most exports) is passed on as it is: only checked, never re-encoded.
    """
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return _decode(data).encode("utf-8")
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def read_csv_text(data: bytes) -> pl.DataFrame:
    utf8 = _utf8_bytes(data)
    end = utf8.find(b"\n")
    header = (utf8 if end < 0 else utf8[:end]).decode("utf-8")
    return pl.read_csv(
        io.BytesIO(utf8),
        separator=_detect_separator(header),
        infer_schema=False,
    )


def _as_text(df: pl.DataFrame) -> pl.DataFrame:
    """Typed cells (Excel dates, numbers, Parquet types) as the text a CSV would hold."""

    def text(name: str, dtype: pl.DataType) -> pl.Expr:
        col = pl.col(name)
        if dtype == pl.Datetime or isinstance(dtype, pl.Datetime):
            # An Excel date cell arrives as a datetime at midnight; a time part is kept so
            # that validation can reject it rather than silently dropping it.
            return (
                pl.when(col.dt.time() == pl.time(0))
                .then(col.dt.date().cast(pl.String))
                .otherwise(col.cast(pl.String))
            )
        if dtype.is_float():
            # 1980.0 from a spreadsheet is the integer 1980.
            return (
                pl.when(col == col.round(0))
                .then(col.cast(pl.Int64, strict=False).cast(pl.String))
                .otherwise(col.cast(pl.String))
            )
        return col.cast(pl.String)

    return df.select(text(name, dtype).alias(name) for name, dtype in df.schema.items())


def read_xlsx(path: Path) -> pl.DataFrame:
    # The first sheet is the export; columns are read with their cell types and turned into text.
    return _as_text(pl.read_excel(path, engine="calamine", infer_schema_length=None))


def read_parquet(path: Path) -> pl.DataFrame:
    return _as_text(pl.read_parquet(path))


def read_table(file: RawFile) -> pl.DataFrame:
    """Read one export as text columns with its own headers; FileRejected when unreadable."""
    if file.format is None:
        raise FileRejected(
            f"Okänt filformat '{file.path.suffix or 'utan filändelse'}': spara exporten som "
            "CSV, XLSX eller Parquet."
        )
    try:
        if file.format == "csv":
            return read_csv_text(file.path.read_bytes())
        if file.format == "xlsx":
            return read_xlsx(file.path)
        return read_parquet(file.path)
    except PARSE_ERRORS as exc:  # a parser failure rejects the file, the run goes on
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise FileRejected(f"Filen kan inte läsas som {file.format.upper()}: {reason}") from exc


# --- Privacy: personnummer anywhere in the file rejects it -----------------------------------


def _luhn_valid(ten_digits: pl.Expr) -> pl.Expr:
    """Luhn check of a 10-digit string expression (YYMMDDNNNC), vectorized over positions."""
    total = pl.lit(0, dtype=pl.Int32)
    for pos in range(10):
        digit = ten_digits.str.slice(pos, 1).cast(pl.Int32)
        if pos % 2 == 0:
            doubled = digit * 2
            total = total + (doubled // 10) + (doubled % 10)
        else:
            total = total + digit
    return (total % 10) == 0


def personnummer_hits(df: pl.DataFrame) -> pl.DataFrame:
    """Where the frame holds a personnummer or samordningsnummer: (_rad, kolumn), no values.

    Every column is searched, also those the pipeline does not use.
    """
    none = pl.DataFrame(schema={ROW_COLUMN: pl.Int64, "kolumn": pl.String})
    value_columns = [c for c in df.columns if c != ROW_COLUMN]
    if not value_columns or df.height == 0:
        return none
    cells = {c: pl.col(c).cast(pl.String) for c in value_columns}
    # One vectorized scan says which columns hold a candidate at all (in nearly every file,
    # none): only their candidate rows are unpivoted, never a long frame of every cell.
    flagged = df.select(
        cell.str.contains(_PNR_LOOSE).any().alias(c) for c, cell in cells.items()
    ).row(0)
    columns = [c for c, found in zip(cells, flagged, strict=True) if found]
    if not columns:
        return none
    candidate_rows = df.select(pl.col(ROW_COLUMN), *(cells[c] for c in columns)).filter(
        pl.any_horizontal(cells[c].str.contains(_PNR_LOOSE) for c in columns)
    )
    long = candidate_rows.unpivot(index=ROW_COLUMN, variable_name="kolumn", value_name="cell")
    candidates = long.filter(pl.col("cell").str.contains(_PNR_LOOSE)).with_columns(
        pl.col("cell").str.extract(_PNR_CANDIDATE, 1).str.replace_all(r"[-+]", "").alias("nr")
    )
    ten = pl.col("nr").str.slice(pl.col("nr").str.len_chars() - 10, 10)
    return (
        candidates.filter(pl.col("nr").is_not_null() & _luhn_valid(ten))
        .select(ROW_COLUMN, "kolumn")
        .sort(ROW_COLUMN, "kolumn")
    )


# --- Header matching -------------------------------------------------------------------------


def canonical_headers(df: pl.DataFrame) -> pl.DataFrame:
    """Rename headers to canonical names (aliases, case and accents ignored), keep only those.

    Missing optional columns are added empty; missing required columns reject the file.
    """
    mapping: dict[str, str] = {}
    seen: dict[str, str] = {}
    for header in df.columns:
        canonical = HEADER_ALIASES.get(normalize_header(header))
        if canonical is None:
            continue
        if canonical in seen:
            raise FileRejected(
                f"Kolumnen {canonical} finns två gånger (rubrikerna '{seen[canonical]}' och "
                f"'{header}')."
            )
        seen[canonical] = header
        mapping[header] = canonical
    missing = [c for c in REQUIRED_COLUMNS if c not in seen]
    if missing:
        raise FileRejected(
            f"Obligatoriska kolumner saknas: {', '.join(missing)}. Rubrikerna i filen är: "
            f"{', '.join(repr(h) for h in df.columns if h != ROW_COLUMN)}."
        )
    renamed = df.select(pl.col(ROW_COLUMN), *(pl.col(h).alias(c) for h, c in mapping.items()))
    return renamed.with_columns(
        pl.lit(None, dtype=pl.String).alias(c) for c in CANONICAL_COLUMNS if c not in seen
    ).select(ROW_COLUMN, *CANONICAL_COLUMNS)


def _clean_text(df: pl.DataFrame) -> pl.DataFrame:
    """Trim cells; an empty cell is a missing value."""
    return df.with_columns(
        pl.col(c).str.strip_chars().replace("", None) for c in df.columns if c != ROW_COLUMN
    )


def load_export(file: RawFile) -> pl.DataFrame:
    """Read an export into canonical text columns plus `_rad`; FileRejected if it must be.

    Row numbers: for CSV and XLSX the row as a spreadsheet shows it (header = row 1, first
    record = row 2); for Parquet the same convention, so that messages read alike.
    """
    table = read_table(file)
    table = table.with_row_index(ROW_COLUMN, offset=2).with_columns(
        pl.col(ROW_COLUMN).cast(pl.Int64)
    )
    hits = personnummer_hits(table)
    if hits.height:
        first = hits.row(0, named=True)
        raise FileRejected(
            f"Filen innehåller {hits.height} personnummer/samordningsnummer (första i kolumn "
            f"'{first['kolumn']}', rad {first[ROW_COLUMN]}). Hela filen avvisas och inget ur den "
            "sparas; numren visas inte. Be parten om en ny, pseudonymiserad export och ta bort "
            "filen ur råmappen.",
            hits=hits,
        )
    return _clean_text(canonical_headers(table))
