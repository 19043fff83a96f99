"""What an insats costs: kostnad (utfall) and budget of a calendar year from the catalog,
per deltagare, per årsplats and per person who reached each share target's outcome.

Exact, from the exact `deltagare` and `maluppfyllelse` tables; the published version
(`pipeline.publish.disclosure.published_costs`) divides by the published counts instead, so
that a cost per person is hidden exactly when its count is.

One row per insats and share target (an insats with several share targets has one row per
target and repeats its money on each; one without a share target has one row with `matt`
empty), then the förbund (TOTALT: the sums of kostnad and budget over the insatser that give
them, per distinct deltagare and per årsplats of the förbund).

>>> import polars as pl
>>> from pipeline.core.catalog import parse_catalog
>>> catalog = parse_catalog('[[insats]]\\nid = "A"\\nnamn = "Alfa"\\nkostnad = { 2025 = 1000 }\\n'
...     'mal = [ { matt = "arbete_studier", andel = 0.3 } ]\\n')
>>> deltagare = pl.DataFrame({"insats_id": ["A", "TOTALT"], "deltagare": [8, 8],
...                           "arsplatser": [2.5, 2.5]})
>>> mal = pl.DataFrame({"insats_id": ["A"], "matt": ["arbete_studier"], "taljare": [4]})
>>> kostnad_table(deltagare, mal, catalog, 2025).select(
...     "insats_id", "kostnad_per_deltagare", "kostnad_per_arsplats", "kostnad_per_uppnadd").rows()
[('A', 125.0, 400.0, 250.0), ('TOTALT', 125.0, 400.0, None)]
"""

from __future__ import annotations

import polars as pl

from pipeline.core.catalog import Catalog
from pipeline.core.contract import OUTCOME_MEASURES, TOTAL_INSATS_ID, TOTAL_INSATS_NAMN

KOSTNAD_SCHEMA = pl.Schema(
    {
        "insats_id": pl.String(),
        "insats": pl.String(),
        "kostnad": pl.Float64(),
        "budget": pl.Float64(),
        "deltagare": pl.Int64(),
        "kostnad_per_deltagare": pl.Float64(),
        "arsplatser": pl.Float64(),
        "kostnad_per_arsplats": pl.Float64(),
        "matt": pl.String(),
        "uppnadde": pl.Int64(),
        "kostnad_per_uppnadd": pl.Float64(),
    }
)


def has_money(catalog: Catalog, year: int) -> bool:
    """The catalog gives a budget or a kostnad for some insats in `year`."""
    money = catalog.ekonomi.filter(pl.col("ar") == year)
    return bool(
        money.select(pl.any_horizontal(pl.col("budget", "kostnad").is_not_null()).any()).item()
    )


def per(cost: pl.Expr, count: pl.Expr) -> pl.Expr:
    """Cost divided by a count; null where either is missing or the count is 0."""
    return pl.when(count > 0).then(cost / count)


def kostnad_table(
    deltagare: pl.DataFrame, maluppfyllelse: pl.DataFrame, catalog: Catalog, year: int
) -> pl.DataFrame:
    """The exact cost table of calendar year `year` (module docstring)."""
    money = catalog.ekonomi.filter(pl.col("ar") == year).select("insats_id", "budget", "kostnad")
    insatser = catalog.insatser.join(money, on="insats_id", how="left", maintain_order="left")
    total = pl.DataFrame(
        {
            "insats_id": [TOTAL_INSATS_ID],
            "insats": [TOTAL_INSATS_NAMN],
            "budget": [money["budget"].sum() if money["budget"].is_not_null().any() else None],
            "kostnad": [money["kostnad"].sum() if money["kostnad"].is_not_null().any() else None],
        },
        schema={c: insatser.schema[c] for c in ("insats_id", "insats", "budget", "kostnad")},
    )
    outcomes = maluppfyllelse.filter(pl.col("matt").is_in(OUTCOME_MEASURES)).select(
        "insats_id", "matt", pl.col("taljare").alias("uppnadde")
    )
    return (
        pl.concat([insatser.select(total.columns), total])
        .join(
            deltagare.select("insats_id", "deltagare", "arsplatser"),
            on="insats_id",
            how="left",
            maintain_order="left",
        )
        .join(outcomes, on="insats_id", how="left", maintain_order="left")
        .with_columns(
            per(pl.col("kostnad"), pl.col("deltagare")).alias("kostnad_per_deltagare"),
            per(pl.col("kostnad"), pl.col("arsplatser")).alias("kostnad_per_arsplats"),
            per(pl.col("kostnad"), pl.col("uppnadde")).alias("kostnad_per_uppnadd"),
        )
        .select(KOSTNAD_SCHEMA.names())
        .cast(dict(KOSTNAD_SCHEMA))
    )
