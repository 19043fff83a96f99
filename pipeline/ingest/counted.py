"""Validate a table of counted participants (contract section 5): persons who are only
counted, never recorded, one row per insats, year and slag.

The same discipline as an export (`pipeline.ingest.validate`): every value is cast from the
text the party sent, every rule is a named pandera check, and every failure is one
quarantine record naming file, row, column and rule; the other rows are kept.

>>> import datetime as dt
>>> text = pl.DataFrame({"_rad": [2, 3, 4], "insats_id": ["A", "A", "X"],
...     "ar": ["2025", "2025", "2025"], "slag": ["Anonyma", "anonyma", "anonyma"],
...     "kvinnor": ["2", "1", "3"], "man": ["0", "1", "-1"]})  # rows 2 and 3: one key
>>> kept = validate_counted(text, "r.csv", {"A": "individinriktad"}, dt.date(2026, 1, 5))
>>> kept.counted.height, sorted(set(kept.quarantine["regel_id"]))
(0, ['dubbel_rad', 'negativt_antal', 'okand_insats'])
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from pipeline.core.contract import (
    COUNTED_COLUMNS,
    COUNTED_KEY,
    COUNTED_KINDS,
    COUNTED_SCHEMA,
    code_lookup,
)
from pipeline.ingest.readers import ROW_COLUMN
from pipeline.ingest.validate import (
    ensure_validation_enabled,
    folded,
    parse_int,
    quarantine_records,
    rule_check,
    schema_failures,
)

FIRST_YEAR = 2000  # Finsam began in 2004; earlier years are typing errors
COUNT_COLUMNS = ("ar", "kvinnor", "man")


@dataclass(frozen=True)
class ValidatedCounts:
    """Good rows (COUNTED_SCHEMA plus `_rad`) and the quarantine of one table."""

    counted: pl.DataFrame
    quarantine: pl.DataFrame


def _typed(text: pl.DataFrame) -> pl.DataFrame:
    lookup = code_lookup(COUNTED_KINDS)
    return text.with_columns(
        *(parse_int(c) for c in COUNT_COLUMNS),
        pl.col("insats_id").str.strip_chars(),
        folded(pl.col("slag")).replace_strict(
            lookup, default=pl.col("slag"), return_dtype=pl.String
        ),
    )


def counted_rules(inriktning: dict[str, str], today: dt.date) -> list[tuple[str, str, pl.Expr]]:
    """Every rule of a counted row: (column, regel_id, passes); null passes (missing)."""
    slag_fits = pl.col("insats_id").replace_strict(inriktning, default=None) == (
        pl.when(pl.col("slag") == "anonyma")
        .then(pl.lit("individinriktad"))
        .otherwise(pl.lit("strukturovergripande"))
    )
    return [
        ("insats_id", "okand_insats", pl.col("insats_id").is_in(list(inriktning))),
        ("ar", "artal", pl.col("ar").is_between(FIRST_YEAR, today.year)),
        ("slag", "kod", pl.col("slag").is_in(COUNTED_KINDS)),
        (
            "slag",
            "slag_inriktning",
            slag_fits
            | ~pl.col("insats_id").is_in(list(inriktning))
            | ~pl.col("slag").is_in(COUNTED_KINDS),
        ),
        ("kvinnor", "negativt_antal", pl.col("kvinnor") >= 0),
        ("man", "negativt_antal", pl.col("man") >= 0),
    ]


def _schema(inriktning: dict[str, str], today: dt.date) -> pa.DataFrameSchema:
    checks: dict[str, list[pa.Check]] = {c: [] for c in COUNTED_COLUMNS}
    for column, regel_id, passes in counted_rules(inriktning, today):
        checks[column].append(rule_check(regel_id, passes))
    dtypes = {"insats_id": pl.String(), "slag": pl.String()}
    columns = {
        c: pa.Column(dtypes.get(c, pl.Int64()), nullable=False, checks=checks[c])
        for c in COUNTED_COLUMNS
    }
    return pa.DataFrameSchema(columns, strict=False, coerce=False)


def _cast_failures(text: pl.DataFrame, typed: pl.DataFrame) -> pl.DataFrame:
    """A number that did not parse (`heltal`)."""
    return pl.concat(
        [
            typed.filter(pl.col(c).is_null() & text[c].is_not_null()).select(
                ROW_COLUMN, pl.lit(c).alias("kolumn"), pl.lit("heltal").alias("regel_id")
            )
            for c in COUNT_COLUMNS
        ]
    )


def _duplicate_failures(typed: pl.DataFrame, failures: pl.DataFrame) -> pl.DataFrame:
    """Every otherwise valid row of a key (insats, year, slag) that stands on several such
    rows: which of them is right cannot be told, so none is kept. A row rejected for another
    reason does not make a valid one a duplicate."""
    valid = typed.join(failures.select(ROW_COLUMN).unique(), on=ROW_COLUMN, how="anti")
    return valid.filter(pl.len().over(COUNTED_KEY) > 1).select(
        ROW_COLUMN, pl.lit("insats_id").alias("kolumn"), pl.lit("dubbel_rad").alias("regel_id")
    )


def validate_counted(
    text: pl.DataFrame,
    fil: str,
    inriktning: dict[str, str],
    today: dt.date,
    sheet: str | None = None,
) -> ValidatedCounts:
    """Validate one table of counted participants (text columns COUNTED_COLUMNS plus `_rad`).

    `inriktning` maps every insats of the catalog to its inriktning.
    """
    ensure_validation_enabled()
    text = text.with_columns(pl.exclude(ROW_COLUMN).cast(pl.String))
    typed = _typed(text)
    cast_failed = _cast_failures(text, typed)
    checked = schema_failures(typed, _schema(inriktning, today))
    failures = pl.concat(
        [cast_failed, checked.join(cast_failed, on=[ROW_COLUMN, "kolumn"], how="anti")]
    )
    failures = pl.concat([failures, _duplicate_failures(typed, failures)])
    good = typed.join(failures.select(ROW_COLUMN).unique(), on=ROW_COLUMN, how="anti")
    return ValidatedCounts(
        good.select(ROW_COLUMN, *COUNTED_COLUMNS, pl.lit(fil).alias("fil")).cast(
            {ROW_COLUMN: pl.Int64, **COUNTED_SCHEMA}
        ),
        quarantine_records(text, failures, fil, sheet),
    )


def across_sheets(
    tables: list[tuple[pl.DataFrame, str | None, ValidatedCounts]], fil: str
) -> list[ValidatedCounts]:
    """The same rule over the sheets of one workbook: a key kept on two sheets is one file
    saying two things, so every such row is quarantined (`dubbel_rad`) rather than the later
    sheet winning without a word. `tables`: (text, sheet, validated) per counted sheet."""
    keys = pl.concat([v.counted.select(COUNTED_KEY).unique() for _, _, v in tables])
    repeated = keys.filter(pl.len().over(COUNTED_KEY) > 1).unique()
    if repeated.height == 0:
        return [v for _, _, v in tables]
    out = []
    for text, sheet, validated in tables:  # a loop over a workbook's sheets
        twice = validated.counted.join(repeated, on=COUNTED_KEY, how="semi")
        failures = twice.select(
            ROW_COLUMN, pl.lit("insats_id").alias("kolumn"), pl.lit("dubbel_rad").alias("regel_id")
        )
        out.append(
            ValidatedCounts(
                validated.counted.join(repeated, on=COUNTED_KEY, how="anti"),
                pl.concat([validated.quarantine, quarantine_records(text, failures, fil, sheet)]),
            )
        )
    return out
