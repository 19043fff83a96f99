"""Headings: each heading matched to a contract column (aliases, case and accents ignored),
and how messages name a column or a sheet without quoting content that could be data."""

from __future__ import annotations

import difflib
import re

from pipeline.core.contract import (
    COUNTED_ALIASES,
    COUNTED_COLUMNS,
    COUNTED_HEADINGS,
    HEADER_ALIASES,
    REQUIRED_COLUMNS,
    normalize_header,
    swedish_heading,
)
from pipeline.ingest.files import FileRejected
from pipeline.ingest.readers import Table

# --- Headings ----------------------------------------------------------------------------------


def canonical_of(heading: str | None) -> str | None:
    """The contract column a heading names, or None."""
    return HEADER_ALIASES.get(normalize_header(heading or ""))


def counted_of(heading: str | None) -> str | None:
    """The column of a counted-participants file a heading names, or None."""
    return COUNTED_ALIASES.get(normalize_header(heading or ""))


def header_score(headings: list[str | None]) -> int:
    """How many required columns a row of headings names (the readers' heading search): of
    an export, or of a counted-participants file, whichever it names more of."""
    export = len({canonical_of(h) for h in headings} & set(REQUIRED_COLUMNS))
    return max(export, len({counted_of(h) for h in headings} - {None}))


def counted_mapping(table: Table) -> dict[int, str]:
    """Heading position → column of a counted-participants file (the first heading that
    names a column; `column_mapping(table, counted_of)` rejects a table where another one
    does too)."""
    mapping: dict[int, str] = {}
    for position, heading in enumerate(table.headers):
        column = counted_of(heading)
        if column is not None and column not in mapping.values():
            mapping[position] = column
    return mapping


def is_counted_table(mapping: dict[int, str]) -> bool:
    return set(COUNTED_COLUMNS) <= set(mapping.values())


def looks_counted(mapping: dict[int, str]) -> bool:
    """Names a column only a counted-participants file has (slag, kvinnor, män)."""
    return bool({"slag", "kvinnor", "man"} & set(mapping.values()))


def missing_counted_message(mapping: dict[int, str]) -> str:
    missing = [c for c in COUNTED_COLUMNS if c not in mapping.values()]
    named = ", ".join(f"{c} ({COUNTED_HEADINGS[c]})" for c in missing)
    return (
        f"Filen ser ut som en fil med räknade deltagare men saknar kolumner: {named}. "
        "En sådan fil har rubrikerna insats_id, ar, slag, kvinnor, man."
    )


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


def _suggestion(heading: str) -> str | None:
    """The contract heading a misspelt heading most resembles, if any."""
    match = difflib.get_close_matches(normalize_header(heading), list(HEADER_ALIASES), 1, 0.75)
    return swedish_heading(HEADER_ALIASES[match[0]]) if match else None


def column_mapping(table: Table, of=canonical_of) -> dict[int, str]:
    """Heading position → contract column (or, with `of=counted_of`, column of a
    counted-participants file); FileRejected when two headings mean one column."""
    mapping: dict[int, str] = {}
    seen: dict[str, int] = {}
    for position, heading in enumerate(table.headers):
        canonical = of(heading)
        if canonical is None:
            continue
        if canonical in seen:
            first = seen[canonical]
            where = f" på blad {sheet_label(table)}" if table.sheet else ""
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
    named = ", ".join(f"{c} ({swedish_heading(c)})" for c in missing)
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


def sheet_label(table: Table) -> str:
    """How a message names a sheet: by its number (a sheet's name may be a person's)."""
    return f"nr {table.number}"
