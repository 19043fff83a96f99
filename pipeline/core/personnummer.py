"""Personnummer and samordningsnummer: find them in a file before anything of it is kept.

The rule is the data contract's (section 1, "Personnummer and samordningsnummer"); the
Swedish summary for users is in the README and docs/antaganden.md (I5):

- A *personnummer-shaped number* is 10 or 12 digits, optionally split before the last four
  by what a person types (hyphens and dashes of every kind, plus, spaces, invisible
  characters, a line break), whose date part is a real calendar date (day + 60 for a
  samordningsnummer). The check digit does not matter. Text is read after Unicode
  normalization (NFKC: fullwidth digits are digits), with invisible characters removed.
- *Standing alone* (the whole cell, or a part of it set off by anything but a letter or a
  digit, a hyphen included) it rejects the whole file. A value written as a number is read
  as its digits whatever the notation (`8112189876`, `8.112189876E9`, `811218987.0`,
  `8 112 189 876`), and with the leading zero a spreadsheet drops (8 or 9 digits: people
  born 2000–2009).
- *Glued* to letters inside a key it is part of a pseudonym: `P8503121234`, or the groups
  of a UUID. So are longer runs of digits (`20248112189876`). Such look-alikes reject the
  file only when a column's look-alikes are dated far more often than random digits are
  *and* pass the check digit far more often than one time in ten: a party that
  "pseudonymized" by adding something to the personnummer.

Everything here is vectorized: a cheap regular expression picks the few cells that could
hold a number at all, and only those are normalized and split into tokens (`tokens`), a
long frame in which a standalone number is one 10- or 12-digit token, or a 6/8-digit
token, a separator and a 4-digit token. Nothing found is ever returned as a value: results
name rows and columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

# After normalization (`normalized`) every dash is "-" and every space " ".
_SEPARATOR = r"^ {0,3}[-+]{0,2} {0,3}$"

_UUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
# A token: a UUID (one key, as a pseudonym is), a run of letters and digits, or one other
# character. Anything but a letter or a digit sets a number off (contract), hyphens too.
_TOKEN = rf"{_UUID}|[\p{{L}}\p{{N}}]+|[^\p{{L}}\p{{N}}]"
_PURE = r"^(?:[0-9]{10}|[0-9]{12})$"
_HEAD = r"^[0-9]{6}(?:[0-9]{2})?$"
_TAIL = r"^[0-9]{4}$"
# A whole cell written as a number: digits, a decimal part of zeros, an exponent, or
# thousands set off by spaces (as a spreadsheet shows it).
_NUMBER = r"^[+]?(?:[0-9]+(?:[.,][0-9]+)?(?:[eE][+]?[0-9]{1,2})?|[0-9]{1,3}(?: [0-9]{3}){2,3})$"
# Cheap first filter, a superset of every candidate before normalization: ten digits (of
# any script) within a short stretch, or a number in another notation.
_ANY_CANDIDATE = (
    r"\p{Nd}{6}(?:\p{Nd}{2})?[^\p{L}\p{Nd}]{0,10}\p{Nd}{4}"
    r"|\p{Nd}{8}"
    r"|[0-9][.,][0-9]{5,}[eE]"
    r"|[0-9]{1,3}[ \u00a0\u202f][0-9]{3}[ \u00a0\u202f][0-9]{3}"
)
# Invisible characters a copy from a web page or a system can carry inside a number.
_INVISIBLE = "[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]"
_DASH = "[\\p{Pd}\u2212\u2043\ufe63\uff0d]"
_ARABIC_INDIC = {chr(0x0660 + d): str(d) for d in range(10)} | {
    chr(0x06F0 + d): str(d) for d in range(10)
}
# Digit groups inside keys and long runs, for the statistical test.
_DIGIT_RUN = r"[0-9]{10,16}"
_SPLIT_NUMBER = r"([0-9]{6}(?:[0-9]{2})?)[-+]([0-9]{4})"

# Years a 12-digit number's date part may have.
FIRST_YEAR, LAST_YEAR = 1800, 2099
# The statistical test of glued look-alikes: both one-sided binomial tail probabilities
# must be at most this (a column of prefixed personnummer is caught from 3 keys on).
ALPHA = 1e-3
LUHN_CHANCE = 0.1

PERSONNUMMER_MASK = "ÅÅMMDD-XXXX (maskerat)"


# Chance that 10 random digits have a real date part (either century), 7.305 %: per two-digit
# year 337 days in the months other than February, February 29 days when the year is a
# multiple of 4 (25 of 100, 2000 included) else 28; each day also as day + 60. A 12-digit
# run is far less often dated (its century must be 18–20); the test uses the larger value.
P_DATED = 2 * (100 * 337 + 25 * 29 + 75 * 28) / 1_000_000


def candidate_filter(text: pl.Expr) -> pl.Expr:
    """True where a cell could hold a personnummer-shaped number (cheap, vectorized)."""
    return text.str.contains(_ANY_CANDIDATE).fill_null(False)


def normalized(text: pl.Expr) -> pl.Expr:
    """The text as the rule reads it: NFKC (fullwidth digits and dashes become ASCII),
    Arabic-Indic digits as digits, invisible characters removed, every dash "-", every kind
    of space and line break " "."""
    return (
        text.str.normalize("NFKC")
        .str.replace_many(_ARABIC_INDIC)
        .str.replace_all(_INVISIBLE, "")
        .str.replace_all(_DASH, "-")
        .str.replace_all(r"\s", " ")
    )


# --- Dates and the check digit -------------------------------------------------------------


def _is_leap(year: pl.Expr) -> pl.Expr:
    return ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)


def is_dated(digits: pl.Expr) -> pl.Expr:
    """The date part of a 10- or 12-digit string is a real calendar date (day + 60 allowed).

    10 digits: YYMMDD in either century (29 February when YY is a multiple of 4, 2000
    included). 12 digits: YYYYMMDD with the year in FIRST_YEAR..LAST_YEAR.
    """
    twelve = digits.str.len_chars() == 12
    offset = pl.when(twelve).then(2).otherwise(0)
    year = (
        pl.when(twelve)
        .then(digits.str.slice(0, 4).cast(pl.Int32, strict=False))
        .otherwise(digits.str.slice(0, 2).cast(pl.Int32, strict=False))
    )
    month = digits.str.slice(offset + 2, 2).cast(pl.Int32, strict=False)
    day = digits.str.slice(offset + 4, 2).cast(pl.Int32, strict=False)
    day = pl.when(day > 60).then(day - 60).otherwise(day)
    leap = pl.when(twelve).then(_is_leap(year)).otherwise(year % 4 == 0)
    days_in_month = (
        pl.when(month == 2)
        .then(pl.when(leap).then(29).otherwise(28))
        .when(month.is_in([4, 6, 9, 11]))
        .then(30)
        .otherwise(31)
    )
    year_ok = pl.when(twelve).then(year.is_between(FIRST_YEAR, LAST_YEAR)).otherwise(True)
    return (year_ok & month.is_between(1, 12) & day.is_between(1, days_in_month)).fill_null(False)


def luhn_valid(digits: pl.Expr) -> pl.Expr:
    """The check digit (Luhn) of the last ten digits is right."""
    ten = digits.str.slice(digits.str.len_chars() - 10, 10)
    total = pl.lit(0, dtype=pl.Int32)
    for pos in range(10):  # a loop over digit positions, building one expression
        digit = ten.str.slice(pos, 1).cast(pl.Int32, strict=False)
        if pos % 2 == 0:
            doubled = digit * 2
            total = total + (doubled // 10) + (doubled % 10)
        else:
            total = total + digit
    return ((total % 10) == 0).fill_null(False)


# --- Tokens ----------------------------------------------------------------------------------


def tokens(cells: pl.DataFrame) -> pl.DataFrame:
    """Cells (id, text) as one row per token: id, pos, tok, is_key (letters/digits)."""
    return (
        cells.select("id", tok=pl.col("text").str.extract_all(_TOKEN))
        .explode("tok")
        .drop_nulls("tok")
        .with_columns(
            pos=pl.int_range(pl.len()).over("id"),
            is_key=pl.col("tok").str.contains(r"^[\p{L}\p{N}]"),
        )
    )


_ONE_KEY = r"^[\p{L}\p{N}]+$"


def _split_cells(cells: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(cells that are one run of letters and digits, the other cells): most pseudonyms are
    one run, and such a cell needs no tokens (it is a number on its own or a key)."""
    one = pl.col("text").str.contains(_ONE_KEY).fill_null(False)
    return cells.filter(one), cells.filter(~one)


