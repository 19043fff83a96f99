"""The förbund's figures for the national system Uppföljning Finsam (Försäkringskassan): one
row per insats for a calendar year, exact, for the förbund only (never published).

Per insats: its inriktning, the distinct participants of the year by kön for an
individinriktad insats (the exact `deltagare` table, a person in two insatser counted in
both), budgeterade deltagare, budget and kostnad (utfall) in kronor from the catalog. The
anonymous and strukturövergripande counts come from the counted-participants file (the store's
`raknade_deltagare`), beside the record counts and never added to them; where the file has
no row for an insats and year they are left empty, not zero (nothing is known about them).

>>> import polars as pl
>>> from pipeline.core.catalog import parse_catalog
>>> catalog = parse_catalog(
...     '[[insats]]\\nid = "A"\\nnamn = "Alfa"\\nbudget = { 2025 = 1000 }\\n'
...     '[[insats]]\\nid = "S"\\nnamn = "Struktur"\\ninriktning = "strukturovergripande"\\n')
>>> deltagare = pl.DataFrame({"insats_id": ["A", "S", "TOTALT"], "kvinnor": [3, 0, 3],
...                           "man": [2, 0, 2]})
>>> counted = pl.DataFrame({"insats_id": ["S"], "ar": [2025], "slag": ["strukturovergripande"],
...                         "kvinnor": [10], "man": [7]})
>>> uppfoljning_finsam(deltagare, catalog, 2025, counted).select(
...     "insats_id", "kvinnor", "strukturovergripande_deltagare", "budget").rows()
[('A', 3, None, 1000.0), ('S', None, 17, None)]
"""

from __future__ import annotations

import polars as pl

from pipeline.core.catalog import Catalog
from pipeline.core.contract import COUNTED_COLUMNS, COUNTED_SCHEMA, TOTAL_INSATS_ID

# The columns of uppfoljning_finsam.csv (contract section 5) and the field of the national
# system each one fills.
FINSAM_FIELDS = {
    "insats_id": "Förbundets id för insatsen (för att hitta raden; fylls inte i)",
    "insats": "Insatsens namn",
    "inriktning": "Inriktning: individinriktad eller strukturövergripande insats",
    "kvinnor": "Antal deltagare i individinriktade insatser, kvinnor",
    "man": "Antal deltagare i individinriktade insatser, män",
    "anonyma_kvinnor": "Antal anonyma deltagare, kvinnor (från filen med räknade deltagare)",
    "anonyma_man": "Antal anonyma deltagare, män (från filen med räknade deltagare)",
    "strukturovergripande_deltagare": "Antal deltagare i strukturövergripande insatser",
    "budgeterade_deltagare": "Budgeterat antal deltagare",
    "budget": "Budget för insatsen, kronor",
    "kostnad": "Utfall (kostnad) för insatsen, kronor",
}
FINSAM_SCHEMA = pl.Schema(
    {
        "insats_id": pl.String(),
        "insats": pl.String(),
        "inriktning": pl.String(),
        "kvinnor": pl.Int64(),
        "man": pl.Int64(),
        "anonyma_kvinnor": pl.Int64(),
        "anonyma_man": pl.Int64(),
        "strukturovergripande_deltagare": pl.Int64(),
        "budgeterade_deltagare": pl.Int64(),
        "budget": pl.Float64(),
        "kostnad": pl.Float64(),
    }
)


def uppfoljning_finsam(
    deltagare: pl.DataFrame, catalog: Catalog, year: int, counted: pl.DataFrame | None = None
) -> pl.DataFrame:
    """One row per insats of the catalog, in catalog order (see the module docstring).

    `deltagare` is the exact deltagare table of the calendar year `year`; `counted` the
    counted participants (insats_id, ar, slag, kvinnor, man; COUNTED_SCHEMA).
    """
    counts = deltagare.filter(pl.col("insats_id") != TOTAL_INSATS_ID).select(
        "insats_id", "kvinnor", "man"
    )
    money = catalog.ekonomi.filter(pl.col("ar") == year).drop("ar")
    of_year = (
        pl.DataFrame(schema={c: COUNTED_SCHEMA[c] for c in COUNTED_COLUMNS})
        if counted is None
        else counted.filter(pl.col("ar") == year)
    )
    anonyma = of_year.filter(pl.col("slag") == "anonyma").select(
        "insats_id", pl.col("kvinnor").alias("anonyma_kvinnor"), pl.col("man").alias("anonyma_man")
    )
    struktur = of_year.filter(pl.col("slag") == "strukturovergripande").select(
        "insats_id", (pl.col("kvinnor") + pl.col("man")).alias("strukturovergripande_deltagare")
    )
    individ = pl.col("inriktning") == "individinriktad"
    return (
        catalog.insatser.join(catalog.profil, on="insats_id", how="left", maintain_order="left")
        .join(counts, on="insats_id", how="left", maintain_order="left")
        .join(money, on="insats_id", how="left", maintain_order="left")
        .join(anonyma, on="insats_id", how="left", maintain_order="left")
        .join(struktur, on="insats_id", how="left", maintain_order="left")
        .select(
            "insats_id",
            "insats",
            pl.col("inriktning").fill_null("individinriktad"),
            pl.when(individ.fill_null(True)).then(pl.col("kvinnor").fill_null(0)).alias("kvinnor"),
            pl.when(individ.fill_null(True)).then(pl.col("man").fill_null(0)).alias("man"),
            "anonyma_kvinnor",
            "anonyma_man",
            "strukturovergripande_deltagare",
            "budgeterade_deltagare",
            "budget",
            "kostnad",
        )
        .cast(FINSAM_SCHEMA)
    )
