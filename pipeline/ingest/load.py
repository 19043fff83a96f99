"""One export read into canonical text tables: privacy scan, headings, rows that could not
be read as rows quarantined; `load_export` is what the store calls for every raw file."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from pipeline.core.contract import (
    CANONICAL_COLUMNS,
    COUNTED_COLUMNS,
    QUARANTINE_SCHEMA,
    REQUIRED_COLUMNS,
    RULES,
)
from pipeline.ingest import readers
from pipeline.ingest.files import FileRejected, RawFile
from pipeline.ingest.headings import (
    column_mapping,
    counted_mapping,
    counted_of,
    header_score,
    heading_label,
    is_counted_table,
    looks_counted,
    missing_columns_message,
    missing_counted_message,
    sheet_label,
)
from pipeline.ingest.privacy import ensure_no_personnummer
from pipeline.ingest.readers import ROW_COLUMN, Table

# --- The export -----------------------------------------------------------------------------------


EPISODES = "episoder"
COUNTED = "raknade"  # a table of counted participants (contract section 5)


@dataclass
class SheetText:
    """One table of an export as canonical text columns plus `_rad`, ready to validate.

    `kind` is EPISODES (the contract's columns) or COUNTED (COUNTED_COLUMNS)."""

    sheet: str | None
    text: pl.DataFrame
    quarantine: pl.DataFrame  # rows that could not be read as rows (QUARANTINE_SCHEMA)
    rows: int  # data rows read (blank rows not counted)
    kind: str = EPISODES


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


def _sheet_text(fil: str, table: Table, mapping: dict[int, str], kind: str = EPISODES) -> SheetText:
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
            for c in (CANONICAL_COLUMNS if kind == EPISODES else COUNTED_COLUMNS)
        ),
    )
    quarantine = _read_quarantine(fil, table, mapping)
    return SheetText(table.sheet, text, quarantine, table.cells.height, kind)


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


def _not_a_table(table: Table, mapping: dict[int, str]) -> str:
    """Why a table is neither an export nor a counted-participants table."""
    counted = counted_mapping(table)
    if looks_counted(counted) and len(counted) > len(mapping):
        return missing_counted_message(counted)
    return missing_columns_message(table, mapping)


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
        counted = counted_mapping(table)
        if set(REQUIRED_COLUMNS) <= set(mapping.values()):
            sheets.append(_sheet_text(file.relative, table, mapping))
        elif is_counted_table(counted):
            column_mapping(table, counted_of)  # two headings for one column reject the file
            sheets.append(_sheet_text(file.relative, table, counted, COUNTED))
        else:
            rejected.append((table, mapping))
    if not sheets:
        best, mapping = max(rejected, key=lambda tm: len(set(tm[1].values())))
        where = f"Blad {sheet_label(best)}: " if best.sheet and len(rejected) > 1 else ""
        raise FileRejected(where + _not_a_table(best, mapping))
    for table, mapping in rejected:
        notes.append(f"Blad {sheet_label(table)} lästes inte: {_not_a_table(table, mapping)}")
    for table in tables:
        if table.preamble:
            n = len(table.preamble)
            notes.append(
                f"{n} {'rad' if n == 1 else 'rader'} ovanför rubrikraden"
                + (f" på blad {sheet_label(table)}" if table.sheet else "")
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
