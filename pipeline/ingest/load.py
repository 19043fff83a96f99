"""Ingest: find the raw exports and read each into frames of text with canonical names.

Reading is deliberately separate from validation: every value is kept as the text the party
sent, so a rejected value can be shown as it was (contract section 1). Types are cast in
`pipeline.ingest.validate`. The readers (`pipeline.ingest.readers`) turn CSV, XLSX and Parquet into
tables of text cells; this module decides what of them may be kept:

1. Privacy first. Every cell of every sheet, every heading, every row above a heading,
   every sheet name and the file's own path are scanned for personnummer
   (`pipeline.core.personnummer`). A hit rejects the whole file; nothing of it is kept and the
   number is never shown, only where it was.
2. Headings. Each table's headings are matched to the contract's columns (aliases, case
   and accents ignored). A CSV or Parquet file without the required columns, or a workbook
   none of whose sheets has them, is rejected; other sheets of a workbook are noted as
   skipped. Two headings that mean the same column reject the file.
3. Rows that could not be read as rows (a wrong number of fields, bytes invalid in the
   file's encoding) become quarantine records of their own; the rest go to validation.

Messages never quote a file's content: a heading is quoted only when it passed the scan and
looks like a heading (`quotable_heading`), otherwise it is named by its position.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipeline.core import personnummer
from pipeline.core.config import CATALOG_FILE, EXAMPLE_MARKER
from pipeline.core.contract import (
    CANONICAL_COLUMNS,
    COLUMN_BY_NAME,
    HEADER_ALIASES,
    QUARANTINE_SCHEMA,
    REQUIRED_COLUMNS,
    RULES,
    normalize_header,
)
from pipeline.core.personnummer import PERSONNUMMER_MASK
from pipeline.ingest import readers
from pipeline.ingest.readers import ROW_COLUMN, Table

DATA_SUFFIXES = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".parquet": "parquet",
}
# Files in the raw folder that are not participant exports.
NOT_EXPORTS = {CATALOG_FILE, EXAMPLE_MARKER}
SHEET_COLUMN = "_blad"  # the sheet of a workbook row (null for CSV and Parquet)

__all__ = [
    "PERSONNUMMER_MASK",
    "ROW_COLUMN",
    "Export",
    "FileRejected",
    "RawFile",
    "discover",
    "file_sha256",
    "load_export",
]


class FileRejected(Exception):
    """A whole file is rejected; the message is Swedish and never holds its content."""

    def __init__(self, message: str, hits: pl.DataFrame | None = None) -> None:
        super().__init__(message)
        self.hits = hits  # where personnummer were found: (blad, _rad, kolumn), no values


@dataclass(frozen=True)
class RawFile:
    """An export in the raw folder: its path relative to the raw folder and its content hash.

    `relative` is the name shown everywhere; when the path itself holds a personnummer it is
    shown masked (`name_has_personnummer`) and the file is rejected unread.
    """

    path: Path
    relative: str
    sha256: str
    format: str | None  # csv, xlsx, parquet, or None for an unknown kind of file
    name_has_personnummer: bool = False
    unreadable_name: bool = False  # the name is not UTF-8 (shown with U+FFFD)


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
    names = [relative for relative, _ in exports]
    named = personnummer.texts_with_personnummer([shown_name(r) for r in names])
    return [
        RawFile(
            path,
            _display(relative, sha, has_number),
            sha,
            DATA_SUFFIXES.get(path.suffix.lower()),
            has_number,
            unreadable_name=shown_name(relative) != relative,
        )
        for (relative, path), sha, has_number in zip(exports, hashes, named, strict=True)
    ]


def shown_name(relative: str) -> str:
    """A path as text: bytes that are not UTF-8 (a name from an old zip file) become U+FFFD."""
    return relative.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _display(relative: str, sha: str, has_number: bool) -> str:
    """The name a file is shown by: its path, or, when the path holds a personnummer, the
    path with every digit masked and the start of its content's hash (to tell files apart)."""
    if not has_number:
        return shown_name(relative)
    return f"{personnummer.mask_text(shown_name(relative))} [{sha[:8]}]"