def _as_number(text: pl.Expr) -> pl.Expr:
    """The digits of a cell written as a whole number (any notation), else null."""
    plain = text.str.replace_all(" ", "").str.replace(",", ".")
    value = plain.cast(pl.Float64, strict=False)
    whole = (value == value.floor()) & (value >= 1e7) & (value < 1e12)
    return pl.when(text.str.contains(_NUMBER) & whole).then(value.cast(pl.Int64).cast(pl.String))


def standalone_numbers(cells: pl.DataFrame) -> pl.DataFrame:
    """Personnummer-shaped numbers standing alone in cells (id, text): id, digits, kind.

    kind: `fristaende` (written as digits in the text), `tal` (a cell written as a number,
    read as its digits, 8–9 of them with the dropped leading zero). Only numbers with a
    real date part are returned.
    """
    cells = cells.with_columns(pl.col("text").pipe(normalized))
    single, other = _split_cells(cells)
    toks = tokens(other)
    keys = pl.concat(
        [
            single.select("id", tok="text"),
            toks.filter(pl.col("is_key")).select("id", "tok"),
        ]
    )
    pure = keys.filter(pl.col("tok").str.contains(_PURE)).select(
        "id", digits="tok", kind=pl.lit("fristaende")
    )
    # A 6/8-digit key, a typed separator, a 4-digit key: the separator is the text between
    # two consecutive keys (every key is followed by the non-key tokens up to the next).
    ordinal = toks.with_columns(key_no=pl.col("is_key").cast(pl.Int32).cum_sum().over("id"))
    gaps = (
        ordinal.filter(~pl.col("is_key"))
        .group_by("id", "key_no", maintain_order=True)
        .agg(gap=pl.col("tok").str.join(""))
    )
    split = (
        ordinal.filter(pl.col("is_key"))
        .join(gaps, on=["id", "key_no"], how="left")
        .with_columns(following=pl.col("tok").shift(-1).over("id"))
        .filter(
            pl.col("tok").str.contains(_HEAD)
            & pl.col("gap").str.contains(_SEPARATOR).fill_null(False)
            & pl.col("following").str.contains(_TAIL).fill_null(False)
        )
        .select("id", digits=pl.col("tok") + pl.col("following"), kind=pl.lit("fristaende"))
    )
    digits = _as_number(pl.col("text").str.strip_chars())
    number = (
        cells.select("id", digits=digits)
        .drop_nulls("digits")
        .filter(pl.col("digits").str.len_chars().is_in([8, 9, 10, 12]))
        .select(
            "id",
            digits=pl.when(pl.col("digits").str.len_chars() < 10)
            .then(pl.col("digits").str.zfill(10))
            .otherwise(pl.col("digits")),
            kind=pl.lit("tal"),
        )
    )
    found = pl.concat([pure, split, number])
    return found.filter(is_dated(pl.col("digits")))


