"""The submission template a party fills in Excel: one workbook made from the contract and
the förbund's catalog (`python -m pipeline template`, `make template`).

- `Deltagare`: the Swedish headings the reader accepts in row 1, one row per episode below;
  a dropdown of the Swedish texts on every code column (and of the insatser's ids), date
  cells with a date format and validation, whole-number ranges on födelseår, omfattning and
  steg, an input message on every heading, and a check on the id column that refuses a
  value written as a personnummer (the reader's scan is the real guard).
- `Koder`: every code list as columns Kolumn, Kod, Text (the dropdowns read their texts here).
- `Instruktioner`: what an episode is, when to fill the end columns, how to make and keep a
  pseudonym, how to send updates.

A filled template is an ordinary XLSX export: the reader takes the Deltagare sheet, codes or
their texts (`contract.CODE_TEXTS`), and notes the other two sheets as skipped.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from pipeline.core.atomic import write_with
from pipeline.core.catalog import Catalog
from pipeline.core.contract import (
    ALDER_MAX,
    ALDER_MIN,
    CODE_TEXTS,
    COLUMN_BY_NAME,
    COLUMNS,
    OMFATTNING_MAX,
    OMFATTNING_MIN,
    STEG_MAX,
    STEG_MIN,
    Column,
)

DATA_SHEET, CODE_SHEET, GUIDE_SHEET = "Deltagare", "Koder", "Instruktioner"
ROWS = 5000  # rows with validations below the headings
FIRST_DATE, LAST_DATE = dt.date(2000, 1, 1), dt.date(2099, 12, 31)

# What goes in each column (the input message of its heading; at most 255 characters).
WHAT = {
    "deltagare_id": "Personens pseudonym: en nyckel som parten håller och som inte bygger på "
    "personnumret. Samma person har samma nyckel i varje insats och varje export.",
    "insats_id": "Insatsens id ur listan (se bladet Koder för insatsernas namn).",
    "kon": "Kvinna eller Man.",
    "fodelsear": "Födelseår med fyra siffror. Deltagaren ska vara {lo}–{hi} år vid start.",
    "kommun": "Folkbokföringskommun (valfritt).",
    "forbund": "Förbundets id (valfritt; behövs bara när flera förbund samlar sina data).",
    "startdatum": "Första dagen i insatsen (ÅÅÅÅ-MM-DD).",
    "utbildning": "Högsta avslutade utbildning vid start.",
    "tid_offentlig_forsorjning": "Hur länge personen haft offentlig försörjning före start.",
    "forsorjning_fore": "Huvudsaklig försörjning före start.",
    "forsorjning_efter": "Huvudsaklig försörjning vid avslut.",
    "sysselsattning_fore": "Sysselsättning före start.",
    "narmare_arbete": "Bedömning vid avslut: har personen kommit närmare arbete?",
    "slutdatum": "Sista dagen i insatsen. Lämna tomt så länge insatsen pågår.",
    "omfattning_fore": "Arbete eller studier före start, procent av heltid ({lo}–{hi}).",
    "omfattning_efter": "Arbete eller studier vid avslut, procent av heltid ({lo}–{hi}).",
    "steg_start": "Steg på stegtrappan vid start ({lo}–{hi}), om insatsen använder den.",
    "steg_slut": "Steg på stegtrappan vid avslut ({lo}–{hi}), om insatsen använder den.",
    "avslutsorsak": "Varför insatsen avslutades. Fylls i när avslutsdatum finns.",
    "sysselsattning_efter": "Sysselsättning vid avslut. Fylls i när avslutsdatum finns.",
}

INSTRUCTIONS = [
    (
        "Vad är en rad?",
        "En rad är en insatsperiod: en persons inskrivning i en insats, från "
        "inskrivningsdatum till avslutsdatum. Skrivs samma person in igen, eller i en annan "
        "insats, blir det en ny rad.",
    ),
    (
        "Obligatoriskt",
        "Deltagare-ID, Insats, Kön, Födelseår och Inskrivningsdatum måste finnas "
        "på varje rad. Övriga kolumner fylls i när de är kända.",
    ),
    (
        "När insatsen avslutas",
        "Fyll i Avslutsdatum, Avslutsanledning och Sysselsättning efter "
        "samtidigt, och gärna Försörjning efter, Omfattning efter, Steg slut och Närmare arbete. "
        "Lämna dem tomma så länge insatsen pågår.",
    ),
    (
        "Pseudonym",
        "Varje person får en nyckel som ni själva skapar och sparar i er egen "
        "kodnyckel, till exempel P0001, P0002 … Skriv aldrig personnummer eller "
        "samordningsnummer, inte heller med bokstäver eller tecken tillagda: en fil med ett "
        "personnummer avvisas helt. Använd samma nyckel för personen i varje export.",
    ),
    (
        "Koder",
        "Välj i listorna; de visar texterna på bladet Koder. I en export ur ert eget system "
        "godtas både koden och texten, till exempel K eller Kvinna.",
    ),
    (
        "Uppdateringar",
        "Skicka varje gång en ny, fullständig export med alla insatsperioder "
        "(även de som redan skickats), och sätt datumet först i filnamnet, till exempel "
        "2025-06_kommunen.xlsx. Den senaste filen gäller.",
    ),
    ("Skicka", "Skicka filen på det säkra sätt som förbundet anvisat, aldrig som vanlig e-post."),
]


def _code_blocks(catalog: Catalog) -> list[tuple[str, list[tuple[str, str]]]]:
    """(heading, [(code, text)]) for the insats column and every code column."""
    insatser = list(zip(catalog.insatser["insats_id"], catalog.insatser["insats"], strict=True))
    blocks = [(COLUMN_BY_NAME["insats_id"].heading, insatser)]
    blocks += [
        (c.heading, [(code, CODE_TEXTS[code]) for code in c.codes])
        for c in COLUMNS
        if c.codes is not None
    ]
    return blocks


def _what(column: Column) -> str:
    if column.name in WHAT:
        bounds = {
            "fodelsear": (ALDER_MIN, ALDER_MAX),
            "omfattning_fore": (OMFATTNING_MIN, OMFATTNING_MAX),
            "omfattning_efter": (OMFATTNING_MIN, OMFATTNING_MAX),
            "steg_start": (STEG_MIN, STEG_MAX),
            "steg_slut": (STEG_MIN, STEG_MAX),
        }.get(column.name, (0, 0))
        return WHAT[column.name].format(lo=bounds[0], hi=bounds[1])
    return f"Välj i listan ({column.name}); texterna står på bladet Koder."


def _validation(column: Column, col: str, ranges: dict[str, str]) -> dict | None:
    """The data validation of a column's data cells."""
    stop = {"error_type": "stop", "error_title": column.heading[:32]}
    if column.name in ranges:
        return {
            "validate": "list",
            "source": ranges[column.name],
            "error_message": "Välj ett värde i listan (se bladet Koder).",
            **stop,
        }
    if column.name in ("startdatum", "slutdatum"):
        return {
            "validate": "date",
            "criteria": "between",
            "minimum": FIRST_DATE,
            "maximum": LAST_DATE,
            "error_message": "Skriv ett datum, ÅÅÅÅ-MM-DD.",
            **stop,
        }
    whole = {
        "fodelsear": (1900, LAST_DATE.year),
        "omfattning_fore": (OMFATTNING_MIN, OMFATTNING_MAX),
        "omfattning_efter": (OMFATTNING_MIN, OMFATTNING_MAX),
        "steg_start": (STEG_MIN, STEG_MAX),
        "steg_slut": (STEG_MIN, STEG_MAX),
    }
    if column.name in whole:
        lo, hi = whole[column.name]
        return {
            "validate": "integer",
            "criteria": "between",
            "minimum": lo,
            "maximum": hi,
            "error_message": f"Skriv ett heltal {lo}–{hi}.",
            **stop,
        }
    if column.name == "deltagare_id":
        # Refused: only digits once dashes, plus signs and spaces are removed, 10 or 12 of
        # them (a personnummer written as such).
        digits = f'SUBSTITUTE(SUBSTITUTE(SUBSTITUTE(TRIM({col}2),"-",""),"+","")," ","")'
        return {
            "validate": "custom",
            "value": f"=OR(ISERROR(VALUE({digits})),AND(LEN({digits})<>10,LEN({digits})<>12))",
            "error_message": "Skriv en pseudonym, aldrig ett personnummer eller samordningsnummer.",
            **stop,
        }
    return None