# --- Headings ----------------------------------------------------------------------------------


def canonical_of(heading: str | None) -> str | None:
    """The contract column a heading names, or None."""
    return HEADER_ALIASES.get(normalize_header(heading or ""))


def header_score(headings: list[str | None]) -> int:
    """How many required columns a row of headings names (the readers' heading search)."""
    return len({canonical_of(h) for h in headings} & set(REQUIRED_COLUMNS))


_DATA_LIKE = re.compile(r"[0-9]{3}|@")


def quotable_heading(heading: str) -> bool:
    """A heading that may be quoted in a message: it passed the personnummer scan (the
    caller's business) and looks like a heading, not a value (no runs of digits, no @)."""
    text = heading.strip()
    return 0 < len(text) <= 60 and not _DATA_LIKE.search(text)


def heading_label(position: int, heading: str) -> str:
    """How a message names a column: its heading in quotes, or its position."""
    if quotable_heading(heading):
        return f"'{heading.strip()}'"
    return f"kolumn nr {position + 1}"


def column_name(position: int, heading: str) -> str:
    """How a table (the quarantine) names a column: the contract column a heading means,
    else the heading itself when quotable, else its position."""
    canonical = canonical_of(heading)
    if canonical is not None:
        return canonical
    return heading.strip() if quotable_heading(heading) else f"kolumn nr {position + 1}"


def _display_heading(column: str) -> str:
    """The Swedish heading of a contract column (its first alias), for messages."""
    aliases = COLUMN_BY_NAME[column].aliases
    return aliases[0] if aliases else column


def _suggestion(heading: str) -> str | None:
    """The contract heading a misspelt heading most resembles, if any."""
    match = difflib.get_close_matches(normalize_header(heading), list(HEADER_ALIASES), 1, 0.75)
    return _display_heading(HEADER_ALIASES[match[0]]) if match else None


def column_mapping(table: Table) -> dict[int, str]:
    """Heading position → contract column; FileRejected when two headings mean one column."""
    mapping: dict[int, str] = {}
    seen: dict[str, int] = {}
    for position, heading in enumerate(table.headers):
        canonical = canonical_of(heading)
        if canonical is None:
            continue
        if canonical in seen:
            first = seen[canonical]
            where = f" på blad {_sheet_label(table)}" if table.sheet else ""
            raise FileRejected(
                f"Två rubriker betyder samma kolumn ({canonical}){where}: "
                f"{heading_label(first, table.headers[first])} och "
                f"{heading_label(position, heading)}. Ta bort eller byt namn på den ena."
            )
        seen[canonical] = position
        mapping[position] = canonical
    return mapping


def _looks_headless(table: Table) -> bool:
    """No heading is recognised and the first row reads like a data row."""
    return not any(canonical_of(h) for h in table.headers) and (
        sum(bool(re.search(r"[0-9]", h)) for h in table.headers) >= 2
    )


def missing_columns_message(table: Table, mapping: dict[int, str]) -> str:
    """Why a table is not an export: the missing columns and the unrecognised headings."""
    missing = [c for c in REQUIRED_COLUMNS if c not in mapping.values()]
    named = ", ".join(f"{c} ({_display_heading(c)})" for c in missing)
    if table.header_row is None:
        return "Bladet är tomt."
    if _looks_headless(table):
        return (
            f"Obligatoriska kolumner saknas: {named}. Filen verkar sakna rubrikrad: den första "
            "raden ser ut som en datarad. Lägg till en rubrikrad med kolumnernas namn."
        )
    text = f"Obligatoriska kolumner saknas: {named}."
    if not mapping:
        # Not one heading is the contract's: the row is no heading row, so none of it is
        # quoted (it may be anything: a title, a note, a row of data).
        return text + " Ingen av rubrikerna på första raden känns igen som en kolumn i kontraktet."
    unknown = []
    for position, heading in enumerate(table.headers):  # a loop over headings
        if position in mapping or not heading.strip():
            continue
        label = heading_label(position, heading)
        hint = _suggestion(heading) if quotable_heading(heading) else None
        unknown.append(f"{label} (liknar '{hint}')" if hint else label)
    if unknown:
        shown = ", ".join(unknown[:8]) + (" …" if len(unknown) > 8 else "")
        text += f" Rubriker som inte känns igen: {shown}."
    return text


