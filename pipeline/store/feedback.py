"""Feedback a party can act on: `<processed>/aterkoppling/<file>.xlsx` for every raw file
with quarantined rows or a rejection.

A file with quarantined rows gets a first sheet `Att rätta` (what to fix, per rule and
column, with the row numbers) and a sheet `Rader` with the file's failing rows as they were
sent, under the file's headings in Swedish, each failing cell highlighted with a comment
giving the rule. Rows that could not be read as rows at all (a wrong number of fields,
unreadable characters) are listed by row number. A rejected file gets one sheet saying why
and what to do; nothing of its content is shown (a personnummer never is: a file holding one
is rejected whole and never re-read here).

The workbooks hold record data: they live under processed/, never under reports/, and are
rewritten whenever the store is (a marker with the store's fingerprint is written last).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from pathlib import Path

import polars as pl
import xlsxwriter

from pipeline.core import log
from pipeline.core.contract import CANONICAL_COLUMNS, swedish_heading
from pipeline.core.hashing import text_sha256
from pipeline.ingest import ROW_COLUMN, FileRejected, RawFile, load_export
from pipeline.store.files import DEBUG_ENV
from pipeline.store.results import StoreResult

FEEDBACK_DIR = "aterkoppling"
MARKER = ".fingeravtryck"
MAX_NAME_BYTES = 180
MAX_ROWS = 10_000  # failing rows shown per sheet; the summary counts them all
_CREATED = dt.datetime(2000, 1, 1)


def feedback_name(relative: str) -> str:
    """The workbook's name for a raw file: its path with / as __ and .xlsx added; a long path
    is cut and told apart by a hash of the whole (names stay under 255 bytes).

    >>> feedback_name("kommunen/2025-06_export.csv")
    'kommunen__2025-06_export.csv.xlsx'
    """
    flat = re.sub(r"[/\\\\]", "__", relative)
    if len(flat.encode("utf-8")) <= MAX_NAME_BYTES:
        return flat + ".xlsx"
    cut = flat.encode("utf-8")[:MAX_NAME_BYTES].decode("utf-8", "ignore")
    return f"{cut}-{text_sha256(relative)[:8]}.xlsx"


def _workbook(path: Path) -> xlsxwriter.Workbook:
    wb = xlsxwriter.Workbook(str(path))
    # A fixed creation time: the same store gives the same bytes (and nightly compares them).
    wb.set_properties({"title": "Återkoppling till parten", "created": _CREATED})
    return wb


def _printable(ws) -> None:
    """Printed (or made a PDF) landscape, one page wide."""
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)


def _formats(wb: xlsxwriter.Workbook) -> dict:
    return {
        "title": wb.add_format({"bold": True, "font_size": 14}),
        "bold": wb.add_format({"bold": True, "bg_color": "#EEF2F7", "text_wrap": True}),
        "wrap": wb.add_format({"text_wrap": True, "valign": "top"}),
        "bad": wb.add_format({"bg_color": "#FFE08A", "border": 1, "border_color": "#B00020"}),
    }


def _rejected(path: Path, relative: str, message: str) -> None:
    wb = _workbook(path)
    f = _formats(wb)
    ws = wb.add_worksheet("Avvisad fil")
    _printable(ws)
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 100)
    ws.write_string(0, 0, f"Filen {relative} lästes inte in", f["title"])
    rows = [
        ("Varför", message),
        (
            "Vad ni gör",
            "Rätta det som står ovan i ert system eller i Excel, spara som CSV (UTF-8) eller "
            "XLSX och skicka en ny, fullständig export till förbundet. Ingenting ur den här "
            "filen har sparats.",
        ),
    ]
    for i, (label, text) in enumerate(rows, start=2):
        ws.write_string(i, 0, label, f["bold"])
        ws.write_string(i, 1, text, f["wrap"])
        ws.set_row(i, 15 * (len(text) // 95 + 1))
    wb.close()


def _summary_sheet(wb, f, relative: str, quarantine: pl.DataFrame) -> None:
    ws = wb.add_worksheet("Att rätta")
    _printable(ws)
    ws.set_column(0, 0, 46)
    ws.set_column(1, 1, 26)
    ws.set_column(2, 2, 10)
    ws.set_column(3, 3, 60)
    ws.write_string(0, 0, f"Att rätta i {relative}", f["title"])
    ws.merge_range(
        1,
        0,
        1,
        3,
        "Raderna nedan lästes inte in. Rätta dem i ert system eller i Excel och skicka en ny, "
        "fullständig export; övriga rader i filen är inlästa. Radnumren är filens egna, och "
        "bladet Rader visar raderna som de skickades med felen markerade.",
        f["wrap"],
    )
    ws.set_row(1, 32)
    ws.write_row(3, 0, ["Regel", "Kolumn", "Rader", "Radnummer"], f["bold"])
    # Per sheet too: row 5 of two sheets is two rows.
    rules = (
        quarantine.group_by("regel_id", "regel", "kolumn", "blad", maintain_order=True)
        .agg(pl.col("rad").unique().sort())
        .sort("regel_id", "kolumn", "blad", nulls_last=True)
    )
    for i, r in enumerate(rules.iter_rows(named=True), start=4):  # one row per rule/column
        numbers = [str(n) for n in r["rad"] if n is not None]
        shown = ", ".join(numbers[:30]) + (" …" if len(numbers) > 30 else "")
        ws.write_string(i, 0, r["regel"] or r["regel_id"], f["wrap"])
        where = f" (blad {r['blad']})" if r["blad"] else ""
        ws.write_string(i, 1, swedish_heading(r["kolumn"]) + where)
        ws.write_number(i, 2, len(numbers))
        ws.write_string(i, 3, shown, f["wrap"])


def _rows_sheet(wb, f, sheet_no: int, text: pl.DataFrame, problems: pl.DataFrame) -> None:
    """The failing rows as sent; each failing cell highlighted, its rule as a comment."""
    failing = text.filter(pl.col(ROW_COLUMN).is_in(problems["rad"].implode()))
    # The columns the failing rows fill, and every failing column: a readable sheet.
    wrong = set(problems["kolumn"].to_list())
    columns = [
        c
        for c in CANONICAL_COLUMNS
        if c in failing.columns and (c in wrong or failing[c].is_not_null().any())
    ]
    ws = wb.add_worksheet("Rader" if sheet_no == 0 else f"Rader blad {sheet_no + 1}")
    _printable(ws)
    ws.write_row(0, 0, ["Rad i filen", *(swedish_heading(c) for c in columns)], f["bold"])
    ws.freeze_panes(1, 1)
    rules: dict[tuple[int, str], str] = {}
    for r in problems.iter_rows(named=True):  # one row per failing cell and rule
        key = (r["rad"], r["kolumn"])
        rules[key] = f"{rules[key]}; {r['regel']}" if key in rules else (r["regel"] or "")
    shown = failing.sort(ROW_COLUMN).head(MAX_ROWS)
    if failing.height > MAX_ROWS:
        ws.write_string(
            shown.height + 2, 0, f"… och {failing.height - shown.height} rader till (se Att rätta)."
        )
    # Cells are written one by one (xlsxwriter's way), for at most MAX_ROWS failing rows.
    for i, row in enumerate(shown.iter_rows(named=True), start=1):
        ws.write_number(i, 0, row[ROW_COLUMN])
        for j, column in enumerate(columns, start=1):
            value = row[column]
            rule = rules.get((row[ROW_COLUMN], column))
            ws.write_string(i, j, "" if value is None else str(value), f["bad"] if rule else None)
            if rule:
                ws.write_comment(i, j, rule, {"x_scale": 2})
    for j, column in enumerate(columns, start=1):
        ws.set_column(j, j, max(12, len(swedish_heading(column)) + 2))


def _quarantined(path: Path, raw_file: RawFile, quarantine: pl.DataFrame) -> None:
    # Re-read as the store read it (the file passed the personnummer scan then).
    export = load_export(raw_file)
    wb = _workbook(path)
    f = _formats(wb)
    _summary_sheet(wb, f, raw_file.relative, quarantine)
    for n, sheet in enumerate(export.sheets):
        problems = quarantine.filter(pl.col("blad").eq_missing(pl.lit(sheet.sheet, pl.String)))
        if problems.height:
            _rows_sheet(wb, f, n, sheet.text, problems)
    wb.close()


def _one(target: Path, row: dict, raw_file: RawFile | None, quarantine: pl.DataFrame) -> bool:
    """Write one file's workbook; False when it has nothing to say or could not be read."""
    if row["status"] == "avvisad":
        _rejected(target, row["fil"], row["meddelande"] or "")
        return True
    if quarantine.height == 0 or raw_file is None:
        return False
    try:
        _quarantined(target, raw_file, quarantine)
    except FileRejected:  # changed since it was read: the next run writes it
        return False
    return True


