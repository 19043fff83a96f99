"""Every derived field and measure of the follow-up, defined once (data contract section 3).

Each definition is a small function returning a `pl.Expr`; `pipeline.measures.statistics`
composes them into one `group_by().agg()` per table, and `derived_episode_fields` materializes the
per-episode ones for the analysts' DuckDB views (`pipeline.store.views`). The Swedish text for the
board and auditors is docs/matt.md; the choices behind them are logged in
docs/antaganden_matt.md.

Null semantics. The episode fields are nullable, and polars follows SQL three-valued logic
(`null | true` is true, `null & false` is false, otherwise null). Every flag below is made a
definite true/false with `fill_null`, so that a missing value never silently drops an episode
from a count or a base.

A period is either a `Period` (literal dates) or a pair of expressions `(start, end)`
giving per-row bounds (used for the yearly trend):

>>> import datetime as dt
>>> from pipeline.core.period import Period
>>> df = pl.DataFrame(
...     {"startdatum": [dt.date(2023, 12, 1)], "slutdatum": [dt.date(2024, 1, 10)]}
... )
>>> df.select(enrolled_days_in(Period.year(2024))).item()
10
"""

from __future__ import annotations

import polars as pl

from pipeline.core.contract import OUTCOME_MEASURES
from pipeline.core.period import Period

PeriodLike = Period | tuple[pl.Expr, pl.Expr]

# --- Code groups of the outcome measures (contract section 3) -----------------------------

ARBETE_STUDIER = ("arbete", "arbete_med_stod", "studier")
ARBETE_STUDIER_ARBETSSOKANDE = (*ARBETE_STUDIER, "arbetssokande")
AKTIVITET_SYSSELSATTNING = (
    *ARBETE_STUDIER_ARBETSSOKANDE,
    "arbetstraning_praktik",
    "rehabilitering",
)
# Reasons for ending that take an episode out of the outcome base.
OUTSIDE_OUTCOME_BASE = ("flyttat", "avliden")
NOT_PARTICIPANT = "felregistrering"
UNKNOWN = "okand"

# Age groups (age at start, whole years). Each group is (label, lowest age, highest age).
ALDERSGRUPPER: tuple[tuple[str, int, int], ...] = (
    ("16-19", 16, 19),
    ("20-24", 20, 24),
    ("25-29", 25, 29),
    ("30-39", 30, 39),
    ("40-49", 40, 49),
    ("50-59", 50, 59),
    ("60-67", 60, 67),
)
ALDERSGRUPP_LABELS: tuple[str, ...] = tuple(label for label, _, _ in ALDERSGRUPPER)
ALDERSGRUPP_DTYPE = pl.Enum(ALDERSGRUPP_LABELS)

# z for a two-sided 95 % interval: the 0.975 quantile of the standard normal distribution.
Z_95 = 1.959963984540054

# --- Names of the derived per-episode columns (episoder_harledda) -------------------------

ALDER = "alder"
ALDERSGRUPP = "aldersgrupp"
AR_DELTAGARE = "ar_deltagare"
KON_PERSON = "kon_person"
DAGAR_I_INSATS = "dagar_i_insats"
UTFALLSBAS = "utfallsbas"
UPPNATT: dict[str, str] = {m: f"uppnatt_{m}" for m in OUTCOME_MEASURES}
OKAND: dict[str, str] = {m: f"okand_{m}" for m in OUTCOME_MEASURES}
DERIVED_COLUMNS: tuple[str, ...] = (
    AR_DELTAGARE,
    KON_PERSON,
    ALDER,
    ALDERSGRUPP,
    DAGAR_I_INSATS,
    UTFALLSBAS,
    *(c for m in OUTCOME_MEASURES for c in (UPPNATT[m], OKAND[m])),
)


def _bounds(period: PeriodLike) -> tuple[pl.Expr, pl.Expr]:
    if isinstance(period, Period):
        return pl.lit(period.start, dtype=pl.Date), pl.lit(period.end, dtype=pl.Date)
    return period