def glued_numbers(cells: pl.DataFrame) -> pl.DataFrame:
    """Digit groups of personnummer length in keys and long runs (id, digits, dated, luhn).

    A run of 10 or 12 digits is one look-alike; a run of 11–16 digits (12 included) also
    gives its first and its last ten digits, where a personnummer with digits added would be.
    """
    # A hyphen or plus inside a key between six or eight digits and four more is where a
    # personnummer has its separator (`P850312-1234`): the digits are tested as one run.
    cells = cells.with_columns(
        pl.col("text").pipe(normalized).str.replace_all(_SPLIT_NUMBER, "${1}${2}")
    )
    single, other = _split_cells(cells)
    keys = pl.concat(
        [
            single.select("id", tok="text"),
            tokens(other).filter(pl.col("is_key")).select("id", "tok"),
        ]
    )
    runs = keys.select("id", run=pl.col("tok").str.extract_all(_DIGIT_RUN)).explode("run")
    length = pl.col("run").str.len_chars()
    # A run of exactly 10 digits is standalone when it is the whole key (checked there).
    exact = runs.filter(length.is_in([10, 12])).select("id", digits="run")
    long = runs.filter(length.is_in([11, *range(12, 17)]))
    windows = pl.concat(
        [
            long.select("id", digits=pl.col("run").str.slice(0, 10)),
            long.select("id", digits=pl.col("run").str.slice(length - 10, 10)),
        ]
    )
    found = pl.concat([exact, windows])
    return found.with_columns(dated=is_dated(pl.col("digits"))).with_columns(
        luhn=pl.col("dated") & luhn_valid(pl.col("digits"))
    )


