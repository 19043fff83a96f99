"""Ingest: find the raw exports and read each into frames of text with canonical names.

Reading is deliberately separate from validation: every value is kept as the text the party
sent, so a rejected value can be shown as it was (contract section 1). Types are cast in
`pipeline.ingest.validate`. The readers (`pipeline.ingest.readers`) turn CSV, XLSX and Parquet into
tables of text cells; the modules here decide what of them may be kept (`load_export`):

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

A table whose headings are those of counted participants (`insats_id, ar, slag, kvinnor,
man`; contract section 5) is read the same way as a table of kind COUNTED and validated by
`pipeline.ingest.counted`.

Messages never quote a file's content: a heading is quoted only when it passed the scan and
looks like a heading (`quotable_heading`), otherwise it is named by its position.
"""

from pipeline.core.personnummer import PERSONNUMMER_MASK
from pipeline.ingest.counted import across_sheets as counted_across_sheets
from pipeline.ingest.counted import validate_counted
from pipeline.ingest.files import SHEET_COLUMN, FileRejected, RawFile, discover
from pipeline.ingest.load import COUNTED, EPISODES, Export, SheetText, load_export
from pipeline.ingest.readers import ROW_COLUMN
from pipeline.ingest.validate import KEY_SCHEMA, ValidationDisabled, validate_export

__all__ = [
    "COUNTED",
    "EPISODES",
    "KEY_SCHEMA",
    "PERSONNUMMER_MASK",
    "ROW_COLUMN",
    "SHEET_COLUMN",
    "Export",
    "FileRejected",
    "RawFile",
    "SheetText",
    "ValidationDisabled",
    "counted_across_sheets",
    "discover",
    "load_export",
    "validate_counted",
    "validate_export",
]
