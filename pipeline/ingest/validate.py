"""Validate: cast the text of an export to the contract's types and check every rule.

Two steps, both vectorized:
1. `cast_types` turns text into dates and integers (recording every value that does not
   parse) and folds code values to their canonical case.
2. A pandera schema (polars backend, built per catalog and run date) checks every value and
   cross-field rule on the collected DataFrame with lazy=True, so all errors of a file are
   found at once. Its `failure_cases["index"]` splits bad rows from good ones.

Every failure becomes one quarantine record (file, row, column, the value as sent, rule).
The rules' Swedish explanations are listed once, in `pipeline.core.contract.RULES`.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from dataclasses import dataclass

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaErrors

from pipeline.core.contract import (
    ALDER_MAX,
    ALDER_MIN,
    CODE_TEXTS,
    COLUMN_BY_NAME,
    COLUMNS,
    COUNTED_KINDS,
    OMFATTNING_MAX,
    OMFATTNING_MIN,
    QUARANTINE_SCHEMA,
    REQUIRED_COLUMNS,
    RULES,
    STEG_MAX,
    STEG_MIN,
    code_lookup,
)
from pipeline.ingest.readers import ROW_COLUMN


class ValidationDisabled(RuntimeError):
    """PANDERA_VALIDATION_ENABLED=False is set: every check would silently pass."""


def ensure_validation_enabled() -> None:
    """Refuse to run with pandera switched off by the environment (pitfalls.md)."""
    if os.environ.get("PANDERA_VALIDATION_ENABLED", "").lower() in {"0", "false", "no"}:
        raise ValidationDisabled(
            "PANDERA_VALIDATION_ENABLED är avstängd i miljön, så valideringen skulle inte "
            "köras. Ta bort variabeln (t.ex. ur schemaläggarens miljö) och kör igen."
        )


DATE_COLUMNS = [c.name for c in COLUMNS if c.dtype == pl.Date]
INT_COLUMNS = [c.name for c in COLUMNS if c.dtype.is_integer()]
CODE_COLUMNS = [c.name for c in COLUMNS if c.codes is not None]
CODE_LISTS = {
    c.name: "tillåtna: " + ", ".join(f"{code} ({CODE_TEXTS[code]})" for code in c.codes)
    for c in COLUMNS
    if c.codes is not None
} | {"slag": "tillåtna: " + ", ".join(f"{k} ({CODE_TEXTS[k]})" for k in COUNTED_KINDS)}


@dataclass(frozen=True)
class Validated:
    """Good rows (typed as EPISODE_SCHEMA, plus `_rad`) and the quarantine of one table.

    `rejected_keys`: the episode key (and `_rad`) of every quarantined row whose key itself
    is valid, so that the store can tell when the newest version of an episode was rejected.
    """

    episodes: pl.DataFrame
    quarantine: pl.DataFrame
    rejected_keys: pl.DataFrame


# --- Step 1: types -----------------------------------------------------------------------------


def _parse_date(col: str) -> pl.Expr:
    # A date cell read from a workbook as text ends in a midnight time ("2024-01-15
    # 00:00:00"): that is the date. Any other time of day is not a date (rule I4).
    date = pl.col(col).str.strip_suffix(" 00:00:00").str.strip_suffix("T00:00:00")
    return date.str.to_date("%Y-%m-%d", strict=False)


def parse_int(col: str) -> pl.Expr:
    # A leading + is allowed ("+5"), and a whole number written as a decimal ("1980.0", as
    # programs write a number column with gaps); strip_* are the cheap forms of replace().
    return pl.col(col).str.strip_prefix("+").str.strip_suffix(".0").cast(pl.Int64, strict=False)


def folded(text: pl.Expr) -> pl.Expr:
    """`contract.fold_code_text` in polars (tested equal on every code and text)."""
    return (
        text.str.normalize("NFKD")
        .str.replace_all(r"\p{Mn}", "")
        .str.to_lowercase()
        .str.replace_all("[\u2010-\u2015\u2212\ufe63\uff0d]", "-")
        .str.replace_all(r"\s*([-/,])\s*", "${1}")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


def _fold_code(col: str) -> pl.Expr:
    # A code or its Swedish text, case, accents, dashes and spaces ignored (K/k/Kvinna,
    # Arbete/arbete, "Sjukersättning"): a closed mapping from the contract, never a silent
    # default; any other value is kept as sent and fails the code rule.
    lookup = code_lookup(COLUMN_BY_NAME[col].codes)
    return (
        folded(pl.col(col)).replace_strict(lookup, default=pl.col(col), return_dtype=pl.String)
    ).alias(col)


def cast_types(text: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cast text columns; return (typed frame, failures as (_rad, kolumn, regel_id)).

    >>> t = pl.DataFrame({"_rad": [2, 3], "startdatum": ["2024-01-31", "31/1"],
    ...                   "fodelsear": ["1980", "x"]})
    >>> typed, failed = cast_types(t)
    >>> failed.rows()
    [(3, 'startdatum', 'datumformat'), (3, 'fodelsear', 'heltal')]
    """
    text = text.with_columns(pl.exclude(ROW_COLUMN).cast(pl.String))
    dates = [c for c in DATE_COLUMNS if c in text.columns]
    ints = [c for c in INT_COLUMNS if c in text.columns]
    codes = [c for c in CODE_COLUMNS if c in text.columns]
    # Folding is an identity on values already in the code list, so only columns holding some
    # other value are folded (case-changing millions of strings is the costly part).
    needs_folding = (
        text.select(
            (pl.col(c).is_not_null() & ~pl.col(c).is_in(COLUMN_BY_NAME[c].codes)).any()
            for c in codes
        ).row(0)
        if codes
        else ()
    )
    typed = text.with_columns(
        *(_parse_date(c) for c in dates),
        *(parse_int(c) for c in ints),
        *(_fold_code(c) for c, fold in zip(codes, needs_folding, strict=True) if fold),
    )
    checked = [*dates, *ints]
    failed_flags = text.select(
        pl.col(ROW_COLUMN),
        *((pl.col(c).is_not_null() & typed[c].is_null()).alias(c) for c in checked),
    )
    if checked:  # only rows with a failure are unpivoted (usually none)
        failed_flags = failed_flags.filter(pl.any_horizontal(checked))
    rule_of = {**dict.fromkeys(dates, "datumformat"), **dict.fromkeys(ints, "heltal")}
    failures = (
        failed_flags.unpivot(index=ROW_COLUMN, variable_name="kolumn", value_name="fel")
        .filter(pl.col("fel"))
        .select(
            ROW_COLUMN,
            "kolumn",
            pl.col("kolumn").replace_strict(rule_of, return_dtype=pl.String).alias("regel_id"),
        )
    )
    return typed, failures


