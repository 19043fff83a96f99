"""Privacy first: every cell, heading, row above a heading, sheet name and the text around
the cells is scanned for personnummer (`pipeline.core.personnummer`). A hit rejects the
whole file; nothing of it is kept and the number is never shown, only where it was."""

from __future__ import annotations

import polars as pl

from pipeline.core import personnummer
from pipeline.ingest import readers
from pipeline.ingest.files import FileRejected
from pipeline.ingest.headings import column_name, heading_label
from pipeline.ingest.readers import ROW_COLUMN, Table

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