def _days_between(first: pl.Expr, last: pl.Expr) -> pl.Expr:
    """Days from `first` to `last`, both inclusive (Int64; may be ≤ 0 if last < first)."""
    return (last - first).dt.total_days().cast(pl.Int64) + 1


# --- Who counts ---------------------------------------------------------------------------


def is_participant() -> pl.Expr:
    """Not a registration error: avslutsorsak is not felregistrering (an open episode is)."""
    return (pl.col("avslutsorsak") != NOT_PARTICIPANT).fill_null(True)


def person_kon() -> pl.Expr:
    """The person's kön: from their latest participant episode (by startdatum, then insats_id).

    Every kön split uses this, so that kvinnor + man = deltagare even if the parties disagree
    on one person's kön. Computed over the whole frame given (the store), not one period.
    """
    return (
        pl.col("kon")
        .sort_by([is_participant(), pl.col("startdatum"), pl.col("insats_id")])
        .last()
        .over("deltagare_id")
    )


# --- Time ---------------------------------------------------------------------------------


def overlaps(period: PeriodLike) -> pl.Expr:
    """Enrolled on at least one day of the period (an open episode runs to the period end)."""
    start, end = _bounds(period)
    return (
        (pl.col("startdatum") <= end) & (pl.col("slutdatum").fill_null(end) >= start)
    ).fill_null(False)


def starts_in(period: PeriodLike) -> pl.Expr:
    """startdatum within the period (both ends inclusive): a new episode (nya)."""
    start, end = _bounds(period)
    return pl.col("startdatum").is_between(start, end).fill_null(False)


def ends_in(period: PeriodLike) -> pl.Expr:
    """slutdatum within the period (both ends inclusive): an ended episode (avslutade)."""
    start, end = _bounds(period)
    return pl.col("slutdatum").is_between(start, end).fill_null(False)


def open_at_end(period: PeriodLike) -> pl.Expr:
    """Started by the period end and not ended by it (pagaende).

    An episode that ended after the period end (known from a later export) was still open
    at the end of the period. Overlapping episodes are exactly ends_in ∪ open_at_end.
    """
    _, end = _bounds(period)
    return (
        (pl.col("startdatum") <= end)
        & (pl.col("slutdatum").is_null() | (pl.col("slutdatum") > end))
    ).fill_null(False)


def enrolled_days_in(period: PeriodLike) -> pl.Expr:
    """Days enrolled inside the period, both ends inclusive; open episodes run to period end.

    0 for an episode outside the period. Int64.
    """
    start, end = _bounds(period)
    first = pl.max_horizontal(pl.col("startdatum"), start)
    last = pl.min_horizontal(pl.col("slutdatum").fill_null(end), end)
    return _days_between(first, last).clip(lower_bound=0).fill_null(0)


def days_in_insats() -> pl.Expr:
    """Days from startdatum to slutdatum, both inclusive; null for an open episode."""
    return _days_between(pl.col("startdatum"), pl.col("slutdatum"))


# --- Background ---------------------------------------------------------------------------


def age_at_start() -> pl.Expr:
    """Age in whole years reached during the start year: year of startdatum − fodelsear."""
    return (pl.col("startdatum").dt.year().cast(pl.Int32) - pl.col("fodelsear")).cast(pl.Int32)


def age_group() -> pl.Expr:
    """The age group (Enum of ALDERSGRUPP_LABELS) of the age at start; null outside 16–67."""
    age = age_at_start()
    (label, low, high), *rest = ALDERSGRUPPER
    expr = pl.when(age.is_between(low, high)).then(pl.lit(label))
    for label, low, high in rest:  # a loop over the code list, building one expression
        expr = expr.when(age.is_between(low, high)).then(pl.lit(label))
    return expr.otherwise(None).cast(ALDERSGRUPP_DTYPE)


