"""Outcome statistics: the exact (unsuppressed) tables of docs/tabeller.md for one period.

Every measure is defined in `pipeline.definitions`; this module only composes them, one
`group_by().agg()` per table family, lazily. Input is a validated episode frame
(`pipeline.contract.EPISODE_SCHEMA`), a `Catalog` and a `Period`.

Notebook use (any table can be computed alone, for any period and any insatser)::

    import datetime as dt
    from pathlib import Path

    import polars as pl

    from pipeline import statistics as st
    from pipeline.catalog import read_catalog
    from pipeline.period import Period

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

from pipeline import definitions as d
from pipeline.catalog import Catalog
from pipeline.config import DEFAULT_K
from pipeline.contract import (
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
from pipeline.period import Period

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
    rows = catalog.insatser.select("insats_id", "insats")
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
    agg = (
        _with_total(prepared.filter(d.overlaps(period)))
        .group_by("insats_id")
        .agg(
            deltagare=d.n_deltagare(),
            kvinnor=d.n_deltagare("K"),
            man=d.n_deltagare("M"),
            nya=d.n_true(d.starts_in(period)),
            avslutade=d.n_true(d.ends_in(period)),
            pagaende=d.n_true(d.open_at_end(period)),
            arsplatser=d.arsplatser(period),
        )
    )
    return (
        rows.lazy()
        .join(agg, on="insats_id", how="left")
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
) -> pl.LazyFrame:
    targets = (
        catalog.mal.lazy()
        .with_row_index("_mal_ordning")
        .join(rows.lazy().select("insats_id", "insats"), on="insats_id", how="inner")
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
        .with_columns(bedomning=d.bedomning(k))
        .sort("_mal_ordning")
        .select(MALUPPFYLLELSE_COLUMNS)
    )


def _tid_i_insats(prepared: pl.LazyFrame, rows: pl.DataFrame, period: Period) -> pl.LazyFrame:
    agg = (
        _with_total(prepared.filter(d.ends_in(period)))
        .group_by("insats_id")
        .agg(avslutade=pl.len().cast(pl.Int64), median_dagar=d.median_days())
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
    def long(flag: pl.Expr, variables: tuple[str, ...]) -> pl.LazyFrame:
        return (
            prepared.filter(flag)
            .select(
                "insats_id",
                pl.col(d.KON_PERSON).cast(pl.String).alias("kon"),
                *(pl.col(v).cast(pl.String) for v in variables),
            )
            .unpivot(
                on=list(variables),
                index=["insats_id", "kon"],
                variable_name="variabel",
                value_name="kategori",
            )
        )

    values = pl.concat(
        [long(d.overlaps(period), START_VARIABLES), long(d.ends_in(period), END_VARIABLES)]
    ).with_columns(pl.col("kategori").fill_null(UPPGIFT_SAKNAS))
    agg = (
        _with_total(values)
        .group_by("insats_id", "variabel", "kategori")
        .agg(
            kvinnor=d.n_true(pl.col("kon") == "K"),
            man=d.n_true(pl.col("kon") == "M"),
            totalt=pl.len().cast(pl.Int64),
        )
    )
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
    agg = (
        _with_total(
            prepared.filter(d.ends_in(period)).select(
                "insats_id",
                *(pl.col(c).cast(pl.String).fill_null(UPPGIFT_SAKNAS) for c in columns),
            )
        )
        .group_by("insats_id", *columns)
        .agg(antal=pl.len().cast(pl.Int64))
    )
    return (
        rows.lazy()
        .join(agg, on="insats_id", how="inner")
        .sort(_ORDER, *(pl.col(c).cast(order) for c in columns))
        .select(FORSORJNING_FORE_EFTER_COLUMNS)
    )


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
                catalog.insatser.select("insats_id"),
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
    start_year = pl.col("startdatum").dt.year().cast(pl.Int32)
    end_year = pl.min_horizontal(
        pl.col("slutdatum").dt.year().cast(pl.Int32).fill_null(last_year), last_year
    )
    year = d.year_bounds(pl.col("ar"))
    per_year = (
        prepared.filter(start_year <= last_year)
        .with_columns(ar=pl.int_ranges(start_year, end_year + 1, dtype=pl.Int32))
        .explode("ar")
        .filter(d.overlaps(year))  # true by construction; keeps the one definition in use
    )
    in_base = d.in_base_from_derived(year)
    agg = (
        _with_total(per_year)
        .group_by("insats_id", "ar")
        .agg(
            deltagare=d.n_deltagare(),
            namnare=d.n_true(in_base),
            **{m: d.n_true(in_base & pl.col(d.UPPNATT[m])) for m in OUTCOME_MEASURES},
        )
        .unpivot(
            on=list(OUTCOME_MEASURES),
            index=["insats_id", "ar", "deltagare", "namnare"],
            variable_name="matt",
            value_name="taljare",
        )
    )
    year_frame = pl.LazyFrame({"ar": years}, schema={"ar": pl.Int32()})
    return (
        rows.lazy()
        .join(trend_measure(catalog).lazy(), on="insats_id", how="left")
        .join(year_frame, how="cross")
        .join(agg, on=["insats_id", "ar", "matt"], how="left")
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
        catalog, rows, _deltagare(prepared, rows, period), _utfall(prepared, rows, period), k
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
    """Deltagare and one outcome per calendar year, first data year to the period's end year."""
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
    prepared = prepare(episodes, catalog, insatser).collect().lazy()
    rows = insats_rows(catalog, insatser)
    deltagare = _deltagare(prepared, rows, period)
    utfall = _utfall(prepared, rows, period)
    plans = {
        "deltagare": deltagare,
        "maluppfyllelse": _maluppfyllelse(catalog, rows, deltagare, utfall, k),
        "utfall": utfall,
        "utfall_kon": _utfall_kon(utfall),
        "tid_i_insats": _tid_i_insats(prepared, rows, period),
        "bakgrund": _bakgrund(prepared, rows, period),
        "forsorjning_fore_efter": _forsorjning_fore_efter(prepared, rows, period),
        "trend": _trend(prepared, rows, catalog, period),
    }
    return dict(zip(plans, pl.collect_all(list(plans.values())), strict=True))