def _sheet_label(table: Table) -> str:
    """How a message names a sheet: by its number (a sheet's name may be a person's)."""
    return f"nr {table.number}"


# --- Privacy -------------------------------------------------------------------------------------


def _table_hits(table: Table) -> tuple[pl.DataFrame, list[str]]:
    """Personnummer in one table: hits (blad, _rad, kolumn, and `_label`, `_nr` for the
    message) and prefixed-key messages."""
    columns = [c for c in table.cells.columns if c != ROW_COLUMN]
    scan = personnummer.scan_frame(table.cells, ROW_COLUMN, columns)
    # Headings, the rows above them, the sheet's name and the text outside the cells
    # (comments, formulas, properties, metadata), scanned in one go.
    texts = [*table.headers, *table.preamble, table.sheet or "", *table.hidden_text]
    found = personnummer.texts_with_personnummer(texts)
    n_headers, n_preamble = len(table.headers), len(table.preamble)
    named_sheet = found[n_headers + n_preamble]
    sheet = personnummer.mask_text(table.sheet) if named_sheet and table.sheet else table.sheet
    cells = readers.cell_columns(len(table.headers))
    pairs = list(enumerate(zip(cells, table.headers, strict=True)))
    names = {c: column_name(i, h) for i, (c, h) in pairs}
    labels = {c: heading_label(i, h) for i, (c, h) in pairs}
    names[readers.EXTRA_COLUMN] = labels[readers.EXTRA_COLUMN] = "fält efter sista rubriken"
    hits = [
        scan.hits.select(
            pl.lit(sheet, pl.String).alias("blad"),
            pl.col(ROW_COLUMN),
            pl.col("column").replace_strict(names, default="okänd kolumn").alias("kolumn"),
            pl.col("column").replace_strict(labels, default="okänd kolumn").alias("_label"),
            pl.lit(table.number if table.sheet else None, pl.Int64).alias("_nr"),
        )
    ]
    number = table.number if table.sheet else None
    for position in (i for i in range(n_headers) if found[i]):
        label = f"rubriken i kolumn nr {position + 1}"
        hits.append(_hit(sheet, table.header_row, label, number))
    for offset in (i for i in range(n_preamble) if found[n_headers + i]):
        hits.append(_hit(sheet, None, f"rad {offset + 1} ovanför rubrikraden", number))
    if named_sheet:
        hits.append(_hit(None, None, "bladets namn", number))
    if any(found[n_headers + n_preamble + 1 :]):
        where = (
            "arbetsbokens kommentarer, formler eller egenskaper"
            if table.sheet
            else "filens metadata"
        )
        hits.append(_hit(None, None, where, None))
    prefixed = [
        f"{labels.get(p.column, p.column)}: {p.luhn} av {p.dated} nummer med datumform har "
        "giltig kontrollsiffra (slumpen ger ungefär 1 av 10)"
        for p in scan.prefixed
    ]
    return pl.concat(hits), prefixed


HIT_SCHEMA = pl.Schema(
    {
        "blad": pl.String,
        ROW_COLUMN: pl.Int64,
        "kolumn": pl.String,
        "_label": pl.String,
        "_nr": pl.Int64,
    }
)


def _hit(sheet: str | None, row: int | None, where: str, number: int | None) -> pl.DataFrame:
    return pl.DataFrame([(sheet, row, where, where, number)], schema=HIT_SCHEMA, orient="row")