# --- Step 2: the schema ------------------------------------------------------------------------


def rule_check(regel_id: str, passes: pl.Expr) -> pa.Check:
    """A pandera check named by its rule; `passes` must be a definite boolean per row."""
    return pa.Check(lambda data: data.lazyframe.select(passes.fill_null(True)), name=regel_id)


def _is_set(col: str) -> pl.Expr:
    return pl.col(col).is_not_null()


# The dtype of every column after `cast_types` (what the schema checks).
SCHEMA_DTYPES: dict[str, pl.DataType] = {
    c.name: pl.Date()
    if c.dtype == pl.Date
    else pl.Int64()
    if c.name in INT_COLUMNS
    else pl.String()
    for c in COLUMNS
}


def schema_rules(
    insats_ids: list[str],
    today: dt.date,
    structural: tuple[str, ...] = (),
    forbund_of: tuple[tuple[str, str], ...] = (),
) -> list[tuple[str, str, pl.Expr]]:
    """Every value rule of the data contract: (column, regel_id, passes), in schema order.

    `insats_ids` are the catalog's insatser with participant records; `structural` its
    strukturövergripande ones (known, but an episode of one is an error of its own);
    `forbund_of` the (insats_id, förbund) pairs of a pooled catalog (an episode's `forbund`
    must agree with its insats's).
    `passes` may be null where a value is missing; null counts as passing (a missing value
    is the `saknas` rule's business, for required columns only).
    """
    ended = _is_set("slutdatum")
    age = pl.col("startdatum").dt.year().cast(pl.Int64) - pl.col("fodelsear")
    rules = [
        (c.name, "kod", pl.col(c.name).is_in(list(c.codes))) for c in COLUMNS if c.codes is not None
    ]
    rules += [
        (
            "insats_id",
            "okand_insats",
            pl.col("insats_id").is_in([*insats_ids, *structural]),
        ),
        ("insats_id", "struktur_insats", ~pl.col("insats_id").is_in(structural)),
        ("forbund", "fel_forbund", _agrees_with_catalog(forbund_of)),
        ("fodelsear", "alder", age.is_between(ALDER_MIN, ALDER_MAX)),
        ("slutdatum", "slut_fore_start", pl.col("slutdatum") >= pl.col("startdatum")),
        ("slutdatum", "framtida_datum", pl.col("slutdatum") <= pl.lit(today)),
    ]
    for name in ("omfattning_fore", "omfattning_efter"):
        rules.append((name, "omfattning", pl.col(name).is_between(OMFATTNING_MIN, OMFATTNING_MAX)))
    for name in ("steg_start", "steg_slut"):
        rules.append((name, "steg", pl.col(name).is_between(STEG_MIN, STEG_MAX)))
    rules += [
        ("avslutsorsak", "avslut_utan_orsak", ~ended | _is_set("avslutsorsak")),
        ("avslutsorsak", "orsak_utan_avslut", ended | ~_is_set("avslutsorsak")),
        (
            "sysselsattning_efter",
            "avslut_utan_sysselsattning",
            ~ended | _is_set("sysselsattning_efter"),
        ),
        (
            "sysselsattning_efter",
            "sysselsattning_utan_avslut",
            ended | ~_is_set("sysselsattning_efter"),
        ),
    ]
    return rules


