"""Outcome statistics: the exact (unsuppressed) tables of docs/tabeller.md for one period.

Every measure is defined in `pipeline.measures.definitions`; this module only composes them in
`group_by().agg()`s, lazily. The förbund total is never computed by doubling the frame: it is
grouped on its own, or summed from the per-insats results when the measure is a count. Input
is a validated episode frame (`pipeline.core.contract.EPISODE_SCHEMA`), a `Catalog` and a `Period`.

Notebook use (any table can be computed alone, for any period and any insatser)::

    import datetime as dt
    from pathlib import Path

    import polars as pl

    from pipeline.measures import statistics as st
    from pipeline.core.catalog import read_catalog
    from pipeline.core.period import Period

    episodes = pl.scan_parquet("data/processed/episoder.parquet")
    catalog = read_catalog(Path("data/raw/insatser.toml"))

    tables = st.compute_tables(episodes, catalog, Period.year(2024))
    tables["maluppfyllelse"]

    tertial = Period(dt.date(2024, 1, 1), dt.date(2024, 8, 31))
    st.deltagare_table(episodes, catalog, tertial)
    st.utfall_table(episodes, catalog, tertial, insatser=["SOC"])
    st.maluppfyllelse_table(episodes, catalog, tertial, k=3)

Rows: catalog order of insats, the förbund total (`TOTALT`) last; every catalog insats is
present, with zeros when it has no episodes. Episodes whose insats is not in the catalog
(validation rejects them) are left out of every table, the total included.
"""

from __future__ import annotations

import polars as pl

from pipeline.core.catalog import Catalog, target_fraction
from pipeline.core.config import DEFAULT_K
from pipeline.core.contract import (
    AVSLUTSORSAK,
    BAKGRUND_COLUMNS,
    COLUMN_BY_NAME,
    DELTAGARE_COLUMNS,
    FORSORJNING,
    FORSORJNING_FORE_EFTER_COLUMNS,
    MALUPPFYLLELSE_COLUMNS,
    OUTCOME_MEASURES,
    TID_I_INSATS_COLUMNS,
    TOTAL_INSATS_ID,
    TOTAL_INSATS_NAMN,
    TREND_COLUMNS,
    UTFALL_COLUMNS,
    UTFALL_KON_COLUMNS,
)
from pipeline.core.period import Period
from pipeline.measures import definitions as d

Episodes = pl.DataFrame | pl.LazyFrame

TABLES = (
    "deltagare",
    "maluppfyllelse",
    "utfall",
    "utfall_kon",
    "tid_i_insats",
    "bakgrund",
    "forsorjning_fore_efter",
    "trend",
)

KON_ALLA = "alla"
KON_ROWS = ("K", "M", KON_ALLA)
UPPGIFT_SAKNAS = "uppgift_saknas"
# Background at start: counted over episodes overlapping the period.
START_VARIABLES = (
    "aldersgrupp",
    "utbildning",
    "tid_offentlig_forsorjning",
    "forsorjning_fore",
    "sysselsattning_fore",
)
# Status at end: counted over episodes ended in the period.
END_VARIABLES = ("forsorjning_efter", "sysselsattning_efter", "avslutsorsak")
TREND_DEFAULT_MATT = "aktivitet_sysselsattning"

_ORDER = "_ordning"
# The columns of a prepared frame that the tables read.
_TABLE_COLUMNS = (
    "insats_id",
    "deltagare_id",
    "startdatum",
    "slutdatum",
    d.KON_PERSON,
    *START_VARIABLES,
    *END_VARIABLES,
    d.DAGAR_I_INSATS,
    d.UTFALLSBAS,
    *d.UPPNATT.values(),
    *d.OKAND.values(),
)


def categories(variabel: str) -> tuple[str, ...]:
    """The kategori values of a background variable, in table order, uppgift_saknas last.

    felregistrering is not a category of avslutsorsak: such episodes count nowhere.
    """
    if variabel == d.ALDERSGRUPP:
        codes: tuple[str, ...] = d.ALDERSGRUPP_LABELS
    elif variabel == "avslutsorsak":
        codes = tuple(c for c in AVSLUTSORSAK if c != d.NOT_PARTICIPANT)
    else:
        column_codes = COLUMN_BY_NAME[variabel].codes
        assert column_codes is not None, variabel
        codes = column_codes
    return (*codes, UPPGIFT_SAKNAS)