def ensure_no_personnummer(tables: list[Table]) -> None:
    """Reject the file (FileRejected with the hits, never the values) if anything holds one."""
    found = [_table_hits(t) for t in tables]
    hits = pl.concat([h for h, _ in found])
    prefixed = [m for _, messages in found for m in messages]
    if hits.height:
        first = hits.row(0, named=True)
        where = f"{first['_label']}" + (f", rad {first[ROW_COLUMN]}" if first[ROW_COLUMN] else "")
        sheet = f" på blad nr {first['_nr']}" if first["_nr"] else ""
        raise FileRejected(
            f"Filen innehåller {hits.height} personnummer eller samordningsnummer (första: "
            f"{where}{sheet}). Hela filen avvisas och inget ur den sparas; numren visas inte. "
            "Be parten om en ny export där varje person har en pseudonym (se docs/indata.md) "
            "och ta bort filen ur råmappen.",
            hits=hits.drop("_label", "_nr"),
        )
    if prefixed:
        raise FileRejected(
            "Nycklarna ser ut att vara personnummer med något tillagt, inte pseudonymer: "
            + "; ".join(prefixed)
            + ". Hela filen avvisas och inget ur den sparas. Be parten använda en pseudonym "
            "som inte bygger på personnumret (se docs/indata.md) och ta bort filen ur råmappen.",
            hits=_hit(None, None, "nycklarna", None).drop("_label", "_nr"),
        )


# --- The export -----------------------------------------------------------------------------------


@dataclass
class SheetText:
    """One table of an export as canonical text columns plus `_rad`, ready to validate."""

    sheet: str | None
    text: pl.DataFrame
    quarantine: pl.DataFrame  # rows that could not be read as rows (QUARANTINE_SCHEMA)
    rows: int  # data rows read (blank rows not counted)


@dataclass
class Export:
    """What one raw file gave before validation."""

    sheets: list[SheetText]
    encoding: str | None = None
    blank_rows: int = 0
    notes: list[str] = field(default_factory=list)  # Swedish, nothing from the content

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.sheets)


def _read_quarantine(fil: str, table: Table, mapping: dict[int, str]) -> pl.DataFrame:
    """Quarantine records for rows the reader could not read as rows."""
    problems = table.problems
    if problems.height == 0:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    names = {i: mapping.get(i, heading_label(i, h)) for i, h in enumerate(table.headers)}
    values = (
        table.cells.unpivot(index=ROW_COLUMN, variable_name="_c", value_name="varde")
        .filter(pl.col("_c").str.starts_with("c"))
        .with_columns(position=pl.col("_c").str.slice(1).cast(pl.Int64))
        .drop("_c")
    )
    return (
        problems.join(values, on=[ROW_COLUMN, "position"], how="left")
        .select(
            pl.lit(fil).alias("fil"),
            pl.lit(table.sheet, pl.String).alias("blad"),
            pl.col(ROW_COLUMN).alias("rad"),
            pl.col("position")
            .replace_strict(names, default=None, return_dtype=pl.String)
            .fill_null("(hela raden)")
            .alias("kolumn"),
            pl.when(pl.col("regel_id") == "faltantal")
            .then(pl.col("detalj"))
            .otherwise(pl.col("varde"))
            .alias("varde"),
            "regel_id",
            pl.col("regel_id").replace_strict(RULES, return_dtype=pl.String).alias("regel"),
        )
        .cast(dict(QUARANTINE_SCHEMA))
    )


def _sheet_text(fil: str, table: Table, mapping: dict[int, str]) -> SheetText:
    """The readable rows of an export table in canonical columns (plus `_rad`)."""
    cells = table.cells
    if table.problems.height:
        bad_rows = table.problems.select(ROW_COLUMN).unique()
        cells = cells.join(bad_rows, on=ROW_COLUMN, how="anti", maintain_order="left")
    present = {canonical: f"c{position}" for position, canonical in mapping.items()}
    text = cells.select(
        pl.col(ROW_COLUMN),
        *(
            pl.col(present[c]).alias(c) if c in present else pl.lit(None, pl.String).alias(c)
            for c in CANONICAL_COLUMNS
        ),
    )
    return SheetText(table.sheet, text, _read_quarantine(fil, table, mapping), table.cells.height)