def _agrees_with_catalog(forbund_of: tuple[tuple[str, str], ...]) -> pl.Expr:
    """The episode's förbund is its insats's; null (passing) where either is not given."""
    if not forbund_of:
        return pl.lit(None, dtype=pl.Boolean)
    ids, names = zip(*forbund_of, strict=True)
    expected = pl.col("insats_id").replace_strict(list(ids), list(names), default=None)
    return pl.col("forbund") == expected


def build_schema(
    insats_ids: list[str],
    today: dt.date,
    structural: tuple[str, ...] = (),
    forbund_of: tuple[tuple[str, str], ...] = (),
) -> pa.DataFrameSchema:
    """Every rule of the data contract as a pandera schema for one catalog and run date."""
    checks: dict[str, list[pa.Check]] = {name: [] for name in SCHEMA_DTYPES}
    for name, regel_id, passes in schema_rules(insats_ids, today, structural, forbund_of):
        checks[name].append(rule_check(regel_id, passes))
    columns = {
        name: pa.Column(dtype, nullable=name not in REQUIRED_COLUMNS, checks=checks[name])
        for name, dtype in SCHEMA_DTYPES.items()
    }
    return pa.DataFrameSchema(columns, strict=False, coerce=False)


def passes_every_rule(
    insats_ids: list[str],
    today: dt.date,
    structural: tuple[str, ...] = (),
    forbund_of: tuple[tuple[str, str], ...] = (),
) -> pl.Expr:
    """True for a row that breaks no rule of the schema: the same expressions, one pass."""
    return pl.all_horizontal(
        *(pl.col(name).is_not_null() for name in REQUIRED_COLUMNS),
        *(
            passes.fill_null(True)
            for _, _, passes in schema_rules(insats_ids, today, structural, forbund_of)
        ),
    )


@functools.lru_cache(maxsize=8)
def _schema(
    insats_ids: tuple[str, ...],
    today: dt.date,
    structural: tuple[str, ...],
    forbund_of: tuple[tuple[str, str], ...],
) -> tuple[pa.DataFrameSchema, pl.Expr]:
    """build_schema and passes_every_rule, built once per catalog and run date."""
    ids = list(insats_ids)
    return (
        build_schema(ids, today, structural, forbund_of),
        passes_every_rule(ids, today, structural, forbund_of),
    )


def checked_by_schema(
    typed: pl.DataFrame, schema: pa.DataFrameSchema, passes: pl.Expr
) -> pl.DataFrame:
    """schema_failures, with pandera run only on the rows that break some rule.

    `passes` (passes_every_rule) evaluates the schema's own rule expressions in one vectorized
    pass; the rows it flags are validated by pandera, which names every failure. Each rule
    looks at one row only, so a row's failures do not depend on the other rows. When a
    column is missing or has another dtype, pandera sees the whole frame (and says so).
    """
    if any(typed.schema.get(name) != dtype for name, dtype in SCHEMA_DTYPES.items()):
        return schema_failures(typed, schema)
    suspect = typed.filter(~passes)
    if suspect.height == 0:
        return pl.DataFrame(
            schema={ROW_COLUMN: pl.Int64, "kolumn": pl.String, "regel_id": pl.String}
        )
    return schema_failures(suspect, schema)