# --- Shared building blocks ---------------------------------------------------------------


def insats_rows(catalog: Catalog, insatser: list[str] | None = None) -> pl.DataFrame:
    """insats_id, insats and their order (_ordning): catalog order, TOTALT last.

    `insatser` restricts the rows (and the total) to those insatser, in catalog order.
    """
    # A strukturövergripande insats has no records (its persons are only counted): no rows.
    rows = catalog.with_records.select("insats_id", "insats")
    if insatser is not None:
        unknown = sorted(set(insatser) - set(catalog.ids))
        if unknown:
            raise ValueError(f"Insatserna finns inte i insatskatalogen: {', '.join(unknown)}")
        rows = rows.filter(pl.col("insats_id").is_in(insatser))
    total = pl.DataFrame({"insats_id": [TOTAL_INSATS_ID], "insats": [TOTAL_INSATS_NAMN]})
    return (
        pl.concat([rows, total]).with_row_index(_ORDER).with_columns(pl.col(_ORDER).cast(pl.Int64))
    )


def prepare(
    episodes: Episodes, catalog: Catalog, insatser: list[str] | None = None
) -> pl.LazyFrame:
    """Participant episodes of the chosen catalog insatser, with every derived field.

    The derived fields (kon_person in particular) are computed over the whole input first.
    """
    ids = insats_rows(catalog, insatser).filter(pl.col("insats_id") != TOTAL_INSATS_ID)
    return (
        d.derived_episode_fields(episodes.lazy())
        .filter(pl.col(d.AR_DELTAGARE))
        .filter(pl.col("insats_id").is_in(ids["insats_id"].implode()))
    )