# --- Outcome base and outcome flags -------------------------------------------------------


def outcome_eligible() -> pl.Expr:
    """Ended, a participant, and avslutsorsak not flyttat/avliden (period-free part of the base).

    Avbrott stay in the base. An ended episode without avslutsorsak (cannot pass validation)
    stays in the base.
    """
    return (
        is_participant()
        & pl.col("slutdatum").is_not_null()
        & ~pl.col("avslutsorsak").is_in(OUTSIDE_OUTCOME_BASE).fill_null(False)
    )


def in_outcome_base(period: PeriodLike) -> pl.Expr:
    """The outcome base: ended in the period, a participant, not flyttat/avliden."""
    return outcome_eligible() & ends_in(period)


def _efter_in(codes: tuple[str, ...]) -> pl.Expr:
    return pl.col("sysselsattning_efter").is_in(codes).fill_null(False)


def _is_unknown(column: str) -> pl.Expr:
    """Missing or okand."""
    return (pl.col(column).is_null() | (pl.col(column) == UNKNOWN)).fill_null(True)


def arbete_studier() -> pl.Expr:
    """sysselsattning_efter ∈ {arbete, arbete_med_stod, studier}."""
    return _efter_in(ARBETE_STUDIER)


def arbete_studier_arbetssokande() -> pl.Expr:
    """arbete_studier ∪ {arbetssokande}."""
    return _efter_in(ARBETE_STUDIER_ARBETSSOKANDE)


def aktivitet_sysselsattning() -> pl.Expr:
    """arbete_studier_arbetssokande ∪ {arbetstraning_praktik, rehabilitering}."""
    return _efter_in(AKTIVITET_SYSSELSATTNING)


def steps_up() -> pl.Expr:
    """steg_slut > steg_start, both given."""
    return (pl.col("steg_slut") > pl.col("steg_start")).fill_null(False)


def assessed_closer() -> pl.Expr:
    """narmare_arbete = ja."""
    return (pl.col("narmare_arbete") == "ja").fill_null(False)


def began_or_increased_work() -> pl.Expr:
    """sysselsattning_efter ∈ arbete_studier and (fore ∉ arbete_studier or omfattning rose).

    A missing or okand sysselsattning_fore counts as not in arbete_studier (okand is not in
    the set; missing is treated like okand). A missing omfattning on either side means no
    increase is shown.
    """
    fore_not_in = ~pl.col("sysselsattning_fore").is_in(ARBETE_STUDIER).fill_null(False)
    increased = (pl.col("omfattning_efter") > pl.col("omfattning_fore")).fill_null(False)
    return arbete_studier() & (fore_not_in | increased)


def narmare_arbete() -> pl.Expr:
    """Come closer to work: steps_up or assessed_closer or began_or_increased_work."""
    return steps_up() | assessed_closer() | began_or_increased_work()


def _sysselsattning_unknown() -> pl.Expr:
    return _is_unknown("sysselsattning_efter")


def narmare_arbete_unknown() -> pl.Expr:
    """No source could answer: no step pair, narmare_arbete missing/okand and
    sysselsattning_efter missing/okand. Such an episode is never also reached."""
    no_step_pair = pl.col("steg_start").is_null() | pl.col("steg_slut").is_null()
    return no_step_pair & _is_unknown("narmare_arbete") & _sysselsattning_unknown()


def outcome_reached(matt: str) -> pl.Expr:
    """The flag of one outcome measure (definite true/false)."""
    return {
        "arbete_studier": arbete_studier,
        "arbete_studier_arbetssokande": arbete_studier_arbetssokande,
        "aktivitet_sysselsattning": aktivitet_sysselsattning,
        "narmare_arbete": narmare_arbete,
    }[matt]()


def outcome_unknown(matt: str) -> pl.Expr:
    """The outcome could not be assessed (counts as not reached; its share is reported)."""
    if matt == "narmare_arbete":
        return narmare_arbete_unknown()
    if matt in OUTCOME_MEASURES:
        return _sysselsattning_unknown()
    raise KeyError(matt)