def _write(path: Path, catalog: Catalog) -> None:
    wb = xlsxwriter.Workbook(str(path))
    wb.set_properties({"title": f"Insändningsmall – {catalog.forbund}", "author": catalog.forbund})
    bold = wb.add_format({"bold": True, "bg_color": "#EEF2F7", "text_wrap": True})
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    text_cell = wb.add_format({"num_format": "@"})
    data = wb.add_worksheet(DATA_SHEET)
    codes = wb.add_worksheet(CODE_SHEET)
    guide = wb.add_worksheet(GUIDE_SHEET)

    # Koder: one block of rows per column; a dropdown lists its block's texts (or ids).
    codes.write_row(0, 0, ["Kolumn", "Kod", "Text"], bold)
    ranges: dict[str, str] = {}
    row = 1
    by_heading = {c.heading: c for c in COLUMNS}
    for name, pairs in _code_blocks(catalog):
        first = row
        for code, text in pairs:
            codes.write_string(row, 0, name)
            codes.write_string(row, 1, code)
            codes.write_string(row, 2, text)
            row += 1
        column = by_heading[name]
        shown = "B" if column.name == "insats_id" else "C"  # insatser by id, codes by text
        ranges[column.name] = f"={CODE_SHEET}!${shown}${first + 1}:${shown}${row}"
    codes.set_column(0, 0, 28)
    codes.set_column(1, 1, 24)
    codes.set_column(2, 2, 34)

    for j, column in enumerate(COLUMNS):
        col = xl_col_to_name(j)
        data.write_string(0, j, column.heading, bold)
        data.data_validation(
            0,
            j,
            0,
            j,
            {
                "validate": "any",
                "input_title": column.heading[:32],
                "input_message": _what(column),
            },
        )
        check = _validation(column, col, ranges)
        if check is not None:
            data.data_validation(1, j, ROWS, j, check)
        is_date = column.name in ("startdatum", "slutdatum")
        as_text = column.name in ("deltagare_id", "kommun", "forbund")
        width = max(16 if is_date else 12, len(column.heading) + 3)
        if column.codes is not None:  # the longest text of its dropdown fits
            width = max(width, max(len(CODE_TEXTS[code]) for code in column.codes) + 3)
        # Text cells for keys: Excel would turn 0042 into 42, and a number into a number.
        data.set_column(j, j, width, date if is_date else text_cell if as_text else None)
    data.freeze_panes(1, 0)
    data.set_row(0, 32)

    for sheet in (data, codes, guide):  # printed (or made a PDF) one page wide
        sheet.set_landscape()
        sheet.fit_to_pages(1, 0)
        sheet.set_paper(9)  # A4
    data.repeat_rows(0)
    guide.set_column(0, 0, 24)
    guide.set_column(1, 1, 100)
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    guide.write_string(
        0, 0, f"Insändningsmall – {catalog.forbund}", wb.add_format({"bold": True, "font_size": 14})
    )
    for i, (label, text) in enumerate(INSTRUCTIONS, start=2):
        guide.write_string(i, 0, label, wb.add_format({"bold": True, "valign": "top"}))
        guide.write_string(i, 1, text, wrap)
        # Wrapped text needs its row height set (spreadsheet programs do not grow it).
        guide.set_row(i, 15 * (len(text) // 95 + 1))
    wb.close()


def write_template(out: Path, catalog: Catalog) -> Path:
    """Write the submission template for `catalog` atomically to `out`."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_with(out, lambda tmp: _write(tmp, catalog))
    return out