def read_tables(file: RawFile) -> list[Table]:
    """The file's tables as the readers give them; FileRejected when it cannot be read."""
    if file.unreadable_name:
        raise FileRejected(
            "Filens namn innehåller tecken som inte kan läsas som text (namnet kommer troligen "
            "ur en zip-fil från Windows). Filen lästes inte. Byt namn på den, med bara "
            "bokstäver, siffror, bindestreck och understreck."
        )
    if file.name_has_personnummer:
        raise FileRejected(
            "Filens eller mappens namn innehåller ett personnummer eller samordningsnummer "
            "(namnet visas maskerat). Filen lästes inte. Byt namn på den (datum först, t.ex. "
            "2025-06_export.csv) och be parten aldrig skriva personnummer i filnamn."
        )
    if file.format is None:
        raise FileRejected(
            f"Okänt filformat '{file.path.suffix or 'utan filändelse'}': spara exporten som "
            "CSV, XLSX eller Parquet."
        )
    perfect = len(REQUIRED_COLUMNS)
    try:
        if file.format == "csv":
            return readers.read_csv_tables(file.path.read_bytes(), header_score, perfect)
        if file.format == "xlsx":
            return readers.read_xlsx_tables(file.path, header_score)
        return readers.read_parquet_tables(file.path.read_bytes())
    except readers.Unreadable as exc:
        raise FileRejected(str(exc)) from exc
    except OSError as exc:
        raise FileRejected(
            f"Filen kan inte öppnas ({type(exc).__name__}): kontrollera att den är läsbar."
        ) from exc


def sheets_read(tables: list[Table], sheets: list[SheetText]) -> list[Table]:
    """The tables that were read as exports."""
    read = {s.sheet for s in sheets}
    return [t for t in tables if t.sheet in read]


def load_export(file: RawFile) -> Export:
    """Read an export into canonical text tables; FileRejected if it must be rejected whole.

    Row numbers (`_rad`) are the rows as a spreadsheet shows them (the heading is row 1 in
    a file that starts with it; a Parquet file's first record is row 2).
    """
    tables = read_tables(file)
    ensure_no_personnummer(tables)
    notes: list[str] = []
    sheets: list[SheetText] = []
    rejected: list[tuple[Table, dict[int, str]]] = []
    for table in tables:  # a loop over the file's tables (sheets)
        mapping = column_mapping(table)
        if set(REQUIRED_COLUMNS) <= set(mapping.values()):
            sheets.append(_sheet_text(file.relative, table, mapping))
        else:
            rejected.append((table, mapping))
    if not sheets:
        best, mapping = max(rejected, key=lambda tm: len(set(tm[1].values())))
        where = f"Blad {_sheet_label(best)}: " if best.sheet and len(rejected) > 1 else ""
        raise FileRejected(where + missing_columns_message(best, mapping))
    for table, mapping in rejected:
        why = missing_columns_message(table, mapping)
        notes.append(f"Blad {_sheet_label(table)} lästes inte: {why}")
    for table in tables:
        if table.preamble:
            n = len(table.preamble)
            notes.append(
                f"{n} {'rad' if n == 1 else 'rader'} ovanför rubrikraden"
                + (f" på blad {_sheet_label(table)}" if table.sheet else "")
                + " lästes inte som data."
            )
    merged = sum(t.merged_cells for t in sheets_read(tables, sheets))
    if merged:
        notes.append(f"{merged} celler i sammanfogade områden fick värdet i områdets första cell.")
    for table in tables:
        for position in table.skipped_columns:
            notes.append(
                f"Kolumn nr {position + 1} har en typ som inte kan läsas som text och lästes inte."
            )
    blank = sum(t.blank_rows for t in tables)
    if blank:
        notes.append(f"{blank} {'tom rad' if blank == 1 else 'tomma rader'} hoppades över.")
    return Export(sheets, tables[0].encoding, blank, notes)