# --- The statistical test of glued look-alikes ---------------------------------------------


def binomial_tail(successes: int, trials: int, p: float) -> float:
    """P(X ≥ successes) for X ~ Binomial(trials, p).

    >>> round(binomial_tail(3, 3, 0.1), 6)
    0.001
    >>> binomial_tail(0, 10, 0.1)
    1.0
    """
    if successes <= 0:
        return 1.0
    if successes > trials:
        return 0.0
    from scipy.special import betainc  # imported only when a column has look-alikes

    # P(X ≥ s) = I_p(s, n − s + 1), the regularized incomplete beta function.
    return float(betainc(successes, trials - successes + 1, p))


@dataclass(frozen=True)
class PrefixedColumn:
    """A column whose keys look like personnummer with something added (no values)."""

    column: str
    keys: int  # digit groups of personnummer shape in the column's keys
    dated: int  # of which with a real date part
    luhn: int  # of which also with a valid check digit

    @property
    def p_dated(self) -> float:
        return binomial_tail(self.dated, self.keys, P_DATED)

    @property
    def p_luhn(self) -> float:
        return binomial_tail(self.luhn, self.dated, LUHN_CHANCE)

    @property
    def is_personnummer(self) -> bool:
        # A hair of tolerance: P(3 of 3) = 0.1³ is ALPHA itself, up to rounding.
        limit = ALPHA * (1 + 1e-9)
        return self.p_dated <= limit and self.p_luhn <= limit


# --- Scanning a frame --------------------------------------------------------------------------


@dataclass(frozen=True)
class Scan:
    """Where a frame holds personnummer: standalone hits (row, column) and prefixed columns."""

    hits: pl.DataFrame  # row, column (names as given): standalone personnummer-shaped numbers
    prefixed: list[PrefixedColumn]

    @property
    def found(self) -> bool:
        return self.hits.height > 0 or bool(self.prefixed)