def write_feedback(raw_files: list[RawFile], result: StoreResult, processed: Path) -> int:
    """Rewrite the feedback folder for this store; returns how many workbooks it holds.

    A workbook that cannot be written is logged and left out (it never stops the store);
    then no marker is written, so the next run tries again."""
    folder = processed / FEEDBACK_DIR
    if (folder / MARKER).exists() and (folder / MARKER).read_text() == result.fingerprint:
        return len(list(folder.glob("*.xlsx")))
    staging = processed / f".{FEEDBACK_DIR}.ny"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    by_name = {f.relative: f for f in raw_files}
    used: set[str] = set()
    written, complete = 0, True
    for row in result.files.iter_rows(named=True):  # a loop over files
        name = feedback_name(row["fil"])
        if name in used:  # `a/b.csv` and `a__b.csv` flatten alike
            name = f"{name[:-5]}-{text_sha256(row['fil'])[:8]}.xlsx"
        quarantine = result.quarantine.filter(pl.col("fil") == row["fil"])
        try:
            if _one(staging / name, row, by_name.get(row["fil"]), quarantine):
                used.add(name)
                written += 1
        except Exception as exc:  # a feedback workbook never stops the store
            if os.environ.get(DEBUG_ENV) == "1":
                raise
            complete = False
            log.warning("återkopplingen kunde inte skrivas", fil=row["fil"], fel=type(exc).__name__)
    if complete:
        (staging / MARKER).write_text(result.fingerprint)
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return written