def _with_total(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Every row once for its insats and once for the förbund total (TOTALT)."""
    return pl.concat([lf, lf.with_columns(insats_id=pl.lit(TOTAL_INSATS_ID))])


def _agg_with_total(lf: pl.LazyFrame, keys: list[str], aggs: dict[str, pl.Expr]) -> pl.LazyFrame:
    """`aggs` per insats_id and `keys`, and per `keys` alone as insats TOTALT.

    The same result as grouping `_with_total(lf)`, without doubling the frame: the total is
    grouped on its own and only the small results are concatenated. (With no keys and no rows
    the total is one row of empty aggregates, which is what the tables' zero filling gives.)
    """
    by_insats = lf.group_by("insats_id", *keys).agg(**aggs)
    total = lf.group_by(*keys).agg(**aggs) if keys else lf.select(**aggs)
    columns = ["insats_id", *keys, *aggs]
    return pl.concat(
        [by_insats, total.with_columns(insats_id=pl.lit(TOTAL_INSATS_ID)).select(columns)]
    )


def _sum_with_total(lf: pl.LazyFrame, keys: list[str], counts: dict[str, pl.Expr]) -> pl.LazyFrame:
    """Additive `counts` (Int64) per insats_id and `keys`, and their sum over insatser as TOTALT.

    Exactly the counts of grouping `_with_total(lf)`: a count over all insatser is the sum of
    the counts per insats, so the total is summed from the small per-insats result.
    """
    by_insats = lf.group_by("insats_id", *keys).agg(**counts)
    total = by_insats.group_by(*keys).agg(pl.col(*counts).sum())
    return pl.concat(
        [
            by_insats,
            total.with_columns(insats_id=pl.lit(TOTAL_INSATS_ID)).select(
                by_insats.collect_schema().names()
            ),
        ]
    )


def _order_frame(name: str, values: tuple[str, ...]) -> pl.LazyFrame:
    return pl.LazyFrame(
        {name: list(values), f"_{name}_ordning": list(range(len(values)))},
        schema={name: pl.String(), f"_{name}_ordning": pl.Int64()},
    )


def _fill_zero(columns: tuple[str, ...] | list[str]) -> pl.Expr:
    return pl.col(*columns).fill_null(0)


# --- One table family each ----------------------------------------------------------------


def _deltagare(prepared: pl.LazyFrame, rows: pl.DataFrame, period: Period) -> pl.LazyFrame:
    counts = ["deltagare", "kvinnor", "man", "nya", "avslutade", "pagaende"]
    overlapping = prepared.filter(d.overlaps(period))
    # d.n_deltagare per insats, counted on the distinct (insats, person) rows (kon_person is
    # the person's, so one per row): the same counts, far faster than a grouped n_unique.
    persons = (
        overlapping.select("insats_id", "deltagare_id", d.KON_PERSON)
        .unique()
        .group_by("insats_id")
        .agg(
            deltagare=pl.len().cast(pl.Int64),
            kvinnor=d.n_true(pl.col(d.KON_PERSON) == "K"),
            man=d.n_true(pl.col(d.KON_PERSON) == "M"),
        )
    )
    total_persons = overlapping.select(
        insats_id=pl.lit(TOTAL_INSATS_ID),
        deltagare=d.n_deltagare(),
        kvinnor=d.n_deltagare("K"),
        man=d.n_deltagare("M"),
    )
    episodes = _agg_with_total(
        overlapping,
        [],
        {
            "nya": d.n_true(d.starts_in(period)),
            "avslutade": d.n_true(d.ends_in(period)),
            "pagaende": d.n_true(d.open_at_end(period)),
            "arsplatser": d.arsplatser(period),
        },
    )
    return (
        rows.lazy()
        .join(pl.concat([persons, total_persons]), on="insats_id", how="left")
        .join(episodes, on="insats_id", how="left")
        .with_columns(_fill_zero(counts), pl.col("arsplatser").fill_null(0.0))
        .sort(_ORDER)
        .select(DELTAGARE_COLUMNS)
    )


def _utfall(prepared: pl.LazyFrame, rows: pl.DataFrame, period: Period) -> pl.LazyFrame:
    base = _with_total(prepared.filter(d.in_base_from_derived(period)))
    by_kon = pl.concat(
        [
            base.with_columns(kon=pl.col(d.KON_PERSON).cast(pl.String)),
            base.with_columns(kon=pl.lit(KON_ALLA)),
        ]
    )
    agg = by_kon.group_by("insats_id", "kon").agg(
        pl.len().cast(pl.Int64).alias("namnare"),
        *(d.n_true(pl.col(d.UPPNATT[m])).alias(f"_t_{m}") for m in OUTCOME_MEASURES),
        *(d.n_true(pl.col(d.OKAND[m])).alias(f"_o_{m}") for m in OUTCOME_MEASURES),
    )
    long = pl.concat(
        [
            agg.select(
                "insats_id",
                "kon",
                "namnare",
                matt=pl.lit(m),
                taljare=pl.col(f"_t_{m}"),
                antal_okand=pl.col(f"_o_{m}"),
            )
            for m in OUTCOME_MEASURES
        ]
    )
    return (
        rows.lazy()
        .join(_order_frame("kon", KON_ROWS), how="cross")
        .join(_order_frame("matt", OUTCOME_MEASURES), how="cross")
        .join(long, on=["insats_id", "kon", "matt"], how="left")
        .with_columns(_fill_zero(["namnare", "taljare", "antal_okand"]))
        .with_columns(
            andel=d.share("taljare", "namnare"),
            ki_lag=d.wilson_lower("taljare", "namnare"),
            ki_hog=d.wilson_upper("taljare", "namnare"),
            andel_okand=d.share("antal_okand", "namnare"),
        )
        .sort(_ORDER, "_kon_ordning", "_matt_ordning")
        .select(UTFALL_COLUMNS)
    )


def _utfall_kon(utfall: pl.LazyFrame) -> pl.LazyFrame:
    def one(kon: str, suffix: str) -> pl.LazyFrame:
        return utfall.filter(pl.col("kon") == kon).select(
            "insats_id",
            "matt",
            pl.col("andel").alias(f"andel_{suffix}"),
            pl.col("namnare").alias(f"namnare_{suffix}"),
        )

    return (
        utfall.filter(pl.col("kon") == KON_ALLA)
        .select("insats_id", "insats", "matt")
        .with_row_index("_rad")
        .join(one("K", "kvinnor"), on=["insats_id", "matt"], how="left")
        .join(one("M", "man"), on=["insats_id", "matt"], how="left")
        .with_columns(skillnad_procentenheter=pl.col("andel_kvinnor") - pl.col("andel_man"))
        .sort("_rad")
        .select(UTFALL_KON_COLUMNS)
    )


def _maluppfyllelse(
    catalog: Catalog,
    rows: pl.DataFrame,
    deltagare: pl.LazyFrame,
    utfall: pl.LazyFrame,
    k: int,
    period: Period,
) -> pl.LazyFrame:
    fractions = {value: target_fraction(value) for value in catalog.mal["mal"].unique()}
    targets = (
        catalog.mal.lazy()
        .with_row_index("_mal_ordning")
        .join(rows.lazy().select("insats_id", "insats"), on="insats_id", how="inner")
        .with_columns(
            _mal_num=pl.col("mal").replace_strict(
                {v: f[0] for v, f in fractions.items()}, return_dtype=pl.Int64
            ),
            _mal_den=pl.col("mal").replace_strict(
                {v: f[1] for v, f in fractions.items()}, return_dtype=pl.Int64
            ),
        )
    )
    shares = utfall.filter(pl.col("kon") == KON_ALLA).select(
        "insats_id",
        "matt",
        "namnare",
        "taljare",
        "ki_lag",
        "ki_hog",
        "andel_okand",
        pl.col("andel").alias("_andel"),
    )
    volumes = deltagare.select(
        "insats_id", "arsplatser", pl.col("deltagare").cast(pl.Float64)
    ).unpivot(index="insats_id", variable_name="matt", value_name="_volym")
    is_share = pl.col("typ") == "andel"
    share_columns = ["namnare", "taljare", "ki_lag", "ki_hog", "andel_okand"]
    return (
        targets.join(shares, on=["insats_id", "matt"], how="left")
        .join(volumes, on=["insats_id", "matt"], how="left")
        .with_columns(
            pl.when(is_share).then(pl.col("_andel")).otherwise(pl.col("_volym")).alias("utfall"),
            *(pl.when(is_share).then(pl.col(c)).otherwise(None).alias(c) for c in share_columns),
        )
        .with_columns(bedomning=d.bedomning(k, period.days))
        .sort("_mal_ordning")
        .select(MALUPPFYLLELSE_COLUMNS)
    )


def _tid_i_insats(prepared: pl.LazyFrame, rows: pl.DataFrame, period: Period) -> pl.LazyFrame:
    agg = _agg_with_total(
        prepared.filter(d.ends_in(period)),
        [],
        {"avslutade": pl.len().cast(pl.Int64), "median_dagar": d.median_days()},
    )
    return (
        rows.lazy()
        .join(agg, on="insats_id", how="left")
        .with_columns(_fill_zero(["avslutade"]))
        .sort(_ORDER)
        .select(TID_I_INSATS_COLUMNS)
    )


def _categories_frame() -> pl.LazyFrame:
    variables = (*START_VARIABLES, *END_VARIABLES)
    return pl.LazyFrame(
        [(v, c, vi, ci) for vi, v in enumerate(variables) for ci, c in enumerate(categories(v))],
        schema={
            "variabel": pl.String(),
            "kategori": pl.String(),
            "_v_ordning": pl.Int64(),
            "_k_ordning": pl.Int64(),
        },
        orient="row",
    )


def _bakgrund(prepared: pl.LazyFrame, rows: pl.DataFrame, period: Period) -> pl.LazyFrame:
    def counts(episodes: pl.LazyFrame, variabel: str) -> pl.LazyFrame:
        # One variable at a time, grouped on its own (Enum) column: no long frame of
        # (episode × variable) strings; the small per-insats results are stacked.
        return (
            episodes.group_by("insats_id", variabel)
            .agg(
                kvinnor=d.n_true(pl.col(d.KON_PERSON) == "K"),
                man=d.n_true(pl.col(d.KON_PERSON) == "M"),
                totalt=pl.len().cast(pl.Int64),
            )
            .select(
                "insats_id",
                variabel=pl.lit(variabel),
                kategori=pl.col(variabel).cast(pl.String).fill_null(UPPGIFT_SAKNAS),
                kvinnor="kvinnor",
                man="man",
                totalt="totalt",
            )
        )

    overlapping = prepared.filter(d.overlaps(period))
    ended = prepared.filter(d.ends_in(period))
    by_insats = pl.concat(
        [
            *(counts(overlapping, v) for v in START_VARIABLES),
            *(counts(ended, v) for v in END_VARIABLES),
        ]
    )
    # TOTALT: every count is additive, so the total is the sum over insatser.
    total = (
        by_insats.group_by("variabel", "kategori")
        .agg(pl.col("kvinnor", "man", "totalt").sum())
        .with_columns(insats_id=pl.lit(TOTAL_INSATS_ID))
    )
    agg = pl.concat([by_insats, total], how="diagonal")
    return (
        rows.lazy()
        .join(_categories_frame(), how="cross")
        .join(agg, on=["insats_id", "variabel", "kategori"], how="left")
        .with_columns(_fill_zero(["kvinnor", "man", "totalt"]))
        .sort(_ORDER, "_v_ordning", "_k_ordning")
        .select(BAKGRUND_COLUMNS)
    )


def _forsorjning_fore_efter(
    prepared: pl.LazyFrame, rows: pl.DataFrame, period: Period
) -> pl.LazyFrame:
    order = pl.Enum([*FORSORJNING, UPPGIFT_SAKNAS])
    columns = ("forsorjning_fore", "forsorjning_efter")
    agg = _sum_with_total(
        prepared.filter(d.ends_in(period)).select(
            "insats_id",
            *(pl.col(c).cast(pl.String).fill_null(UPPGIFT_SAKNAS) for c in columns),
        ),
        list(columns),
        {"antal": pl.len().cast(pl.Int64)},
    )
    return (
        rows.lazy()
        .join(agg, on="insats_id", how="inner")
        .sort(_ORDER, *(pl.col(c).cast(order) for c in columns))
        .select(FORSORJNING_FORE_EFTER_COLUMNS)
    )


# Years per bit mask of _persons_per_year (bit k of a UInt64: the chunk's first year + k).
_MASK_YEARS = 63
_POWERS_OF_TWO = [1 << k for k in range(_MASK_YEARS + 1)]


def _year_mask(first: pl.Expr, last: pl.Expr, base: int) -> pl.Expr:
    """UInt64 with bits first − base … last − base set (0 ≤ those ≤ 62; empty if last < first)."""

    def power(k: pl.Expr) -> pl.Expr:
        return k.replace_strict(range(_MASK_YEARS + 1), _POWERS_OF_TWO, return_dtype=pl.UInt64)

    return power(last - base + 1) - power(first - base)


def _persons_per_year(episodes: pl.LazyFrame, years: list[int]) -> pl.LazyFrame:
    """d.n_deltagare per (insats_id, ar) and per ar as TOTALT, with each episode
    (insats_id, deltagare_id, _start, _end) counted in every year _start…_end of `years`.

    The same counts as n_unique over one row per episode and year, without those rows: each
    episode becomes a bit mask of its years, OR-ed per (insats, person) and per person, and
    the set bits are counted. Years in chunks of 63, one chunk for any real span.
    """
    schema = {"insats_id": pl.String(), "ar": pl.Int32(), "deltagare": pl.Int64()}
    parts = [pl.LazyFrame(schema=schema)]
    for i in range(0, len(years), _MASK_YEARS):  # a loop over year chunks, not rows
        chunk = years[i : i + _MASK_YEARS]
        low, high = chunk[0], chunk[-1]
        first = pl.max_horizontal(pl.col("_start"), low)
        last = pl.min_horizontal(pl.col("_end"), high)
        masks = episodes.filter(pl.col("_start").is_not_null() & (first <= last)).select(
            "insats_id", "deltagare_id", _mask=_year_mask(first, last, low)
        )
        counts = [
            ((pl.col("_mask") & pl.lit(_POWERS_OF_TWO[y - low], dtype=pl.UInt64)) > 0)
            .sum()
            .cast(pl.Int64)
            .alias(str(y))
            for y in chunk
        ]
        per_insats = (
            masks.group_by("insats_id", "deltagare_id")
            .agg(pl.col("_mask").bitwise_or())
            .group_by("insats_id")
            .agg(counts)
        )
        total = (
            masks.group_by("deltagare_id")
            .agg(pl.col("_mask").bitwise_or())
            .select(counts)
            .with_columns(insats_id=pl.lit(TOTAL_INSATS_ID))
        )
        for wide in (per_insats, total):
            parts.append(
                wide.unpivot(
                    on=[str(y) for y in chunk],
                    index="insats_id",
                    variable_name="ar",
                    value_name="deltagare",
                ).select(pl.col("insats_id"), pl.col("ar").cast(pl.Int32), pl.col("deltagare"))
            )
    return pl.concat(parts)


def trend_measure(catalog: Catalog) -> pl.DataFrame:
    """insats_id → matt shown in the trend: the insats's first share target, else
    aktivitet_sysselsattning (also for TOTALT)."""
    first_share = (
        catalog.mal.filter(pl.col("typ") == "andel")
        .group_by("insats_id", maintain_order=True)
        .agg(pl.col("matt").first())
    )
    return (
        pl.concat(
            [
                catalog.with_records.select("insats_id"),
                pl.DataFrame({"insats_id": [TOTAL_INSATS_ID]}),
            ]
        )
        .join(first_share, on="insats_id", how="left")
        .with_columns(pl.col("matt").fill_null(TREND_DEFAULT_MATT))
    )


def trend_years(prepared: pl.LazyFrame, period: Period) -> list[int]:
    """Every calendar year from the first year with data to the last, at most the period's
    end year (so that a period's report does not change when later data arrive)."""
    first, last = (
        prepared.select(
            pl.col("startdatum").dt.year().min().alias("first"),
            pl.max_horizontal(
                pl.col("startdatum").dt.year().max(), pl.col("slutdatum").dt.year().max()
            ).alias("last"),
        )
        .collect()
        .row(0)
    )
    if first is None:
        return []
    return list(range(first, min(last, period.end.year) + 1))


def _trend(
    prepared: pl.LazyFrame, rows: pl.DataFrame, catalog: Catalog, period: Period
) -> pl.LazyFrame:
    years = trend_years(prepared, period)
    last_year = years[-1] if years else period.end.year
    # The period's own year ends at the period's end (a tertial's trend row is the year so
    # far): nothing that started or ended after the period is counted.
    prepared = prepared.filter(pl.col("startdatum") <= period.end)
    start_year = pl.col("startdatum").dt.year().cast(pl.Int32)
    slut_year = pl.col("slutdatum").dt.year().cast(pl.Int32)
    end_year = pl.min_horizontal(slut_year.fill_null(last_year), last_year)
    # Persons: an episode overlaps (d.overlaps) exactly the calendar years from its start
    # year to its end year (open: the last year), so it counts as one person in each.
    persons = _persons_per_year(
        prepared.select("insats_id", "deltagare_id", _start=start_year, _end=end_year), years
    )
    # Outcomes: d.in_base_from_derived(year) holds for a base episode only in the year its
    # slutdatum falls in (d.ends_in), so ended episodes are counted by their end year; years
    # after the last trend year are dropped by the join below.
    ended = prepared.filter(
        pl.col(d.UTFALLSBAS) & (start_year <= slut_year) & (pl.col("slutdatum") <= period.end)
    ).select("insats_id", *(pl.col(d.UPPNATT[m]) for m in OUTCOME_MEASURES), ar=slut_year)
    outcomes = _sum_with_total(
        ended,
        ["ar"],
        {
            "namnare": pl.len().cast(pl.Int64),
            **{m: d.n_true(pl.col(d.UPPNATT[m])) for m in OUTCOME_MEASURES},
        },
    ).unpivot(
        on=list(OUTCOME_MEASURES),
        index=["insats_id", "ar", "namnare"],
        variable_name="matt",
        value_name="taljare",
    )
    year_frame = pl.LazyFrame({"ar": years}, schema={"ar": pl.Int32()})
    return (
        rows.lazy()
        .join(trend_measure(catalog).lazy(), on="insats_id", how="left")
        .join(year_frame, how="cross")
        .join(persons, on=["insats_id", "ar"], how="left")
        .join(outcomes, on=["insats_id", "ar", "matt"], how="left")
        .with_columns(_fill_zero(["deltagare", "namnare", "taljare"]))
        .with_columns(andel=d.share("taljare", "namnare"))
        .sort(_ORDER, "ar")
        .select(TREND_COLUMNS)
    )


# --- Public API ----------------------------------------------------------------------------


def deltagare_table(
    episodes: Episodes, catalog: Catalog, period: Period, insatser: list[str] | None = None
) -> pl.DataFrame:
    """deltagare, kvinnor, man (persons), nya, avslutade, pagaende (episodes), arsplatser."""
    prepared = prepare(episodes, catalog, insatser)
    return _deltagare(prepared, insats_rows(catalog, insatser), period).collect()


def utfall_table(
    episodes: Episodes, catalog: Catalog, period: Period, insatser: list[str] | None = None
) -> pl.DataFrame:
    """Every outcome measure × kön (K, M, alla) per insats and TOTALT, with Wilson 95 % CI."""
    prepared = prepare(episodes, catalog, insatser)
    return _utfall(prepared, insats_rows(catalog, insatser), period).collect()


def utfall_kon_table(
    episodes: Episodes, catalog: Catalog, period: Period, insatser: list[str] | None = None
) -> pl.DataFrame:
    """Outcome shares of kvinnor and män side by side, and their difference (fraction)."""
    return _utfall_kon(utfall_table(episodes, catalog, period, insatser).lazy()).collect()


def maluppfyllelse_table(
    episodes: Episodes,
    catalog: Catalog,
    period: Period,
    insatser: list[str] | None = None,
    k: int = DEFAULT_K,
) -> pl.DataFrame:
    """One row per catalog target: utfall against mal and the bedomning (contract section 4)."""
    prepared = prepare(episodes, catalog, insatser)
    rows = insats_rows(catalog, insatser)
    return _maluppfyllelse(
        catalog,
        rows,
        _deltagare(prepared, rows, period),
        _utfall(prepared, rows, period),
        k,
        period,
    ).collect()


def tid_i_insats_table(
    episodes: Episodes, catalog: Catalog, period: Period, insatser: list[str] | None = None
) -> pl.DataFrame:
    """Ended episodes and their median days in the insats (start..slut inclusive)."""
    prepared = prepare(episodes, catalog, insatser)
    return _tid_i_insats(prepared, insats_rows(catalog, insatser), period).collect()


def bakgrund_table(
    episodes: Episodes, catalog: Catalog, period: Period, insatser: list[str] | None = None
) -> pl.DataFrame:
    """Background (overlapping episodes) and status at end (ended episodes) by kön."""
    prepared = prepare(episodes, catalog, insatser)
    return _bakgrund(prepared, insats_rows(catalog, insatser), period).collect()


def forsorjning_fore_efter_table(
    episodes: Episodes, catalog: Catalog, period: Period, insatser: list[str] | None = None
) -> pl.DataFrame:
    """Support before × support at end for episodes ended in the period (non-zero cells)."""
    prepared = prepare(episodes, catalog, insatser)
    return _forsorjning_fore_efter(prepared, insats_rows(catalog, insatser), period).collect()


def trend_table(
    episodes: Episodes, catalog: Catalog, period: Period, insatser: list[str] | None = None
) -> pl.DataFrame:
    """Deltagare and one outcome per calendar year, first data year to the period's end year;
    the period's own year ends at the period's end."""
    prepared = prepare(episodes, catalog, insatser)
    return _trend(prepared, insats_rows(catalog, insatser), catalog, period).collect()


def compute_tables(
    episodes: Episodes,
    catalog: Catalog,
    period: Period,
    insatser: list[str] | None = None,
    k: int = DEFAULT_K,
) -> dict[str, pl.DataFrame]:
    """Every table of docs/tabeller.md, keyed by name (TABLES order), exact and unsuppressed."""
    # Materialized once, with only the columns the tables read (about half the frame).
    prepared = prepare(episodes, catalog, insatser).select(_TABLE_COLUMNS).collect().lazy()
    rows = insats_rows(catalog, insatser)
    deltagare = _deltagare(prepared, rows, period)
    utfall = _utfall(prepared, rows, period)
    plans = {
        "deltagare": deltagare,
        "maluppfyllelse": _maluppfyllelse(catalog, rows, deltagare, utfall, k, period),
        "utfall": utfall,
        "utfall_kon": _utfall_kon(utfall),
        "tid_i_insats": _tid_i_insats(prepared, rows, period),
        "bakgrund": _bakgrund(prepared, rows, period),
        "forsorjning_fore_efter": _forsorjning_fore_efter(prepared, rows, period),
        "trend": _trend(prepared, rows, catalog, period),
    }
    return dict(zip(plans, pl.collect_all(list(plans.values())), strict=True))