def _candidate_cells(frame: pl.DataFrame, row: str, columns: list[str]) -> pl.DataFrame:
    """(id, row, column, text) of every cell that passes the cheap filter."""
    empty = pl.DataFrame(
        schema={"id": pl.UInt32, row: pl.Int64, "column": pl.String, "text": pl.String}
    )
    if not columns or frame.height == 0:
        return empty
    # One expression over every column (building one per column per file costs more than
    # it saves); a candidate has at least eight characters, so shorter cells are skipped.
    text = pl.col(columns).cast(pl.String)
    flagged = frame.select(candidate_filter(text.filter(text.str.len_bytes() >= 8)).any())
    found = [c for c, any_found in zip(columns, flagged.row(0), strict=True) if any_found]
    parts = [
        frame.select(pl.col(row).cast(pl.Int64), text=pl.col(c).cast(pl.String))
        .filter(candidate_filter(pl.col("text")))
        .with_columns(column=pl.lit(c))
        for c in found
    ]
    if not parts:
        return empty
    return pl.concat(parts).with_row_index("id").select("id", row, "column", "text")


def scan_frame(frame: pl.DataFrame, row: str, columns: list[str] | None = None) -> Scan:
    """Scan every cell of `columns` (default: all but `row`) of a frame of text cells."""
    columns = [c for c in frame.columns if c != row] if columns is None else columns
    cells = _candidate_cells(frame, row, columns)
    if cells.height == 0:
        return Scan(pl.DataFrame(schema={row: pl.Int64, "column": pl.String}), [])
    where = cells.select("id", row, "column")
    hits = (
        standalone_numbers(cells.select("id", "text"))
        .select("id")
        .unique()
        .join(where, on="id")
        .select(row, "column")
        .unique()
        .sort(row, "column")
    )
    glued = glued_numbers(cells.select("id", "text")).join(where, on="id")
    stats = glued.group_by("column", maintain_order=True).agg(
        keys=pl.len(), dated=pl.col("dated").sum(), luhn=pl.col("luhn").sum()
    )
    prefixed = [
        column
        for column in (
            PrefixedColumn(r["column"], int(r["keys"]), int(r["dated"]), int(r["luhn"]))
            for r in stats.iter_rows(named=True)  # one row per column, not per cell
        )
        if column.is_personnummer
    ]
    return Scan(hits, prefixed)


def texts_with_personnummer(texts: list[str]) -> list[bool]:
    """For each text (headings, sheet names, file paths): does it hold a standalone number?

    >>> texts_with_personnummer(["pnr 19850312 1234", "P8503121234", "Kön"])
    [True, False, False]
    """
    # A number needs eight digits at least: most texts (headings) have none to look at.
    digits = [i for i, text in enumerate(texts) if sum(ch.isdigit() for ch in text) >= 8]
    if not digits:
        return [False] * len(texts)
    cells = pl.DataFrame(
        {"id": digits, "text": [texts[i] for i in digits]},
        schema={"id": pl.UInt32, "text": pl.String},
    )
    flagged = cells.filter(candidate_filter(pl.col("text")))
    found = set(standalone_numbers(flagged)["id"].to_list()) if flagged.height else set()
    return [i in found for i in range(len(texts))]


def text_has_personnummer(text: str) -> bool:
    """A single text (a heading, a sheet name, a file path) holds a standalone number.

    >>> text_has_personnummer("pnr 19850312 1234"), text_has_personnummer("P8503121234")
    (True, False)
    """
    return texts_with_personnummer([text])[0]


def mask_text(text: str) -> str:
    """A text (a file or sheet name) that holds a personnummer, with every digit shown as X:
    whatever way the number was written, none of it is shown.

    >>> mask_text("2025_850312-1234.csv")
    'XXXX_XXXXXX-XXXX.csv'
    """
    return re.sub(r"\d", "X", text)


__all__ = [
    "ALPHA",
    "PERSONNUMMER_MASK",
    "P_DATED",
    "PrefixedColumn",
    "Scan",
    "binomial_tail",
    "candidate_filter",
    "glued_numbers",
    "is_dated",
    "luhn_valid",
    "mask_text",
    "scan_frame",
    "standalone_numbers",
    "text_has_personnummer",
    "texts_with_personnummer",
]