# --- Per-episode fields, materialized for analysts ---------------------------------------


def derived_episode_fields(episodes: pl.LazyFrame) -> pl.LazyFrame:
    """The episode columns plus every per-episode derived field (DERIVED_COLUMNS).

    Period-free, so it can be stored once (episoder_harledda.parquet): ar_deltagare,
    kon_person, alder, aldersgrupp, dagar_i_insats, utfallsbas (in the outcome base of any
    period its slutdatum falls in) and uppnatt_<matt>/okand_<matt> per outcome measure.
    """
    return episodes.with_columns(
        is_participant().alias(AR_DELTAGARE),
        person_kon().alias(KON_PERSON),
        age_at_start().alias(ALDER),
        age_group().alias(ALDERSGRUPP),
        days_in_insats().alias(DAGAR_I_INSATS),
        outcome_eligible().alias(UTFALLSBAS),
        *(
            e
            for m in OUTCOME_MEASURES
            for e in (outcome_reached(m).alias(UPPNATT[m]), outcome_unknown(m).alias(OKAND[m]))
        ),
    )


def in_base_from_derived(period: PeriodLike) -> pl.Expr:
    """in_outcome_base on a frame with derived fields (uses the stored utfallsbas)."""
    return pl.col(UTFALLSBAS) & ends_in(period)


# --- Aggregate measures (used inside group_by().agg()) ------------------------------------


def n_deltagare(kon: str | None = None) -> pl.Expr:
    """Distinct persons (deltagare_id), optionally of one kön (kon_person). Int64."""
    ids = pl.col("deltagare_id")
    if kon is not None:
        ids = ids.filter(pl.col(KON_PERSON) == kon)
    return ids.n_unique().cast(pl.Int64)


def n_true(flag: pl.Expr) -> pl.Expr:
    """Number of rows (episodes) where the flag holds. Int64."""
    return flag.sum().cast(pl.Int64)


def arsplatser(period: Period) -> pl.Expr:
    """Sum of enrolled days in the period ÷ days in the period (Float64, not rounded).

    Computed as days × (1 / days in period): polars divides a column by a scalar that way
    anyway (it can differ from the correctly rounded quotient in the last of 16 digits), and
    writing it out makes the SQL macros (pipeline.store.views) give the very same float.
    """
    return enrolled_days_in(period).sum().cast(pl.Float64) * (1.0 / period.days)


def median_days() -> pl.Expr:
    """Median of dagar_i_insats (Float64; null without ended episodes)."""
    return pl.col(DAGAR_I_INSATS).median().cast(pl.Float64)


# --- Shares and their confidence interval ------------------------------------------------


def _expr(x: str | pl.Expr) -> pl.Expr:
    return pl.col(x) if isinstance(x, str) else x


def share(taljare: str | pl.Expr, namnare: str | pl.Expr) -> pl.Expr:
    """taljare / namnare as Float64; null when namnare is 0."""
    t, n = _expr(taljare).cast(pl.Float64), _expr(namnare).cast(pl.Float64)
    return pl.when(n > 0).then(t / n).otherwise(None)


def _wilson(taljare: str | pl.Expr, namnare: str | pl.Expr, upper: bool) -> pl.Expr:
    t, n = _expr(taljare).cast(pl.Float64), _expr(namnare).cast(pl.Float64)
    z2 = Z_95 * Z_95
    p = t / n
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denominator
    half = Z_95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator
    if upper:
        bound = pl.when(t >= n).then(1.0).otherwise(pl.min_horizontal(centre + half, 1.0))
    else:
        bound = pl.when(t <= 0).then(0.0).otherwise(pl.max_horizontal(centre - half, 0.0))
    return pl.when(n > 0).then(bound).otherwise(None)


