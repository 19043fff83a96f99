"""The published XLSX workbook: one formatted sheet per table and a sheet of notes.

Swedish headings and code labels, per cent and decimal formats, a frozen header and fitted
column widths. Suppressed cells keep their markers ("<5", ".."). The bytes are deterministic:
the workbook's created date is fixed by the caller (SOURCE_DATE_EPOCH or the period end).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import xlsxwriter

from pipeline.core.atomic import write_with
from pipeline.core.catalog import Catalog
from pipeline.core.contract import OUTCOME_MEASURES
from pipeline.core.period import Period
from pipeline.publish import style
from pipeline.publish.context import ReportContext
from pipeline.publish.disclosure import COUNT_COLUMNS
from pipeline.publish.legend import legend_rows, sheet_note, source_note

# Sheet order, names (at most 31 characters) and what each table holds.
SHEETS: dict[str, str] = {
    "maluppfyllelse": "Mål och utfall per insats: andelsmål och volymmål med bedömning.",
    "deltagare": "Deltagare (personer), nya, avslutade och pågående (insatsperioder), årsplatser.",
    "utfall": "Utfall per mått och kön; bas = avslutade utom flyttat och avliden.",
    "utfall_kon": "Utfall för kvinnor och män och skillnaden i procentenheter.",
    "tid_i_insats": "Mediantid i insatsen för deltagare som avslutat under perioden.",
    "bakgrund": "Deltagarnas bakgrund per kön: antal per kategori.",
    "forsorjning_fore_efter": "Avslutade deltagare per försörjning före start och vid avslut.",
    "trend": "Deltagare och utfall per kalenderår.",
    "kostnad": (
        "Kostnad (utfall) och budget per insats, per deltagare, per årsplats och per person som "
        "nått andelsmålet; dolt där antalet är dolt."
    ),
}
# Counts of the cost table (copies of published counts) and its columns in kronor.
KOSTNAD_COUNTS = ("deltagare", "uppnadde")
KRONOR_COLUMNS = {
    "kostnad",
    "budget",
    "kostnad_per_deltagare",
    "kostnad_per_arsplats",
    "kostnad_per_uppnadd",
}

SHARE_COLUMNS = {"andel", "ki_lag", "ki_hog", "andel_okand", "andel_kvinnor", "andel_man"}
CODE_COLUMNS = {
    "matt": style.MATT_NAMN,
    "bedomning": style.BEDOMNING_NAMN,
    "kon": style.KON_NAMN,
    "variabel": style.VARIABEL_NAMN,
    "kategori": style.KATEGORI_NAMN,
    "forsorjning_fore": style.KATEGORI_NAMN,
    "forsorjning_efter": style.KATEGORI_NAMN,
}
HEADER_ROW = 4


def notes_rows(catalog: Catalog, period: Period, k: int, is_example: bool, code_version: str):
    """(label, text) rows of the notes sheet."""
    rows = []
    if is_example:
        rows.append(
            (
                style.EXEMPEL_TEXT,
                "Alla siffror i arbetsboken är påhittade och beskriver inga verkliga personer.",
            )
        )
    rows += [
        ("Förbund", catalog.forbund),
        ("Period", f"{period.start.isoformat()} – {period.end.isoformat()} ({period.swedish})"),
        ("Källa", source_note(catalog.forbund)),
        ("Röjandeskydd, k", str(k)),
        *legend_rows(k),
        ("Andelar", "Visas i procent; i CSV-filerna som bråk 0–1."),
        ("Programversion", code_version),
    ]
    rows += [(style.TABELL_NAMN[name], text) for name, text in SHEETS.items()]
    return rows


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def write_workbook(
    path: Path,
    published: dict[str, pl.DataFrame],
    context: ReportContext,
    created: dt.datetime,
) -> None:
    """Write the workbook atomically to `path`."""
    c = context
    write_with(
        path,
        lambda tmp: _write(
            tmp, published, c.catalog, c.period, c.k, c.is_example, created, c.code_version
        ),
    )


def _write(path, published, catalog, period, k, is_example, created, code_version) -> None:
    wb = xlsxwriter.Workbook(str(path), {"nan_inf_to_errors": True})
    wb.set_properties(
        {
            "title": f"Uppföljning av insatser, {period.swedish}",
            "author": catalog.forbund,
            "company": catalog.forbund,
            "comments": style.EXEMPEL_TEXT if is_example else "",
            "created": created.replace(tzinfo=None),
        }
    )
    f = {
        "title": wb.add_format({"bold": True, "font_size": 14}),
        "example": wb.add_format({"bold": True, "font_size": 12, "font_color": "#B00020"}),
        "note": wb.add_format({"italic": True, "font_color": "#444444"}),
        "header": wb.add_format(
            {"bold": True, "bg_color": "#DCE6F0", "bottom": 1, "text_wrap": True, "valign": "top"}
        ),
        "text": wb.add_format({}),
        "count": wb.add_format({"num_format": "#,##0"}),
        "dec1": wb.add_format({"num_format": "#,##0.0"}),
        "dec2": wb.add_format({"num_format": "#,##0.00"}),
        "pct": wb.add_format({"num_format": "0.0%"}),
        "pp": wb.add_format({"num_format": '+0.0" pe";-0.0" pe";0.0" pe"'}),
        "marker": wb.add_format({"align": "right", "font_color": "#555555"}),
        "label": wb.add_format({"bold": True, "valign": "top"}),
        "wrap": wb.add_format({"text_wrap": True, "valign": "top"}),
    }
    notes = wb.add_worksheet("Om tabellerna")
    notes.write_string(
        0, 0, f"Uppföljning av insatser – {period.swedish} – {catalog.forbund}", f["title"]
    )
    if is_example:
        notes.write_string(1, 0, style.EXEMPEL_TEXT, f["example"])
    notes.set_column(0, 0, 26)
    notes.set_column(1, 1, 100)
    for i, (label, text) in enumerate(notes_rows(catalog, period, k, is_example, code_version)):
        notes.write_string(3 + i, 0, label, f["label"])
        notes.write_string(3 + i, 1, text, f["wrap"])
    for name in SHEETS:
        if name in published:
            _sheet(wb, f, name, published[name], catalog, period, k, is_example)
    wb.close()


def _sheet(wb, f, name, df: pl.DataFrame, catalog, period, k, is_example) -> None:
    # Text is written as text (write_string): with write(), a name starting with "=" would
    # become a formula and one starting with "http" a link.
    ws = wb.add_worksheet(style.TABELL_NAMN[name][:31])
    ws.write_string(
        0, 0, f"{style.TABELL_NAMN[name]} – {period.swedish} – {catalog.forbund}", f["title"]
    )
    if is_example:
        ws.write_string(1, 0, style.EXEMPEL_TEXT, f["example"])
    ws.write_string(
        2,
        0,
        sheet_note(k),
        f["note"],
    )
    columns = df.columns
    widths = []
    for j, col in enumerate(columns):
        heading = style.KOLUMN_NAMN.get(col, col)
        ws.write_string(HEADER_ROW, j, heading, f["header"])
        widths.append(min(max(len(heading) * 0.8, 8), 30))
    counts = set(COUNT_COLUMNS.get(name, KOSTNAD_COUNTS if name == "kostnad" else ()))
    share_row = (
        [m in OUTCOME_MEASURES for m in df["matt"].to_list()] if name == "maluppfyllelse" else None
    )
    for j, col in enumerate(columns):
        values = df[col].to_list()
        for i, value in enumerate(values):
            row = HEADER_ROW + 1 + i
            width = _cell(ws, f, row, j, name, col, value, counts, share_row, i)
            widths[j] = min(max(widths[j], width), 45)
    for j, w in enumerate(widths):
        ws.set_column(j, j, w + 2)
    ws.set_row(HEADER_ROW, 32)
    ws.freeze_panes(HEADER_ROW + 1, 0)
    ws.autofilter(HEADER_ROW, 0, HEADER_ROW + max(df.height, 1), len(columns) - 1)


def _cell(ws, f, row, col_idx, name, col, value, counts, share_row, i) -> float:
    """Write one cell; return the width it needs."""
    if value is None and col == "bedomning":  # left open by the disclosure control
        ws.write_string(row, col_idx, style.BEDOMNING_DOLD)
        return len(style.BEDOMNING_DOLD)
    if value is None:
        ws.write_blank(row, col_idx, None)
        return 0
    if col in CODE_COLUMNS:
        text = style.label(value, CODE_COLUMNS[col])
        ws.write_string(row, col_idx, text)
        return len(text)
    if (
        col in counts
        or (name == "maluppfyllelse" and col == "utfall")
        or col
        in (
            "arsplatser",
            "median_dagar",
        )
    ):
        number = _number(value) if isinstance(value, str) else float(value)
        if number is None:
            ws.write_string(row, col_idx, str(value), f["marker"])
            return len(str(value))
        if name == "maluppfyllelse" and col == "utfall" and share_row and share_row[i]:
            ws.write_number(row, col_idx, number, f["pct"])
        elif col in counts or (
            name == "maluppfyllelse" and col == "utfall" and number.is_integer()
        ):
            ws.write_number(row, col_idx, number, f["count"])
        else:
            ws.write_number(row, col_idx, number, f["dec2" if col == "arsplatser" else "dec1"])
        return 8
    if col in KRONOR_COLUMNS:
        ws.write_number(row, col_idx, float(value), f["count"])
        return 12
    if col in SHARE_COLUMNS:
        ws.write_number(row, col_idx, float(value), f["pct"])
        return 8
    if col == "skillnad_procentenheter":
        ws.write_number(row, col_idx, float(value) * 100, f["pp"])
        return 10
    if col == "mal":
        is_share = share_row[i] if share_row else False
        ws.write_number(row, col_idx, float(value), f["pct"] if is_share else f["dec1"])
        return 8
    if isinstance(value, int | float):
        ws.write_number(row, col_idx, value)
        return len(str(value))
    ws.write_string(row, col_idx, str(value))
    return len(str(value))