def schema_failures(typed: pl.DataFrame, schema: pa.DataFrameSchema) -> pl.DataFrame:
    """Run the schema lazily over a collected frame; failures as (_rad, kolumn, regel_id)."""
    empty = pl.DataFrame(schema={ROW_COLUMN: pl.Int64, "kolumn": pl.String, "regel_id": pl.String})
    try:
        schema.validate(typed, lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases
        if cases["index"].null_count():
            # A whole-column problem (dtype) would have no row; types are cast beforehand,
            # so this means a bug in the pipeline, not in the data.
            raise RuntimeError(
                f"Oväntat schemafel utan rad: {cases.filter(pl.col('index').is_null())}"
            ) from errors
        return (
            cases.select(
                pl.col("index").cast(pl.Int64).alias("_index"),
                pl.col("column").alias("kolumn"),
                pl.col("check").replace({"not_nullable": "saknas"}).alias("regel_id"),
            )
            .join(
                typed.select(pl.col(ROW_COLUMN))
                .with_row_index("_index")
                .with_columns(pl.col("_index").cast(pl.Int64)),
                on="_index",
            )
            .select(ROW_COLUMN, "kolumn", "regel_id")
        )
    return empty


# --- The whole step ----------------------------------------------------------------------------


def quarantine_records(
    text: pl.DataFrame, failures: pl.DataFrame, fil: str, sheet: str | None = None
) -> pl.DataFrame:
    """Failures joined with the value exactly as the party sent it, one row per failure."""
    if failures.height == 0:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    # Only the failing rows are unpivoted: a clean file of millions of rows costs nothing here.
    failing_rows = text.join(failures.select(ROW_COLUMN).unique(), on=ROW_COLUMN, how="semi")
    sent = failing_rows.unpivot(index=ROW_COLUMN, variable_name="kolumn", value_name="varde")
    return (
        failures.unique(maintain_order=True)
        .join(sent, on=[ROW_COLUMN, "kolumn"], how="left")
        .select(
            pl.lit(fil).alias("fil"),
            pl.lit(sheet, pl.String).alias("blad"),
            pl.col(ROW_COLUMN).alias("rad"),
            "kolumn",
            "varde",
            "regel_id",
            pl.when(pl.col("regel_id") == "kod")
            .then(
                pl.format(
                    "{} ({})",
                    pl.lit(RULES["kod"]),
                    pl.col("kolumn").replace_strict(CODE_LISTS, default="", return_dtype=pl.String),
                )
            )
            .otherwise(pl.col("regel_id").replace_strict(RULES, return_dtype=pl.String))
            .alias("regel"),
        )
        .sort("rad", "kolumn", "regel_id")
        .cast(dict(QUARANTINE_SCHEMA))
    )


def to_episode_types(typed: pl.DataFrame) -> pl.DataFrame:
    """Valid rows to the store's dtypes (Enums for code lists, narrow integers)."""
    return typed.select(
        pl.col(ROW_COLUMN), *(pl.col(c.name).cast(c.dtype) for c in COLUMN_BY_NAME.values())
    )


KEY_SCHEMA = pl.Schema(
    {
        ROW_COLUMN: pl.Int64(),
        "deltagare_id": pl.String(),
        "insats_id": pl.String(),
        "startdatum": pl.Date(),
    }
)


def validate_export(
    text: pl.DataFrame,
    fil: str,
    insats_ids: list[str],
    today: dt.date,
    sheet: str | None = None,
    structural: tuple[str, ...] = (),
    forbund_of: tuple[tuple[str, str], ...] = (),
) -> Validated:
    """Validate one export table (canonical text columns plus `_rad`): good rows, quarantine
    (with `sheet` as its blad) and the keys of the rejected rows.

    `insats_ids`: the catalog's insatser with records; `structural`: its strukturövergripande
    insatser (an episode of one is rejected: those persons are only counted); `forbund_of`:
    a pooled catalog's (insats_id, förbund) pairs."""
    ensure_validation_enabled()
    text = text.with_columns(pl.exclude(ROW_COLUMN).cast(pl.String))
    typed, cast_failures = cast_types(text)
    # A value that did not parse is null after casting; null it is in the schema's eyes too,
    # so the schema would report it again as missing: keep only the cast failure for it.
    checked = checked_by_schema(
        typed, *_schema(tuple(insats_ids), today, tuple(structural), forbund_of)
    )
    failures = pl.concat(
        [cast_failures, checked.join(cast_failures, on=[ROW_COLUMN, "kolumn"], how="anti")]
    )
    if failures.height:
        bad_rows = failures.get_column(ROW_COLUMN).unique()
        is_bad = pl.col(ROW_COLUMN).is_in(bad_rows.implode())
        good = typed.filter(~is_bad)
        key_failed = failures.filter(pl.col("kolumn").is_in(["deltagare_id", "startdatum"]))
        rejected_keys = (
            typed.filter(is_bad)
            .join(key_failed.select(ROW_COLUMN).unique(), on=ROW_COLUMN, how="anti")
            .select(KEY_SCHEMA.names())
            .drop_nulls()
            .cast(dict(KEY_SCHEMA))
        )
    else:
        good = typed
        rejected_keys = pl.DataFrame(schema=KEY_SCHEMA)
    return Validated(
        episodes=to_episode_types(good),
        quarantine=quarantine_records(text, failures, fil, sheet),
        rejected_keys=rejected_keys,
    )