def wilson_lower(taljare: str | pl.Expr, namnare: str | pl.Expr) -> pl.Expr:
    """Lower bound of the 95 % Wilson score interval; null when namnare is 0.

    >>> df = pl.DataFrame({"t": [0, 5, 3], "n": [10, 10, 0]})
    >>> [round(x, 4) if x is not None else None for x in df.select(wilson_lower("t", "n"))
    ...  .to_series()]
    [0.0, 0.2366, None]
    """
    return _wilson(taljare, namnare, upper=False)


def wilson_upper(taljare: str | pl.Expr, namnare: str | pl.Expr) -> pl.Expr:
    """Upper bound of the 95 % Wilson score interval; null when namnare is 0.

    >>> df = pl.DataFrame({"t": [0, 5], "n": [10, 10]})
    >>> [round(x, 4) for x in df.select(wilson_upper("t", "n")).to_series()]
    [0.2775, 0.7634]
    """
    return _wilson(taljare, namnare, upper=True)


# --- Judgement against a target ----------------------------------------------------------


def too_few_to_judge(namnare: pl.Expr, k: int) -> pl.Expr:
    """A share target's base under k (or none): för få deltagare, never judged (contract).

    >>> pl.DataFrame({"n": [0, 4, 5, None]}).select(too_few_to_judge(pl.col("n"), 5))["n"].to_list()
    [True, True, False, True]
    """
    return namnare.fill_null(0) < k


def bedomning(k: int, period_days: int) -> pl.Expr:
    """for_fa_deltagare / uppnatt / ej_uppnatt from columns typ, matt, utfall, namnare,
    taljare and the target as an exact fraction (`_mal_num` / `_mal_den`).

    A share target whose base (namnare) is under k cannot be judged: for_fa_deltagare.
    Otherwise the count is compared with the target exactly, in integers: taljare ≥ mål ×
    namnare for a share; deltagare ≥ mål; enrolled days ≥ mål × days in the period for
    årsplatser (utfall × days gives the days back). A volume target is always judged.
    """
    num, den = pl.col("_mal_num"), pl.col("_mal_den")
    share = pl.col("typ") == "andel"
    reached_share = pl.col("taljare") * den >= num * pl.col("namnare")
    days = (pl.col("utfall") * period_days).round(0)
    reached_volume = (
        pl.when(pl.col("matt") == "arsplatser")
        .then(days * den >= num * period_days)
        .otherwise(pl.col("utfall") * den >= num)
    )
    reached = pl.when(share).then(reached_share).otherwise(reached_volume).fill_null(False)
    return (
        pl.when(share & too_few_to_judge(pl.col("namnare"), k))
        .then(pl.lit("for_fa_deltagare"))
        .when(reached)
        .then(pl.lit("uppnatt"))
        .otherwise(pl.lit("ej_uppnatt"))
    )


def bedomning_sql(
    is_share: str, namnare: str, taljare: str, matt: str, volume: str, days: str, k: str
) -> str:
    """`bedomning` as an SQL CASE for the DuckDB views (the same rule, tested equal in
    tests/store/test_views.py); the target's fraction is `t.mal_num` / `t.mal_den`."""
    return f"""CASE
        WHEN {is_share} AND coalesce({namnare}, 0) < {k} THEN 'for_fa_deltagare'
        WHEN {is_share} AND {taljare} * t.mal_den >= t.mal_num * {namnare} THEN 'uppnatt'
        WHEN {is_share} THEN 'ej_uppnatt'
        WHEN {matt} = 'arsplatser'
            AND round({volume} * {days}) * t.mal_den >= t.mal_num * {days}
            THEN 'uppnatt'
        WHEN {matt} <> 'arsplatser' AND {volume} * t.mal_den >= t.mal_num THEN 'uppnatt'
        ELSE 'ej_uppnatt'
    END"""


def year_bounds(year: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(1 January, 31 December) of a year column: a PeriodLike for per-row calendar years."""
    return pl.date(year, 1, 1), pl.date(year, 12, 31)
